/**
 * The kv module: one `KvStore` interface, a Redis backend and an embedded SQLite backend with the
 * same semantics, limits and errors.
 *
 * @example
 * ```ts
 * import { createSqliteKvStore, type KvNamespace } from "../kv/index.ts";
 *
 * const store = createSqliteKvStore({ path: ":memory:" });
 * const ns: KvNamespace = { tenant: "acme", bucket: "counters" };
 * await store.increment(ns, "hits", 1n); // 1n
 * ```
 */

export type { KvErrorCode, KvErrorKind, KvSystemErrorCode, KvUserErrorCode } from "./errors.ts";
export { isKvError, KV_ERROR_CODES, KV_ERROR_MEANINGS, KvError } from "./errors.ts";
export type { KvLimits } from "./limits.ts";
export {
  DEFAULT_KV_LIMITS,
  defineKvLimits,
  MAX_BATCH_BYTES,
  MAX_BATCH_KEYS,
  MAX_KEY_BYTES,
  MAX_LIST_LIMIT,
  MAX_METADATA_BYTES,
  MAX_NAME_BYTES,
  MAX_TTL_SECONDS,
  MAX_VALUE_BYTES,
  OP_TIMEOUT_MS,
} from "./limits.ts";
export type { KvLogger, RedisKvStoreOptions } from "./redis.ts";
export type { RedisClient, RedisHealth, RedisNode, RedisTopology } from "./redis-client.ts";
export { createRedisClient, createRedisKvStore, redisHealth } from "./redis-lazy.ts";
export type { SqliteKvStoreOptions } from "./sqlite.ts";
export { createSqliteKvStore } from "./sqlite.ts";
export type {
  KvEntry,
  KvHealth,
  KvListOptions,
  KvListPage,
  KvNamespace,
  KvSetOptions,
  KvStore,
  KvSyncStore,
} from "./store.ts";
