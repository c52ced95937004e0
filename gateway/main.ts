// The gateway process: `wasmgate serve`. The only file that reads process.env.

import { randomBytes } from "node:crypto";
import { mkdir } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join, resolve } from "node:path";
import { createAdaptorServer } from "@hono/node-server";
import { createKvBackend, createRuntime, type KvBackendConfig } from "../runtime/index.ts";
import { createGateway } from "./app.ts";
import {
  createAuth,
  ensureOperatorToken,
  importSigningJwk,
  type KeyMaterial,
  loadSigningKey,
  newSigningJwk,
} from "./auth.ts";
import { CONFIG_HELP, type Config, ConfigError, parseConfig } from "./config.ts";
import { stopAccepting } from "./drain.ts";
import { createLogger, type Logger } from "./logger.ts";
import { createSecretBox, loadSecretKey } from "./secrets.ts";
import { createRedisStateStore } from "./state/redis.ts";
import { createSqliteStateStore } from "./state/sqlite.ts";
import type { StateStore } from "./state/store.ts";

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolvePromise, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolvePromise();
    });
  });
  return (server.address() as AddressInfo).port;
}

async function serve(config: Config, logger: Logger): Promise<void> {
  const stateDir = resolve(config.stateDir);
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const kvBackend: KvBackendConfig = config.redisUrl
    ? { kind: "redis", url: config.redisUrl }
    : { kind: "sqlite", path: join(stateDir, "kv.db") };
  const kv = createKvBackend(kvBackend);
  let state: StateStore;
  let keys: Omit<KeyMaterial, "created">;
  let secretKey: Buffer;
  if (config.redisUrl) {
    // Every gateway on this Redis shares the state and the keys: a token issued by one verifies on
    // all, and a secret sealed by one opens on all.
    const shared = await createRedisStateStore({ url: config.redisUrl, logger });
    state = shared;
    keys = await importSigningJwk(
      JSON.parse(await shared.sharedKey("signing", async () => JSON.stringify(await newSigningJwk()))),
    );
    secretKey = Buffer.from(
      await shared.sharedKey("secrets", () => randomBytes(32).toString("base64")),
      "base64",
    );
    logger.info(
      { stateDir },
      "state, keys and key-value data in Redis; the state directory keeps compiled code",
    );
  } else {
    state = createSqliteStateStore(stateDir);
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
  });
  let dataPort = config.port;
  const { dataListener, admin, follow, ops } = createGateway({
    state,
    kv,
    runtime,
    auth,
    logger,
    limits: { maxBodyBytes: config.maxBodyBytes },
    box: createSecretBox(secretKey),
    publicUrl: (hostname) => `http://${hostname}${dataPort === 80 ? "" : `:${dataPort}`}/`,
  });
  follow();
  const dataServer = createServer(dataListener);
  const adminServer = createAdaptorServer({ fetch: admin.fetch }) as Server;
  // The admin listener first: once the data plane listens, guests run, and the runtime must know
  // both ports before then (they are told in the same turn, ahead of any request).
  const adminPort = await listen(adminServer, config.adminPort, config.adminHost);
  dataPort = await listen(dataServer, config.port, config.host);
  runtime.setGatewayListeners({ dataPorts: [dataPort], adminPorts: [adminPort] });

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

  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal, graceMs: config.shutdownGraceMs }, "shutting down: finishing requests in flight");
    ops.drain();
    // Stop accepting; requests in flight (and their guests) finish, up to the grace period. Log
    // streams follow until the data plane has nothing left to log, then end.
    const closed = Promise.all([
      stopAccepting(dataServer).then(() => ops.close()),
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
      adminServer.closeAllConnections();
    }
    await runtime.close();
    await Promise.all([state.close(), kv.close()]);
    process.exit(0);
  };
  process.on("SIGTERM", () => void stop("SIGTERM"));
  process.on("SIGINT", () => void stop("SIGINT"));
  // The last resort: both listeners catch what answering a request can throw, and nothing a guest
  // sends should get this far. If something still does, one request is lost, not every tenant.
  process.on("uncaughtException", (err) => logger.error({ err }, "uncaught exception; still serving"));
  process.on("unhandledRejection", (err) => logger.error({ err }, "unhandled rejection; still serving"));
}

async function main(argv: string[]): Promise<void> {
  const [command = "serve", ...rest] = argv;
  if (command === "--help" || command === "-h" || command === "help" || rest.includes("--help")) {
    process.stdout.write(CONFIG_HELP);
    return;
  }
  if (command !== "serve") {
    process.stderr.write(`wasmgate: unknown command "${command}"\n\n${CONFIG_HELP}`);
    process.exit(1);
  }
  let config: Config;
  try {
    config = parseConfig(rest, process.env);
  } catch (err) {
    const message = err instanceof ConfigError || err instanceof TypeError ? err.message : String(err);
    process.stderr.write(`wasmgate: ${message}\nRun \`wasmgate serve --help\` for the options.\n`);
    process.exit(1);
  }
  const logger = createLogger(config.logLevel);
  try {
    await serve(config, logger);
  } catch (err) {
    logger.fatal({ err }, `wasmgate could not start: ${(err as Error).message}`);
    process.exit(2);
  }
}

await main(process.argv.slice(2));
