/**
 * The receipt log's admin endpoints (SPEC §10), each answered as text/plain:
 * `GET /receipts/checkpoint` (the newest checkpoint note: its tree holds every acknowledged
 * entry), `/receipts/key` (the verifier key), `/receipts/proof?id=ID|seq=N` (a tlog-proof against
 * the newest checkpoint; 404 unknown, 400 bad query), `/receipts/consistency?from=M` (path
 * lines, an empty line, the note; 400 when M is larger than the tree).
 */
import type http from 'node:http';
import { ProofUnavailableError } from '../receipts/log-proofs.js';

/** What the endpoints need of the receipt log (ReceiptLog has it). */
export interface ReceiptEndpointsSource {
  readonly verifierKey: string;
  checkpoint(): string | undefined;
  proof(q: { seq: number } | { id: string }): string | undefined;
  consistency(from: number): string | undefined;
}

function text(res: http.ServerResponse, status: number, body: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(body);
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

/** Answers `req` when it is a receipt endpoint (true), else leaves it (false). */
export function handleReceiptEndpoint(src: ReceiptEndpointsSource, pathname: string, query: URLSearchParams, res: http.ServerResponse): boolean {
  if (!pathname.startsWith('/receipts/')) return false;
  try {
    switch (pathname) {
      case '/receipts/key':
        text(res, 200, `${src.verifierKey}\n`);
        return true;
      case '/receipts/checkpoint': {
        const cp = src.checkpoint();
        if (cp === undefined) text(res, 404, 'the receipt log has no checkpoint yet\n');
        else text(res, 200, cp);
        return true;
      }
      case '/receipts/proof': {
        const id = query.getAll('id');
        const seq = query.getAll('seq');
        if (id.length + seq.length !== 1 || (seq.length === 1 && !DECIMAL.test(seq[0]!)) || (id.length === 1 && id[0] === '')) {
          text(res, 400, 'give exactly one of ?id=<entry id> or ?seq=<decimal>\n');
          return true;
        }
        const proof = src.proof(seq.length === 1 ? { seq: Number(seq[0]) } : { id: id[0]! });
        if (proof === undefined) text(res, 404, 'no such entry under the newest checkpoint\n');
        else text(res, 200, proof);
        return true;
      }
      case '/receipts/consistency': {
        const from = query.getAll('from');
        if (from.length !== 1 || !DECIMAL.test(from[0]!)) {
          text(res, 400, 'give ?from=<tree size, decimal>\n');
          return true;
        }
        let answer: string | undefined;
        try {
          answer = src.consistency(Number(from[0]));
        } catch (e) {
          if (e instanceof RangeError) { text(res, 400, `${e.message}\n`); return true; }
          throw e;
        }
        if (answer === undefined) text(res, 404, 'the receipt log has no checkpoint yet\n');
        else text(res, 200, answer);
        return true;
      }
      default:
        return false;
    }
  } catch (e) {
    text(res, e instanceof ProofUnavailableError ? 503 : 500, `${(e as Error).message}\n`);
    return true;
  }
}
