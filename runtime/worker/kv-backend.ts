// Which key-value store guests use: Redis when the gateway has REDIS_URL, otherwise the embedded
// SQLite file in the state directory. Each worker opens its own client from this description.

import { createSqliteKvStore } from "../../kv/sqlite.ts";
import type { KvStore } from "../../kv/store.ts";
import type { KvBackendConfig } from "../protocol.ts";

export type { KvBackendConfig };

export function createKvBackend(config: KvBackendConfig | undefined): KvStore {
  if (!config) throw new Error("no key-value store is configured");
  if (config.kind === "sqlite") return createSqliteKvStore({ path: config.path });
  const { url } = config;
  // Loading the Redis client is a quarter of a guest worker's start (about 30 ms): a worker
  // replacing one stopped for a runaway guest should not pay it before its first KV call.
  return lazyKvStore(async () => (await import("../../kv/redis.ts")).createRedisKvStore({ url }));
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

/** A store made by `load` on its first operation; closing one never made does nothing. */
function lazyKvStore(load: () => Promise<KvStore>): KvStore {
  let store: Promise<KvStore> | undefined;
  const lazy: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
  for (const name of Object.keys(OPERATIONS) as (keyof KvStore)[]) {
    lazy[name] = async (...args) => {
      if (name === "close" && !store) return;
      store ??= load();
      const loaded = (await store) as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>;
      return loaded[name]!(...args);
    };
  }
  return lazy as unknown as KvStore;
}
