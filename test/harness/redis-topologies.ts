/**
 * Redis topologies for tests, all on ephemeral loopback ports, each process in a group of its own
 * (redis-server.ts): a Redis Cluster of three masters (`startRedisCluster`, from redis-server.ts)
 * and a master with a replica watched by Sentinel (`startRedisSentinel`).
 *
 * @example
 * ```ts
 * const set = await startRedisSentinel();
 * after(() => set.destroy());
 * const gw = await startGateway({ args: ["--redis-sentinels", set.sentinelList, "--redis-master-name", set.masterName] });
 * await set.master.kill();
 * const promoted = await set.waitForFailover();
 * ```
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { type RedisServer, startRedisServer } from "./redis-server.ts";

export { type RedisCluster, startRedisCluster } from "./redis-server.ts";

const HOST = "127.0.0.1";
const execFileAsync = promisify(execFile);
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** One command through redis-cli, its reply as text (`--raw`: one line per element). */
export async function redisCommand(port: number, ...args: string[]): Promise<string> {
  const { stdout } = await execFileAsync("redis-cli", ["-h", HOST, "-p", String(port), "--raw", ...args], {
    timeout: 5000,
  });
  return stdout;
}

/** The `field:value` lines of an INFO section. */
export async function redisInfo(port: number, section: string): Promise<Record<string, string>> {
  const fields: Record<string, string> = {};
  for (const line of (await redisCommand(port, "INFO", section)).split(/\r?\n/)) {
    const colon = line.indexOf(":");
    if (colon > 0) fields[line.slice(0, colon)] = line.slice(colon + 1).trim();
  }
  return fields;
}

async function until<T>(what: string, timeoutMs: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`${what} within ${timeoutMs} ms${last ? `: ${(last as Error).message}` : ""}`);
    }
    await sleep(50);
  }
}

export interface RedisSentinelSet {
  readonly masterName: string;
  /** The server that was master when the set started. */
  readonly master: RedisServer;
  /** Its replicas. */
  readonly replicas: readonly RedisServer[];
  readonly sentinels: readonly RedisServer[];
  /** The sentinels as `host:port,…`, for `--redis-sentinels`. */
  readonly sentinelList: string;
  /** The port of the server the first sentinel that answers names as master now. */
  masterPort(): Promise<number>;
  /**
   * Waits until the sentinels name another master than `from` (default: the first master's
   * port) and it answers as master; returns that server.
   */
  waitForFailover(from?: number, timeoutMs?: number): Promise<RedisServer>;
  /** Until every replica has acknowledged everything the master `port` has written. */
  waitForReplication(port?: number, timeoutMs?: number): Promise<void>;
  destroy(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export interface RedisSentinelOptions {
  /** Default "wasmgate-test". */
  readonly masterName?: string;
  /** Default 1. */
  readonly replicas?: number;
  /** Default 1 (quorum 1); with more, a majority is the quorum. */
  readonly sentinels?: number;
  /** How long the master may not answer before a sentinel counts it down. Default 1000 ms. */
  readonly downAfterMs?: number;
}

/**
 * A master, its replicas (in sync before this returns) and sentinels that know all of them.
 * Killing the master (`set.master.kill()`, SIGKILL to its process group) makes the sentinels
 * promote a replica after `downAfterMs` and an election.
 */
export async function startRedisSentinel(options: RedisSentinelOptions = {}): Promise<RedisSentinelSet> {
  const masterName = options.masterName ?? "wasmgate-test";
  const started: RedisServer[] = [];
  const destroy = async () => {
    await Promise.all(started.map((server) => server.destroy()));
  };
  try {
    const master = await startRedisServer();
    started.push(master);
    const replicas: RedisServer[] = [];
    for (let index = 0; index < (options.replicas ?? 1); index++) {
      const replica = await startRedisServer({ replicaOf: master.port });
      started.push(replica);
      replicas.push(replica);
    }
    for (const replica of replicas) {
      await until(`replica ${replica.port} in sync with ${master.port}`, 15_000, async () =>
        (await redisInfo(replica.port, "replication")).master_link_status === "up" ? true : undefined,
      );
    }
    const count = options.sentinels ?? 1;
    const sentinels: RedisServer[] = [];
    for (let index = 0; index < count; index++) {
      const sentinel = await startRedisServer({
        sentinel: {
          masterName,
          masterPort: master.port,
          quorum: Math.floor(count / 2) + 1,
          downAfterMs: options.downAfterMs ?? 1000,
        },
      });
      started.push(sentinel);
      sentinels.push(sentinel);
    }
    // A sentinel learns of replicas from the master's INFO and of other sentinels from their hellos;
    // it cannot fail over before it knows both.
    for (const sentinel of sentinels) {
      await until(`sentinel ${sentinel.port} to know the replicas and sentinels`, 20_000, async () => {
        const known = (await redisCommand(sentinel.port, "SENTINEL", "MASTER", masterName)).split("\n");
        const field = (name: string) => known[known.indexOf(name) + 1];
        return Number(field("num-slaves")) >= replicas.length &&
          Number(field("num-other-sentinels")) >= count - 1
          ? true
          : undefined;
      });
    }
    const all = [master, ...replicas];

    const masterPort = async () => {
      for (const sentinel of sentinels) {
        try {
          const reply = await redisCommand(sentinel.port, "SENTINEL", "GET-MASTER-ADDR-BY-NAME", masterName);
          const port = Number(reply.split("\n")[1]);
          if (port > 0) return port;
        } catch {
          // That sentinel is down; ask the next.
        }
      }
      throw new Error("no sentinel answered with a master");
    };

    const set: RedisSentinelSet = {
      masterName,
      master,
      replicas,
      sentinels,
      sentinelList: sentinels.map((sentinel) => `${HOST}:${sentinel.port}`).join(","),
      masterPort,
      async waitForFailover(from = master.port, timeoutMs = 30_000) {
        return await until(`a failover away from ${from}`, timeoutMs, async () => {
          const port = await masterPort();
          if (port === from) return undefined;
          const role = (await redisCommand(port, "ROLE")).split("\n")[0];
          return role === "master" ? all.find((server) => server.port === port) : undefined;
        });
      },
      async waitForReplication(port = master.port, timeoutMs = 10_000) {
        await until(`replicas of ${port} in sync`, timeoutMs, async () => {
          const info = await redisInfo(port, "replication");
          const offset = info.master_repl_offset;
          const links = Object.entries(info).filter(([name]) => /^slave\d+$/.test(name));
          if (links.length < replicas.length) return undefined;
          return links.every(([, value]) => value.includes(`offset=${offset},`)) ? true : undefined;
        });
      },
      destroy,
      [Symbol.asyncDispose]: destroy,
    };
    return set;
  } catch (error) {
    await destroy();
    throw error;
  }
}
