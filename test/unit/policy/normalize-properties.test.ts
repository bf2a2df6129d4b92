/**
 * Property tests (fast-check) for path normalization and matching soundness.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { normalizePath, normalizeRequest, RequestInvalidError } from '../../../policy/normalize-request.js';
import { compilePolicy } from '../../../policy/compile-policy.js';
import { ConfigError } from '../../../policy/config-error.js';
import type { Route } from '../../../policy/types.js';
import { route } from './route-factory.js';

const PIECES = ['/', '/', '/', '.', '..', '%2e', '%2E', '%2e%2E', '%2f', '%5C', '%5c', '%00', '%41', '%7e', '%7E', '%3a', '%3A',
  '%zz', '%', 'a', 'b', 'v1', '~', '-', '_', '\\', ' ', '\u00e9', '?', '#', ':', '@', '!', ';', '=', '%25', '%c3%a9'];

/** Path-like strings: mostly built from interesting pieces, sometimes arbitrary text. */
const pathish = fc.oneof(
  { weight: 4, arbitrary: fc.array(fc.constantFrom(...PIECES), { maxLength: 14 }).map((p) => `/${p.join('')}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 30 }) },
);

function onlyRequestInvalid<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch (e) {
    assert.ok(e instanceof RequestInvalidError, `threw ${String(e)}`);
    assert.equal(e.code, 'REQUEST_INVALID');
    return undefined;
  }
}

describe('normalizePath properties', () => {
  it('is idempotent whenever it does not throw', () => {
    fc.assert(fc.property(pathish, (raw) => {
      const once = onlyRequestInvalid(() => normalizePath(raw));
      if (once !== undefined) assert.equal(normalizePath(once), once);
    }), { numRuns: 3000 });
  });

  it('never throws anything but RequestInvalidError, and its output has no dot segment or encoded unreserved char', () => {
    fc.assert(fc.property(pathish, (raw) => {
      const out = onlyRequestInvalid(() => normalizePath(raw));
      if (out === undefined) return;
      assert.ok(out.startsWith('/'));
      assert.ok(!out.split('/').some((s) => s === '.' || s === '..'), out);
      assert.ok(!/%(2[DdEe]|5[Ff]|7[Ee]|[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9])/.test(out), out);
      assert.ok(!/%[0-9A-F]?[a-f]/.test(out), `lowercase hex in ${out}`);
    }), { numRuns: 3000 });
  });

  it('normalizeRequest never throws anything but RequestInvalidError', () => {
    const host = fc.constantFrom('a.test', 'A.TEST.', '2130706433', '[::1]', '[::g]', 'u@h', '', 'a.test:99999', 'x:8080', '0x7f.1', 'h..t');
    fc.assert(fc.property(
      fc.constantFrom('http', 'https', 'ftp', 'HTTP'), host, pathish, fc.option(fc.string({ maxLength: 6 })),
      fc.option(fc.oneof(host, fc.array(host, { maxLength: 3 }))), fc.constantFrom('GET', 'POST', 'G T', ''),
      (scheme, h, path, q, hostHeader, method) => {
        const target = `${scheme}://${h}${path}${q === null ? '' : `?${q}`}`;
        onlyRequestInvalid(() => normalizeRequest({ method, target, hostHeader: hostHeader ?? undefined }));
        onlyRequestInvalid(() => normalizeRequest({ method, target: path, scheme: 'https', authority: h, hostHeader: hostHeader ?? undefined }));
      },
    ), { numRuns: 2000 });
  });
});

/** An independent reading of a path pattern as a regular expression over normalized paths. */
function patternRegex(pattern: string): RegExp {
  const parts = pattern.slice(1).split('/');
  const rest = parts[parts.length - 1] === '**';
  if (rest) parts.pop();
  const body = parts.map((p) => (/^\{\w+\}$/.test(p) ? '/[^/]+' : `/${p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`)).join('');
  return new RegExp(`^${body}${rest ? '(?:/.*)?' : ''}$`);
}

function fitsByReference(r: Route, method: string, path: string): boolean {
  return (r.match.methods === '*' || r.match.methods.includes(method)) && patternRegex(r.match.path).test(path);
}

describe('matching properties', () => {
  const segment = fc.constantFrom('v1', 'a', 'b', '~x', '{id}', '{p}', '');
  const pattern = fc.tuple(fc.array(segment, { maxLength: 4 }), fc.boolean()).map(([segs, rest]) => {
    const clean = segs.filter((s, i) => s !== '' || (i === segs.length - 1 && !rest));
    return `/${[...clean, ...(rest ? ['**'] : [])].join('/')}`;
  });
  const spec = fc.record({ path: pattern, methods: fc.constantFrom<Route['match']['methods']>('*', ['GET'], ['POST'], ['GET', 'POST']) });
  const requestPath = fc.array(fc.constantFrom('v1', 'a', 'b', '%7Ex', '~x', '.', '..', '%2e', '', 'c'), { maxLength: 6 }).map((s) => `/${s.join('/')}`);

  it('a request matches a route only if its normalized path fits the pattern, and matches whenever some route fits', () => {
    fc.assert(fc.property(fc.array(spec, { minLength: 1, maxLength: 6 }), requestPath, fc.constantFrom('GET', 'POST'), (specs, rawPath, method) => {
      const routes = specs.map((s, i) => route({ action: `r${i}`, match: { host: 'api.test', ...s } }));
      let policy;
      try {
        policy = compilePolicy({ routes, exceptions: [], sources: [] }, { nowMs: 0 });
      } catch (e) {
        assert.ok(e instanceof ConfigError);
        return;
      }
      const req = onlyRequestInvalid(() => normalizeRequest({ method, target: `http://api.test${rawPath}` }));
      if (req === undefined) return;
      const got = policy.match(req);
      const anyFits = routes.some((r) => fitsByReference(r, method, req.path));
      if (got) assert.ok(fitsByReference(got, method, req.path), `${got.match.path} matched ${req.path}`);
      assert.equal(got !== undefined, anyFits, `path ${req.path}`);
    }), { numRuns: 2000 });
  });
});
