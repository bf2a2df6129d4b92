/**
 * The one decision chain: parse → policy → [JSON-RPC body] → match → destination → body →
 * authorize → decide.
 * Every arrival that can be decided goes through {@link DecisionChain} (decideRequest,
 * decideConnect) — requests on the
 * proxy port, requests inside an intercepted CONNECT, tunnel routes at CONNECT, WebSocket
 * upgrades — and so does `egress-gate explain`, with offline deps; so the gate and explain
 * give the same decision, reason and detail for the same input.
 *
 * Invariants:
 * - The chain only decides: it writes nothing, sends nothing upstream and never throws. An
 *   exception in any stage becomes `SILENCE INTERNAL_ERROR` here, the one catch around it.
 * - PERMIT comes only from authorize() (explicit branches) and is forwarded only when decide()
 *   says so; what may then leave is decided by record.ts, which alone issues a Clearance.
 * - The normalized request is what matching, permit binding and forwarding all read.
 * - A body read here (a JSON-RPC route's call, a body-bound permit's digest) is read once, kept
 *   in the attempt and forwarded as read: the bytes matched and bound are the bytes sent.
 */
import { createHash } from 'node:crypto';
import { decisionOf, type Reason } from '../../policy/reasons.js';
import { parseJsonRpcCall } from '../../policy/parse-jsonrpc-call.js';
import { RequestInvalidError } from '../../policy/request-invalid-error.js';
import type { CompiledPolicy, Decision, GateConfig, JsonRpcCall, NormalizedRequest, Route } from '../../policy/types.js';
import { authorize, type AuthorizeDeps } from './authorize.js';
import { decide, type Verdict } from './decide.js';
import { parseConnect, parseRequest, type Arrival, type RequestHead } from './parse-request.js';
import { BodyAbortedError, BodyTooLargeError, type BodySource } from './read-body.js';
import type { Resolution } from './resolve-destination.js';

export interface ChainDeps extends AuthorizeDeps {
  config: Pick<GateConfig, 'gate' | 'permits' | 'limits'>;
  /** The policy in effect, or undefined when none is fresh (SILENCE POLICY_UNAVAILABLE). */
  policy: () => CompiledPolicy | undefined;
  /** Resolves and checks a destination once (the gate: DNS; explain: IP literals only). */
  resolver: { resolve(req: NormalizedRequest): Promise<Resolution> };
  log: { error(obj: object, msg: string): void };
  /** explain: each stage's result, in order. */
  trace?: (check: string, result: string) => void;
  /** explain: decide without spending a single-use permit or holding a paused request. */
  dryRun?: boolean;
}

/** An HTTP request (plain, inside a tunnel, or an upgrade). */
export interface RequestInput { head: RequestHead; arrival: Arrival; body: BodySource }
/** A CONNECT: its authority, its Proxy-Authorization (a tunnel route's `Bearer` permit), and where it arrived (inside a tunnel: refused). */
export interface ConnectInput { authority: string; proxyAuthorization?: string | undefined; arrival?: Arrival }

/** One attempt on its way through the stages: what each stage learned. */
export interface Attempt {
  /** process.hrtime.bigint() at arrival. */
  started: bigint;
  method: string;
  request?: NormalizedRequest;
  route?: Route;
  policy?: CompiledPolicy;
  token?: string;
  idempotencyKey?: string;
  querySha256?: string;
  bodySha256?: string;
  /** A body read whole (a JSON-RPC route's call, bind_body): forwarded as read; otherwise the body is streamed when forwarded. */
  body?: Buffer;
  /** The JSON-RPC request the body held, when routes chose by it. */
  jsonrpc?: JsonRpcCall;
  /** The checked address to connect to; unset when the name did not resolve (resolved again before forwarding). */
  address?: string;
  /** Set when a single-use permit was claimed: record.ts releases it. */
  claimedJti?: string;
  /** The credential to set upstream: only on a forwarded PERMIT. */
  credential?: Route['credentials'];
  /** The connection must close after the answer (an unread or oversized body, broken framing). */
  close: boolean;
}

/** A decided attempt, ready to be recorded. */
export interface Decided { kind: 'decided'; attempt: Attempt; verdict: Verdict }
/** A CONNECT that no tunnel route takes: TLS is intercepted and each request inside decided (ROUTE_UNMATCHED when no route can match). */
export interface Intercept { kind: 'intercept'; attempt: Attempt; request: NormalizedRequest }

const sha256 = (b: string | Buffer) => createHash('sha256').update(b).digest('base64url');

function make(reason: Reason, detail: string, route?: Route): Decision {
  return { decision: decisionOf(reason), reason, detail, surface: route?.surface, action: route?.action, route };
}

/** `Bearer <permit>` of a CONNECT's Proxy-Authorization (a tunnel route's permit). */
function bearer(value: string | undefined): string | undefined {
  return value !== undefined && /^Bearer\s+/i.test(value) ? value.replace(/^Bearer\s+/i, '').trim() : undefined;
}

const INTERCEPT = Symbol('intercept');

/** `tools/call tool create_issue`, `initialize`, `notifications/initialized (notification)`. */
function describeCall(c: JsonRpcCall): string {
  return `${c.method}${c.tool !== undefined ? ` tool ${c.tool}` : ''}${c.notification ? ' (notification)' : ''}`;
}

/** The one decision chain, built once with its dependencies. */
export class DecisionChain {
  private readonly permitHeader: string;
  constructor(private readonly deps: ChainDeps) {
    this.permitHeader = deps.config.permits.header.toLowerCase();
  }

  /** Decides one HTTP request. Never throws. */
  decideRequest(input: RequestInput): Promise<Decided> {
    return this.run(input.head.method ?? '', (a) => this.request(input, a)) as Promise<Decided>;
  }

  /** Decides a CONNECT: a tunnel route or a refusal is decided here; otherwise it is intercepted. Never throws. */
  decideConnect(input: ConnectInput): Promise<Decided | Intercept> {
    return this.run('CONNECT', (a) => this.connect(input, a));
  }

  /** The one catch around the chain: an exception in any stage is SILENCE INTERNAL_ERROR. */
  private async run(method: string, stages: (a: Attempt) => Promise<Decision | typeof INTERCEPT>): Promise<Decided | Intercept> {
    const attempt: Attempt = { started: process.hrtime.bigint(), method, close: false };
    let decision: Decision | typeof INTERCEPT;
    try {
      decision = await stages(attempt);
    } catch (e) {
      this.deps.log.error({ err: e }, 'exception in the decision path');
      decision = make('INTERNAL_ERROR', 'the gate failed while deciding', attempt.route);
      attempt.close = true;
    }
    if (decision === INTERCEPT) return { kind: 'intercept', attempt, request: attempt.request! };
    const verdict = decide(decision, this.deps.config.gate.mode);
    if (verdict.forward && decision.decision === 'PERMIT') attempt.credential = attempt.route?.credentials;
    return { kind: 'decided', attempt, verdict };
  }

  private trace(check: string, result: string): void {
    this.deps.trace?.(check, result);
  }

  private async request(input: RequestInput, a: Attempt): Promise<Decision> {
    const parsed = parseRequest(input.head, input.arrival, this.permitHeader);
    if (!parsed.ok) {
      a.close = true;
      this.trace('normalize', parsed.detail);
      return make('REQUEST_INVALID', parsed.detail);
    }
    const r = parsed.request;
    this.trace('normalize', 'ok');
    a.request = r;
    a.token = parsed.token;
    a.idempotencyKey = parsed.idempotencyKey;
    if (r.query !== null) a.querySha256 = sha256(r.query);
    const policy = this.policyOrNull(a);
    if (!policy) return make('POLICY_UNAVAILABLE', 'no fresh route maps are loaded');
    // Only a request whose route its body chooses has it read here (known from the compiled
    // routes, without looking at the body); any other body is streamed when forwarded.
    if (policy.routesByBody(r)) {
      const refused = await this.readWhole(a, input.body);
      if (refused) return refused;
      try {
        a.jsonrpc = parseJsonRpcCall(a.body!);
      } catch (e) {
        if (!(e instanceof RequestInvalidError)) throw e;
        a.close = true;
        this.trace('jsonrpc', e.message);
        return make('REQUEST_INVALID', e.message);
      }
      this.trace('jsonrpc', describeCall(a.jsonrpc));
    }
    const route = policy.match(r, a.jsonrpc);
    if (!route) return this.unmatched(r, a.jsonrpc);
    return this.afterMatch(a, policy, route, input.body);
  }

  private async connect(input: ConnectInput, a: Attempt): Promise<Decision | typeof INTERCEPT> {
    const parsed = parseConnect(input.authority, input.arrival);
    if (!parsed.ok) {
      a.close = true;
      this.trace('normalize', parsed.detail);
      return make('REQUEST_INVALID', parsed.detail);
    }
    const auth = parsed.authority;
    this.trace('normalize', 'ok');
    const r: NormalizedRequest = {
      method: 'CONNECT', scheme: 'https', host: auth.host, port: auth.port, path: '', query: null,
      url: `${auth.host.includes(':') ? `[${auth.host}]` : auth.host}:${auth.port}`, hostIsIp: auth.hostIsIp,
    };
    a.request = r;
    a.token = bearer(input.proxyAuthorization);
    const policy = this.policyOrNull(a);
    if (!policy) return make('POLICY_UNAVAILABLE', 'no fresh route maps are loaded');
    const route = policy.matchTunnel(auth.host, auth.port);
    if (route) return this.afterMatch(a, policy, route, undefined);
    // Every other CONNECT is intercepted (SPEC §4), also one no route can match: the requests
    // inside then match nothing and are each answered DENY ROUTE_UNMATCHED with a problem body
    // the agent can read, instead of a bare "tunnel failed: 403". Nothing goes upstream: an
    // unmatched request is refused before the destination stage resolves or connects.
    this.trace('match', policy.canMatchAuthority(auth.host, auth.port)
      ? 'intercepted: each request inside is decided'
      : 'intercepted: no route can match this host:port, so each request inside is ROUTE_UNMATCHED');
    return INTERCEPT;
  }

  private policyOrNull(a: Attempt): CompiledPolicy | undefined {
    const policy = this.deps.policy();
    if (!policy) this.trace('policy', 'no fresh route maps');
    a.policy = policy;
    return policy;
  }

  private unmatched(r: NormalizedRequest, call: JsonRpcCall | undefined): Decision {
    this.trace('match', 'no route');
    return make('ROUTE_UNMATCHED', `no route matches ${r.method} ${r.url}${call ? ` (JSON-RPC ${describeCall(call)})` : ''}`);
  }

  /**
   * Reads the whole body into the attempt, up to max_bound_body, and its digest; a Decision
   * when it cannot be (too large, or the client left half-way: the connection then closes).
   */
  private async readWhole(a: Attempt, body: BodySource, route?: Route): Promise<Decision | undefined> {
    const max = this.deps.config.limits.maxBoundBody;
    try {
      if (body.contentLength !== undefined && body.contentLength > max) throw new BodyTooLargeError(`the body exceeds max_bound_body (${max} bytes)`);
      a.body = await body.read(max);
    } catch (e) {
      if (e instanceof BodyAbortedError) {
        // The client left half-way: what it sent is no request (REQUEST_INVALID), and the gate did not fail.
        a.close = true;
        this.trace('body', e.message);
        return make('REQUEST_INVALID', e.message, route);
      }
      if (!(e instanceof BodyTooLargeError)) throw e;
      a.close = true;
      this.trace('body', e.message);
      return make('BODY_TOO_LARGE', e.message, route);
    }
    a.bodySha256 = sha256(a.body);
    this.trace('body', `${a.body.length} bytes, sha256 ${a.bodySha256}`);
    return undefined;
  }

  /** destination → body → authorize: the stages after a route matched, for requests and tunnel routes alike. */
  private async afterMatch(a: Attempt, policy: CompiledPolicy, route: Route, body: BodySource | undefined): Promise<Decision> {
    const r = a.request!;
    a.route = route;
    this.trace('match', `${route.surface}/${route.action}`);

    const dest = await this.deps.resolver.resolve(r);
    this.trace('destination', dest.ok ? 'allowed' : dest.detail);
    if (!dest.ok && dest.private) return make('DESTINATION_PRIVATE', dest.detail, route);
    // A name that did not resolve is not refused here: authorization is decided (and
    // recorded) first, and the forwarder resolves again before it connects.
    if (dest.ok) a.address = dest.address;

    if (body && a.body === undefined && route.bindBody && route.authorize !== 'none' && route.authorize !== 'deny') {
      const refused = await this.readWhole(a, body, route);
      if (refused) return refused;
    }

    const out = await authorize({
      policy, route, request: r, token: a.token, bodySha256: a.bodySha256, querySha256: a.querySha256,
      idempotencyKey: a.idempotencyKey, dryRun: this.deps.dryRun,
    }, this.deps);
    a.claimedJti = out.claimedJti;
    this.trace('authorize', `${route.authorize}: ${out.decision.reason}`);
    return out.decision;
  }
}
