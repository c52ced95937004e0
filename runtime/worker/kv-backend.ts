// Which key-value store guests use: Redis when the gateway has one (a server, a Cluster or a
// Sentinel-managed master), otherwise the embedded SQLite file in the state directory. Each worker
// opens its own client from this description.

import { createRedisKvStore, createSqliteKvStore, type KvStore } from "../../kv/index.ts";
import type { KvBackendConfig } from "../protocol.ts";

export type { KvBackendConfig };

export function createKvBackend(config: KvBackendConfig | undefined): KvStore {
  if (!config) throw new Error("no key-value store is configured");
  if (config.kind === "sqlite") return createSqliteKvStore({ path: config.path });
  return createRedisKvStore({ topology: config.topology });
}
