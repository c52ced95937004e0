/**
 * Argument checks shared by every backend. `createValidatedStore` wraps a backend so each call is
 * checked here, once, before the backend sees it: the backends can then trust their arguments and
 * cannot drift apart on what they accept.
 */
import { KvError } from "./errors.ts";
import type { KvLimits } from "./limits.ts";
import type { KvHealth, KvListOptions, KvNamespace, KvSetOptions, KvStore, KvSyncStore } from "./store.ts";

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;

const utf8Length = (text: string): number => Buffer.byteLength(text, "utf8");

function describe(value: unknown): string {
  if (typeof value === "string") return `a string of ${value.length} UTF-16 units`;
  if (value === null) return "null";
  return typeof value;
}

export function checkNamespace(ns: KvNamespace, limits: KvLimits): void {
  if (typeof ns !== "object" || ns === null) {
    throw new KvError(
      "ERR_KV_BUCKET_INVALID",
      `kv namespace must be { tenant, bucket }, got ${describe(ns)}`,
    );
  }
  checkName(ns.tenant, "tenant", "ERR_KV_TENANT_INVALID", limits);
  checkName(ns.bucket, "bucket", "ERR_KV_BUCKET_INVALID", limits);
}

function checkName(
  name: unknown,
  what: "tenant" | "bucket",
  code: "ERR_KV_TENANT_INVALID" | "ERR_KV_BUCKET_INVALID",
  limits: KvLimits,
): void {
  if (typeof name !== "string" || name.length === 0) {
    throw new KvError(code, `kv ${what} name must be a non-empty string, got ${describe(name)}`);
  }
  if (!name.isWellFormed()) {
    throw new KvError(code, `kv ${what} name must be well-formed Unicode (it has a lone surrogate)`);
  }
  const bytes = utf8Length(name);
  if (bytes > limits.maxNameBytes) {
    throw new KvError(
      code,
      `kv ${what} name is ${bytes} bytes of UTF-8; the limit is ${limits.maxNameBytes} bytes`,
    );
  }
}

export function checkKey(key: unknown, limits: KvLimits): asserts key is string {
  if (typeof key !== "string" || key.length === 0) {
    throw new KvError("ERR_KV_KEY_INVALID", `kv key must be a non-empty string, got ${describe(key)}`);
  }
  // A lone surrogate has no UTF-8 encoding: it would be stored as U+FFFD and collide with it.
  if (!key.isWellFormed()) {
    throw new KvError("ERR_KV_KEY_INVALID", "kv key must be well-formed Unicode (it has a lone surrogate)");
  }
  const bytes = utf8Length(key);
  if (bytes > limits.maxKeyBytes) {
    throw new KvError(
      "ERR_KV_KEY_TOO_LONG",
      `kv key is ${bytes} bytes of UTF-8; the limit is ${limits.maxKeyBytes} bytes`,
    );
  }
}

export function checkValue(value: unknown, limits: KvLimits): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array)) {
    throw new KvError("ERR_KV_VALUE_INVALID", `kv value must be a Uint8Array, got ${describe(value)}`);
  }
  if (value.byteLength > limits.maxValueBytes) {
    throw new KvError(
      "ERR_KV_VALUE_TOO_LARGE",
      `kv value is ${value.byteLength} bytes; the limit is ${limits.maxValueBytes} bytes`,
    );
  }
}

/** Set options with everything checked; `ttlSeconds` is a whole number in range when present. */
export type CheckedSetOptions = { ttlSeconds?: number; metadata?: string };

export function checkSetOptions(options: KvSetOptions | undefined, limits: KvLimits): CheckedSetOptions {
  const checked: CheckedSetOptions = {};
  if (options === undefined) return checked;
  const { ttlSeconds, metadata } = options;
  if (ttlSeconds !== undefined) {
    if (!Number.isSafeInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > limits.maxTtlSeconds) {
      throw new KvError(
        "ERR_KV_TTL_INVALID",
        `kv ttlSeconds must be a whole number from 1 to ${limits.maxTtlSeconds}, got ${String(ttlSeconds)}`,
      );
    }
    checked.ttlSeconds = ttlSeconds;
  }
  if (metadata !== undefined) {
    if (typeof metadata !== "string" || !metadata.isWellFormed()) {
      throw new KvError(
        "ERR_KV_METADATA_INVALID",
        `kv metadata must be a well-formed Unicode string, got ${describe(metadata)}`,
      );
    }
    const bytes = utf8Length(metadata);
    if (bytes > limits.maxMetadataBytes) {
      throw new KvError(
        "ERR_KV_METADATA_TOO_LARGE",
        `kv metadata is ${bytes} bytes of UTF-8; the limit is ${limits.maxMetadataBytes} bytes`,
      );
    }
    checked.metadata = metadata;
  }
  return checked;
}

/** List options with defaults applied. */
export type CheckedListOptions = { prefix: string; cursor: string | undefined; limit: number };

export function checkListOptions(options: KvListOptions | undefined, limits: KvLimits): CheckedListOptions {
  const prefix = options?.prefix ?? "";
  const cursor = options?.cursor;
  const limit = options?.limit ?? limits.maxListLimit;
  if (typeof prefix !== "string" || !prefix.isWellFormed()) {
    throw new KvError("ERR_KV_KEY_INVALID", "kv list prefix must be a well-formed Unicode string");
  }
  const prefixBytes = utf8Length(prefix);
  if (prefixBytes > limits.maxKeyBytes) {
    throw new KvError(
      "ERR_KV_KEY_TOO_LONG",
      `kv list prefix is ${prefixBytes} bytes of UTF-8; keys are at most ${limits.maxKeyBytes} bytes`,
    );
  }
  if (cursor !== undefined && (typeof cursor !== "string" || cursor.length === 0)) {
    throw new KvError("ERR_KV_CURSOR_INVALID", "kv list cursor must be a cursor returned by listKeys");
  }
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > limits.maxListLimit) {
    throw new KvError(
      "ERR_KV_OP_LIMIT",
      `kv list limit must be a whole number from 1 to ${limits.maxListLimit}, got ${String(limit)}`,
    );
  }
  return { prefix, cursor, limit };
}

function checkBatchSize(count: number, limits: KvLimits): void {
  if (count > limits.maxBatchKeys) {
    throw new KvError(
      "ERR_KV_OP_LIMIT",
      `kv batch has ${count} keys; the limit is ${limits.maxBatchKeys} keys per call`,
    );
  }
}

export function checkKeys(keys: readonly string[], limits: KvLimits): void {
  if (!Array.isArray(keys)) {
    throw new KvError("ERR_KV_KEY_INVALID", `kv keys must be an array, got ${describe(keys)}`);
  }
  checkBatchSize(keys.length, limits);
  for (const key of keys) checkKey(key, limits);
}

export function checkEntries(entries: readonly (readonly [string, Uint8Array])[], limits: KvLimits): void {
  if (!Array.isArray(entries)) {
    throw new KvError("ERR_KV_KEY_INVALID", `kv entries must be an array, got ${describe(entries)}`);
  }
  checkBatchSize(entries.length, limits);
  let total = 0;
  for (const entry of entries) {
    if (!Array.isArray(entry) || entry.length !== 2) {
      throw new KvError("ERR_KV_KEY_INVALID", "kv entries must be [key, value] pairs");
    }
    const [key, value] = entry;
    checkKey(key, limits);
    checkValue(value, limits);
    total += value.byteLength;
  }
  if (total > limits.maxBatchBytes) {
    throw new KvError(
      "ERR_KV_OP_LIMIT",
      `kv batch holds ${total} value bytes; the limit is ${limits.maxBatchBytes} bytes per call`,
    );
  }
}

export function checkDelta(delta: bigint): void {
  if (typeof delta !== "bigint") {
    throw new KvError("ERR_KV_NOT_AN_INTEGER", `kv increment delta must be a bigint, got ${describe(delta)}`);
  }
  if (delta < INT64_MIN || delta > INT64_MAX) {
    throw new KvError(
      "ERR_KV_INTEGER_OVERFLOW",
      `kv increment delta ${delta} is outside the signed 64-bit range ${INT64_MIN}..${INT64_MAX}`,
    );
  }
}

const DIGIT_0 = 0x30;
const DIGIT_1 = 0x31;
const DIGIT_9 = 0x39;
const MINUS = 0x2d;

/**
 * Parses a stored value the way Redis `INCRBY` does (`string2ll`): optional `-`, no `+`, no
 * spaces, no leading zeros, no `-0`, within the signed 64-bit range. `undefined` when it is not
 * such an integer.
 */
export function parseInt64(bytes: Uint8Array): bigint | undefined {
  const length = bytes.length;
  if (length === 0 || length > 20) return undefined;
  if (length === 1 && bytes[0] === DIGIT_0) return 0n;
  let index = bytes[0] === MINUS ? 1 : 0;
  const first = bytes[index];
  if (first === undefined || first < DIGIT_1 || first > DIGIT_9) return undefined;
  for (index++; index < length; index++) {
    const digit = bytes[index]!;
    if (digit < DIGIT_0 || digit > DIGIT_9) return undefined;
  }
  const value = BigInt(Buffer.from(bytes.buffer, bytes.byteOffset, length).toString("latin1"));
  return value < INT64_MIN || value > INT64_MAX ? undefined : value;
}

/** The sum, or a `KvError` when it leaves the signed 64-bit range. */
export function addInt64(current: bigint, delta: bigint): bigint {
  const next = current + delta;
  if (next < INT64_MIN || next > INT64_MAX) {
    throw new KvError(
      "ERR_KV_INTEGER_OVERFLOW",
      `kv increment of ${current} by ${delta} leaves the signed 64-bit range ${INT64_MIN}..${INT64_MAX}`,
    );
  }
  return next;
}

/**
 * What a backend implements: the `KvStore` operations, called only with checked arguments (and
 * never with an empty batch), plus `close`.
 */
export interface KvBackend {
  get(ns: KvNamespace, key: string): Promise<Uint8Array | undefined>;
  getWithMetadata(
    ns: KvNamespace,
    key: string,
  ): Promise<{ value: Uint8Array; metadata?: string } | undefined>;
  set(ns: KvNamespace, key: string, value: Uint8Array, options: CheckedSetOptions): Promise<void>;
  delete(ns: KvNamespace, key: string): Promise<void>;
  exists(ns: KvNamespace, key: string): Promise<boolean>;
  listKeys(ns: KvNamespace, options: CheckedListOptions): Promise<{ keys: string[]; cursor?: string }>;
  increment(ns: KvNamespace, key: string, delta: bigint): Promise<bigint>;
  compareAndSwap(
    ns: KvNamespace,
    key: string,
    expected: Uint8Array | undefined,
    value: Uint8Array,
  ): Promise<boolean>;
  getMany(ns: KvNamespace, keys: readonly string[]): Promise<(Uint8Array | undefined)[]>;
  setMany(ns: KvNamespace, entries: readonly (readonly [string, Uint8Array])[]): Promise<void>;
  deleteMany(ns: KvNamespace, keys: readonly string[]): Promise<void>;
  deleteBucket(ns: KvNamespace): Promise<void>;
  ping(): Promise<KvHealth>;
  close(): Promise<void>;
}

type DataCall = keyof KvSyncStore;

/** A backend that answers on the calling thread: the data calls of `KvBackend`, returning their results. */
export type KvSyncBackend = {
  readonly [K in DataCall]: (...args: Parameters<KvBackend[K]>) => Awaited<ReturnType<KvBackend[K]>>;
} & Pick<KvBackend, "ping" | "close">;

/** What a call's checks decided: the arguments the backend gets, or the answer without it. */
type Checked = { args: unknown[] } | { answer: unknown };

/**
 * Each data call's checks, written once for every kind of backend: throws KvError for a bad
 * argument, else says what the backend is called with (an empty batch needs no call).
 */
function callChecks(
  limits: KvLimits,
  isClosed: () => boolean,
): Record<DataCall, (...args: any[]) => Checked> {
  const open = (ns: KvNamespace) => {
    if (isClosed()) throw new KvError("ERR_KV_CLOSED", "kv store is closed");
    checkNamespace(ns, limits);
  };
  const keyed = (ns: KvNamespace, key: string) => {
    open(ns);
    checkKey(key, limits);
  };
  const plain = (ns: KvNamespace, key: string): Checked => {
    keyed(ns, key);
    return { args: [ns, key] };
  };
  const batch = (ns: KvNamespace, keys: readonly string[], empty: unknown): Checked => {
    open(ns);
    checkKeys(keys, limits);
    return keys.length === 0 ? { answer: empty } : { args: [ns, keys] };
  };
  return {
    get: plain,
    getWithMetadata: plain,
    delete: plain,
    exists: plain,
    set(ns: KvNamespace, key: string, value: Uint8Array, options?: KvSetOptions) {
      keyed(ns, key);
      checkValue(value, limits);
      return { args: [ns, key, value, checkSetOptions(options, limits)] };
    },
    listKeys(ns: KvNamespace, options?: KvListOptions) {
      open(ns);
      return { args: [ns, checkListOptions(options, limits)] };
    },
    increment(ns: KvNamespace, key: string, delta: bigint) {
      keyed(ns, key);
      checkDelta(delta);
      return { args: [ns, key, delta] };
    },
    compareAndSwap(ns: KvNamespace, key: string, expected: Uint8Array | undefined, value: Uint8Array) {
      keyed(ns, key);
      if (expected !== undefined) checkValue(expected, limits);
      checkValue(value, limits);
      return { args: [ns, key, expected, value] };
    },
    getMany: (ns: KvNamespace, keys: readonly string[]) => batch(ns, keys, []),
    deleteMany: (ns: KvNamespace, keys: readonly string[]) => batch(ns, keys, undefined),
    setMany(ns: KvNamespace, entries: readonly (readonly [string, Uint8Array])[]) {
      open(ns);
      checkEntries(entries, limits);
      return entries.length === 0 ? { answer: undefined } : { args: [ns, entries] };
    },
    deleteBucket(ns: KvNamespace) {
      open(ns);
      return { args: [ns] };
    },
  };
}

/** Wraps a backend into a `KvStore` that checks every argument and refuses calls after `close()`. */
export function createValidatedStore(backend: KvBackend, limits: KvLimits): KvStore {
  return validated(backend, limits, false);
}

/**
 * The same for a backend that answers on the calling thread: the store also has `sync`, the data
 * calls as plain functions under the same checks.
 */
export function createValidatedSyncStore(backend: KvSyncBackend, limits: KvLimits): KvStore {
  return validated(backend, limits, true);
}

function validated(backend: KvBackend | KvSyncBackend, limits: KvLimits, answersAtOnce: boolean): KvStore {
  let closed = false;
  const checks = callChecks(limits, () => closed);
  const store: Record<string, unknown> = {};
  const sync: Record<string, unknown> = {};
  for (const name of Object.keys(checks) as DataCall[]) {
    const check = checks[name];
    const call = (backend[name] as (...args: unknown[]) => unknown).bind(backend);
    const checkedCall = (...args: unknown[]) => {
      const checked = check(...args);
      return "answer" in checked ? checked.answer : call(...checked.args);
    };
    sync[name] = checkedCall;
    // A bad argument (or a backend answering at once and throwing) rejects the promise, never
    // throws.
    store[name] = (...args: unknown[]) => {
      try {
        return Promise.resolve(checkedCall(...args));
      } catch (err) {
        return Promise.reject(err);
      }
    };
  }
  store.ping = async () => {
    if (closed) throw new KvError("ERR_KV_CLOSED", "kv store is closed");
    return await backend.ping();
  };
  store.close = async () => {
    if (closed) return;
    closed = true;
    await backend.close();
  };
  if (answersAtOnce) store.sync = Object.freeze(sync);
  return store as unknown as KvStore;
}
