/**
 * The development default (SPEC §2): `egress-gate start` with no config and no
 * ./egress-gate.yaml keeps its state in ./.egress-gate/ — a CA, a receipt key and a dev issuer
 * key, created on first start and reused after — and serves the example route maps.
 * It writes ./.egress-gate/egress-gate.yaml, an ordinary config, only when that file is missing
 * (an edited one is kept as it is, issue 16), and loads it, so the development default goes
 * through exactly the validation every config does.
 */
import { existsSync } from 'node:fs';
import { mkdir, open } from 'node:fs/promises';
import path from 'node:path';
import { initCa } from '../certs/ca.js';
import { examplesDir } from '../policy/examples-dir.js';
import { generateKeyFiles } from '../policy/permits/generate-keys.js';
import { DEV_ARBITER_ISS, ensureArbiterDevKeys } from './arbiter-dev-default.js';

export const DEV_GATE_ID = 'dev-gate';
export const DEV_SUBJECT = 'agent:dev';
export const DEV_ISSUER = 'https://issuer.egress-gate.dev';

export interface DevState {
  dir: string;
  configPath: string;
  caCert: string;
  issuerKey: string;
  /** true when this start wrote the config; false when an existing one (maybe edited) was kept. */
  configWritten: boolean;
}

/** Creates (once) the development state in `cwd/.egress-gate/`: CA, keys, config; returns where each is. */
export async function prepareDevDefault(cwd: string): Promise<DevState> {
  const dir = path.join(cwd, '.egress-gate');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const caDir = path.join(dir, 'ca');
  if (!existsSync(path.join(caDir, 'ca.pem'))) await initCa(caDir);
  const receiptKeyDir = path.join(dir, 'keys', 'receipts');
  if (!existsSync(path.join(receiptKeyDir, 'private.jwk.json'))) await generateKeyFiles(receiptKeyDir, { alg: 'EdDSA', kid: `receipts-${Date.now().toString(36)}` });
  const issuerDir = path.join(dir, 'keys', 'dev-issuer');
  if (!existsSync(path.join(issuerDir, 'private.jwk.json'))) await generateKeyFiles(issuerDir, { alg: 'EdDSA', kid: 'dev-issuer-1' });
  // The development arbiter's key exists before either starts, so the gate can trust it at once.
  await ensureArbiterDevKeys(cwd);
  const configPath = path.join(dir, 'egress-gate.yaml');
  const yaml = `# Written by \`egress-gate start\` (development default) because this file was missing.
# Edit freely: later starts keep it as it is. Delete it to get the default again.
gate:
  id: ${DEV_GATE_ID}
  subject: "${DEV_SUBJECT}"
  listen: 127.0.0.1:3128
  admin: 127.0.0.1:3129
  mode: enforce
policy:
  routes: ["${examplesDir().replace(/\\/g, '/')}"]
permits:
  issuers:
    - iss: ${DEV_ISSUER}
      jwks: ./keys/dev-issuer/jwks.json
      algorithms: [EdDSA, ES256]
    - iss: ${DEV_ARBITER_ISS}            # the development arbiter (egress-gate arbiter start)
      jwks: ./arbiter/keys/permits/jwks.json
      algorithms: [EdDSA, ES256]
  replay: memory
  request_url: ${DEV_ARBITER_ISS}/v1/permits
receipts:
  dir: ./receipts
  key: ./keys/receipts/private.jwk.json
  durability: fsync
tls:
  ca_cert: ./ca/ca.pem
  ca_key: ./ca/ca-key.pem
network:
  block_private: true
  allow_cidrs: ["127.0.0.1/32"]   # development only: lets the quickstart reach a local demo origin
`;
  // 'wx': create only; an existing file (edited or not) is never overwritten.
  let configWritten = false;
  try {
    const fh = await open(configPath, 'wx', 0o600);
    try { await fh.writeFile(yaml); } finally { await fh.close(); }
    configWritten = true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return { dir, configPath, caCert: path.join(caDir, 'ca.pem'), issuerKey: path.join(issuerDir, 'private.jwk.json'), configWritten };
}

export function devBanner(s: DevState, listen: string, admin: string): string {
  const rel = (p: string) => path.relative(process.cwd(), p) || p;
  return [
    `egress-gate (development default) — state in ${rel(s.dir)}/`,
    `  proxy  http://${listen}    admin  http://${admin}  (/healthz /readyz /metrics /jwks.json /receipts/checkpoint /receipts/key)`,
    s.configWritten
      ? `  config ${rel(s.configPath)} — written now because it was missing; edit freely, later starts keep it`
      : `  config ${rel(s.configPath)} — kept as it is (written only when missing; delete it for the default again)`,
    `  policy ${examplesDir()}`,
    '',
    'Try it (in another shell):',
    '  python3 -m http.server 8000 --bind 127.0.0.1 --directory "$(mktemp -d)" &   # a temporary folder, never this one',
    `  curl -i -x http://${listen} http://127.0.0.1:8000/            # PERMIT: authorize none`,
    `  curl -i -x http://${listen} http://127.0.0.1:8000/secrets/x   # DENY ROUTE_DENY`,
    `  curl -i -x http://${listen} -d '{"n":1}' http://127.0.0.1:8000/notes   # DENY PERMIT_MISSING`,
    '  # mint a permit for that POST and send it:',
    `  echo -n '{"n":1}' > body.json; P=$(npx egress-gate permit issue --key ${rel(s.issuerKey)} --iss ${DEV_ISSUER} \\`,
    `      --aud ${DEV_GATE_ID} --sub ${DEV_SUBJECT} --surface demo --action notes.create --method POST \\`,
    '      --url http://127.0.0.1:8000/notes --body body.json)',
    `  curl -i -x http://${listen} -H "Egress-Permit: $P" --data-binary @body.json http://127.0.0.1:8000/notes`,
    '',
    `HTTPS: trust the gate CA — curl --cacert ${rel(s.caCert)}, NODE_EXTRA_CA_CERTS=${rel(s.caCert)},`,
    `  or a full bundle: npx egress-gate ca bundle --out bundle.pem (SSL_CERT_FILE / REQUESTS_CA_BUNDLE).`,
    `Receipts: npx egress-gate receipts show ${rel(path.join(s.dir, 'receipts'))}`,
    `  curl -s http://${admin}/jwks.json > jwks.json && npx egress-gate receipts verify --key jwks.json ${rel(path.join(s.dir, 'receipts'))}`,
    '',
  ].join('\n');
}
