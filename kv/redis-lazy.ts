// The Redis store and client as the kv entry exports them: ioredis (about 30 ms to load) is
// loaded on the store's first operation or the first client made, so a process that imports the
// kv module without using Redis (a guest worker on the embedded store, a worker replacing one
// stopped for a runaway guest) never pays it.

import type { RedisOptions } from "ioredis";
import type { RedisKvStoreOptions } from "./redis.ts";
import type { RedisClient, RedisHealth, RedisTopology } from "./redis-client.ts";
import type { KvStore } from "./store.ts";

/**
 * An ioredis client for a topology (`redis-client.ts`), for Redis users besides the key-value
 * store (the gateway's state store), so every one reaches a Cluster or Sentinel the same way.
 *
 * @example
 * const client = await createRedisClient({ kind: "standalone", url }, { connectionName: "wasmgate-state" });
 */
export async function createRedisClient(
  topology: RedisTopology,
  options: RedisOptions,
): Promise<RedisClient> {
  return (await import("./redis-client.ts")).createRedisClient(topology, options);
}

/** Whether a client's Redis can serve, and what it found (`redis-client.ts`). */
export async function redisHealth(client: RedisClient): Promise<RedisHealth> {
  return (await import("./redis-client.ts")).redisHealth(client);
}

/** A Redis-backed KvStore (./redis.ts), made on its first operation. */
export function createRedisKvStore(options: RedisKvStoreOptions): KvStore {
  return lazyKvStore(async () => (await import("./redis.ts")).createRedisKvStore(options));
}

/** Every operation of a store, so that the compiler checks a wrapper forwards them all. */
const OPERATIONS: { [K in keyof KvStore]: true } = {
  get: true,
  getWithMetadata: true,
  set: true,
  delete: true,
  exists: true,
  listKeys: true,
  increment: true,
  compareAndSwap: true,
  getMany: true,
  setMany: true,
  deleteMany: true,
  deleteBucket: true,
  ping: true,
  close: true,
};

/**
 * A store made by `load` on its first operation. Closing one never made makes nothing; a call
 * after that gets what a closed store answers (the store is made and closed for it). Once made,
 * its operations are the store's own, with nothing in between.
 */
function lazyKvStore(load: () => Promise<KvStore>): KvStore {
  let store: Promise<KvStore> | undefined;
  let closed = false;
  type Operations = Record<string, (...args: unknown[]) => Promise<unknown>>;
  const lazy: Operations = {};
  const names = Object.keys(OPERATIONS) as (keyof KvStore)[];
  const made = (loaded: KvStore) => {
    const own = loaded as unknown as Operations;
    for (const name of names) lazy[name] = own[name]!.bind(loaded);
    return loaded;
  };
  for (const name of names) {
    lazy[name] = async (...args) => {
      if (name === "close" && !store) {
        closed = true;
        return;
      }
      store ??= (
        closed
          ? load().then(async (loaded) => {
              await loaded.close();
              return loaded;
            })
          : load()
      ).then(made);
      const loaded = (await store) as unknown as Operations;
      return loaded[name]!(...args);
    };
  }
  return lazy as unknown as KvStore;
}
