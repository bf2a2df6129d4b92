import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { examplesDir } from '../../../policy/examples-dir.js';
import { loadRouteMaps } from '../../../policy/load-route-maps.js';
import { ROUTE_MAP_KEYS } from '../../../policy/parse-route-map.js';

type Schema = Record<string, unknown>;
const schemaPath = fileURLToPath(new URL('../../../policy/schema/routemap.schema.json', import.meta.url));
const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as Schema;
const fixtures = fileURLToPath(new URL('../../fixtures/policy/routes/', import.meta.url));

/**
 * A validator for exactly the JSON Schema keywords routemap.schema.json uses (no validator
 * is installed). It throws on any other keyword, so the schema cannot silently outgrow it.
 */
function validate(s: Schema, v: unknown, at = '$'): string[] {
  const known = new Set(['$schema', '$id', 'title', 'description', 'default', '$defs', 'type', 'properties', 'required', 'additionalProperties', 'items', 'enum', 'const', 'pattern', 'minLength', 'minItems', 'minimum', 'maximum', 'anyOf', '$ref']);
  for (const k of Object.keys(s)) if (!known.has(k)) throw new Error(`schema keyword ${k} at ${at} is not supported by the test validator`);
  if (typeof s.$ref === 'string') {
    const target = s.$ref.replace(/^#\/\$defs\//, '');
    return validate(((schema.$defs as Schema)[target] as Schema), v, at);
  }
  const errs: string[] = [];
  const t = s.type as string | undefined;
  const isObj = typeof v === 'object' && v !== null && !Array.isArray(v);
  if (t === 'object' && !isObj) return [`${at}: not an object`];
  if (t === 'array' && !Array.isArray(v)) return [`${at}: not an array`];
  if (t === 'string' && typeof v !== 'string') return [`${at}: not a string`];
  if (t === 'boolean' && typeof v !== 'boolean') return [`${at}: not a boolean`];
  if (t === 'integer' && !Number.isInteger(v)) return [`${at}: not an integer`];
  if (s.enum && !(s.enum as unknown[]).includes(v)) errs.push(`${at}: not one of ${JSON.stringify(s.enum)}`);
  if ('const' in s && s.const !== v) errs.push(`${at}: not ${JSON.stringify(s.const)}`);
  if (typeof v === 'string') {
    if (s.pattern && !new RegExp(s.pattern as string, 'u').test(v)) errs.push(`${at}: does not match ${s.pattern}`);
    if (typeof s.minLength === 'number' && v.length < s.minLength) errs.push(`${at}: too short`);
  }
  if (typeof v === 'number') {
    if (typeof s.minimum === 'number' && v < s.minimum) errs.push(`${at}: below minimum`);
    if (typeof s.maximum === 'number' && v > s.maximum) errs.push(`${at}: above maximum`);
  }
  if (Array.isArray(v)) {
    if (typeof s.minItems === 'number' && v.length < s.minItems) errs.push(`${at}: too few items`);
    if (s.items) v.forEach((x, i) => errs.push(...validate(s.items as Schema, x, `${at}[${i}]`)));
  }
  if (isObj) {
    const props = (s.properties ?? {}) as Record<string, Schema>;
    for (const r of (s.required ?? []) as string[]) if (!(r in v)) errs.push(`${at}: missing ${r}`);
    for (const [k, x] of Object.entries(v)) {
      if (props[k]) errs.push(...validate(props[k], x, `${at}.${k}`));
      else if (s.additionalProperties === false) errs.push(`${at}: unknown key ${k}`);
    }
  }
  if (s.anyOf && !(s.anyOf as Schema[]).some((alt) => validate(alt, v, at).length === 0)) errs.push(`${at}: matches no alternative`);
  return errs;
}

const exampleFiles = readdirSync(examplesDir()).filter((f) => f.endsWith('.yaml')).map((f) => path.join(examplesDir(), f));

describe('routemap.schema.json', () => {
  it('documents every key the loader accepts', () => {
    const defs = schema.$defs as Record<string, Schema>;
    const propsOf = (s: Schema): string[] => Object.keys((s.properties ?? {}) as object);
    const routeProps = defs.route as Schema;
    const credentials = (routeProps.properties as Record<string, Schema>).credentials as Schema;
    assert.deepEqual(propsOf(schema).sort(), [...ROUTE_MAP_KEYS.top].sort());
    assert.deepEqual(propsOf(routeProps).sort(), [...ROUTE_MAP_KEYS.route].sort());
    assert.deepEqual(propsOf(defs.match as Schema).sort(), [...ROUTE_MAP_KEYS.match].sort());
    assert.deepEqual(propsOf(defs.jsonrpc as Schema).sort(), [...ROUTE_MAP_KEYS.jsonrpc].sort());
    assert.deepEqual(propsOf(credentials).sort(), [...ROUTE_MAP_KEYS.credentials].sort());
    assert.deepEqual(propsOf(defs.exception as Schema).sort(), [...ROUTE_MAP_KEYS.exception].sort());
  });

  it('rejects what the loader rejects (sample of invalid fixtures)', () => {
    for (const name of ['authorize-invalid.yaml', 'unknown-keys.yaml', 'paths.yaml', 'modes.yaml', 'jsonrpc.yaml']) {
      const errs = validate(schema, parse(readFileSync(path.join(fixtures, name), 'utf8')));
      assert.ok(errs.length > 0, `${name} should fail the schema`);
    }
    assert.deepEqual(validate(schema, parse(readFileSync(path.join(fixtures, 'valid.yaml'), 'utf8'))), []);
    const jsonrpcValid = readFileSync(path.join(fixtures, 'jsonrpc.yaml'), 'utf8').split('\n').slice(0, 14).join('\n');
    assert.deepEqual(validate(schema, parse(jsonrpcValid)), [], 'the valid jsonrpc routes pass the schema');
  });
});

describe('policy/examples', () => {
  it('exist, point editors at the schema, and pass it', () => {
    assert.ok(exampleFiles.length >= 2, 'at least two example route maps');
    for (const f of exampleFiles) {
      const text = readFileSync(f, 'utf8');
      assert.ok(text.startsWith('# yaml-language-server: $schema=../schema/routemap.schema.json\n'), `${f} names the schema`);
      assert.deepEqual(validate(schema, parse(text)), [], f);
    }
  });

  it('load cleanly and route the demo hosts sensibly', async () => {
    const { routes, exceptions } = await loadRouteMaps([examplesDir()]);
    const find = (host: string, scheme: string | undefined, method: string) =>
      routes.find((r) => r.match.host === host && r.match.scheme === scheme && (r.match.methods === '*' || r.match.methods.includes(method)));
    for (const scheme of ['http', 'https']) {
      const r = find('example.com', scheme, 'GET');
      assert.equal(r?.authorize, 'none', `${scheme}://example.com GET is open`);
      assert.equal(r?.match.path, '/**');
    }
    assert.ok(routes.some((r) => r.authorize === 'permit' && r.bindBody && r.match.methods !== '*' && r.match.methods.includes('POST')), 'a body-bound POST permit route');
    assert.ok(routes.some((r) => r.authorize === 'deny'), 'a deny route');
    assert.ok(routes.some((r) => r.match.host === 'httpbin.org'), 'an httpbin-style demo host');
    assert.ok(exceptions.some((x) => x.expires > Date.UTC(2090, 0, 1)), 'an exception with a far-future expiry');
  });
});
