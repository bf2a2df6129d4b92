// Checks a receipt's inclusion proof in the browser, with no help from the server beyond the
// texts: the c2sp.org/tlog-proof@v1 text (SPEC §9), the checkpoint note it carries
// (c2sp.org/signed-note, Ed25519 through WebCrypto) and the RFC 9162 §2.1.3.2 inclusion path.
const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Canonical standard base64 only (as the gate writes it); throws otherwise. */
function b64(s) {
  if (s.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(s)) throw new Error('not standard base64');
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  if (btoa(bin) !== s) throw new Error('not canonical base64');
  return out;
}

const hex = (b) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) { out.set(p, at); at += p.length; }
  return out;
};
const sha256 = async (b) => new Uint8Array(await crypto.subtle.digest('SHA-256', b));
const leafHash = (b) => sha256(concat(Uint8Array.of(0), b));
const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));
const equal = (a, b) => a.length === b.length && a.every((x, i) => x === b[i]);

/** `<name>+<8 hex key id>+<base64(0x01 || 32-byte Ed25519 key)>`, its id checked. */
export async function parseVerifierKey(text) {
  const [name, id, ...rest] = text.trim().split('+');
  if (!name || !/^[0-9a-f]{8}$/i.test(id ?? '') || rest.length === 0) throw new Error('not a verifier key');
  const key = b64(rest.join('+'));
  if (key.length !== 33 || key[0] !== 1) throw new Error('the verifier key is not an Ed25519 key');
  const raw = key.subarray(1);
  const keyId = (await sha256(concat(enc.encode(`${name}\n`), Uint8Array.of(1), raw))).subarray(0, 4);
  if (hex(keyId) !== id.toLowerCase()) throw new Error('the verifier key id does not match its name and key');
  return { name, keyId, raw };
}

/** Opens a signed note with one key: returns its text when that key's signature verifies. */
export async function openNote(note, vkey) {
  const split = note.lastIndexOf('\n\n');
  if (split < 0 || !note.endsWith('\n')) throw new Error('malformed note');
  const text = note.slice(0, split + 1);
  for (const line of note.slice(split + 2, -1).split('\n')) {
    if (!line.startsWith('\u2014 ')) throw new Error('malformed signature line');
    const [name, sig64] = line.slice(2).split(' ');
    if (name !== vkey.name) continue;
    const bytes = b64(sig64 ?? '');
    if (!equal(bytes.subarray(0, 4), vkey.keyId)) continue;
    const key = await crypto.subtle.importKey('raw', vkey.raw, { name: 'Ed25519' }, false, ['verify']);
    if (!(await crypto.subtle.verify({ name: 'Ed25519' }, key, bytes.subarray(4), enc.encode(text)))) throw new Error(`the checkpoint signature by ${vkey.name} does not verify`);
    return text;
  }
  throw new Error(`the checkpoint has no signature by ${vkey.name}`);
}

/** The checkpoint body: origin, size, root (c2sp.org/tlog-checkpoint). */
export function parseCheckpoint(text) {
  const [origin, size, root] = text.split('\n');
  if (!origin || !/^(0|[1-9][0-9]*)$/.test(size ?? '') || !Number.isSafeInteger(Number(size))) throw new Error('malformed checkpoint');
  const r = b64(root ?? '');
  if (r.length !== 32) throw new Error('malformed checkpoint root');
  return { origin, size: Number(size), root: r };
}

/** RFC 9162 §2.1.3.2: the root the path leads to from `leaf` at `index` in a tree of `size`, or null. */
export async function rootFromInclusion(index, size, leaf, path) {
  if (index >= size) return null;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of path) {
    if (sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = await nodeHash(p, r);
      if (fn % 2 === 0) while (fn % 2 === 0 && fn !== 0) { fn = Math.floor(fn / 2); sn = Math.floor(sn / 2); }
    } else {
      r = await nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

/**
 * Verifies a tlog-proof text against the verifier key text. Resolves with what it proves —
 * `{ size, index, signer, entry }` (entry: the parsed entry bytes) — or throws saying why not.
 */
export async function verifyProof(proofText, verifierKeyText) {
  const vkey = await parseVerifierKey(verifierKeyText);
  const split = proofText.indexOf('\n\n');
  if (split < 0) throw new Error('malformed proof');
  const lines = proofText.slice(0, split).split('\n');
  if (lines[0] !== 'c2sp.org/tlog-proof@v1') throw new Error('not a c2sp.org/tlog-proof@v1');
  if (!lines[1]?.startsWith('extra ')) throw new Error('the proof carries no entry');
  const extra = b64(lines[1].slice(6));
  const m = /^index (0|[1-9][0-9]*)$/.exec(lines[2] ?? '');
  if (!m) throw new Error('the proof has no index');
  const index = Number(m[1]);
  const path = lines.slice(3).map((l) => { const h = b64(l); if (h.length !== 32) throw new Error('a path hash is not 32 bytes'); return h; });
  const cp = parseCheckpoint(await openNote(proofText.slice(split + 2), vkey));
  if (cp.origin !== vkey.name) throw new Error('the checkpoint is for another log');
  const root = await rootFromInclusion(index, cp.size, await leafHash(extra), path);
  if (!root || !equal(root, cp.root)) throw new Error(`the path does not lead to the checkpoint's root (index ${index}, size ${cp.size})`);
  return { size: cp.size, index, signer: vkey.name, entry: JSON.parse(dec.decode(extra)) };
}
