// Pieces both listeners share: the request id, the one place errors become JSON responses, and
// reading a body without ever buffering more than a limit.

import type { Context, ErrorHandler, MiddlewareHandler } from "hono";
import { isKvError } from "../kv/index.ts";
import { numberedRequestId, REQUEST_ID_HEADER, RuntimeError, requestIdPrefix } from "../runtime/index.ts";
import { GatewayError } from "./errors.ts";
import type { ErrorBody } from "./schemas.ts";

export { REQUEST_ID_HEADER };

export type Env = { Variables: { requestId: string } };

// A random per-thread prefix and a counter: unique across processes and restarts without
// drawing random bytes for every request.
const ID_PREFIX = requestIdPrefix();
let idCounter = 0;

export function newRequestId(): string {
  idCounter = (idCounter + 1) % 2 ** 48;
  return numberedRequestId(ID_PREFIX, idCounter);
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

/** An error as the client gets it: status, headers and the JSON body. */
export interface ErrorReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

function errorReply(
  status: number,
  code: string,
  message: string,
  requestId: string,
  extraHeaders?: Record<string, string>,
): ErrorReply {
  const body: ErrorBody = { error: { code, message, requestId } };
  return {
    status,
    headers: {
      "content-type": "application/json; charset=utf-8",
      [REQUEST_ID_HEADER]: requestId,
      ...extraHeaders,
    },
    body: JSON.stringify(body),
  };
}

function requestIdOf(c: Context): string {
  return (c.get("requestId") as string | undefined) ?? newRequestId();
}

function toResponse(reply: ErrorReply): Response {
  return new Response(reply.body, { status: reply.status, headers: reply.headers });
}

/** What is logged with an error that answering a request ran into. */
export interface ErrorFields {
  requestId?: string;
  app?: string;
  code?: string;
  err?: unknown;
}

export interface ErrorLog {
  error(fields: ErrorFields, msg: string): void;
}

/**
 * What any error thrown while serving a request becomes: gateway and runtime errors keep their
 * status and code (a retryable one says when to retry), key-value errors are the caller's (400) or
 * the store's (503), anything else is a 500 whose details (the error itself, its stack) go to the
 * log only.
 */
export function replyForError(err: unknown, requestId: string, logger: ErrorLog): ErrorReply {
  if (err instanceof GatewayError || err instanceof RuntimeError) {
    const headers =
      err instanceof GatewayError
        ? err.headers
        : err.retryAfter !== undefined
          ? { "retry-after": String(err.retryAfter) }
          : undefined;
    // Their code and message say what happened, and a cause (a failure underneath) where there
    // is one: their own stack would be the gateway's call path, a kilobyte per line under a flood
    // of refusals.
    if (err.status >= 500) {
      const fields = err.cause === undefined ? {} : { err: err.cause };
      logger.error({ requestId, code: err.code, ...fields }, err.message);
    }
    return errorReply(err.status, err.code, err.message, requestId, headers);
  }
  if (isKvError(err)) {
    // A user error names what was wrong with the key, value or call; a system one is the store's.
    const status = err.kind === "user" ? 400 : 503;
    if (status >= 500) logger.error({ requestId, code: err.code, err }, err.message);
    return errorReply(status, err.code, err.message, requestId);
  }
  logger.error({ requestId, err }, "unexpected error");
  return errorReply(
    500,
    "ERR_INTERNAL",
    "internal error; the request id identifies it in the gateway's log",
    requestId,
  );
}

export function onError(logger: ErrorLog): ErrorHandler {
  return (err, c) => toResponse(replyForError(err, requestIdOf(c), logger));
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
