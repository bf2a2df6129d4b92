/** A minimal Dockerfile reader for the deploy tests (instructions and stages). */
import assert from 'node:assert/strict';

export interface Instruction { op: string; args: string; line: number }
/** Instructions of a Dockerfile, continuation lines joined, comments dropped. */
export function parseDockerfile(text: string): Instruction[] {
  const out: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let l = lines[i]!;
    if (/^\s*(#|$)/.test(l)) continue;
    while (l.endsWith('\\') && i + 1 < lines.length) l = `${l.slice(0, -1)} ${lines[++i]!.replace(/^\s*#.*$/, '')}`;
    const m = /^\s*(\w+)\s+(.*)$/.exec(l);
    assert.ok(m, `Dockerfile line ${start + 1} is an instruction`);
    out.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 });
  }
  return out;
}

/** Splits instructions into stages at each FROM. */
export function stages(ins: Instruction[]): Instruction[][] {
  const out: Instruction[][] = [];
  for (const i of ins) if (i.op === 'FROM') out.push([i]); else out.at(-1)?.push(i);
  return out;
}
