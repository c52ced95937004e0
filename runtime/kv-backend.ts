// Which key-value store guests use: Redis when the gateway has REDIS_URL, otherwise the embedded
// SQLite file in the state directory. Each worker opens its own client from this description.

import { createRedisKvStore, createSqliteKvStore, type KvStore } from "../kv/index.ts";

export type KvBackendConfig = { kind: "redis"; url: string } | { kind: "sqlite"; path: string };

export function createKvBackend(config: KvBackendConfig | undefined): KvStore {
  if (!config) throw new Error("no key-value store is configured");
  return config.kind === "redis"
    ? createRedisKvStore({ url: config.url })
    : createSqliteKvStore({ path: config.path });
}
