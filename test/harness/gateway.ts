// Starts real gateway processes for end-to-end tests: ephemeral ports, a temporary state directory,
// logs kept for assertions. Also runs the deploy-cli binary as a user would.

import type { ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { signalGroup, spawnOwned } from "./process.ts";

export const ROOT = fileURLToPath(new URL("../..", import.meta.url));
const WASMGATE = join(ROOT, "bin", "wasmgate.js");
const DEPLOY_CLI = join(ROOT, "bin", "deploy-cli.js");

/** The level number of a warning in the gateway's JSON log lines (pino's). */
export const WARN_LEVEL = 40;

export interface GatewayProcess {
  dataUrl: string;
  adminUrl: string;
  dataPort: number;
  adminPort: number;
  stateDir: string;
  token: string;
  /** Every JSON log line so far. */
  logs: Record<string, unknown>[];
  process: ChildProcess;
  /** SIGTERM and wait for exit; returns the exit code. */
  stop(): Promise<number | null>;
  /** Stops and deletes the state directory (unless it was given). */
  dispose(): Promise<void>;
}

export interface StartOptions {
  stateDir?: string;
  args?: string[];
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Run the gateway, all its threads, under `taskset -c <cpus>` (benchmarks). */
  cpus?: string;
  /**
   * `drop`: read request log lines and leave them out of `logs` unparsed (benchmarks, where a
   * gateway logs a line per request for minutes). Default `keep`.
   */
  requestLogs?: "keep" | "drop";
}

/** How every request log line ends (gateway/logger.ts `requestLineText`). */
const REQUEST_LINE_END = '"msg":"request"}';

/** The settings that say where Redis is, cleared so that none leaks in from the test's environment. */
const NO_REDIS = {
  REDIS_URL: "",
  WASMGATE_REDIS_CLUSTER: "",
  WASMGATE_REDIS_SENTINELS: "",
  WASMGATE_REDIS_MASTER_NAME: "",
};

export function tempDir(prefix = "wasmgate-test-"): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function startGateway(options: StartOptions = {}): Promise<GatewayProcess> {
  const ownDir = options.stateDir === undefined;
  const stateDir = options.stateDir ?? tempDir();
  const [command, prefix] =
    options.cpus === undefined ? [process.execPath, []] : ["taskset", ["-c", options.cpus, process.execPath]];
  const child = spawnOwned(
    command,
    [
      ...prefix,
      WASMGATE,
      "serve",
      "--port",
      "0",
      "--admin-port",
      "0",
      "--host",
      "127.0.0.1",
      "--state-dir",
      stateDir,
      ...(options.args ?? []),
    ],
    { env: { ...process.env, ...NO_REDIS, ...options.env }, stdio: ["ignore", "pipe", "pipe"] },
  );
  const logs: Record<string, unknown>[] = [];
  let stderr = "";
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  const listening = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`gateway did not start within ${options.timeoutMs ?? 15000} ms: ${stderr}`)),
      options.timeoutMs ?? 15000,
    );
    const dropRequests = options.requestLogs === "drop";
    createInterface({ input: child.stdout! }).on("line", (line) => {
      if (dropRequests && line.endsWith(REQUEST_LINE_END)) return;
      let entry: Record<string, unknown>;
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      logs.push(entry);
      if (typeof entry.dataPort === "number" && typeof entry.adminPort === "number") {
        clearTimeout(timer);
        resolve(entry);
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`gateway exited with ${code} before listening: ${stderr}`));
    });
  });
  const ready = await listening;
  const dataPort = ready.dataPort as number;
  const adminPort = ready.adminPort as number;
  const gw: GatewayProcess = {
    dataUrl: `http://127.0.0.1:${dataPort}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    dataPort,
    adminPort,
    stateDir,
    token: readFileSync(join(stateDir, "operator-token"), "utf8").trim(),
    logs,
    process: child,
    async stop() {
      if (child.exitCode !== null) return child.exitCode;
      signalGroup(child, "SIGTERM");
      return exited;
    },
    async dispose() {
      await gw.stop();
      if (ownDir) rmSync(stateDir, { recursive: true, force: true });
    },
  };
  return gw;
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** An empty config directory, so no test reads the profiles of whoever runs the tests. */
const NO_PROFILES = tempDir("wasmgate-config-");
process.on("exit", () => rmSync(NO_PROFILES, { recursive: true, force: true }));

/**
 * Runs deploy-cli; `input`, when given, is piped to its stdin. `cwd` is where it runs (default:
 * this process's directory).
 */
export function runCli(
  args: string[],
  env: Record<string, string> = {},
  input?: string,
  cwd?: string,
): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawnOwned(process.execPath, [DEPLOY_CLI, ...args], {
      env: {
        ...process.env,
        WASMGATE_TOKEN: "",
        WASMGATE_URL: "",
        WASMGATE_PROFILE: "",
        XDG_CONFIG_HOME: NO_PROFILES,
        ...env,
      },
      cwd,
      stdio: [input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    if (input !== undefined) child.stdin!.end(input);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => {
      stdout += d;
    });
    child.stderr!.on("data", (d) => {
      stderr += d;
    });
    child.on("exit", (code) => resolve({ code, stdout, stderr }));
  });
}

/** A request to the data plane with the given Host header (fetch cannot set Host). */
export async function get(
  gw: GatewayProcess,
  host: string,
  path = "/",
  init: { method?: string; body?: Uint8Array | string; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; text: string; json: () => any }> {
  const { request } = await import("undici");
  const res = await request(`${gw.dataUrl}${path}`, {
    method: (init.method ?? "GET") as "GET",
    headers: { host, ...init.headers },
    body: init.body,
  });
  const text = await res.body.text();
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") headers.set(k, v);
  return { status: res.statusCode, headers, text, json: () => JSON.parse(text) };
}

/** Pushes a component with the CLI; throws with the CLI's stderr when it fails. */
export async function push(
  gw: GatewayProcess,
  file: string,
  app: string,
  args: string[] = [],
): Promise<CliResult> {
  const result = await runCli(["push", file, "--app", app, "--gateway", gw.adminUrl, ...args], {
    WASMGATE_TOKEN: gw.token,
  });
  if (result.code !== 0) throw new Error(`push of ${app} failed (${result.code}): ${result.stderr}`);
  return result;
}

/** Resident memory of a process, now and at its peak, in bytes (Linux). */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (field: string) =>
    Number(new RegExp(`^${field}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN);
  return { rss: kib("VmRSS") * 1024, peak: kib("VmHWM") * 1024 };
}

/** One admin API call with a bearer token (the operator's unless `token` is given). */
export async function adminCall(
  gw: GatewayProcess,
  method: string,
  path: string,
  options: { token?: string | null; json?: unknown; body?: Uint8Array; contentType?: string } = {},
): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = {};
  const token = options.token === undefined ? gw.token : options.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  let body: BodyInit | undefined;
  if (options.json !== undefined) {
    headers["content-type"] = "application/json";
    body = JSON.stringify(options.json);
  } else if (options.body) {
    headers["content-type"] = options.contentType ?? "application/wasm";
    body = options.body as Uint8Array<ArrayBuffer>;
  }
  const res = await fetch(`${gw.adminUrl}${path}`, { method, headers, body });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Not JSON (a value read from KV, say): keep the text.
  }
  return { status: res.status, body: parsed };
}
