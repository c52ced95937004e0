// The request id and the request log line, as every thread that answers requests makes them: the
// gateway's main thread, and a guest worker that listens itself (worker/listener.ts).

import { randomBytes } from "node:crypto";

/** A random prefix per thread; ids are the prefix and a counter, unique across threads and restarts. */
export function requestIdPrefix(): string {
  return randomBytes(6).toString("base64url");
}

/** The request id numbered `n` under `prefix`. */
export function numberedRequestId(prefix: string, n: number): string {
  return prefix + n.toString(36).padStart(8, "0");
}

/** The summary line of each request the data plane answered. */
export interface RequestLine {
  requestId: string;
  app: string;
  method: string;
  /** Without the query string. */
  path: string;
  status: number;
  /** To the response head, to 0.1 ms. */
  ms: number;
}

/** The request line as pino writes it at info, `time` now. */
export function requestLineText({ requestId, app, method, path, status, ms }: RequestLine): string {
  return `{"level":30,"time":"${new Date().toISOString()}","requestId":${JSON.stringify(requestId)},"app":${JSON.stringify(app)},"method":${JSON.stringify(method)},"path":${JSON.stringify(path)},"status":${status},"ms":${ms},"msg":"request"}\n`;
}
