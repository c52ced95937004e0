/**
 * Limits of the kv module. Defaults follow Cloudflare Workers KV; every backend takes a `KvLimits`
 * so an operator can change them.
 *
 * @example
 * ```ts
 * const limits = defineKvLimits({ maxValueBytes: 1024 * 1024 });
 * const store = createSqliteKvStore({ path: ":memory:", limits });
 * ```
 */

/** Longest key, in bytes of its UTF-8 encoding. */
export const MAX_KEY_BYTES = 512;
/** Largest value: 25 MiB. */
export const MAX_VALUE_BYTES = 25 * 1024 * 1024;
/** Largest metadata string, in bytes of its UTF-8 encoding. */
export const MAX_METADATA_BYTES = 1024;
/** Most keys one `listKeys` page returns, and the default page size. */
export const MAX_LIST_LIMIT = 1000;
/** Most keys one `getMany`/`setMany`/`deleteMany` call takes. */
export const MAX_BATCH_KEYS = 1000;
/** Most value bytes one `setMany` call takes: 100 MiB. */
export const MAX_BATCH_BYTES = 100 * 1024 * 1024;
/** Longest tenant or bucket name, in bytes of its UTF-8 encoding. */
export const MAX_NAME_BYTES = 256;
/** Longest `ttlSeconds`: about 68 years, so every backend's expiry arithmetic stays exact. */
export const MAX_TTL_SECONDS = 2 ** 31 - 1;
/** How long one backend round trip may take before the call fails with `ERR_KV_TIMEOUT`. */
export const OP_TIMEOUT_MS = 1000;

export type KvLimits = Readonly<{
  maxKeyBytes: number;
  maxValueBytes: number;
  maxMetadataBytes: number;
  maxListLimit: number;
  maxBatchKeys: number;
  maxBatchBytes: number;
  maxNameBytes: number;
  maxTtlSeconds: number;
  opTimeoutMs: number;
}>;

export const DEFAULT_KV_LIMITS: KvLimits = Object.freeze({
  maxKeyBytes: MAX_KEY_BYTES,
  maxValueBytes: MAX_VALUE_BYTES,
  maxMetadataBytes: MAX_METADATA_BYTES,
  maxListLimit: MAX_LIST_LIMIT,
  maxBatchKeys: MAX_BATCH_KEYS,
  maxBatchBytes: MAX_BATCH_BYTES,
  maxNameBytes: MAX_NAME_BYTES,
  maxTtlSeconds: MAX_TTL_SECONDS,
  opTimeoutMs: OP_TIMEOUT_MS,
});

/**
 * Returns frozen limits: the defaults with `overrides` applied. Throws a `RangeError` (a
 * programming or configuration mistake, not a request error) when a limit is not a positive
 * safe integer.
 */
export function defineKvLimits(overrides: Partial<KvLimits> = {}): KvLimits {
  const limits = { ...DEFAULT_KV_LIMITS, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`kv limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  if (limits.maxTtlSeconds > MAX_TTL_SECONDS) {
    throw new RangeError(`kv limit maxTtlSeconds must be at most ${MAX_TTL_SECONDS}`);
  }
  return Object.freeze(limits);
}
