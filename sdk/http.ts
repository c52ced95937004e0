// wasi:http resources to web Request/Response and back. The request body streams in as the
// handler reads it; the response head goes out first and its body streams after it.

import {
  Fields,
  IncomingBody,
  type IncomingRequest,
  OutgoingBody,
  OutgoingResponse,
  ResponseOutparam,
} from "wasi:http/types@0.2.10";
import type { InputStream, OutputStream } from "wasi:io/streams@0.2.10";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const READ_CHUNK = 64n * 1024n;
/** Set by the connection, not by a handler; a wasi:http host refuses them in a response. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "te",
  "trailer",
]);

function methodOf(request: IncomingRequest): string {
  const m = request.method();
  return m.tag === "other" ? (m.val ?? "GET") : m.tag.toUpperCase();
}

function isClosed(err: unknown): boolean {
  return (err as { payload?: { tag?: string } })?.payload?.tag === "closed";
}

function bodyStream(request: IncomingRequest): ReadableStream<Uint8Array> {
  let body: IncomingBody | undefined;
  let input: InputStream | undefined;
  const close = () => {
    input?.[Symbol.dispose]();
    input = undefined;
    if (body) IncomingBody.finish(body);
    body = undefined;
  };
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!input) {
        body = request.consume();
        input = body.stream();
      }
      try {
        // Blocks until some bytes arrive; the host suspends the guest meanwhile.
        const chunk = input.blockingRead(READ_CHUNK);
        // A copy: the binding's array belongs to another realm, where `instanceof` checks fail.
        if (chunk.byteLength > 0) controller.enqueue(new Uint8Array(chunk));
      } catch (err) {
        close();
        if (isClosed(err)) controller.close();
        else controller.error(new Error("the request body could not be read"));
      }
    },
    cancel: close,
  });
}

/**
 * The web Request for a wasi:http incoming request. Every call into the host costs about as much
 * as the rest of a small request, so this makes as few as it can: the authority comes from the
 * Host header when there is one.
 */
export function toRequest(request: IncomingRequest): Request {
  const method = methodOf(request);
  const scheme = request.scheme();
  const protocol = scheme?.tag === "HTTPS" ? "https" : "http";
  const pairs: [string, string][] = [];
  let host: string | undefined;
  for (const [name, value] of request.headers().entries()) {
    const text = decoder.decode(value);
    if (name === "host") host ??= text;
    pairs.push([name, text]);
  }
  const headers = new Headers(pairs);
  const authority = host ?? request.authority() ?? "localhost";
  const url = `${protocol}://${authority}${request.pathWithQuery() ?? "/"}`;
  const hasBody = method !== "GET" && method !== "HEAD";
  return new Request(url, { method, headers, ...(hasBody ? { body: bodyStream(request) } : {}) });
}

function toBytes(chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk;
  if (typeof chunk === "string") return encoder.encode(chunk);
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk);
  // Typed arrays from another realm (such as a request body passed through) fail instanceof.
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(chunk.buffer.slice(chunk.byteOffset, chunk.byteOffset + chunk.byteLength));
  }
  throw new TypeError("a response body chunk must be a Uint8Array");
}

/** What wasi:io promises `blocking-write-and-flush` takes at once. */
const SMALL_WRITE = 4096;

/** Writes `bytes`; true when they still need a flush. */
function writeAll(stream: OutputStream, bytes: Uint8Array): boolean {
  if (bytes.byteLength <= SMALL_WRITE) {
    // One host call instead of three for the common small body.
    stream.blockingWriteAndFlush(bytes);
    return false;
  }
  let offset = 0;
  while (offset < bytes.byteLength) {
    const allowed = Number(stream.checkWrite());
    if (allowed === 0) {
      const ready = stream.subscribe();
      ready.block();
      ready[Symbol.dispose]();
      continue;
    }
    const n = Math.min(allowed, bytes.byteLength - offset);
    stream.write(bytes.subarray(offset, offset + n));
    offset += n;
  }
  return true;
}

/** Sends `response` through `out`: the head at once, then the body as it is produced. */
export async function sendResponse(response: Response, out: ResponseOutparam): Promise<void> {
  const fields: [string, Uint8Array][] = [];
  response.headers.forEach((value, name) => {
    if (!HOP_BY_HOP.has(name)) fields.push([name, encoder.encode(value)]);
  });
  const outgoing = new OutgoingResponse(Fields.fromList(fields));
  outgoing.setStatusCode(response.status);
  const body = outgoing.body();
  ResponseOutparam.set(out, { tag: "ok", val: outgoing });
  const stream = body.write();
  let failed = false;
  try {
    let unflushed = false;
    if (response.body) {
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (writeAll(stream, toBytes(value))) unflushed = true;
      }
    }
    if (unflushed) stream.blockingFlush();
  } catch (err) {
    // The head is out: the only way left to report the failure is to cut the body short.
    failed = true;
    console.error(`the response body failed: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    stream[Symbol.dispose]();
  }
  if (failed) body[Symbol.dispose]();
  else OutgoingBody.finish(body, undefined);
}
