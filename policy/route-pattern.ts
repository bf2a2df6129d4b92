/**
 * The syntax of a route's host and path patterns (SPEC §4). Pure; each check returns the
 * canonical form or a message saying what is wrong.
 */
import { canonicalIp } from './ip-literal.js';

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/**
 * A route host: an exact DNS name, `*.` plus a DNS name (one leftmost wildcard label), or an
 * IP literal. Returned lowercased, without a trailing dot; IP literals canonical and without
 * brackets.
 */
export function checkHostPattern(text: string): { host: string } | { error: string } {
  const ip = canonicalIp(text.trim());
  if (ip !== undefined) return { host: ip };
  let host = text.trim().toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  const wildcard = host.startsWith('*.');
  const name = wildcard ? host.slice(2) : host;
  if (name.includes('*')) return { error: `host ${JSON.stringify(text)}: a wildcard may only be the whole leftmost label ("*.example.com")` };
  if (name === '' || name.length > 253) return { error: `host ${JSON.stringify(text)} is not a host name` };
  const labels = name.split('.');
  const bad = labels.find((l) => !LABEL.test(l));
  if (bad !== undefined) return { error: `host ${JSON.stringify(text)}: ${bad === '' ? 'empty label' : `label ${JSON.stringify(bad)} is not valid in a host name`}` };
  // A name whose last label is numeric is an IPv4 address to URL parsers (`2130706433`,
  // `0x7f.1`); only the canonical dotted quad may name an address in a route.
  if (/^(\d+|0x[0-9a-f]*)$/.test(labels[labels.length - 1] as string)) {
    return { error: `host ${JSON.stringify(text)}: an IP address must be written as a dotted quad or an IPv6 address` };
  }
  return { host: wildcard ? `*.${name}` : name };
}

const PARAM = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/;

/**
 * A route path: starts with `/`; each segment is literal, a whole-segment `{name}`, or
 * (last only) `**`. Literal segments hold no `*`, braces, `?`, `#`, or dot segments, since
 * normalized request paths never contain those.
 */
export function checkPathPattern(text: string): { path: string } | { error: string } {
  if (!text.startsWith('/')) return { error: `path ${JSON.stringify(text)} must start with "/"` };
  const segments = text.slice(1).split('/');
  const names = new Set<string>();
  for (const [i, seg] of segments.entries()) {
    if (seg === '**') {
      if (i !== segments.length - 1) return { error: `path ${JSON.stringify(text)}: "/**" may only be the last segment` };
      continue;
    }
    const param = PARAM.exec(seg);
    if (param) {
      const name = param[1] as string;
      if (names.has(name)) return { error: `path ${JSON.stringify(text)}: parameter {${name}} appears twice` };
      names.add(name);
      continue;
    }
    if (seg.includes('*')) return { error: `path ${JSON.stringify(text)}: "*" is only allowed as a trailing "/**"` };
    if (seg.includes('{') || seg.includes('}')) return { error: `path ${JSON.stringify(text)}: a parameter must be a whole segment such as {id}` };
    if (seg === '.' || seg === '..') return { error: `path ${JSON.stringify(text)}: dot segments never match a normalized path` };
    if (/[?#\s\\]/.test(seg)) return { error: `path ${JSON.stringify(text)}: "?", "#", "\\" and spaces are not allowed in a path` };
    if (seg === '' && i !== segments.length - 1) return { error: `path ${JSON.stringify(text)}: empty segment ("//")` };
  }
  return { path: text };
}
