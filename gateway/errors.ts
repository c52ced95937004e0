// Gateway error codes and their HTTP status. 4xx are the caller's to fix (CLI exit 1), 5xx are
// ours (CLI exit 2). The one place that turns errors into responses is `replyForError` in http.ts.

export const GATEWAY_ERRORS = {
  ERR_HOST_NOT_FOUND: 404,
  ERR_APP_NOT_FOUND: 404,
  ERR_APP_NOT_DEPLOYED: 503,
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
