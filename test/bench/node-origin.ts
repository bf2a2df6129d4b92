/**
 * Fallback origin when nginx is not installed: `node test/bench/node-origin.ts HTTP_PORT
 * HTTPS_PORT CERT KEY BODY`. Answers every request 200 with BODY after reading the request body.
 */
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';

const [hp, sp, cert, key, body] = process.argv.slice(2) as [string, string, string, string, string];
const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
  req.resume();
  req.on('end', () => res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body));
};
const a = http.createServer({ keepAliveTimeout: 60_000 }, handler).listen(Number(hp), '127.0.0.1');
const b = https.createServer({ cert: fs.readFileSync(cert), key: fs.readFileSync(key), keepAliveTimeout: 60_000 }, handler).listen(Number(sp), '127.0.0.1');
let up = 0;
const ready = () => { if (++up === 2) process.stdout.write('listening\n'); };
a.on('listening', ready);
b.on('listening', ready);
process.on('SIGTERM', () => process.exit(0));
