/**
 * The value syntaxes of configuration and route maps (SPEC §3): durations, sizes and
 * listen addresses. Pure; each returns undefined for text it does not accept, and the
 * caller reports the problem at the value's position.
 */
import { isIP } from 'node:net';
import type { HostPort } from './types.js';

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 };

/** `250ms`, `5s`, `10m`, `1h` → milliseconds. Whole numbers of one unit only. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d{1,9})(ms|s|m|h)$/.exec(text.trim());
  if (!m) return undefined;
  return Number(m[1]) * (DURATION_UNITS_MS[m[2] as string] as number);
}

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3 };

/** A byte count: a non-negative integer, or `8KiB`, `64MiB`, `1GiB` (binary units) → bytes. */
export function parseSize(value: string | number): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  const m = /^(\d{1,15})\s*(B|KiB|MiB|GiB)?$/.exec(value.trim());
  if (!m) return undefined;
  const n = Number(m[1]) * (SIZE_UNITS[m[2] ?? ''] as number);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * `host:port` → {host, port}. IPv6 addresses are bracketed (`[::1]:3128`) and returned
 * without brackets. Port 0 is accepted (an ephemeral port, for tests).
 */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(text.trim());
  if (!m) return undefined;
  const port = Number(m[3]);
  if (port > 65535) return undefined;
  if (m[1] !== undefined) return isIP(m[1]) === 6 ? { host: m[1].toLowerCase(), port } : undefined;
  const host = (m[2] as string).toLowerCase();
  if (isIP(host) === 0 && !/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(host)) return undefined;
  return { host, port };
}

/** True for addresses that only the local machine can reach: 127.0.0.0/8, ::1, localhost. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(host) || /^::ffff:127\./i.test(host);
  return false;
}
