// Pieces both listeners share: the request id, the one place errors become JSON responses, and
// reading a body without ever buffering more than a limit.

import { randomBytes } from "node:crypto";
import type { Context, ErrorHandler, MiddlewareHandler } from "hono";
import { isKvError } from "../kv/index.ts";
import { REQUEST_ID_HEADER, RuntimeError } from "../runtime/index.ts";
import { GatewayError } from "./errors.ts";
import type { ErrorBody } from "./schemas.ts";

export { REQUEST_ID_HEADER };

export type Env = { Variables: { requestId: string } };

// A random per-process prefix and a counter: unique across processes and restarts without
// drawing random bytes for every request.
const ID_PREFIX = randomBytes(6).toString("base64url");
let idCounter = 0;

export function newRequestId(): string {
  idCounter = (idCounter + 1) % 2 ** 48;
  return ID_PREFIX + idCounter.toString(36).padStart(8, "0");
}

/**
 * Gives each request an id. `setHeader: false` leaves the response alone, for routes whose
 * responses already carry it (touching a response's headers makes Node build a Headers object).
 */
export function requestId(options: { setHeader?: boolean } = {}): MiddlewareHandler<Env> {
  const setHeader = options.setHeader ?? true;
  return async (c, next) => {
    const id = newRequestId();
    c.set("requestId", id);
    await next();
    if (setHeader) c.res.headers.set(REQUEST_ID_HEADER, id);
  };
}

export function errorResponse(c: Context, status: number, code: string, message: string): Response {
  const requestId = (c.get("requestId") as string | undefined) ?? newRequestId();
  const body: ErrorBody = { error: { code, message, requestId } };
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json; charset=utf-8", [REQUEST_ID_HEADER]: requestId },
  });
}

export interface ErrorLog {
  error(obj: object, msg?: string): void;
}

export function onError(logger: ErrorLog): ErrorHandler {
  return (err, c) => {
    if (err instanceof GatewayError || err instanceof RuntimeError) {
      const res = errorResponse(c, err.status, err.code, err.message);
      if (err instanceof GatewayError)
        for (const [k, v] of Object.entries(err.headers ?? {})) res.headers.set(k, v);
      if (err.status >= 500)
        logger.error({ requestId: c.get("requestId"), code: err.code, err }, err.message);
      return res;
    }
    if (isKvError(err)) {
      // A user error names what was wrong with the key, value or call; a system one is the store's.
      const status = err.kind === "user" ? 400 : 503;
      if (status >= 500) logger.error({ requestId: c.get("requestId"), code: err.code, err }, err.message);
      return errorResponse(c, status, err.code, err.message);
    }
    logger.error({ requestId: c.get("requestId"), err }, "unexpected error");
    return errorResponse(
      c,
      500,
      "ERR_INTERNAL",
      "internal error; the request id identifies it in the gateway's log",
    );
  };
}

/** Reads a request body, refusing (413 `code`) as soon as it passes `limit` bytes. */
export async function readBody(
  req: Request,
  limit: number,
  tooLarge: (limit: number) => GatewayError | RuntimeError,
): Promise<Uint8Array | undefined> {
  const declared = Number(req.headers.get("content-length") ?? Number.NaN);
  if (declared > limit) throw tooLarge(limit);
  if (!req.body) return undefined;
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of req.body as unknown as AsyncIterable<Uint8Array>) {
    size += chunk.byteLength;
    if (size > limit) throw tooLarge(limit);
    chunks.push(chunk);
  }
  return size === 0 ? undefined : new Uint8Array(Buffer.concat(chunks));
}
