/**
 * The key-value store every backend implements. One store object serves every tenant: each call
 * names its namespace, and no call can see or change another namespace's keys.
 *
 * Keys are any well-formed Unicode string of 1..512 UTF-8 bytes (`*?[]{}:` and NUL included);
 * values are bytes. Calls fail with `KvError` (see `errors.ts`).
 *
 * @example
 * ```ts
 * const ns = { tenant: "acme", bucket: "sessions" };
 * await store.set(ns, "user:1", new TextEncoder().encode("hi"), { ttlSeconds: 60 });
 * const value = await store.get(ns, "user:1"); // Uint8Array | undefined
 * const visits = await store.increment(ns, "visits", 1n); // 1n
 * ```
 */

export type KvNamespace = Readonly<{
  /** The tenant that owns the bucket; set by the gateway, never by a guest. */
  tenant: string;
  /** The bucket name the guest opened (granted to its app). */
  bucket: string;
}>;

export type KvSetOptions = Readonly<{
  /** Whole seconds until the entry disappears (value and metadata together). No TTL: kept forever. */
  ttlSeconds?: number;
  /** A string stored with the value (at most 1 KiB of UTF-8), e.g. JSON. */
  metadata?: string;
}>;

export type KvEntry = {
  value: Uint8Array;
  /** Absent when the entry was written without metadata. */
  metadata?: string;
};

export type KvListOptions = Readonly<{
  /** Only keys starting with this string (compared as text, no pattern characters). */
  prefix?: string;
  /** The `cursor` of the previous page; absent for the first page. */
  cursor?: string;
  /** Most keys on this page: 1..`maxListLimit`, default `maxListLimit`. */
  limit?: number;
}>;

export type KvListPage = {
  keys: string[];
  /**
   * Present when more keys may follow: pass it back to get the next page. A page can hold fewer
   * keys than `limit` (even none) and still have a cursor; the listing is complete only when the
   * cursor is absent.
   */
  cursor?: string;
};

export interface KvStore {
  /** The value, or `undefined` when the key does not exist or has expired. */
  get(ns: KvNamespace, key: string): Promise<Uint8Array | undefined>;

  /** Value and metadata read together, or `undefined` when the key does not exist. */
  getWithMetadata(ns: KvNamespace, key: string): Promise<KvEntry | undefined>;

  /**
   * Writes the value, replacing any previous value, metadata and TTL: an entry written without
   * `ttlSeconds` never expires and one written without `metadata` has none.
   */
  set(ns: KvNamespace, key: string, value: Uint8Array, options?: KvSetOptions): Promise<void>;

  /** Removes the key (value and metadata). Removing a missing key is not an error. */
  delete(ns: KvNamespace, key: string): Promise<void>;

  exists(ns: KvNamespace, key: string): Promise<boolean>;

  /**
   * One page of the namespace's keys, optionally only those starting with `prefix`.
   *
   * A key that exists for the whole listing is always listed; a key written or removed meanwhile
   * may or may not be. SQLite pages in key order (by UTF-8 bytes) and lists every key exactly
   * once. Redis pages in `SCAN` order: keys within one page are distinct, and a key is listed
   * once unless Redis resizes its key table during the listing (typically a shrink after many
   * deletions or expiries anywhere in that Redis database); then a key already listed may come
   * back on a later page, as `SCAN` itself allows. Callers that must not see a key twice dedupe.
   */
  listKeys(ns: KvNamespace, options?: KvListOptions): Promise<KvListPage>;

  /**
   * Adds `delta` to the signed 64-bit decimal integer stored at `key` (a missing key counts as
   * 0) and returns the new value. The value is stored as decimal ASCII (`"42"`), like Redis
   * `INCRBY`; TTL and metadata of an existing entry are kept. Fails with `ERR_KV_NOT_AN_INTEGER`
   * when the stored value is not such an integer and `ERR_KV_INTEGER_OVERFLOW` when the result
   * would leave the 64-bit range.
   */
  increment(ns: KvNamespace, key: string, delta: bigint): Promise<bigint>;

  /**
   * Atomically writes `value` if the current value equals `expected` byte for byte, or — with
   * `expected` `undefined` — if the key does not exist. Returns whether it wrote. A successful
   * swap is a `set` without options: it clears TTL and metadata.
   */
  compareAndSwap(
    ns: KvNamespace,
    key: string,
    expected: Uint8Array | undefined,
    value: Uint8Array,
  ): Promise<boolean>;

  /** Values in the order of `keys`, `undefined` for missing ones. Read as one snapshot. */
  getMany(ns: KvNamespace, keys: readonly string[]): Promise<(Uint8Array | undefined)[]>;

  /** Writes all entries at once (no TTL, no metadata). A later duplicate key wins. */
  setMany(ns: KvNamespace, entries: readonly (readonly [string, Uint8Array])[]): Promise<void>;

  /** Removes all keys at once. */
  deleteMany(ns: KvNamespace, keys: readonly string[]): Promise<void>;

  /** Removes every key of the bucket (app purge). Keys written while it runs may survive. */
  deleteBucket(ns: KvNamespace): Promise<void>;

  /**
   * A cheap check that the backend can serve, for readiness: resolves with what it found
   * (`{ backend: "sqlite" }`; for Redis its topology, and a cluster's state or the master Sentinel
   * named), fails like any call (`ERR_KV_UNAVAILABLE`, `ERR_KV_TIMEOUT`, `ERR_KV_CLOSED`) when it
   * cannot.
   */
  ping(): Promise<KvHealth>;

  /** Releases the backend connection. Later calls fail with `ERR_KV_CLOSED`. Idempotent. */
  close(): Promise<void>;

  /**
   * The same calls answered without waiting, where the backend can (the embedded SQLite store,
   * which runs on the calling thread anyway): each returns its result, or throws the `KvError` the
   * promise would reject with. Absent on Redis. A guest's host functions use it to skip suspending.
   */
  readonly sync?: KvSyncStore;
}

/** The calls of a `KvStore` that touch data, as plain functions: `KvStore.sync`. */
export type KvSyncStore = {
  readonly [K in Exclude<keyof KvStore, "ping" | "close" | "sync">]: (
    ...args: Parameters<KvStore[K]>
  ) => Awaited<ReturnType<KvStore[K]>>;
};

/** What `KvStore.ping()` found: short fields for a readiness report. */
export type KvHealth = Readonly<Record<string, string | number>>;
