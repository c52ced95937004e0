// Runs wrk against a URL and reads requests/s and latency percentiles from its report.

import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { pinnedCommand, WRK_CPUS } from "./pin.ts";

const run = promisify(execFile);

export interface WrkResult {
  rps: number;
  /** Requests completed in the run. */
  requests: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
}

export interface WrkOptions {
  connections?: number;
  threads?: number;
  seconds?: number;
  headers?: Record<string, string>;
}

function ms(text: string | undefined): number {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text ?? "");
  if (!m) return Number.NaN;
  const v = Number(m[1]);
  return m[2] === "us" ? v / 1000 : m[2] === "s" ? v * 1000 : v;
}

export async function wrk(url: string, options: WrkOptions = {}): Promise<WrkResult> {
  const args = [
    `-t${options.threads ?? 1}`,
    `-c${options.connections ?? 32}`,
    `-d${options.seconds ?? 10}s`,
    "--latency",
    // wrk drops its own Host header only for one spelled exactly "Host"; any other spelling sends
    // two, which a server may join ("127.0.0.1:port, app.localhost") or refuse.
    ...Object.entries(options.headers ?? {}).flatMap(([k, v]) => [
      "-H",
      `${k.toLowerCase() === "host" ? "Host" : k}: ${v}`,
    ]),
    url,
  ];
  let stdout: string;
  try {
    ({ stdout } = await run(...pinnedCommand(WRK_CPUS, "wrk", args), { maxBuffer: 1 << 20 }));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      throw new Error("wrk is not installed: apt-get install -y wrk");
    }
    throw err;
  }
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]);
  const p50Ms = ms(/^\s+50%\s+(\S+)/m.exec(stdout)?.[1]);
  const p99Ms = ms(/^\s+99%\s+(\S+)/m.exec(stdout)?.[1]);
  const errs = /Non-2xx or 3xx responses:\s+(\d+)/.exec(stdout);
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
  const errors = Number(errs?.[1] ?? 0) + (sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1]);
  return { rps, requests, p50Ms, p99Ms, errors };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** Median req/s and latencies of several runs, and all their errors. */
export function medianResult(results: WrkResult[]): WrkResult {
  return {
    rps: median(results.map((r) => r.rps)),
    requests: median(results.map((r) => r.requests)),
    p50Ms: median(results.map((r) => r.p50Ms)),
    p99Ms: median(results.map((r) => r.p99Ms)),
    errors: results.reduce((a, r) => a + r.errors, 0),
  };
}
