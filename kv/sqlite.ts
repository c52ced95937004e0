/**
 * The embedded backend: one SQLite table (`kv_entries`) through `node:sqlite`, in WAL mode so
 * several connections (worker threads, processes) can share one file.
 *
 * @example
 * ```ts
 * const store = createSqliteKvStore({ path: ".wasmgate/kv.sqlite" });
 * await store.set({ tenant: "acme", bucket: "cache" }, "k", new Uint8Array([1]));
 * ```
 */
import { DatabaseSync, type StatementSync } from "node:sqlite";
import { KvError } from "./errors.ts";
import { DEFAULT_KV_LIMITS, type KvLimits } from "./limits.ts";
import type { KvNamespace, KvStore } from "./store.ts";
import {
  addInt64,
  type CheckedListOptions,
  type CheckedSetOptions,
  createValidatedSyncStore,
  type KvSyncBackend,
  parseInt64,
} from "./validate.ts";

export type SqliteKvStoreOptions = {
  /** Database file, created if missing; `":memory:"` for a private in-memory database. */
  path: string;
  limits?: KvLimits;
  /** Milliseconds since the epoch, for TTLs. Tests pass a fake clock. Default `Date.now`. */
  now?: () => number;
};

const SCHEMA = `
CREATE TABLE IF NOT EXISTS kv_entries (
  tenant BLOB NOT NULL,
  bucket BLOB NOT NULL,
  key BLOB NOT NULL,
  value BLOB NOT NULL,
  metadata BLOB,
  expires_at INTEGER,
  UNIQUE (tenant, bucket, key)
);
CREATE INDEX IF NOT EXISTS kv_entries_expires_at ON kv_entries (expires_at) WHERE expires_at IS NOT NULL;
`;

const LIVE = "(expires_at IS NULL OR expires_at > ?)";
const WHERE_KEY = "tenant = ? AND bucket = ? AND key = ?";
/** Expired rows are invisible at once; every this many writes, some are deleted for real. */
const PURGE_EVERY_WRITES = 64;
const PURGE_BATCH_ROWS = 256;
const CURSOR_PREFIX = "s1.";

// SQLite primary result codes (the low byte of an extended code).
const SQLITE_BUSY = 5;
const SQLITE_LOCKED = 6;
const SQLITE_READONLY = 8;
const SQLITE_IOERR = 10;
const SQLITE_CORRUPT = 11;
const SQLITE_FULL = 13;
const SQLITE_CANTOPEN = 14;
const SQLITE_NOTADB = 26;

const decoder = new TextDecoder();
const utf8 = (text: string): Buffer => Buffer.from(text, "utf8");

function toKvError(error: unknown): KvError {
  if (error instanceof KvError) return error;
  const errcode = (error as { errcode?: unknown } | null)?.errcode;
  const primary = typeof errcode === "number" ? errcode & 0xff : -1;
  const message = error instanceof Error ? error.message : String(error);
  if (primary === SQLITE_BUSY || primary === SQLITE_LOCKED) {
    return new KvError("ERR_KV_TIMEOUT", `kv sqlite database stayed locked past the op timeout: ${message}`, {
      cause: error,
    });
  }
  if (
    [SQLITE_READONLY, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_CANTOPEN, SQLITE_NOTADB].includes(
      primary,
    )
  ) {
    return new KvError("ERR_KV_UNAVAILABLE", `kv sqlite database is unusable: ${message}`, { cause: error });
  }
  return new KvError("ERR_KV_INTERNAL", `kv sqlite failed: ${message}`, { cause: error });
}

/** The smallest byte string greater than every string starting with `prefix`, if any. */
function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  const end = Uint8Array.from(prefix);
  for (let index = end.length - 1; index >= 0; index--) {
    if (end[index]! < 0xff) {
      end[index]! += 1;
      return end.subarray(0, index + 1);
    }
  }
  return undefined;
}

function encodeCursor(lastKey: Uint8Array): string {
  return (
    CURSOR_PREFIX + Buffer.from(lastKey.buffer, lastKey.byteOffset, lastKey.byteLength).toString("base64url")
  );
}

function decodeCursor(cursor: string): Buffer {
  const body = cursor.startsWith(CURSOR_PREFIX) ? cursor.slice(CURSOR_PREFIX.length) : undefined;
  const bytes = body === undefined ? undefined : Buffer.from(body, "base64url");
  // Buffer's decoder skips junk; re-encoding tells a real cursor from a lookalike.
  if (bytes === undefined || bytes.length === 0 || bytes.toString("base64url") !== body) {
    throw new KvError("ERR_KV_CURSOR_INVALID", "kv list cursor was not returned by this store's listKeys");
  }
  return bytes;
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

export function createSqliteKvStore(options: SqliteKvStoreOptions): KvStore {
  const limits = options.limits ?? DEFAULT_KV_LIMITS;
  const now = options.now ?? Date.now;
  let db: DatabaseSync;
  try {
    db = new DatabaseSync(options.path, { timeout: limits.opTimeoutMs });
    db.exec("PRAGMA journal_mode = WAL");
    // WAL with NORMAL: a power cut can lose the last commits, never corrupt the file.
    db.exec("PRAGMA synchronous = NORMAL");
    db.exec(SCHEMA);
  } catch (error) {
    throw toKvError(error);
  }

  const statement = (sql: string): StatementSync => db.prepare(sql);
  const sql = {
    get: statement(`SELECT value FROM kv_entries WHERE ${WHERE_KEY} AND ${LIVE}`),
    getWithMetadata: statement(`SELECT value, metadata FROM kv_entries WHERE ${WHERE_KEY} AND ${LIVE}`),
    getForUpdate: statement(`SELECT value, expires_at FROM kv_entries WHERE ${WHERE_KEY} AND ${LIVE}`),
    exists: statement(`SELECT 1 AS found FROM kv_entries WHERE ${WHERE_KEY} AND ${LIVE}`),
    upsert: statement(
      `INSERT INTO kv_entries (tenant, bucket, key, value, metadata, expires_at) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (tenant, bucket, key) DO UPDATE SET
         value = excluded.value, metadata = excluded.metadata, expires_at = excluded.expires_at`,
    ),
    updateValue: statement(`UPDATE kv_entries SET value = ? WHERE ${WHERE_KEY}`),
    delete: statement(`DELETE FROM kv_entries WHERE ${WHERE_KEY}`),
    deleteBucket: statement("DELETE FROM kv_entries WHERE tenant = ? AND bucket = ?"),
    // Reads the table, so a file gone bad fails here, not only on the next guest call.
    ping: statement("SELECT 1 FROM kv_entries LIMIT 1"),
    purge: statement(
      `DELETE FROM kv_entries WHERE rowid IN
         (SELECT rowid FROM kv_entries WHERE expires_at <= ? LIMIT ${PURGE_BATCH_ROWS})`,
    ),
    // One statement per bound shape, so each uses the (tenant, bucket, key) index as a range.
    list: {
      fromInclusive: statement(
        `SELECT key FROM kv_entries WHERE tenant = ? AND bucket = ? AND key >= ? AND ${LIVE} ORDER BY key LIMIT ?`,
      ),
      fromExclusive: statement(
        `SELECT key FROM kv_entries WHERE tenant = ? AND bucket = ? AND key > ? AND ${LIVE} ORDER BY key LIMIT ?`,
      ),
      rangeInclusive: statement(
        `SELECT key FROM kv_entries WHERE tenant = ? AND bucket = ? AND key >= ? AND key < ? AND ${LIVE}
         ORDER BY key LIMIT ?`,
      ),
      rangeExclusive: statement(
        `SELECT key FROM kv_entries WHERE tenant = ? AND bucket = ? AND key > ? AND key < ? AND ${LIVE}
         ORDER BY key LIMIT ?`,
      ),
    },
  };

  let writesSincePurge = 0;

  /** Runs `body` in a write transaction taken up front, so read-modify-write cannot interleave. */
  function writeTransaction<T>(body: () => T): T {
    db.exec("BEGIN IMMEDIATE");
    let result: T;
    try {
      result = body();
      if (++writesSincePurge >= PURGE_EVERY_WRITES) {
        writesSincePurge = 0;
        sql.purge.run(now());
      }
      db.exec("COMMIT");
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      throw error;
    }
    return result;
  }

  function readTransaction<T>(body: () => T): T {
    db.exec("BEGIN");
    try {
      return body();
    } finally {
      if (db.isTransaction) db.exec("COMMIT");
    }
  }

  /** Runs a call on this thread; any failure comes out as a KvError. */
  function guard<T>(body: () => T): T {
    try {
      return body();
    } catch (error) {
      throw toKvError(error);
    }
  }

  const scope = (ns: KvNamespace) => [utf8(ns.tenant), utf8(ns.bucket)] as const;

  function upsert(
    tenant: Buffer,
    bucket: Buffer,
    key: Buffer,
    value: Uint8Array,
    metadata: string | undefined,
    ttlSeconds: number | undefined,
  ): void {
    sql.upsert.run(
      tenant,
      bucket,
      key,
      value,
      metadata === undefined ? null : utf8(metadata),
      ttlSeconds === undefined ? null : now() + ttlSeconds * 1000,
    );
  }

  const backend: KvSyncBackend = {
    get: (ns, key) =>
      guard(() => {
        const row = sql.get.get(...scope(ns), utf8(key), now());
        return row === undefined ? undefined : (row.value as Uint8Array);
      }),

    getWithMetadata: (ns, key) =>
      guard(() => {
        const row = sql.getWithMetadata.get(...scope(ns), utf8(key), now());
        if (row === undefined) return undefined;
        const entry: { value: Uint8Array; metadata?: string } = { value: row.value as Uint8Array };
        if (row.metadata !== null) entry.metadata = decoder.decode(row.metadata as Uint8Array);
        return entry;
      }),

    set: (ns, key, value, setOptions: CheckedSetOptions) =>
      guard(() =>
        writeTransaction(() =>
          upsert(...scope(ns), utf8(key), value, setOptions.metadata, setOptions.ttlSeconds),
        ),
      ),

    delete: (ns, key) =>
      guard(() => {
        writeTransaction(() => sql.delete.run(...scope(ns), utf8(key)));
      }),

    exists: (ns, key) => guard(() => sql.exists.get(...scope(ns), utf8(key), now()) !== undefined),

    listKeys: (ns, listOptions: CheckedListOptions) =>
      guard(() => {
        const prefix = utf8(listOptions.prefix);
        const end = prefix.length === 0 ? undefined : prefixEnd(prefix);
        let from: Uint8Array = prefix;
        let exclusive = false;
        if (listOptions.cursor !== undefined) {
          const after = decodeCursor(listOptions.cursor);
          // A cursor before the prefix range just means "start of the range".
          if (Buffer.compare(after, prefix) >= 0) {
            from = after;
            exclusive = true;
          }
        }
        const fetch = listOptions.limit + 1;
        const rows =
          end === undefined
            ? (exclusive ? sql.list.fromExclusive : sql.list.fromInclusive).all(
                ...scope(ns),
                from,
                now(),
                fetch,
              )
            : (exclusive ? sql.list.rangeExclusive : sql.list.rangeInclusive).all(
                ...scope(ns),
                from,
                end,
                now(),
                fetch,
              );
        const page = rows.slice(0, listOptions.limit).map((row) => row.key as Uint8Array);
        const result: { keys: string[]; cursor?: string } = { keys: page.map((key) => decoder.decode(key)) };
        const last = page.at(-1);
        if (rows.length > listOptions.limit && last !== undefined) result.cursor = encodeCursor(last);
        return result;
      }),

    increment: (ns, key, delta) =>
      guard(() =>
        writeTransaction(() => {
          const [tenant, bucket] = scope(ns);
          const keyBytes = utf8(key);
          const row = sql.getForUpdate.get(tenant, bucket, keyBytes, now());
          if (row === undefined) {
            const next = addInt64(0n, delta);
            upsert(tenant, bucket, keyBytes, Buffer.from(next.toString(), "latin1"), undefined, undefined);
            return next;
          }
          const current = parseInt64(row.value as Uint8Array);
          if (current === undefined) {
            throw new KvError(
              "ERR_KV_NOT_AN_INTEGER",
              "kv increment needs the stored value to be a signed 64-bit decimal integer like 42 or -7",
            );
          }
          const next = addInt64(current, delta);
          // Keep the entry's TTL and metadata, as Redis INCRBY keeps the key's TTL.
          sql.updateValue.run(Buffer.from(next.toString(), "latin1"), tenant, bucket, keyBytes);
          return next;
        }),
      ),

    compareAndSwap: (ns, key, expected, value) =>
      guard(() =>
        writeTransaction(() => {
          const [tenant, bucket] = scope(ns);
          const keyBytes = utf8(key);
          const row = sql.getForUpdate.get(tenant, bucket, keyBytes, now());
          const matches =
            expected === undefined
              ? row === undefined
              : row !== undefined && bytesEqual(row.value as Uint8Array, expected);
          if (matches) upsert(tenant, bucket, keyBytes, value, undefined, undefined);
          return matches;
        }),
      ),

    getMany: (ns, keys) =>
      guard(() =>
        readTransaction(() => {
          const at = now();
          return keys.map((key) => {
            const row = sql.get.get(...scope(ns), utf8(key), at);
            return row === undefined ? undefined : (row.value as Uint8Array);
          });
        }),
      ),

    setMany: (ns, entries) =>
      guard(() => {
        writeTransaction(() => {
          for (const [key, value] of entries) upsert(...scope(ns), utf8(key), value, undefined, undefined);
        });
      }),

    deleteMany: (ns, keys) =>
      guard(() => {
        writeTransaction(() => {
          for (const key of keys) sql.delete.run(...scope(ns), utf8(key));
        });
      }),

    deleteBucket: (ns) =>
      guard(() => {
        writeTransaction(() => sql.deleteBucket.run(...scope(ns)));
      }),

    ping: async () =>
      guard(() => {
        sql.ping.get();
        return { backend: "sqlite" };
      }),

    close: async () =>
      guard(() => {
        if (db.isOpen) db.close();
      }),
  };
  return createValidatedSyncStore(backend, limits);
}
