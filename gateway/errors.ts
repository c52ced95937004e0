// Gateway error codes and their HTTP status. 4xx are the caller's to fix (CLI exit 1), 5xx are
// ours (CLI exit 2). The one place that turns errors into responses is `replyForError` in http.ts.

export const GATEWAY_ERRORS = {
  ERR_HOST_NOT_FOUND: 404,
  ERR_APP_NOT_FOUND: 404,
  ERR_APP_AMBIGUOUS: 409,
  ERR_APP_NOT_DEPLOYED: 503,
  ERR_PATH_NOT_ROUTED: 404,
  ERR_DEPLOYMENT_NOT_FOUND: 404,
  ERR_KV_KEY_NOT_FOUND: 404,
  ERR_BUCKET_NOT_GRANTED: 403,
  ERR_ROUTE_NOT_FOUND: 404,
  ERR_BAD_REQUEST: 400,
  ERR_VALIDATION: 400,
  ERR_HOSTNAME_INVALID: 400,
  ERR_HOSTNAME_TAKEN: 409,
  ERR_CONFIG_NAME_TAKEN: 409,
  ERR_VAR_NOT_FOUND: 404,
  ERR_SECRET_NOT_FOUND: 404,
  ERR_OUTBOUND_HOST_INVALID: 400,
  ERR_OUTBOUND_HOST_PRIVATE: 403,
  ERR_BODY_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_AUTH_MISSING: 401,
  ERR_AUTH_INVALID: 401,
  ERR_AUTH_BAD_SIGNATURE: 401,
  ERR_AUTH_ALG_NOT_ALLOWED: 401,
  ERR_AUTH_EXPIRED: 401,
  ERR_AUTH_CLAIM_INVALID: 401,
  ERR_AUTH_NOT_YET_VALID: 401,
  ERR_AUTH_WRONG_ISSUER: 401,
  ERR_AUTH_WRONG_AUDIENCE: 401,
  ERR_AUTH_REVOKED: 401,
  ERR_FORBIDDEN: 403,
  ERR_SCOPE_MISSING: 403,
  ERR_HOSTNAME_NOT_GRANTED: 403,
  ERR_QUOTA_EXCEEDED: 403,
  ERR_TENANT_NOT_FOUND: 404,
  ERR_TENANT_HAS_APPS: 409,
  ERR_TOKEN_NOT_FOUND: 404,
  ERR_STATE_UNAVAILABLE: 503,
  ERR_NOT_READY: 503,
  ERR_INTERNAL: 500,
} as const;

export type GatewayErrorCode = keyof typeof GATEWAY_ERRORS;

/** What each code means, in one line: docs/reference/errors.md is made from this (`npm run gen:docs`). */
export const GATEWAY_ERROR_MEANINGS: Readonly<Record<GatewayErrorCode, string>> = {
  ERR_HOST_NOT_FOUND: "no app serves the request's host (data plane)",
  ERR_APP_NOT_FOUND: "there is no app of that name in the caller's tenant (or the tenant named)",
  ERR_APP_AMBIGUOUS:
    "an operator named an app several tenants have, without ?tenant=; name the tenant (deploy-cli --tenant)",
  ERR_APP_NOT_DEPLOYED: "the host's app exists but has no deployment yet (data plane)",
  ERR_PATH_NOT_ROUTED:
    "the app's deployment has path routes and none matches the request's path (data plane)",
  ERR_DEPLOYMENT_NOT_FOUND: "the app has no deployment of that id (rollback)",
  ERR_KV_KEY_NOT_FOUND: "the bucket holds no such key (admin API)",
  ERR_BUCKET_NOT_GRANTED: "the app is not granted that key-value bucket (admin API)",
  ERR_ROUTE_NOT_FOUND: "no such admin API route; the API lives under /v1",
  ERR_BAD_REQUEST:
    "the request is malformed: a body that is not JSON, or more than one Host header on the data plane",
  ERR_VALIDATION: "a name, query parameter or JSON field is not valid; the message says which",
  ERR_HOSTNAME_INVALID: "a hostname or hostname pattern is not valid",
  ERR_HOSTNAME_TAKEN: "the hostname already belongs to another app (named only when it is the tenant's own)",
  ERR_CONFIG_NAME_TAKEN: "the name is already used by the other kind (a variable or a secret, never both)",
  ERR_VAR_NOT_FOUND: "the app has no variable of that name",
  ERR_SECRET_NOT_FOUND: "the app has no secret of that name",
  ERR_OUTBOUND_HOST_INVALID: "an allowed outbound host is not a `scheme://host[:port]` pattern",
  ERR_OUTBOUND_HOST_PRIVATE:
    "a tenant's token named a special address (loopback, private, link-local…) or localhost outside the ranges the operator opened to the tenant",
  ERR_BODY_TOO_LARGE: "the request body is over the app's (or the gateway's) limit; the guest was not called",
  ERR_UNSUPPORTED_MEDIA_TYPE: "a deployment upload without `Content-Type: application/wasm`",
  ERR_AUTH_MISSING: "the admin API call carries no bearer token",
  ERR_AUTH_INVALID: "the Authorization header or the token is malformed",
  ERR_AUTH_BAD_SIGNATURE:
    "the token's signature does not verify (another issuer's key, or a tampered payload)",
  ERR_AUTH_ALG_NOT_ALLOWED: "the token uses an algorithm outside the allow-list (`none`, HS256…)",
  ERR_AUTH_EXPIRED: "the token has expired",
  ERR_AUTH_CLAIM_INVALID: "a claim of the token other than iss, aud, nbf or exp fails validation",
  ERR_AUTH_NOT_YET_VALID: "the token's nbf or iat lies in the future",
  ERR_AUTH_WRONG_ISSUER: "the token was issued for another issuer",
  ERR_AUTH_WRONG_AUDIENCE: "the token was issued for another audience",
  ERR_AUTH_REVOKED: "the token was revoked, or a tenant token is not on record",
  ERR_FORBIDDEN:
    "the call is not this token's to make: tenants and tokens (the operator's), or `?tenant=` naming another tenant",
  ERR_SCOPE_MISSING: "the token lacks the scope the call needs",
  ERR_HOSTNAME_NOT_GRANTED: "the hostname is outside the patterns the operator granted the tenant",
  ERR_QUOTA_EXCEEDED: "the tenant is at its app quota",
  ERR_TENANT_NOT_FOUND: "there is no tenant of that name",
  ERR_TENANT_HAS_APPS: "a tenant with apps cannot be deleted",
  ERR_TOKEN_NOT_FOUND: "there is no token of that id",
  ERR_STATE_UNAVAILABLE: "the state store (Redis) cannot be reached; hosts already resolved keep serving",
  ERR_NOT_READY: "`/readyz`: the state store, the key-value store or a guest worker is not ready",
  ERR_INTERNAL: "an unexpected failure; the request id finds it in the gateway's log",
};

export class GatewayError extends Error {
  override readonly name = "GatewayError";
  readonly code: GatewayErrorCode;
  readonly status: number;
  readonly headers: Record<string, string> | undefined;
  constructor(
    code: GatewayErrorCode,
    message: string,
    options?: { cause?: unknown; headers?: Record<string, string> },
  ) {
    super(message, options);
    this.code = code;
    this.status = GATEWAY_ERRORS[code];
    this.headers = options?.headers;
  }
}

/** The state store could not be reached (as opposed to refusing a change). */
export function isStateOutage(err: unknown): boolean {
  return err instanceof GatewayError && err.code === "ERR_STATE_UNAVAILABLE";
}
