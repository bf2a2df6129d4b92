/**
 * What every subcommand module exports. A command returns its exit code (SPEC §2:
 * 0 success, 1 a negative result, 2 usage or runtime error); it throws UsageError for bad
 * arguments, which the dispatcher prints as one line and turns into exit 2.
 */
export interface Command {
  /** e.g. "receipts verify" */
  name: string;
  /** One line for `egress-gate --help`. */
  summary: string;
  /** Full usage text, printed by `egress-gate NAME --help`. */
  usage: string;
  run(argv: string[]): Promise<number>;
}

/** A command was called wrongly: printed with its usage line, exit 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** A failure whose message is already the one clear line to print (exit 2). */
export class RuntimeError extends Error {
  override name = 'RuntimeError';
}
