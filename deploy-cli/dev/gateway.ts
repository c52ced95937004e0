// The gateway `deploy-cli dev` runs in its own process: `startGateway`, as `wasmgate serve` runs
// it (the same listeners, direct path included), with no Redis and one guest worker. Apps and
// deployments live in a throwaway state directory (a session deploys on every save); only the
// key-value data is kept, in `<persist-to>/kv.db`. What the data plane does reaches the session
// as the gateway's events. Deploys go to the admin API over HTTP with the operator token, so dev
// checks a component exactly as push does.

import { mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pino } from "pino";
import { request } from "undici";
import {
  createConfig,
  createGatewayEvents,
  type GuestOutput,
  type RequestFinished,
  type RunningGateway,
  startGateway,
  type Warning,
} from "../../gateway/index.ts";
import type { DeployResponse, ErrorBody, PutAppBody } from "../../gateway/schemas.ts";
import { CliError } from "../errors.ts";

export interface DevGatewayOptions {
  port: number;
  ip: string;
  /** The key-value database file (SQLite). */
  kvPath: string;
  /** Every request the data plane answered. */
  onRequest(request: RequestFinished): void;
  /** Every line a guest wrote. */
  onOutput(output: GuestOutput): void;
  /** The gateway's warnings (a request that failed on its side, a guest the watchdog stopped). */
  onWarning(warning: Warning): void;
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

const ADMIN_HOST = "127.0.0.1";

export async function startDevGateway(options: DevGatewayOptions): Promise<DevGateway> {
  const stateDir = await mkdtemp(join(tmpdir(), "wasmgate-dev-"));
  await mkdir(dirname(options.kvPath), { recursive: true });
  // Subscribed before the start, so the session hears everything; the JSON log is not shown.
  const events = createGatewayEvents();
  events.on("request-finished", options.onRequest);
  events.on("guest-output", options.onOutput);
  events.on("warning", options.onWarning);
  const config = createConfig({
    port: options.port,
    host: options.ip,
    adminPort: 0,
    adminHost: ADMIN_HOST,
    stateDir,
    // One guest worker: enough for one developer, and it starts and warms faster than several.
    workers: 1,
    // Ctrl+C stops at once: what is still in flight is the developer's own.
    shutdownGraceMs: 0,
  });
  const logger = pino({ level: "silent", base: undefined }, { write() {} });
  let gw: RunningGateway;
  try {
    gw = await startGateway(config, { logger, events, kvPath: options.kvPath });
  } catch (err) {
    await rm(stateDir, { recursive: true, force: true });
    const { code, syscall } = err as NodeJS.ErrnoException;
    // The admin port is any free one: a listener that fails is the data plane's.
    if (syscall !== "listen" && syscall !== "getaddrinfo") throw err;
    throw new CliError(
      "ERR_PORT_IN_USE",
      code === "EADDRINUSE"
        ? `port ${options.port} on ${options.ip} is in use (another dev session or gateway?)`
        : `cannot listen on ${options.ip}:${options.port}: ${(err as Error).message}`,
      { hint: "stop the other process, or pick another port with --port <n> (0 picks a free one)" },
    );
  }
  const adminUrl = `http://${ADMIN_HOST}:${gw.adminPort}`;
  const operatorToken = (await readFile(gw.operatorToken.path, "utf8")).trim();

  async function call<T>(method: "PUT" | "POST", path: string, body: string | Uint8Array, type: string) {
    const res = await request(`${adminUrl}${path}`, {
      method,
      body,
      headers: { authorization: `Bearer ${operatorToken}`, "content-type": type },
    });
    const json = (await res.body.json()) as T | ErrorBody;
    if (res.statusCode >= 400) {
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
    port: gw.dataPort,
    adminUrl,
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
        bytes,
        "application/wasm",
      );
      remember(result.deployment.digest);
      return result;
    },
    async close() {
      await gw.stop();
      await pruning;
      await rm(stateDir, { recursive: true, force: true });
    },
  };
}
