/**
 * `egress-gate` — the one executable (SPEC §2). Dispatches to one module per subcommand.
 */
import { UsageError, type Command } from './commands/command.js';
import { commands } from './commands/index.js';
import { packageVersion } from './package-version.js';

function topUsage(): string {
  const w = Math.max(...commands.map((c) => c.name.length));
  return [
    'usage: egress-gate COMMAND [options]',
    '',
    ...commands.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
    '',
    'Run "egress-gate COMMAND --help" for a command\'s options.',
  ].join('\n');
}

function findCommand(argv: string[]): { cmd: Command; rest: string[] } | undefined {
  // Longest match first: "receipts verify" before a hypothetical "receipts".
  const sorted = [...commands].sort((a, b) => b.name.split(' ').length - a.name.split(' ').length);
  for (const cmd of sorted) {
    const words = cmd.name.split(' ');
    if (words.every((w, i) => argv[i] === w)) return { cmd, rest: argv.slice(words.length) };
  }
  return undefined;
}

/** Runs one `egress-gate` command line; resolves with the exit code (SPEC §2: 0, 1, 2). */
export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    (argv.length === 0 ? process.stderr : process.stdout).write(`${topUsage()}\n`);
    return argv.length === 0 ? 2 : 0;
  }
  if (argv[0] === '--version' || argv[0] === '-V') {
    const v = packageVersion();
    if (!v) { process.stderr.write('egress-gate: package.json not found next to the code\n'); return 2; }
    process.stdout.write(`${v}\n`);
    return 0;
  }
  const found = findCommand(argv);
  // A command group ("receipts", "permit", "ca", "keys"): its subcommands, for --help or when
  // the subcommand is missing or unknown.
  const group = found ? [] : commands.filter((c) => c.name.includes(' ') && c.name.split(' ')[0] === argv[0]);
  if (group.length > 0) {
    const help = argv[1] === undefined || argv[1] === '--help' || argv[1] === '-h' || argv[1] === 'help';
    const w = Math.max(...group.map((c) => c.name.length));
    const text = [
      ...(help ? [] : [`egress-gate: unknown command "${argv[0]} ${argv[1]}"`]),
      `usage: egress-gate ${argv[0]} SUBCOMMAND [options]`,
      '',
      ...group.map((c) => `  ${c.name.padEnd(w)}  ${c.summary}`),
      '',
      `Run "egress-gate ${argv[0]} SUBCOMMAND --help" for its options.`,
    ].join('\n');
    const ok = argv[1] !== undefined && help;
    (ok ? process.stdout : process.stderr).write(`${text}\n`);
    return ok ? 0 : 2;
  }
  if (!found) {
    process.stderr.write(`egress-gate: unknown command "${argv.filter((a) => !a.startsWith('-')).slice(0, 2).join(' ')}"; run "egress-gate --help"\n`);
    return 2;
  }
  const { cmd, rest } = found;
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${cmd.usage.trimEnd()}\n`);
    return 0;
  }
  try {
    return await cmd.run(rest);
  } catch (e) {
    const err = e as Error;
    if (err instanceof UsageError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`egress-gate ${cmd.name}: ${err.message}\n${cmd.usage.split('\n')[0]}\n`);
      return 2;
    }
    process.stderr.write(`egress-gate ${cmd.name}: ${err.message}\n`);
    if (process.env.EGRESS_GATE_DEBUG) process.stderr.write(`${err.stack}\n`);
    return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => { process.exitCode = code; },
  (e) => { process.stderr.write(`egress-gate: ${(e as Error).message}\n`); process.exitCode = 2; },
);
