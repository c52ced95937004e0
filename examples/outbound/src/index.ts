// Outbound HTTP and configuration on the raw WIT imports, so every error arrives as its exact
// `error-code` variant:
//   GET  /fetch?url=<target>[&n=<count>]   calls the target (n times, answering with the last) and
//                                          streams its body back; on failure 502 `error: <code>`
//   POST /fetch?url=<target>               streams this request's body to the target, then back
//   GET  /config?key=<name>                the app's variable or secret (404 when not set)
//   GET  /config-names                     the names wasi:config/store offers, one a line
// The allow-list, address checks and limits are the gateway's; this guest only reports them.

import { get, getAll } from "wasi:config/store@0.2.0-draft";
import { handle } from "wasi:http/outgoing-handler@0.2.10";
import {
  Fields,
  httpErrorCode,
  OutgoingBody,
  OutgoingRequest,
  OutgoingResponse,
  ResponseOutparam,
} from "wasi:http/types@0.2.10";

const encoder = new TextEncoder();
const CHUNK = 256n * 1024n;

function start(responseOut: any, status: number, headers: [string, string][] = []) {
  const response = new OutgoingResponse(Fields.fromList(headers.map(([n, v]) => [n, encoder.encode(v)])));
  response.setStatusCode(status);
  const body = response.body();
  ResponseOutparam.set(responseOut, { tag: "ok", val: response });
  return body;
}

function respond(responseOut: any, status: number, text: string) {
  const body = start(responseOut, status, [["content-type", "text/plain; charset=utf-8"]]);
  const stream = body.write();
  stream.blockingWriteAndFlush(encoder.encode(text));
  stream[Symbol.dispose]();
  OutgoingBody.finish(body, undefined);
}

function describe(code: any): string {
  if (code === undefined) return "unknown";
  const val = code.val;
  if (val === undefined) return code.tag;
  return `${code.tag} ${typeof val === "object" ? JSON.stringify(val, (_k, v) => (typeof v === "bigint" ? String(v) : v)) : String(val)}`;
}

/** The error-code a failed stream operation carries, from its io-error. */
function streamFailure(err: any): string {
  const e = err?.payload ?? err;
  if (e?.tag === "last-operation-failed") return describe(httpErrorCode(e.val));
  return e?.tag ?? String(err);
}

class Failure {
  readonly text: string;
  constructor(text: string) {
    this.text = text;
  }
}

function send(target: string, method: string, incoming: any | undefined) {
  const url = new URL(target);
  const request = new OutgoingRequest(new Fields());
  request.setMethod({ tag: method === "POST" ? "post" : "get" });
  request.setScheme({ tag: url.protocol === "https:" ? "HTTPS" : "HTTP" });
  request.setAuthority(url.host);
  request.setPathWithQuery(url.pathname + url.search);
  const outBody = request.body();
  let future: any;
  try {
    future = handle(request, undefined);
  } catch (err: any) {
    throw new Failure(`error: ${describe(err?.payload)}`);
  }
  // The request body streams while the answer is awaited: read ours, write theirs.
  const out = outBody.write();
  if (incoming) {
    const inBody = incoming.consume();
    const input = inBody.stream();
    for (;;) {
      let chunk: Uint8Array;
      try {
        chunk = input.blockingRead(CHUNK);
      } catch {
        break;
      }
      try {
        out.blockingWriteAndFlush(chunk);
      } catch (err) {
        throw new Failure(`error: ${streamFailure(err)}`);
      }
    }
    input[Symbol.dispose]();
  }
  out[Symbol.dispose]();
  OutgoingBody.finish(outBody, undefined);
  const ready = future.subscribe();
  ready.block();
  ready[Symbol.dispose]();
  const result = future.get();
  future[Symbol.dispose]();
  if (result.val.tag === "err") throw new Failure(`error: ${describe(result.val.val)}`);
  return result.val.val;
}

function fetchRoute(request: any, responseOut: any, params: URLSearchParams) {
  const target = params.get("url") ?? "";
  const n = Number(params.get("n") ?? "1");
  const method = request.method().tag === "post" ? "POST" : "GET";
  let response: any;
  try {
    for (let i = 0; i < n; i++) {
      if (response) response[Symbol.dispose]();
      response = send(target, method, method === "POST" ? request : undefined);
    }
  } catch (err) {
    if (err instanceof Failure) return respond(responseOut, 502, `${err.text}\n`);
    throw err;
  }
  const status = response.status();
  const body = start(responseOut, 200, [["x-upstream-status", String(status)]]);
  const out = body.write();
  const inBody = response.consume();
  const input = inBody.stream();
  let failure: string | undefined;
  for (;;) {
    let chunk: Uint8Array;
    try {
      chunk = input.blockingRead(CHUNK);
    } catch (err: any) {
      if ((err?.payload ?? err)?.tag !== "closed") failure = streamFailure(err);
      break;
    }
    out.blockingWriteAndFlush(chunk);
  }
  if (failure) out.blockingWriteAndFlush(encoder.encode(`\nerror: ${failure}\n`));
  input[Symbol.dispose]();
  out[Symbol.dispose]();
  OutgoingBody.finish(body, undefined);
}

export const incomingHandler = {
  handle(request: any, responseOut: any) {
    const url = new URL(request.pathWithQuery() ?? "/", "http://guest");
    if (url.pathname === "/fetch") return fetchRoute(request, responseOut, url.searchParams);
    if (url.pathname === "/config") {
      const value = get(url.searchParams.get("key") ?? "");
      return value === undefined ? respond(responseOut, 404, "not set\n") : respond(responseOut, 200, value);
    }
    if (url.pathname === "/config-names") {
      const names = getAll().map(([name]: [string, string]) => name);
      return respond(responseOut, 200, names.sort().join("\n"));
    }
    respond(responseOut, 404, "try /fetch?url=…, /config?key=… or /config-names\n");
  },
};
