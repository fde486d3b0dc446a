/**
 * Every error the matchmaker answers with, in one table. Codes are stable:
 * clients, logs and dashboards match on them, so a code is never renamed or
 * reused. `test/errors.test.ts` checks each one is documented in
 * docs/matchmaker.md.
 */
export const MM_ERRORS = {
  GM_MM_UNAUTHORIZED: { status: 401, message: 'missing or invalid API key or bearer token' },
  GM_MM_FORBIDDEN: { status: 403, message: 'the bearer token does not own this ticket' },
  GM_MM_BAD_JSON: { status: 400, message: 'the request body is not valid JSON' },
  GM_MM_VALIDATION: { status: 400, message: 'the request does not match the schema' },
  GM_MM_UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'the body must be application/json' },
  GM_MM_BODY_TOO_LARGE: { status: 413, message: 'the request body exceeds the configured limit' },
  GM_MM_UNKNOWN_POOL: { status: 422, message: 'the ticket names a pool that is not configured' },
  GM_MM_PARTY_TOO_LARGE: { status: 422, message: 'a party does not fit into one team of the pool' },
  GM_MM_DUPLICATE_PLAYER: { status: 422, message: 'a player id appears twice in one ticket' },
  GM_MM_IDEMPOTENCY_CONFLICT: {
    status: 409,
    message: 'the idempotency key was already used with a different request body',
  },
  GM_MM_TICKET_NOT_FOUND: { status: 404, message: 'no ticket with this id' },
  GM_MM_TICKET_FINISHED: {
    status: 409,
    message: 'the ticket is already assigned, expired or cancelled',
  },
  GM_MM_ROUTE_NOT_FOUND: { status: 404, message: 'no such route' },
  GM_MM_NOT_READY: { status: 503, message: 'the matchmaker is not ready (store unreachable)' },
  GM_MM_STORE_UNAVAILABLE: {
    status: 503,
    message: 'the store (Redis) is unreachable or refused the operation',
  },
  GM_MM_INTERNAL: { status: 500, message: 'an unexpected server error' },
  GM_MM_LINK_BAD_FRAME: {
    status: 400,
    message: 'a link frame is not valid msgpack of a known shape',
  },
  GM_MM_LINK_NOT_REGISTERED: { status: 400, message: 'the first link frame must be register' },
  GM_MM_LINK_UNKNOWN_CLUSTER: {
    status: 400,
    message: 'the node names a cluster that is not configured',
  },
  GM_MM_LINK_REPLACED: { status: 409, message: 'another connection registered the same node id' },
} as const;

export type MmErrorCode = keyof typeof MM_ERRORS;

export interface MmErrorBody {
  readonly error: {
    readonly code: MmErrorCode;
    readonly message: string;
    readonly detail?: string;
  };
}

export function errorBody(code: MmErrorCode, detail?: string): MmErrorBody {
  const base = { code, message: MM_ERRORS[code].message };
  return { error: detail === undefined ? base : { ...base, detail } };
}

/**
 * Domain operations return these instead of throwing, so every failure a
 * client can cause has exactly one code.
 */
export type Outcome<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly code: MmErrorCode; readonly detail?: string };

export function ok<T>(value: T): Outcome<T> {
  return { ok: true, value };
}

export function fail<T>(code: MmErrorCode, detail?: string): Outcome<T> {
  return detail === undefined ? { ok: false, code } : { ok: false, code, detail };
}
