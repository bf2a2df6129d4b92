/**
 * egress-gate SDK: mint permits (for an arbiter or tests), compute request bindings, and
 * route an agent's HTTP through the gate. The binding and signing code is the one the gate
 * and `egress-gate permit issue` use.
 */
export { issuePermit, type IssuePermitOptions } from '../policy/permits/issue-permit.js';
export { bindRequest, sha256Base64url, type RequestBinding } from '../policy/permits/bind-request.js';
export { generateKey, type GeneratedKey, type KeyAlgorithm } from '../policy/permits/generate-keys.js';
export { gateDispatcher, type GateDispatcherOptions } from './gate-dispatcher.js';
export { gateFetch, type GateFetch } from './gate-fetch.js';

/** The request header a permit travels in (the default of `permits.header`). */
export const PERMIT_HEADER = 'Egress-Permit';
export { createPermitFetch, requestPermit, PermitRequestError, type FetchLike, type IssuedPermit, type PermitFetchOptions, type RequestPermitOptions } from './request-permit.js';
