/**
 * Errors in configuration and route maps. Every problem names where it is, so `check`
 * and `start` can print `file:line:col: message` lines (SPEC §2).
 */
export interface ConfigProblem {
  file: string;
  /** 1-based; 0 when the problem has no position (a missing file). */
  line: number;
  col: number;
  message: string;
}

/** One problem as `file:line:col: message`. */
export function formatProblem(p: ConfigProblem): string {
  return p.line > 0 ? `${p.file}:${p.line}:${p.col}: ${p.message}` : `${p.file}: ${p.message}`;
}

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG_INVALID';
  override name = 'ConfigError';
  constructor(readonly problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
  }
}
