/**
 * Every failure of the kv module is a `KvError` with a literal `code` to switch on and a `kind`:
 * `"user"` errors are the caller's to fix (4xx), `"system"` errors are ours or the backend's (5xx).
 *
 * @example
 * ```ts
 * try {
 *   await store.increment(ns, "visits", 1n);
 * } catch (error) {
 *   if (error instanceof KvError && error.code === "ERR_KV_NOT_AN_INTEGER") return c.json({}, 409);
 *   throw error;
 * }
 * ```
 */

const USER_CODES = [
  "ERR_KV_KEY_INVALID",
  "ERR_KV_KEY_TOO_LONG",
  "ERR_KV_VALUE_INVALID",
  "ERR_KV_VALUE_TOO_LARGE",
  "ERR_KV_METADATA_INVALID",
  "ERR_KV_METADATA_TOO_LARGE",
  "ERR_KV_BUCKET_INVALID",
  "ERR_KV_TENANT_INVALID",
  "ERR_KV_TTL_INVALID",
  "ERR_KV_CURSOR_INVALID",
  "ERR_KV_NOT_AN_INTEGER",
  "ERR_KV_INTEGER_OVERFLOW",
  "ERR_KV_OP_LIMIT",
] as const;

const SYSTEM_CODES = ["ERR_KV_UNAVAILABLE", "ERR_KV_TIMEOUT", "ERR_KV_CLOSED", "ERR_KV_INTERNAL"] as const;

export type KvUserErrorCode = (typeof USER_CODES)[number];
export type KvSystemErrorCode = (typeof SYSTEM_CODES)[number];
export type KvErrorCode = KvUserErrorCode | KvSystemErrorCode;
export type KvErrorKind = "user" | "system";

/**
 * What each code means, in one line: docs/reference/errors.md is made from this (`npm run gen:docs`).
 * User codes are the caller's to fix (400 on the admin API); system codes are the store's (503).
 */
export const KV_ERROR_MEANINGS: Readonly<Record<KvErrorCode, string>> = {
  ERR_KV_KEY_INVALID: "the key is empty, not a string, or has lone surrogates (not well-formed UTF-16)",
  ERR_KV_KEY_TOO_LONG: "the key's UTF-8 encoding is longer than `maxKeyBytes`",
  ERR_KV_VALUE_INVALID: "the value is not a `Uint8Array`",
  ERR_KV_VALUE_TOO_LARGE: "the value is longer than `maxValueBytes`",
  ERR_KV_METADATA_INVALID: "the metadata is not a well-formed string",
  ERR_KV_METADATA_TOO_LARGE: "the metadata's UTF-8 encoding is longer than `maxMetadataBytes`",
  ERR_KV_BUCKET_INVALID: "the bucket name is empty, too long or not well-formed",
  ERR_KV_TENANT_INVALID: "the tenant name is empty, too long or not well-formed",
  ERR_KV_TTL_INVALID: "`ttlSeconds` is not a whole number of seconds within range",
  ERR_KV_CURSOR_INVALID: "the list cursor was not produced by this store's `listKeys`",
  ERR_KV_NOT_AN_INTEGER: "`increment` found a value that is not a signed 64-bit decimal integer",
  ERR_KV_INTEGER_OVERFLOW: "`increment` would leave the signed 64-bit range, or the delta is outside it",
  ERR_KV_OP_LIMIT:
    "a batch or list page asks for more than the limits allow, or the request has used up its operations (`kvOps`)",
  ERR_KV_UNAVAILABLE: "the backend cannot be reached (Redis down or reconnecting, SQLite file unusable)",
  ERR_KV_TIMEOUT:
    "the backend did not answer within `opTimeoutMs` (the operation may still have been applied)",
  ERR_KV_CLOSED: "the store was closed with `close()`",
  ERR_KV_INTERNAL: "the backend failed in a way the store does not expect; see `cause`",
};

const USER_CODE_SET: ReadonlySet<string> = new Set(USER_CODES);

export class KvError extends Error {
  override readonly name = "KvError";
  readonly code: KvErrorCode;
  readonly kind: KvErrorKind;

  constructor(code: KvErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.kind = USER_CODE_SET.has(code) ? "user" : "system";
  }
}

/** True when `error` is a `KvError`, and (when given) has `code`. */
export function isKvError(error: unknown, code?: KvErrorCode): error is KvError {
  return error instanceof KvError && (code === undefined || error.code === code);
}

/** All codes, for exhaustive mapping tables elsewhere (HTTP status, WIT error variants). */
export const KV_ERROR_CODES: readonly KvErrorCode[] = Object.freeze([...USER_CODES, ...SYSTEM_CODES]);
