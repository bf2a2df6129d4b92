/**
 * Stage 3, authorize: the matched route's `authorize` rule applied to one request, giving a
 * Decision value. Every failure to know — no keys, no decider, no replay store, an exception —
 * is a SILENCE or DENY; PERMIT is returned only from the explicit branches below.
 */
import { decisionOf, type Reason } from '../../policy/reasons.js';
import { ReplayStoreUnavailableError } from '../../policy/permits/replay-store.js';
import type { CompiledPolicy, Decision, NormalizedRequest, PermitFacts, Route } from '../../policy/types.js';
import type { DeciderAnswer, DeciderInput, DeciderPort, PausePort, PermitCheckerPort, PermitClaims, ReplayPort } from './ports.js';

export interface AuthorizeDeps {
  gateId: string;
  subject?: string;
  permits?: PermitCheckerPort;
  replay?: ReplayPort;
  decider?: DeciderPort;
  /** Holds requests of `on_silence: pause` routes (authority/pause-gate.ts). */
  pause?: PausePort;
  clock: () => number;
}

export interface AuthorizeInput {
  policy: CompiledPolicy;
  route: Route;
  request: NormalizedRequest;
  token?: string;
  bodySha256?: string;
  querySha256?: string;
  idempotencyKey?: string;
  /** explain: decide without spending a single-use permit. */
  dryRun?: boolean;
}

export interface Authorized {
  decision: Decision;
  /** Set when a single-use permit was claimed: the caller must call replay.finish(). */
  claimedJti?: string;
}

function make(reason: Reason, detail: string, route: Route, extra: Partial<Decision> = {}): Decision {
  return { decision: decisionOf(reason), reason, detail, surface: route.surface, action: route.action, route, ...extra };
}

/** Applies the matched route's `authorize` rule; never returns PERMIT but from its explicit branches. */
export async function authorize(input: AuthorizeInput, deps: AuthorizeDeps): Promise<Authorized> {
  const { route, policy } = input;
  const exception = policy.exceptionFor(route.surface, route.action, deps.clock());
  if (exception) {
    return { decision: make('EXCEPTION', `policy exception ${exception.id} applies`, route, { exception: exception.id }) };
  }
  switch (route.authorize) {
    case 'deny':
      return { decision: make('ROUTE_DENY', `route ${route.surface}/${route.action} denies this action`, route) };
    case 'none':
      return { decision: make('NO_PERMIT_REQUIRED', 'route requires no permit', route) };
    case 'permit':
    case 'permit+online':
    case 'online':
      return authorizeWithAuthority(input, deps);
    default: {
      const never: never = route.authorize;
      throw new Error(`unknown authorize ${String(never)}`);
    }
  }
}

async function authorizeWithAuthority(input: AuthorizeInput, deps: AuthorizeDeps): Promise<Authorized> {
  const { route, request } = input;
  const needsPermit = route.authorize !== 'online';
  let claims: PermitClaims | null = null;
  let facts: PermitFacts | undefined;
  if (needsPermit || input.token) {
    if (!input.token) return { decision: make('PERMIT_MISSING', 'no permit was presented', route) };
    if (!deps.permits) return { decision: make('KEYS_UNAVAILABLE', 'no permit issuers are configured', route) };
    const checked = await deps.permits.check({ token: input.token, route, request, bodySha256: input.bodySha256 });
    if (!checked.ok) {
      // On an `online` route a permit is optional context for the decider: an invalid one is not passed on.
      if (needsPermit || decisionOf(checked.reason) === 'SILENCE') {
        return { decision: make(checked.reason, checked.detail, route, { permit: checked.facts }) };
      }
    } else {
      claims = checked.claims;
      facts = checked.facts;
    }
  }

  let reason: Reason = 'PERMIT_VALID';
  let detail = 'permit verified';
  if (route.authorize !== 'permit') {
    const answer = await askDecider(input, deps, claims);
    if (answer.decision !== 'PERMIT') return { decision: make(answer.reason, answer.detail, route, { permit: facts }) };
    reason = 'DECIDER_PERMIT';
    detail = answer.detail;
  }

  if (claims && route.singleUse && !input.dryRun) {
    if (!deps.replay) return { decision: make('REPLAY_STORE_UNAVAILABLE', 'no replay store', route, { permit: facts }) };
    let claim;
    try {
      claim = await deps.replay.claim(claims.jti, claims.exp, { idk: claims.idk, idempotencyKey: input.idempotencyKey });
    } catch (e) {
      if (e instanceof ReplayStoreUnavailableError) {
        return { decision: make('REPLAY_STORE_UNAVAILABLE', 'the replay store cannot be reached', route, { permit: facts }) };
      }
      throw e;
    }
    if (!claim.ok) {
      const why = claim.reason === 'PERMIT_IN_FLIGHT' ? 'another attempt with this permit is in flight' : 'this permit was already used';
      return { decision: make(claim.reason, why, route, { permit: facts }) };
    }
    return { decision: make(reason, detail, route, { permit: facts, retryOf: claim.retryOf }), claimedJti: claims.jti };
  }
  return { decision: make(reason, detail, route, { permit: facts }) };
}

async function askDecider(input: AuthorizeInput, deps: AuthorizeDeps, claims: PermitClaims | null): Promise<DeciderAnswer> {
  if (!deps.decider) return { decision: 'SILENCE', reason: 'DECIDER_ERROR', detail: 'no decider is configured' };
  const { route, request } = input;
  const q: DeciderInput = {
    gate: deps.gateId,
    subject: deps.subject ?? (typeof claims?.sub === 'string' ? claims.sub : null),
    surface: route.surface,
    action: route.action,
    request: {
      method: request.method,
      url: request.url,
      host: request.host,
      path: request.path,
      query_sha256: input.querySha256 ?? null,
      body_sha256: input.bodySha256 ?? null,
      idempotency_key: input.idempotencyKey ?? null,
    },
    permit: claims,
  };
  const decider = deps.decider;
  const first = await decider.ask(q);
  if (first.decision === 'SILENCE' && route.onSilence === 'pause' && deps.pause && !input.dryRun) {
    return deps.pause.hold(route.pauseMaxMs, first, () => decider.ask(q));
  }
  return first;
}
