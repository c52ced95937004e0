/**
 * How wasmgate reaches Redis: one server by URL, a Redis Cluster from some of its nodes, or the
 * master that Redis Sentinel names, all through ioredis's own support. The key-value store and the
 * gateway's state store open their clients here, so both see a topology the same way; the
 * description is plain data, so a worker thread can be handed it and open a client of its own.
 *
 * @example
 * ```ts
 * const topology: RedisTopology = { kind: "cluster", nodes: [{ host: "10.0.0.1", port: 7000 }] };
 * const client = createRedisClient(topology, { connectionName: "wasmgate-x", enableOfflineQueue: false });
 * await redisHealth(client); // { backend: "redis", topology: "cluster", clusterState: "ok", masters: 3, … }
 * ```
 */
import { Cluster, Redis, type RedisOptions } from "ioredis";

export type RedisNode = Readonly<{ host: string; port: number }>;

export type RedisTopology =
  /** One server (`redis://` or `rediss://`, with credentials and database in the URL). */
  | Readonly<{ kind: "standalone"; url: string }>
  /** A Redis Cluster: a few of its nodes to start from; the client learns the rest and follows slot moves. */
  | Readonly<{ kind: "cluster"; nodes: readonly RedisNode[] }>
  /** The master that these sentinels know as `masterName`, followed through failovers. */
  | Readonly<{ kind: "sentinel"; sentinels: readonly RedisNode[]; masterName: string }>;

export type RedisClient = Redis | Cluster;

/** How often a cluster client reloads the slot map. */
const SLOTS_REFRESH_MS = 5000;

/** What a health check found, for readiness (`/readyz` shows it beside `ok`). */
export type RedisHealth = Readonly<Record<string, string | number>>;

/**
 * A client for `topology` with `options` (for a cluster they apply to each node's connection,
 * and `retryStrategy` also paces reconnecting to the cluster as a whole).
 */
export function createRedisClient(topology: RedisTopology, options: RedisOptions): RedisClient {
  switch (topology.kind) {
    case "standalone":
      return new Redis(topology.url, options);
    case "sentinel":
      return new Redis({
        ...options,
        sentinels: topology.sentinels.map(({ host, port }) => ({ host, port })),
        name: topology.masterName,
        role: "master",
        // Sentinels announce a promotion on +switch-master: reconnect then, instead of on the next
        // retry of the dead master's address.
        failoverDetector: true,
        // A server demoted under a connection answers writes with READONLY: ask the sentinels
        // again. The failed call is not resent (it fails as unavailable; the next one goes to the
        // master), so a write is never applied twice.
        reconnectOnError: (error) => error.message.startsWith("READONLY"),
      });
    case "cluster": {
      const retry = options.retryStrategy;
      return new Cluster(
        topology.nodes.map(({ host, port }) => ({ host, port })),
        {
          redisOptions: options,
          enableOfflineQueue: options.enableOfflineQueue ?? true,
          // What ioredis documents as its default but leaves off: a client with no traffic still
          // learns of slot moves, promotions and nodes that came back.
          slotsRefreshInterval: SLOTS_REFRESH_MS,
          clusterRetryStrategy: (attempt) =>
            retry ? (retry(attempt) ?? null) : Math.min(100 * attempt, 2000),
        },
      );
    }
  }
}

/** The topology a client was made for, as `/readyz` names it. */
export function topologyOf(client: RedisClient): RedisTopology["kind"] {
  if (client instanceof Cluster) return "cluster";
  return client.options.sentinels ? "sentinel" : "standalone";
}

/**
 * One round of checks that the client's Redis can serve, and what it found. Fails (with the
 * reason) where a plain PING would not: a cluster whose state is not `ok` or with a master that
 * does not answer, or a sentinel-named server that is no longer the master.
 */
export async function redisHealth(client: RedisClient): Promise<RedisHealth> {
  if (client instanceof Cluster) {
    const info = parseInfo(String(await client.cluster("INFO")));
    const state = info.cluster_state ?? "unknown";
    if (state !== "ok") throw new Error(`the Redis Cluster reports cluster_state:${state}`);
    // The masters the cluster assigns slots to, each asked through the client's own connection: a
    // master that went away is dropped from the client's pool at once, while the cluster still
    // reports `ok` until `cluster-node-timeout` has passed.
    const slots = (await client.cluster("SLOTS")) as unknown as [number, number, [string, number]][];
    const masters = new Set(slots.map(([, , [host, port]]) => `${host}:${port}`));
    const connected = new Map(
      client.nodes("master").map((node) => [`${node.options.host}:${node.options.port}`, node]),
    );
    const missing = [...masters].filter((address) => !connected.has(address));
    if (masters.size === 0 || missing.length > 0) {
      // The client takes a node back only with a fresh slot map: ask for one now, so the next
      // check sees a master that has come back.
      client.refreshSlotsCache();
      throw new Error(`the Redis Cluster's master ${missing.join(", ") || "list"} cannot be reached`);
    }
    await Promise.all([...masters].map((address) => connected.get(address)!.ping()));
    return {
      backend: "redis",
      topology: "cluster",
      clusterState: state,
      masters: masters.size,
      slotsOk: Number(info.cluster_slots_ok ?? 0),
      knownNodes: Number(info.cluster_known_nodes ?? 0),
    };
  }
  if (!client.options.sentinels) {
    await client.ping();
    return { backend: "redis", topology: "standalone" };
  }
  const role = (await client.role()) as unknown[];
  const name = client.options.name ?? "";
  const at = `${client.stream.remoteAddress}:${client.stream.remotePort}`;
  if (role[0] !== "master") {
    throw new Error(`the server sentinel named as master ${name} (${at}) now answers as ${String(role[0])}`);
  }
  return {
    backend: "redis",
    topology: "sentinel",
    masterName: name,
    master: at,
    replicas: Array.isArray(role[2]) ? role[2].length : 0,
  };
}

/** `field:value` lines of an INFO-style reply. */
function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields;
}
