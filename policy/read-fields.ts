/**
 * Typed readers over a YAML mapping's fields. Each reports a problem at the offending value
 * (never throws) and returns the default, or undefined, so reading goes on and every problem
 * of a file is collected.
 */
import type { Node } from 'yaml';
import { parseDuration, parseSize } from './config-values.js';
import { scalarValue, seqItems, type Fields } from './yaml-source.js';

function present(f: Fields, name: string): boolean {
  return f.has(name) && f.value(name) != null;
}

/** A string field (numbers and booleans are not silently turned into strings). */
export function readString(f: Fields, name: string, opts: { required?: boolean } = {}): string | undefined {
  if (!present(f, name)) {
    if (opts.required) f.requires(name);
    return undefined;
  }
  const v = scalarValue(f.value(name));
  if (typeof v !== 'string' || v.trim() === '') {
    f.problem(name, `${f.what}: "${name}" must be a non-empty string`);
    return undefined;
  }
  return v;
}

/** A boolean field (`true`/`false` only). */
export function readBool(f: Fields, name: string, fallback: boolean): boolean {
  if (!present(f, name)) return fallback;
  const v = scalarValue(f.value(name));
  if (typeof v !== 'boolean') {
    f.problem(name, `${f.what}: "${name}" must be true or false`);
    return fallback;
  }
  return v;
}

/** One of a closed set of strings. */
export function readEnum<T extends string>(f: Fields, name: string, values: readonly T[], fallback?: T): T | undefined {
  if (!present(f, name)) return fallback;
  const v = scalarValue(f.value(name));
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) {
    f.problem(name, `${f.what}: "${name}" must be one of ${values.join(' | ')} (got ${JSON.stringify(v ?? null)})`);
    return fallback;
  }
  return v as T;
}

/** A duration string (`250ms`, `5s`, `10m`, `1h`) in milliseconds. */
export function readDuration(f: Fields, name: string, fallbackMs: number): number {
  if (!present(f, name)) return fallbackMs;
  const v = scalarValue(f.value(name));
  const ms = typeof v === 'string' ? parseDuration(v) : undefined;
  if (ms === undefined) {
    f.problem(name, `${f.what}: "${name}" must be a duration such as 250ms, 5s, 10m or 1h (got ${JSON.stringify(v ?? null)})`);
    return fallbackMs;
  }
  return ms;
}

/** A size (bytes, or `8KiB`, `64MiB`, `1GiB`) in bytes. */
export function readSize(f: Fields, name: string, fallback: number): number {
  if (!present(f, name)) return fallback;
  const v = scalarValue(f.value(name));
  const n = typeof v === 'string' || typeof v === 'number' ? parseSize(v) : undefined;
  if (n === undefined) {
    f.problem(name, `${f.what}: "${name}" must be a size in bytes or KiB/MiB/GiB such as 8KiB or 64MiB (got ${JSON.stringify(v ?? null)})`);
    return fallback;
  }
  return n;
}

/**
 * A list of non-empty strings, each with its node (for per-item positions). A single string
 * is accepted as a one-item list when `allowSingle` is set.
 */
export function readStringList(f: Fields, name: string, opts: { allowSingle?: boolean; nonEmpty?: boolean } = {}): { value: string; node: Node }[] | undefined {
  if (!present(f, name)) return undefined;
  const node = f.value(name) as Node;
  const single = scalarValue(node);
  if (opts.allowSingle && typeof single === 'string' && single.trim() !== '') return [{ value: single, node }];
  const items = seqItems(node);
  if (!items) {
    f.problem(name, `${f.what}: "${name}" must be a list of strings`);
    return undefined;
  }
  if (opts.nonEmpty && items.length === 0) {
    f.problem(name, `${f.what}: "${name}" must not be empty`);
    return undefined;
  }
  const out: { value: string; node: Node }[] = [];
  for (const item of items) {
    const v = scalarValue(item);
    if (typeof v !== 'string' || v.trim() === '') f.src.problem(item ?? node, `${f.what}: every item of "${name}" must be a non-empty string`);
    else out.push({ value: v, node: item as Node });
  }
  return out;
}
