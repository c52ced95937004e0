/**
 * The gateway module's public entry. `startGateway()` builds and starts everything `wasmgate
 * serve` runs: the key-value backend, the state store, the signing and secrets keys, auth, the
 * operator token, the runtime, both Hono apps, the admin listener and the data plane's listener
 * (with its direct path for cached apps), and the drain on stop. `gateway/main.ts` is the CLI
 * around it; `deploy-cli dev` embeds it.
 *
 * @example
 * const events = createGatewayEvents();
 * events.on("request-finished", ({ method, path, status, ms }) => print(method, path, status, ms));
 * const gw = await startGateway(createConfig({ port: 0, adminPort: 0, stateDir }), { events });
 * // … gw.dataPort, gw.adminPort, gw.operatorToken.path …
 * await gw.stop("SIGTERM");
 */

import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createAdaptorServer } from "@hono/node-server";
import type { RedisNode, RedisTopology } from "../kv/index.ts";
import { createKvBackend, createRuntime, type KvBackendConfig } from "../runtime/index.ts";
import { createGateway } from "./app.ts";
import {
  createAuth,
  ensureOperatorToken,
  importSigningJwk,
  type KeyMaterial,
  loadSigningKey,
  newSigningJwk,
} from "./auth/index.ts";
import { createSecretBox, loadSecretKey } from "./auth/secrets.ts";
import { type Config, ConfigError, redisTopology } from "./config.ts";
import { stopAccepting } from "./data-plane/drain.ts";
import { isStateOutage } from "./errors.ts";
import { createGatewayEvents, type GatewayEvents } from "./events.ts";
import { createLogger, type Logger, requestLineFd } from "./logger.ts";
import { createRedisStateStore } from "./state/redis.ts";
import { createSqliteStateStore } from "./state/sqlite.ts";
import type { StateStore } from "./state/store.ts";

export type { LogRecordView } from "./admin/logs.ts";
export { OPERATOR_TOKEN_FILE } from "./auth/index.ts";
export {
  CONFIG_HELP,
  type Config,
  ConfigError,
  createConfig,
  DEFAULT_MAX_BODY_BYTES,
  parseConfig,
  redisTopology,
} from "./config.ts";
export {
  createGatewayEvents,
  type GatewayEventListener,
  type GatewayEventMap,
  type GatewayEventName,
  type GatewayEvents,
  type GatewayEventsOptions,
  type GuestOutput,
  type RequestFinished,
  type Warning,
} from "./events.ts";
export { REQUEST_ID_HEADER } from "./http.ts";
export { createLogger, type Logger } from "./logger.ts";

export interface StartOptions {
  /** Where the gateway logs (default: JSON lines on stdout at `config.logLevel`). */
  logger?: Logger;
  /** The events to publish to, so listeners can be attached before it starts (default: new ones). */
  events?: GatewayEvents;
  /** The embedded key-value database when there is no Redis (default `<state-dir>/kv.db`). */
  kvPath?: string;
}

export interface RunningGateway {
  /** The ports the data plane and the admin API listen on (as bound: a port 0 is resolved). */
  dataPort: number;
  adminPort: number;
  /** The state directory, absolute. */
  stateDir: string;
  /** The operator token's file, and whether this start wrote it (else it was there and valid). */
  operatorToken: { path: string; created: boolean };
  events: GatewayEvents;
  logger: Logger;
  /**
   * Stops accepting, lets requests in flight finish for up to `config.shutdownGraceMs`, then
   * closes the rest, the runtime and the stores. Calling it again returns the same promise.
   */
  stop(signal?: string): Promise<void>;
}

/** Where Redis is, for the log: no credentials from a URL. */
function describeTopology(topology: RedisTopology): string {
  const nodes = (list: readonly RedisNode[]) => list.map(({ host, port }) => `${host}:${port}`).join(",");
  switch (topology.kind) {
    case "standalone": {
      const url = new URL(topology.url);
      return `${url.protocol}//${url.host}${url.pathname}`;
    }
    case "cluster":
      return `cluster ${nodes(topology.nodes)}`;
    case "sentinel":
      return `sentinel master ${topology.masterName} via ${nodes(topology.sentinels)}`;
  }
}

/** How long a start that failed half-way waits for what it had opened to close. */
const FAILED_START_CLEANUP_MS = 2000;

async function listen(server: Server, port: number, host: string, reusePort = false): Promise<number> {
  await new Promise<void>((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen({ port, host, reusePort }, () => {
      server.off("error", reject);
      resolvePromise();
    });
  });
  return (server.address() as AddressInfo).port;
}

/** How long a gateway that could serve its snapshot waits for Redis at start before it does. */
const OFFLINE_START_WAIT_MS = 3_000;

export async function startGateway(config: Config, options: StartOptions = {}): Promise<RunningGateway> {
  const logger = options.logger ?? createLogger(config.logLevel, { format: config.logFormat });
  const events =
    options.events ??
    createGatewayEvents({
      onListenerError: (err, event) => logger.error({ err, event }, "a gateway event listener failed"),
    });
  // What is open so far, closed (newest first) if the start fails half-way: whoever embeds the
  // gateway keeps running, and must not be left with its workers and connections.
  const opened: (() => unknown)[] = [];
  try {
    return await start(config, logger, events, options.kvPath, opened);
  } catch (err) {
    const closing = Promise.allSettled(opened.reverse().map(async (close) => close()));
    await Promise.race([closing, sleep(FAILED_START_CLEANUP_MS, undefined, { ref: false })]);
    throw err;
  }
}

async function start(
  config: Config,
  logger: Logger,
  events: GatewayEvents,
  kvPath: string | undefined,
  opened: (() => unknown)[],
): Promise<RunningGateway> {
  const stateDir = resolve(config.stateDir);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const redis = redisTopology(config);
  const kvBackend: KvBackendConfig = redis
    ? { kind: "redis", topology: redis }
    : { kind: "sqlite", path: kvPath ?? join(stateDir, "kv.db") };
  const kv = createKvBackend(kvBackend);
  opened.push(() => kv.close());
  let state: StateStore;
  let keys: Omit<KeyMaterial, "created">;
  let secretKey: Buffer;
  if (redis) {
    // Every gateway on this Redis shares the state and the keys: a token issued by one verifies on
    // all, and a secret sealed by one opens on all.
    // A state directory that served before keeps the route snapshot and the shared keys: with
    // them the gateway may start while Redis is out, serving what it last knew.
    const cachedKeysFile = join(stateDir, "shared-keys.json");
    const canStartOffline = existsSync(join(stateDir, "routes.json")) && existsSync(cachedKeysFile);
    const shared = await createRedisStateStore({
      topology: redis,
      logger,
      ...(canStartOffline ? { startWithoutRedis: true, connectTimeoutMs: OFFLINE_START_WAIT_MS } : {}),
    });
    opened.push(() => shared.close());
    state = shared;
    let material: { signing: string; secrets: string };
    try {
      material = {
        signing: await shared.sharedKey("signing", async () => JSON.stringify(await newSigningJwk())),
        secrets: await shared.sharedKey("secrets", () => randomBytes(32).toString("base64")),
      };
      await writeFile(cachedKeysFile, JSON.stringify(material), { mode: 0o600 });
    } catch (err) {
      if (!canStartOffline || !isStateOutage(err)) throw err;
      material = JSON.parse(await readFile(cachedKeysFile, "utf8"));
    }
    keys = await importSigningJwk(JSON.parse(material.signing));
    secretKey = Buffer.from(material.secrets, "base64");
    logger.info(
      { stateDir, redis: describeTopology(redis) },
      "state, keys and key-value data in Redis; the state directory keeps compiled code",
    );
  } else {
    const local = createSqliteStateStore(stateDir);
    opened.push(() => local.close());
    state = local;
    keys = await loadSigningKey(stateDir);
    secretKey = await loadSecretKey(stateDir);
  }
  const auth = createAuth(keys, { state });
  const token = await ensureOperatorToken(stateDir, auth);
  const runtime = createRuntime({
    compiledDir: join(stateDir, "compiled"),
    logger,
    workers: config.workers,
    maxComponentBytes: config.maxComponentBytes,
    kv: kvBackend,
    memoryBudgetBytes: config.memoryBudgetMb * 1024 * 1024,
    instanceIdleMs: config.instanceIdleS * 1000,
    unloadIdleMs: config.unloadIdleS * 1000,
    stallMs: config.stallMs,
    maxQueuedPerApp: config.maxQueuedPerApp,
    maxConcurrentPerTenant: config.maxConcurrentPerTenant,
    maxQueueMs: config.maxQueueMs,
  });
  opened.push(() => runtime.close());
  let dataPort = config.port;
  const inWorkers = config.listenInWorkers === "on";
  if (inWorkers && process.platform !== "linux") {
    throw new ConfigError(
      "--listen-in-workers on needs Linux (SO_REUSEPORT spreads connections over the workers' listeners); leave it off here",
    );
  }
  const { dataListener, fallbackListener, servedByWorker, admin, follow, ops, router } = createGateway({
    state,
    kv,
    runtime,
    auth,
    logger,
    limits: { maxBodyBytes: config.maxBodyBytes },
    box: createSecretBox(secretKey),
    publicUrl: (hostname) => `http://${hostname}${dataPort === 80 ? "" : `:${dataPort}`}/`,
    events,
    routeSnapshot: join(stateDir, "routes.json"),
    configSnapshot: join(stateDir, "config.json"),
    offerToWorkers: inWorkers,
  });
  opened.push(() => ops.close());
  // The whole route table before the first request (or its snapshot, during an outage).
  await router.warm();
  if (router.source().from === "snapshot") {
    logger.warn(
      { loadedAt: router.source().loadedAt },
      "the state store cannot be reached: serving the route snapshot",
    );
  }
  const stopFollowing = follow();
  opened.push(stopFollowing);
  const dataServer = createServer(dataListener);
  const adminServer = createAdaptorServer({ fetch: admin.fetch }) as Server;
  // The admin listener first: once the data plane listens, guests run, and the runtime must know
  // both ports before then (they are told in the same turn, ahead of any request).
  const adminPort = await listen(adminServer, config.adminPort, config.adminHost);
  opened.push(() => adminServer.close());
  // With --listen-in-workers, this thread holds the port (SO_REUSEPORT) until every worker
  // listens on it too, then closes its own; what the workers pass on comes to a loopback port.
  dataPort = await listen(dataServer, config.port, config.host, inWorkers);
  let fallbackServer: Server | undefined;
  if (inWorkers) {
    const secret = randomBytes(18).toString("base64url");
    fallbackServer = createServer(fallbackListener(secret));
    opened.push(() => fallbackServer?.close());
    const fallbackPort = await listen(fallbackServer, 0, "127.0.0.1");
    runtime.setGatewayListeners({ dataPorts: [dataPort, fallbackPort], adminPorts: [adminPort] });
    const logFd = requestLineFd(logger);
    await runtime.listenInWorkers(
      {
        host: config.host,
        port: dataPort,
        fallbackPort,
        fallbackSecret: secret,
        requestLog: !logger.isLevelEnabled("info") ? "off" : logFd === undefined ? "main" : { fd: logFd },
      },
      (tag, served) => servedByWorker(tag, served, logFd === undefined),
    );
    await stopAccepting(dataServer);
  } else runtime.setGatewayListeners({ dataPorts: [dataPort], adminPorts: [adminPort] });

  // Scripts read the ports from this line, so it is printed whatever the log level.
  logger.child({}, { level: "info" }).info(
    {
      dataPort,
      adminPort,
      dataUrl: `http://${config.host}:${dataPort}`,
      adminUrl: `http://${config.adminHost}:${adminPort}`,
      stateDir,
      operatorToken: token.path,
      workers: config.workers,
    },
    `wasmgate listening: data plane on port ${dataPort}, admin API on port ${adminPort}; ` +
      `operator token ${token.created ? "written to" : "in"} ${token.path}`,
  );

  async function shutDown(signal: string | undefined): Promise<void> {
    logger.info({ signal, graceMs: config.shutdownGraceMs }, "shutting down: finishing requests in flight");
    ops.drain();
    // Stop accepting; requests in flight (and their guests) finish, up to the grace period. Log
    // streams follow until the data plane has nothing left to log, then end.
    const closed = Promise.all([
      Promise.all([
        stopAccepting(dataServer),
        runtime.stopListening(),
        fallbackServer ? stopAccepting(fallbackServer) : undefined,
      ]).then(() => ops.close()),
      stopAccepting(adminServer),
    ]);
    const grace = new Promise<"timeout">((r) =>
      setTimeout(() => r("timeout"), config.shutdownGraceMs).unref(),
    );
    if ((await Promise.race([closed, grace])) === "timeout") {
      logger.warn(
        { graceMs: config.shutdownGraceMs },
        "grace period over: closing the remaining connections",
      );
      ops.close();
      dataServer.closeAllConnections();
      fallbackServer?.closeAllConnections();
      adminServer.closeAllConnections();
    }
    stopFollowing();
    await runtime.close();
    await Promise.all([state.close(), kv.close()]);
  }

  let stopping: Promise<void> | undefined;
  return {
    dataPort,
    adminPort,
    stateDir,
    operatorToken: token,
    events,
    logger,
    stop(signal) {
      stopping ??= shutDown(signal);
      return stopping;
    },
  };
}
