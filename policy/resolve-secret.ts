/**
 * `${secret:NAME}` in a route's credentials value, resolved at load from the file NAME in
 * `secrets.dir` (a Kubernetes Secret mount). Only the secret's name is ever reported; its
 * value never appears in a message.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';

const REF = /\$\{secret:([^}]*)\}/g;
/** One path component: no separators, no dot-only names, so a name cannot leave secrets.dir. */
const NAME = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,253}$/;

/** The name in the one `${secret:NAME}` reference of `value`, checked but not read. */
export function secretRefOf(value: string): { secret: string } | { error: string } {
  const refs = [...value.matchAll(REF)];
  if (refs.length !== 1) return { error: 'a credentials "value" must name exactly one ${secret:NAME} (route maps never hold a credential itself)' };
  const name = (refs[0] as RegExpMatchArray)[1] as string;
  if (!NAME.test(name)) return { error: `secret name ${JSON.stringify(name)} must be one file name (letters, digits, ".", "_", "-")` };
  return { secret: name };
}

/**
 * Replaces the one `${secret:NAME}` reference in `value` with the secret's content (its
 * trailing newline trimmed). A value must name exactly one secret: route maps never hold a
 * credential in clear.
 */
export function resolveSecretRef(value: string, secretsDir: string | undefined): { value: string; secret: string } | { error: string } {
  const ref = secretRefOf(value);
  if ('error' in ref) return ref;
  const name = ref.secret;
  if (secretsDir === undefined) return { error: `secret ${JSON.stringify(name)} cannot be resolved: no secrets.dir is configured` };
  let content: string;
  try {
    content = readFileSync(path.join(secretsDir, name), 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return { error: `secret ${JSON.stringify(name)} not found in ${secretsDir}${code === 'ENOENT' ? '' : ` (${code ?? 'unreadable'})`}` };
  }
  const secret = content.replace(/\r?\n$/, '');
  // A header value with CR, LF or NUL would let the secret's file inject headers.
  if (secret === '' || /[\r\n\0]/.test(secret)) return { error: `secret ${JSON.stringify(name)} must be one non-empty line` };
  return { value: value.replace(REF, () => secret), secret: name };
}
