// The gateway `deploy-cli dev` runs in its own process: the same Hono apps, runtime and stores as
// `wasmgate serve`, with no Redis. Apps and deployments live in a throwaway state directory (a
// session deploys on every save); only the key-value data is kept, in `<persist-to>/kv.db`.
// Deploys go through the admin API in-process, so dev checks a component exactly as push does.

import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAdaptorServer } from "@hono/node-server";
import { pino } from "pino";
import { createGateway } from "../../gateway/app.ts";
import { createAuth, ensureOperatorToken, loadSigningKey } from "../../gateway/auth.ts";
import { DEFAULT_MAX_BODY_BYTES } from "../../gateway/config.ts";
import type { DeployResponse, ErrorBody, PutAppBody } from "../../gateway/schemas.ts";
import { createSecretBox, loadSecretKey } from "../../gateway/secrets.ts";
import { createSqliteStateStore } from "../../gateway/state/sqlite.ts";
import { createKvBackend, createRuntime, REQUEST_ID_HEADER } from "../../runtime/index.ts";
import { CliError } from "../errors.ts";

export interface DevGatewayOptions {
  port: number;
  ip: string;
  /** The key-value database file (SQLite). */
  kvPath: string;
  /** Every gateway log entry (pino JSON, parsed). */
  onLog(entry: Record<string, unknown>): void;
  /** Every request the data plane answered. */
  onRequest(request: { requestId: string; method: string; path: string; status: number; ms: number }): void;
}

export interface DevGateway {
  port: number;
  adminUrl: string;
  token: string;
  stateDir: string;
  putApp(app: string, body: PutAppBody): Promise<void>;
  setVar(app: string, name: string, value: string): Promise<void>;
  deploy(app: string, bytes: Uint8Array): Promise<DeployResponse>;
  close(): Promise<void>;
}

/** A refused admin call: the gateway's code and message, as push would show them. */
export class DevDeployError extends Error {
  override readonly name = "DevDeployError";
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

async function listen(server: Server, port: number, host: string): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  return (server.address() as AddressInfo).port;
}

export async function startDevGateway(options: DevGatewayOptions): Promise<DevGateway> {
  const stateDir = await mkdtemp(join(tmpdir(), "wasmgate-dev-"));
  await mkdir(join(options.kvPath, ".."), { recursive: true });
  const logger = pino(
    { level: "info", base: undefined },
    {
      write(line: string) {
        try {
          options.onLog(JSON.parse(line));
        } catch {}
      },
    },
  );
  const kvBackend = { kind: "sqlite" as const, path: options.kvPath };
  const kv = createKvBackend(kvBackend);
  const state = createSqliteStateStore(stateDir);
  const auth = createAuth(await loadSigningKey(stateDir));
  const operatorToken = (await readFile((await ensureOperatorToken(stateDir, auth)).path, "utf8")).trim();
  // One guest worker: enough for one developer, and it starts and warms faster than several.
  const runtime = createRuntime({
    compiledDir: join(stateDir, "compiled"),
    logger,
    workers: 1,
    kv: kvBackend,
  });
  let port = options.port;
  const { data, admin } = createGateway({
    state,
    kv,
    runtime,
    auth,
    logger,
    limits: { maxBodyBytes: DEFAULT_MAX_BODY_BYTES },
    box: createSecretBox(await loadSecretKey(stateDir)),
    publicUrl: (hostname) => `http://${hostname}${port === 80 ? "" : `:${port}`}/`,
  });

  const dataServer = createAdaptorServer({
    async fetch(request: Request, env: unknown) {
      const started = performance.now();
      const response = await data.fetch(request, env as never);
      const url = new URL(request.url);
      options.onRequest({
        requestId: response.headers.get(REQUEST_ID_HEADER) ?? "",
        method: request.method,
        path: url.pathname + url.search,
        status: response.status,
        ms: Math.round(performance.now() - started),
      });
      return response;
    },
  }) as Server;
  const adminServer = createAdaptorServer({ fetch: admin.fetch }) as Server;
  try {
    port = await listen(dataServer, options.port, options.ip);
  } catch (err) {
    await Promise.all([runtime.close(), state.close(), kv.close()]);
    await rm(stateDir, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    throw new CliError(
      "ERR_PORT_IN_USE",
      code === "EADDRINUSE"
        ? `port ${options.port} on ${options.ip} is in use (another dev session or gateway?)`
        : `cannot listen on ${options.ip}:${options.port}: ${(err as Error).message}`,
      { hint: "stop the other process, or pick another port with --port <n> (0 picks a free one)" },
    );
  }
  const adminPort = await listen(adminServer, 0, "127.0.0.1");
  runtime.setGatewayListeners({ dataPorts: [port], adminPorts: [adminPort] });

  async function call<T>(method: string, path: string, body: BodyInit, type: string): Promise<T> {
    const res = await admin.request(path, {
      method,
      body,
      headers: { authorization: `Bearer ${operatorToken}`, "content-type": type },
    });
    const json = (await res.json()) as T | ErrorBody;
    if (res.status >= 400) {
      const { code, message } = (json as ErrorBody).error;
      throw new DevDeployError(code, message);
    }
    return json as T;
  }

  /**
   * Digests deployed this session, newest last. A session deploys on every save, so the files of
   * older ones (14 MB and more each) are deleted; the previous one stays while requests may still
   * be finishing on it. The layout is the state store's and the runtime's (artifacts/, compiled/).
   */
  const deployed: string[] = [];
  let pruning: Promise<unknown> = Promise.resolve();
  function remember(digest: string): void {
    const known = deployed.indexOf(digest);
    if (known !== -1) deployed.splice(known, 1);
    deployed.push(digest);
    const old = deployed.splice(0, Math.max(0, deployed.length - 2));
    // Off the reload's path: the new version is live before the old files go.
    pruning = pruning.then(() =>
      Promise.all(
        old.flatMap((digest) => [
          rm(join(stateDir, "artifacts", `${digest}.wasm`), { force: true }),
          rm(join(stateDir, "compiled", digest), { recursive: true, force: true }),
        ]),
      ),
    );
  }

  return {
    port,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    token: operatorToken,
    stateDir,
    async putApp(app, body) {
      await call("PUT", `/v1/apps/${encodeURIComponent(app)}`, JSON.stringify(body), "application/json");
    },
    async setVar(app, name, value) {
      await call(
        "PUT",
        `/v1/apps/${encodeURIComponent(app)}/vars/${encodeURIComponent(name)}`,
        JSON.stringify({ value }),
        "application/json",
      );
    },
    async deploy(app, bytes) {
      const result = await call<DeployResponse>(
        "POST",
        `/v1/apps/${encodeURIComponent(app)}/deployments`,
        bytes as unknown as BodyInit,
        "application/wasm",
      );
      remember(result.deployment.digest);
      return result;
    },
    async close() {
      const closed = Promise.all([
        new Promise((r) => dataServer.close(r)),
        new Promise((r) => adminServer.close(r)),
      ]);
      dataServer.closeAllConnections();
      adminServer.closeAllConnections();
      await closed;
      await runtime.close();
      await Promise.all([state.close(), kv.close(), pruning]);
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
