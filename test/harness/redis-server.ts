/**
 * Starts a real `redis-server` (found on PATH) on an ephemeral loopback port with its own temp
 * directory, for tests. Never touches a Redis the machine already runs.
 *
 * @example
 * ```ts
 * const redis = await startRedisServer();
 * after(() => redis.destroy());
 * const store = createRedisKvStore({ url: redis.url });
 * ```
 */
import { type ChildProcess, execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { signalGroup, spawnOwned } from "./process.ts";

export interface RedisServerOptions {
  /** Turn on the append-only file so data survives `stop()`/`restart()` (and `kill()` up to fsync). */
  readonly appendOnly?: boolean;
  /** Start as a Redis Cluster node (its bus gets a free port of its own); see `startRedisCluster`. */
  readonly clusterNode?: boolean;
  /** Start as a replica of the server on this loopback port. */
  readonly replicaOf?: number;
  /**
   * Start as a sentinel monitoring the master on `masterPort` as `masterName` (see
   * `startRedisSentinel` in redis-topologies.ts). Its config file lives in its directory, which
   * the sentinel rewrites as it learns.
   */
  readonly sentinel?: SentinelOptions;
  /** How long to wait for the server to answer PING. Default 10 s. */
  readonly startTimeoutMs?: number;
}

export interface SentinelOptions {
  readonly masterName: string;
  readonly masterPort: number;
  /** Sentinels that must agree the master is down. Default 1. */
  readonly quorum?: number;
  /** How long the master may not answer before it counts as down. Default 1000 ms. */
  readonly downAfterMs?: number;
  /** Default 10 s. */
  readonly failoverTimeoutMs?: number;
}

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** The server's working directory (AOF lives here). */
  readonly dir: string;
  /** The running server's process id (benchmarks pin it); undefined while it is stopped. */
  readonly pid: number | undefined;
  /** Stops the server with SIGTERM and waits for it to exit. The directory is kept for `restart()`. */
  stop(): Promise<void>;
  /** Kills the server with SIGKILL and waits for it to exit. */
  kill(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections stay open but nothing is answered. */
  pause(): void;
  /** Undoes `pause()` (SIGCONT). */
  resume(): void;
  /** Stops the server if it runs, then starts it again on the same port and directory. */
  restart(): Promise<void>;
  /** Stops the server and removes its directory. Safe to call more than once. */
  destroy(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const HOST = "127.0.0.1";
const PORT_ATTEMPTS = 5;

/** Every server this process started, so none outlives the test process. */
const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of running) child.kill("SIGKILL");
  });
}

async function pickFreePort(): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen(0, HOST, () => {
      const address = server.address();
      if (address === null || typeof address === "string") {
        server.close();
        reject(new Error("could not read the bound port"));
        return;
      }
      server.close(() => resolve(address.port));
    });
  });
}

async function answersPing(port: number): Promise<boolean> {
  return await new Promise((resolve) => {
    const socket = createConnection({ host: HOST, port });
    let reply = "";
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once("error", () => done(false));
    socket.once("connect", () => socket.write("PING\r\n"));
    socket.on("data", (chunk) => {
      reply += chunk.toString("latin1");
      if (reply.includes("\r\n")) done(reply.startsWith("+PONG"));
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

class AddressInUseError extends Error {}

async function spawnRedis(
  port: number,
  busPort: number,
  dir: string,
  options: RedisServerOptions,
): Promise<ChildProcess> {
  const cluster =
    options.clusterNode === true ? ["--cluster-enabled", "yes", "--cluster-port", String(busPort)] : [];
  const replica = options.replicaOf === undefined ? [] : ["--replicaof", HOST, String(options.replicaOf)];
  // A sentinel takes its config file first; the flags after it apply on top.
  const sentinel = options.sentinel === undefined ? [] : [join(dir, "sentinel.conf"), "--sentinel"];
  const args = [
    ...sentinel,
    ...cluster,
    ...replica,
    "--port",
    String(port),
    "--bind",
    HOST,
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    options.appendOnly === true ? "yes" : "no",
    "--appendfsync",
    "always",
    "--daemonize",
    "no",
    "--loglevel",
    "warning",
  ];
  const child = spawnOwned("redis-server", args, { stdio: ["ignore", "pipe", "pipe"] });
  running.add(child);
  let output = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    output += chunk.toString();
  });
  let exited = false;
  let spawnError: Error | undefined;
  child.once("error", (error) => {
    spawnError = error;
  });
  child.once("exit", () => {
    exited = true;
    running.delete(child);
  });
  const deadline = Date.now() + (options.startTimeoutMs ?? 10_000);
  while (Date.now() < deadline) {
    if (spawnError !== undefined) {
      throw new Error(`could not start redis-server (is it installed and on PATH?): ${spawnError.message}`);
    }
    if (exited) {
      if (/address already in use/i.test(output)) throw new AddressInUseError(output);
      throw new Error(`redis-server exited before answering PING:\n${output}`);
    }
    if (await answersPing(port)) return child;
    await sleep(20);
  }
  signalGroup(child, "SIGKILL");
  throw new Error(`redis-server did not answer PING on port ${port} in time:\n${output}`);
}

async function waitForExit(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  signalGroup(child, signal);
  await exited;
}

export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  installExitHook();
  const dir = await mkdtemp(join(tmpdir(), "wasmgate-redis-"));
  if (options.sentinel !== undefined) {
    const {
      masterName,
      masterPort,
      quorum = 1,
      downAfterMs = 1000,
      failoverTimeoutMs = 10_000,
    } = options.sentinel;
    await writeFile(
      join(dir, "sentinel.conf"),
      [
        `sentinel monitor ${masterName} ${HOST} ${masterPort} ${quorum}`,
        `sentinel down-after-milliseconds ${masterName} ${downAfterMs}`,
        `sentinel failover-timeout ${masterName} ${failoverTimeoutMs}`,
        `sentinel parallel-syncs ${masterName} 1`,
        "",
      ].join("\n"),
    );
  }
  let port = 0;
  let busPort = 0;
  let child: ChildProcess | undefined;
  for (let attempt = 1; child === undefined; attempt++) {
    port = await pickFreePort();
    busPort = options.clusterNode === true ? await pickFreePort() : 0;
    try {
      child = await spawnRedis(port, busPort, dir, options);
    } catch (error) {
      // Another process may grab the port between our probe and redis-server's bind.
      if (!(error instanceof AddressInUseError) || attempt >= PORT_ATTEMPTS) {
        await rm(dir, { recursive: true, force: true });
        throw error;
      }
    }
  }
  let current: ChildProcess | undefined = child;
  let destroyed = false;

  const stopWith = async (signal: NodeJS.Signals) => {
    const target = current;
    current = undefined;
    if (target === undefined) return;
    // A frozen process ignores SIGTERM until it is continued.
    target.kill("SIGCONT");
    await waitForExit(target, signal);
  };

  const server: RedisServer = {
    url: `redis://${HOST}:${port}`,
    port,
    dir,
    get pid() {
      return current?.pid;
    },
    stop: () => stopWith("SIGTERM"),
    kill: () => stopWith("SIGKILL"),
    pause() {
      current?.kill("SIGSTOP");
    },
    resume() {
      current?.kill("SIGCONT");
    },
    async restart() {
      if (destroyed) throw new Error("restart() after destroy()");
      await stopWith("SIGTERM");
      // The port was ours a moment ago; give the kernel a few tries to hand it back.
      for (let attempt = 1; ; attempt++) {
        try {
          current = await spawnRedis(port, busPort, dir, options);
          return;
        } catch (error) {
          if (!(error instanceof AddressInUseError) || attempt >= PORT_ATTEMPTS) throw error;
          await sleep(100 * attempt);
        }
      }
    },
    async destroy() {
      destroyed = true;
      await stopWith("SIGKILL");
      await rm(dir, { recursive: true, force: true });
    },
    [Symbol.asyncDispose]() {
      return server.destroy();
    },
  };
  return server;
}

export interface RedisCluster {
  /** The masters, each a `RedisServer`; their slots are spread evenly. */
  readonly nodes: readonly RedisServer[];
  /** Stops every node and removes their directories. */
  destroy(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const execFileAsync = promisify(execFile);

/**
 * Starts a Redis Cluster of `masters` nodes (no replicas) on ephemeral ports, joined with
 * `redis-cli --cluster create`, and waits until every node reports `cluster_state:ok`.
 */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  const destroy = async () => {
    await Promise.all(nodes.map((node) => node.destroy()));
  };
  try {
    for (let index = 0; index < masters; index++) nodes.push(await startRedisServer({ clusterNode: true }));
    await execFileAsync("redis-cli", [
      "--cluster",
      "create",
      ...nodes.map((node) => `${HOST}:${node.port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    const deadline = Date.now() + 15_000;
    for (const node of nodes) {
      for (;;) {
        const { stdout } = await execFileAsync("redis-cli", [
          "-h",
          HOST,
          "-p",
          String(node.port),
          "cluster",
          "info",
        ]);
        if (stdout.includes("cluster_state:ok")) break;
        if (Date.now() > deadline)
          throw new Error(`cluster node ${node.port} never reached cluster_state:ok`);
        await sleep(50);
      }
    }
  } catch (error) {
    await destroy();
    throw error;
  }
  return { nodes, destroy, [Symbol.asyncDispose]: destroy };
}
