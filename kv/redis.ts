/**
 * The Redis backend (one server, a Cluster or a Sentinel-managed master; see `redis-client.ts`)
 * on ioredis. Key layout: see `redis-keys.ts`.
 * Over 400 lines on purpose: every operation of the store, each a script or a pipeline over the
 * same key layout and error mapping.
 *
 * Every call fails within `limits.opTimeoutMs` when Redis is down or slow (`ERR_KV_UNAVAILABLE`
 * when there is no connection, `ERR_KV_TIMEOUT` when a command got no answer), and the same
 * store works again once ioredis has reconnected.
 *
 * @example
 * ```ts
 * const store = createRedisKvStore({ url: "redis://127.0.0.1:6379" });
 * // or: createRedisKvStore({ topology: { kind: "cluster", nodes: [{ host: "10.0.0.1", port: 7000 }] } });
 * await store.set({ tenant: "acme", bucket: "cache" }, "k", new Uint8Array([1]), { ttlSeconds: 60 });
 * await store.close();
 * ```
 */
import { Cluster, Redis } from "ioredis";
import { KvError } from "./errors.ts";
import { DEFAULT_KV_LIMITS, type KvLimits } from "./limits.ts";
import { createRedisClient, type RedisClient, type RedisTopology, redisHealth } from "./redis-client.ts";
import { metadataPrefix, namespaceTag, valuePrefix } from "./redis-keys.ts";
import {
  COMPARE_AND_SWAP,
  INCREMENT_EXACT,
  type RedisScript,
  SCAN_PREFIX,
  SET_ENTRY,
} from "./redis-scripts.ts";
import type { KvHealth, KvNamespace, KvStore } from "./store.ts";
import { type CheckedListOptions, createValidatedStore, type KvBackend } from "./validate.ts";

/** The part of a pino logger the store uses. */
export interface KvLogger {
  warn(fields: Record<string, unknown>, message: string): void;
}

export type RedisKvStoreOptions = {
  /**
   * A `redis://` or `rediss://` URL: short for `topology: { kind: "standalone", url }`.
   */
  url?: string;
  /**
   * Where Redis is (one server, a Cluster, a Sentinel-managed master). The store creates its own
   * client, configured to fail fast while disconnected, and closes it in `close()`.
   */
  topology?: RedisTopology;
  /**
   * An existing ioredis client or Cluster to use instead of `url` or `topology`. The store never
   * closes it and does not listen to its `error` events (its owner does). The op timeout still
   * holds, but a client with an offline queue may run a timed-out command later.
   */
  client?: Redis | Cluster;
  limits?: KvLimits;
  /** Longest pause between reconnection attempts of the store's own client. Default 1000 ms. */
  maxReconnectDelayMs?: number;
  /** Told once per outage that the connection to Redis failed (own client only). */
  logger?: KvLogger;
};

/** Most SCAN-stretch calls one listKeys page makes before handing back a partial page. */
const MAX_SCAN_CALLS_PER_PAGE = 8;
/** SCAN COUNT budget of one stretch: bounds how long the script holds Redis. */
const SCAN_WORK_PER_CALL = 10_000;
const DELETE_BUCKET_BATCH = 1000;
const CURSOR_PREFIX = "r1.";

/**
 * Redis error codes (the first word of an error reply) that mean "not now", not "wrong call".
 * NOREPLICAS: a master with `min-replicas-to-write` has too few replicas in reach (as during a
 * switchover, once its replica has been promoted).
 */
const UNAVAILABLE_REPLIES = new Set([
  "LOADING",
  "BUSY",
  "CLUSTERDOWN",
  "TRYAGAIN",
  "MASTERDOWN",
  "READONLY",
  "NOREPLICAS",
]);

const toBuffer = (bytes: Uint8Array): Buffer =>
  Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Values come back as plain Uint8Array views, the same type the SQLite backend returns. */
const toBytes = (buffer: Buffer): Uint8Array =>
  new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);

function isReplyError(error: unknown): error is Error {
  return error instanceof Error && error.name === "ReplyError";
}

function replyCode(error: Error): string {
  return error.message.split(" ", 1)[0] ?? "";
}

/** What ioredis rejects a command with once its `commandTimeout` has passed. */
const COMMAND_TIMED_OUT = "Command timed out";

/** A KvError for what ioredis or Redis raised; `timeoutMessage` tells of ioredis's own timeout. */
function toKvError(error: unknown, timeoutMessage: string): KvError {
  if (error instanceof KvError) return error;
  const message = error instanceof Error ? error.message : String(error);
  if (isReplyError(error)) {
    if (UNAVAILABLE_REPLIES.has(replyCode(error))) {
      return new KvError("ERR_KV_UNAVAILABLE", `kv redis cannot serve the call now: ${message}`, {
        cause: error,
      });
    }
    return new KvError("ERR_KV_INTERNAL", `kv redis rejected the call: ${message}`, { cause: error });
  }
  // ioredis gives its own timeout no code; its text is the only mark.
  if (message === COMMAND_TIMED_OUT) return new KvError("ERR_KV_TIMEOUT", timeoutMessage, { cause: error });
  // Everything else ioredis raises is about the connection (closed, not writable, retries used up).
  return new KvError("ERR_KV_UNAVAILABLE", `kv redis is unavailable: ${message}`, { cause: error });
}

type ScanCursor = { scan: string; pending: string[] };

function encodeCursor(cursor: ScanCursor): string {
  return CURSOR_PREFIX + Buffer.from(JSON.stringify([cursor.scan, cursor.pending])).toString("base64url");
}

function decodeCursor(text: string, prefix: string): ScanCursor {
  const invalid = () =>
    new KvError("ERR_KV_CURSOR_INVALID", "kv list cursor was not returned by this store's listKeys");
  if (!text.startsWith(CURSOR_PREFIX)) throw invalid();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text.slice(CURSOR_PREFIX.length), "base64url").toString("utf8"));
  } catch {
    throw invalid();
  }
  if (!Array.isArray(parsed) || parsed.length !== 2) throw invalid();
  const [scan, pending] = parsed as unknown[];
  if (typeof scan !== "string" || !/^\d+$/.test(scan) || !Array.isArray(pending)) throw invalid();
  // Pending keys are echoed back as listed keys: accept only keys this listing could have found.
  for (const key of pending) {
    if (typeof key !== "string" || !key.startsWith(prefix) || key.length === 0 || !key.isWellFormed()) {
      throw invalid();
    }
  }
  return { scan, pending: pending as string[] };
}

function createOwnClient(
  topology: RedisTopology,
  options: RedisKvStoreOptions,
  limits: KvLimits,
): RedisClient {
  const maxDelay = options.maxReconnectDelayMs ?? 1000;
  const client = createRedisClient(topology, {
    // Fail at once while disconnected instead of queueing: the op timeout is the caller's budget.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    // The op timeout of a call made while connected (`command`); one made while reconnecting has
    // a timer of its own for the whole op timeout, wait included.
    commandTimeout: limits.opTimeoutMs,
    connectTimeout: Math.max(limits.opTimeoutMs, 2000),
    // INCRBY results beyond 2^53 must arrive as text to stay exact.
    stringNumbers: true,
    retryStrategy: (attempt) => Math.min(50 * 2 ** Math.min(attempt, 10), maxDelay),
    connectionName: "wasmgate-kv",
    // Commands issued in one turn of the event loop go out in one write: the guests a worker runs
    // in one turn (a batch of requests from the main thread, replies read together) share it.
    enableAutoPipelining: true,
  });
  let healthy = true;
  // An error listener is required (ioredis prints unhandled ones); report each outage once. A
  // cluster tells of a node it cannot reach as a "node error".
  const failed = (error: Error) => {
    if (!healthy) return;
    healthy = false;
    options.logger?.warn({ err: error }, "kv redis connection failed; calls fail until it reconnects");
  };
  client.on("error", failed);
  if (client instanceof Cluster) client.on("node error", failed);
  client.on("ready", () => {
    healthy = true;
  });
  return client;
}

export function createRedisKvStore(options: RedisKvStoreOptions): KvStore {
  const limits = options.limits ?? DEFAULT_KV_LIMITS;
  const { url, topology, client: given } = options;
  if ([url, topology, given].filter((given) => given !== undefined).length !== 1) {
    throw new TypeError("createRedisKvStore needs exactly one of `url`, `topology` and `client`");
  }
  const owned = given === undefined;
  const client: RedisClient =
    given ?? createOwnClient(topology ?? { kind: "standalone", url: url! }, options, limits);
  // Our own client parses integers as text; for any other, increment reads the result back in Lua.
  const exactIntegers =
    owned ||
    (client instanceof Redis
      ? client.options.stringNumbers === true
      : client.options.redisOptions?.stringNumbers === true);

  let readySignal: Promise<void> | undefined;
  /** One listener per outage, shared by every waiting call. */
  function whenReady(): Promise<void> {
    readySignal ??= new Promise<void>((resolve) => {
      client.once("ready", () => {
        readySignal = undefined;
        resolve();
      });
    });
    return readySignal;
  }

  // A call made while the client reconnects waits for it, up to the op timeout: that rides out a
  // blip. Once one such wait has run out, Redis is known to be down and calls fail at once until
  // the client is ready again, instead of each holding its caller for the whole timeout.
  let knownDown = false;
  const onReady = () => {
    knownDown = false;
  };
  client.on("ready", onReady);

  function withDeadline<T>(promise: Promise<T>, ms: number, onTimeout: () => KvError): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => reject(onTimeout()), Math.max(ms, 0));
      // Handlers stay attached, so a late rejection after the deadline is handled, not "unhandled".
      promise.then(
        (value) => {
          clearTimeout(timer);
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          reject(error);
        },
      );
    });
  }

  const timeoutMessage = `kv redis did not answer within the ${limits.opTimeoutMs} ms op timeout (the call may still apply)`;
  const timedOut = () => new KvError("ERR_KV_TIMEOUT", timeoutMessage);
  // Our own client times commands out at the op timeout; a given one at whatever its owner chose.
  const commandTimeoutMessage = owned
    ? timeoutMessage
    : `kv redis did not answer in time: ${COMMAND_TIMED_OUT}`;
  const asKvError = (error: unknown) => toKvError(error, commandTimeoutMessage);
  const rethrow = (error: unknown): never => {
    throw asKvError(error);
  };

  /**
   * `roundTrip` for an operation of one command. While our own client is connected, the call is
   * the command and nothing else: ioredis times it out at the op timeout itself
   * (`commandTimeout`), which spares every call a timer and two promises of ours. (A script may
   * take two commands, EVALSHA and then EVAL, so it goes through `roundTrip`, whose timer covers
   * both.)
   */
  function command<T>(operation: () => Promise<T>): Promise<T> {
    if (!owned || client.status !== "ready") return roundTrip(operation);
    try {
      return operation().catch(rethrow);
    } catch (error) {
      return Promise.reject(asKvError(error));
    }
  }

  /** One round trip to Redis, waiting for a connection if needed, all within the op timeout. */
  async function roundTrip<T>(operation: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      if (client.status !== "ready") {
        if (client.status === "end") {
          throw new KvError("ERR_KV_UNAVAILABLE", "kv redis client has been closed and will not reconnect");
        }
        if (knownDown) {
          throw new KvError(
            "ERR_KV_UNAVAILABLE",
            `kv redis is not connected (${client.status}); retrying in the background`,
          );
        }
        if (client.status === "wait") client.connect().catch(() => {});
        await withDeadline(whenReady(), limits.opTimeoutMs, () => {
          knownDown = true;
          return new KvError(
            "ERR_KV_UNAVAILABLE",
            `kv redis is not connected (${client.status}); gave up after the ${limits.opTimeoutMs} ms op timeout`,
          );
        });
      }
      const remaining = limits.opTimeoutMs - (performance.now() - started);
      return await withDeadline(operation(), remaining, timedOut);
    } catch (error) {
      throw asKvError(error);
    }
  }

  async function runScript(script: RedisScript, keys: string[], args: (string | Buffer)[]): Promise<unknown> {
    try {
      return await client.evalsha(script.sha, script.keys, ...keys, ...args);
    } catch (error) {
      // Redis forgets scripts on restart; send the body once and it is cached again.
      if (isReplyError(error) && replyCode(error) === "NOSCRIPT") {
        return await client.eval(script.lua, script.keys, ...keys, ...args);
      }
      throw error;
    }
  }

  const valueKey = (ns: KvNamespace, key: string) => valuePrefix(ns) + key;
  const metadataKey = (ns: KvNamespace, key: string) => metadataPrefix(ns) + key;

  /** Keys under the literal `prefix` (as the caller sees them), one SCAN stretch. */
  async function scanStretch(
    prefix: string,
    keep: number,
    cursor: string,
    want: number,
  ): Promise<{ next: string; keys: string[] }> {
    const reply = await roundTrip(() =>
      runScript(SCAN_PREFIX, [prefix], [cursor, String(want), String(SCAN_WORK_PER_CALL), String(keep)]),
    );
    const [next, keys] = reply as [string, string[]];
    return { next: String(next), keys };
  }

  async function listKeys(
    ns: KvNamespace,
    options: CheckedListOptions,
  ): Promise<{ keys: string[]; cursor?: string }> {
    const { prefix, limit } = options;
    const state: ScanCursor =
      options.cursor === undefined ? { scan: "0", pending: [] } : decodeCursor(options.cursor, prefix);
    let started = options.cursor !== undefined;
    const seen = new Set<string>();
    const keys: string[] = [];
    const pending: string[] = [];
    const take = (key: string) => {
      if (seen.has(key)) return;
      seen.add(key);
      if (keys.length < limit) keys.push(key);
      else pending.push(key);
    };
    for (const key of state.pending) take(key);
    let scan = state.scan;
    const scanPrefix = valuePrefix(ns) + prefix;
    const keep = Buffer.byteLength(prefix, "utf8");
    for (let calls = 0; keys.length < limit && calls < MAX_SCAN_CALLS_PER_PAGE; calls++) {
      if (started && scan === "0") break;
      started = true;
      const stretch = await scanStretch(scanPrefix, keep, scan, limit - keys.length);
      scan = stretch.next;
      for (const key of stretch.keys) take(key);
    }
    const done = started && scan === "0" && pending.length === 0;
    return done ? { keys } : { keys, cursor: encodeCursor({ scan, pending }) };
  }

  const backend: KvBackend = {
    async get(ns, key) {
      const value = await command(() => client.getBuffer(valueKey(ns, key)));
      return value === null ? undefined : toBytes(value);
    },

    async getWithMetadata(ns, key) {
      const [value, metadata] = await command(() =>
        client.mgetBuffer(valueKey(ns, key), metadataKey(ns, key)),
      );
      if (value === null || value === undefined) return undefined;
      const entry: { value: Uint8Array; metadata?: string } = { value: toBytes(value) };
      if (metadata !== null && metadata !== undefined) entry.metadata = metadata.toString("utf8");
      return entry;
    },

    async set(ns, key, value, setOptions) {
      await roundTrip(() =>
        runScript(
          SET_ENTRY,
          [valueKey(ns, key), metadataKey(ns, key)],
          [
            toBuffer(value),
            setOptions.ttlSeconds === undefined ? "" : String(setOptions.ttlSeconds),
            setOptions.metadata === undefined ? "0" : "1",
            setOptions.metadata ?? "",
          ],
        ),
      );
    },

    async delete(ns, key) {
      await command(() => client.del(valueKey(ns, key), metadataKey(ns, key)));
    },

    async exists(ns, key) {
      return (await command(() => client.exists(valueKey(ns, key)))) > 0;
    },

    listKeys,

    async increment(ns, key, delta) {
      try {
        const result = await (exactIntegers
          ? command(() => client.incrby(valueKey(ns, key), delta.toString()))
          : roundTrip(() => runScript(INCREMENT_EXACT, [valueKey(ns, key)], [delta.toString()])));
        return BigInt(String(result));
      } catch (error) {
        const cause = error instanceof KvError ? error.cause : undefined;
        if (!isReplyError(cause)) throw error;
        // INCRBY's only failures; Redis marks both with the generic "ERR", so the text tells them apart.
        if (cause.message.includes("overflow")) {
          throw new KvError(
            "ERR_KV_INTEGER_OVERFLOW",
            `kv increment by ${delta} leaves the signed 64-bit range`,
            { cause },
          );
        }
        if (cause.message.includes("not an integer")) {
          throw new KvError(
            "ERR_KV_NOT_AN_INTEGER",
            "kv increment needs the stored value to be a signed 64-bit decimal integer like 42 or -7",
            { cause },
          );
        }
        throw error;
      }
    },

    async compareAndSwap(ns, key, expected, value) {
      const result = await roundTrip(() =>
        runScript(
          COMPARE_AND_SWAP,
          [valueKey(ns, key), metadataKey(ns, key)],
          expected === undefined ? ["0", "", toBuffer(value)] : ["1", toBuffer(expected), toBuffer(value)],
        ),
      );
      return Number(result) === 1;
    },

    async getMany(ns, keys) {
      const values = await roundTrip(() => client.mgetBuffer(keys.map((key) => valueKey(ns, key))));
      return values.map((value) => (value === null ? undefined : toBytes(value)));
    },

    async setMany(ns, entries) {
      const results = await roundTrip(() =>
        client
          .multi()
          .mset(entries.flatMap(([key, value]) => [valueKey(ns, key), toBuffer(value)]))
          .del(entries.map(([key]) => metadataKey(ns, key)))
          .exec(),
      );
      const failure = results?.find(([error]) => error !== null)?.[0];
      if (results === null || failure !== undefined) {
        throw asKvError(failure ?? new Error("kv redis transaction was aborted"));
      }
    },

    async deleteMany(ns, keys) {
      await roundTrip(() => client.del(keys.flatMap((key) => [valueKey(ns, key), metadataKey(ns, key)])));
    },

    async deleteBucket(ns) {
      const tag = namespaceTag(ns);
      const keep = Buffer.byteLength(tag, "utf8");
      let scan = "0";
      do {
        const stretch = await scanStretch(tag, keep, scan, DELETE_BUCKET_BATCH);
        scan = stretch.next;
        if (stretch.keys.length > 0) await roundTrip(() => client.del(stretch.keys));
      } while (scan !== "0");
    },

    async ping(): Promise<KvHealth> {
      return await roundTrip(() => redisHealth(client));
    },

    async close() {
      client.off("ready", onReady);
      if (!owned) return;
      if (client.status === "ready") {
        try {
          await withDeadline(client.quit(), limits.opTimeoutMs, () => new KvError("ERR_KV_TIMEOUT", "quit"));
        } catch {
          // Drop the connection instead (below).
        }
      }
      // Also after a QUIT: a Sentinel client keeps its connections to the sentinels (ioredis's
      // failover detector) until it is disconnected, and they would reconnect forever.
      client.disconnect();
    },
  };
  return createValidatedStore(backend, limits);
}
