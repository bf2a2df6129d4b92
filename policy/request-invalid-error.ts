/**
 * The one error request normalization throws for bad input (SPEC §4: `DENY REQUEST_INVALID`).
 * Its message is written for the client: it says what is wrong and never echoes header
 * values, so it is safe to put in a problem+json body or a receipt.
 */
export class RequestInvalidError extends Error {
  readonly code = 'REQUEST_INVALID';
  override name = 'RequestInvalidError';
}
