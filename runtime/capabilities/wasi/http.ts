// Host implementation of wasi:http/types and the handlers, shared by every 0.2.x version.
// Incoming requests are built by the worker from the gateway's request; the guest's response is
// handed to a `ResponseSink` as soon as `response-outparam.set` is called, and its body streams out
// as the guest writes it.
//
// Over 400 lines on purpose: the wasi:http resources (fields, requests, responses, bodies, futures)
// are one family whose methods hand each other private state.

import { type ByteQueue, type ByteSink, fail, InputStream, IoError, OutputStream, Pollable } from "./io.ts";

export type Method =
  | { tag: "get" | "head" | "post" | "put" | "delete" | "connect" | "options" | "trace" | "patch" }
  | { tag: "other"; val: string };

export type Scheme = { tag: "HTTP" } | { tag: "HTTPS" } | { tag: "other"; val: string };

export type ErrorCode = { tag: string; val?: unknown };

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
// Hop-by-hop headers belong to the connection, not to the guest (same list as wasmtime's).
const FORBIDDEN = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"]);

/** Connection-level headers: never passed between a connection and a guest, in either direction. */
export const HOP_BY_HOP: ReadonlySet<string> = new Set([...FORBIDDEN, "te", "trailer"]);

function checkName(name: string): string {
  if (!TOKEN.test(name)) fail({ tag: "invalid-syntax" });
  const lower = name.toLowerCase();
  if (FORBIDDEN.has(lower)) fail({ tag: "forbidden" });
  return lower;
}

function checkValue(value: Uint8Array): Uint8Array {
  for (const b of value) if (b === 0 || b === 10 || b === 13) fail({ tag: "invalid-syntax" });
  return value.slice();
}

export class Fields {
  #entries: [string, Uint8Array][] = [];
  #immutable = false;

  static fromList(entries: [string, Uint8Array][]): Fields {
    const f = new Fields();
    for (const [name, value] of entries) f.#entries.push([checkName(name), checkValue(value)]);
    return f;
  }

  /** Host-side constructor for headers the guest may read but not change. */
  static frozen(entries: [string, Uint8Array][]): Fields {
    const f = new Fields();
    f.#entries = entries;
    f.#immutable = true;
    return f;
  }

  get(name: string): Uint8Array[] {
    const lower = name.toLowerCase();
    return this.#entries.filter(([n]) => n === lower).map(([, v]) => v);
  }
  has(name: string): boolean {
    const lower = name.toLowerCase();
    return this.#entries.some(([n]) => n === lower);
  }
  set(name: string, values: Uint8Array[]): void {
    this.#mutable();
    const lower = checkName(name);
    const checked = values.map(checkValue);
    this.#entries = this.#entries.filter(([n]) => n !== lower);
    for (const v of checked) this.#entries.push([lower, v]);
  }
  delete(name: string): void {
    this.#mutable();
    const lower = checkName(name);
    this.#entries = this.#entries.filter(([n]) => n !== lower);
  }
  append(name: string, value: Uint8Array): void {
    this.#mutable();
    this.#entries.push([checkName(name), checkValue(value)]);
  }
  entries(): [string, Uint8Array][] {
    return this.#entries.map(([n, v]) => [n, v]);
  }
  clone(): Fields {
    const f = new Fields();
    f.#entries = this.entries();
    return f;
  }
  freeze(): this {
    this.#immutable = true;
    return this;
  }
  #mutable(): void {
    if (this.#immutable) fail({ tag: "immutable" });
  }
}

export interface IncomingRequestInit {
  method: string;
  pathWithQuery: string;
  scheme: "http" | "https";
  authority: string;
  headers: [string, string][];
  body: ByteQueue;
}

const encoder = new TextEncoder();
const STANDARD_METHODS = new Set([
  "get",
  "head",
  "post",
  "put",
  "delete",
  "connect",
  "options",
  "trace",
  "patch",
]);

export class IncomingRequest {
  readonly #init: IncomingRequestInit;
  #headers: Fields | undefined;
  #consumed = false;
  constructor(init: IncomingRequestInit) {
    this.#init = init;
  }
  method(): Method {
    const lower = this.#init.method.toLowerCase();
    return STANDARD_METHODS.has(lower)
      ? ({ tag: lower } as Method)
      : { tag: "other", val: this.#init.method };
  }
  pathWithQuery(): string | undefined {
    return this.#init.pathWithQuery;
  }
  scheme(): Scheme | undefined {
    return this.#init.scheme === "https" ? { tag: "HTTPS" } : { tag: "HTTP" };
  }
  authority(): string | undefined {
    return this.#init.authority;
  }
  headers(): Fields {
    this.#headers ??= Fields.frozen(this.#init.headers.map(([n, v]) => [n, encoder.encode(v)]));
    return this.#headers;
  }
  consume(): IncomingBody {
    if (this.#consumed) fail(undefined);
    this.#consumed = true;
    return new IncomingBody(this.#init.body);
  }
}

export class IncomingBody {
  readonly #queue: ByteQueue;
  #streamed = false;
  constructor(queue: ByteQueue) {
    this.#queue = queue;
  }
  stream(): InputStream {
    if (this.#streamed) fail(undefined);
    this.#streamed = true;
    return new InputStream(this.#queue);
  }
  static finish(_body: IncomingBody): FutureTrailers {
    return new FutureTrailers();
  }
}

export class FutureTrailers {
  #taken = false;
  subscribe(): Pollable {
    return new Pollable();
  }
  get(): unknown {
    if (this.#taken) return { tag: "err", val: undefined };
    this.#taken = true;
    return { tag: "ok", val: { tag: "ok", val: undefined } };
  }
}

/** Where an outgoing body's bytes go once it is handed over, and where its end is reported. */
export interface BodySink extends ByteSink {
  end(): void;
}

/** Receives what the guest answers: the head once, then body chunks, then the end. */
export interface ResponseSink extends BodySink {
  head(status: number, headers: [string, Uint8Array][]): void;
  error(code: ErrorCode): void;
}

export class OutgoingResponse {
  #status = 200;
  readonly #headers: Fields;
  #body: OutgoingBody | undefined;
  constructor(headers: Fields) {
    this.#headers = headers.freeze();
  }
  statusCode(): number {
    return this.#status;
  }
  setStatusCode(status: number): void {
    if (status < 100 || status > 999) fail(undefined);
    this.#status = status;
  }
  headers(): Fields {
    return this.#headers;
  }
  body(): OutgoingBody {
    if (this.#body) fail(undefined);
    this.#body = new OutgoingBody();
    return this.#body;
  }
  /** Host side: connects the body to where the response goes. */
  attach(sink: ResponseSink): void {
    this.#body ??= new OutgoingBody();
    this.#body.attach(sink);
  }
}

export class OutgoingBody {
  #sink: BodySink | undefined;
  #early: Uint8Array[] = [];
  #finished = false;
  #written = false;
  readonly #stream: ByteSink;

  constructor() {
    // Bytes written before the response is handed over are buffered until it is.
    const body = this;
    this.#stream = {
      write(chunk) {
        if (body.#sink) return body.#sink.write(chunk);
        body.#early.push(chunk);
        return undefined;
      },
      get closed() {
        return body.#finished || (body.#sink?.closed ?? false);
      },
    };
  }

  write(): OutputStream {
    if (this.#written) fail(undefined);
    this.#written = true;
    return new OutputStream(this.#stream);
  }

  attach(sink: BodySink): void {
    this.#sink = sink;
    for (const chunk of this.#early) sink.write(chunk);
    this.#early = [];
    if (this.#finished) sink.end();
  }

  static finish(body: OutgoingBody, _trailers: Fields | undefined): void {
    if (body.#finished) return;
    body.#finished = true;
    body.#sink?.end();
  }

  get finished(): boolean {
    return this.#finished;
  }
}

export class ResponseOutparam {
  readonly #sink: ResponseSink;
  #set = false;
  constructor(sink: ResponseSink) {
    this.#sink = sink;
  }
  get isSet(): boolean {
    return this.#set;
  }
  static set(
    param: ResponseOutparam,
    response: { tag: "ok"; val: OutgoingResponse } | { tag: "err"; val: ErrorCode },
  ) {
    if (param.#set) return;
    param.#set = true;
    if (response.tag === "err") {
      param.#sink.error(response.val);
      return;
    }
    const res = response.val;
    param.#sink.head(res.statusCode(), res.headers().entries());
    res.attach(param.#sink);
  }
}

/** An outgoing request the guest builds; `outgoing-handler.handle` takes it over. */
export class OutgoingRequest {
  #method: Method = { tag: "get" };
  #path: string | undefined;
  #scheme: Scheme | undefined;
  #authority: string | undefined;
  readonly #headers: Fields;
  #body: OutgoingBody | undefined;
  constructor(headers: Fields) {
    this.#headers = headers.freeze();
  }
  body(): OutgoingBody {
    if (this.#body) fail(undefined);
    this.#body = new OutgoingBody();
    return this.#body;
  }
  /** Host side: the body the guest asked for, if any. */
  get outgoingBody(): OutgoingBody | undefined {
    return this.#body;
  }
  method(): Method {
    return this.#method;
  }
  setMethod(m: Method): void {
    if (m.tag === "other" && !TOKEN.test(m.val)) fail(undefined);
    this.#method = m;
  }
  pathWithQuery(): string | undefined {
    return this.#path;
  }
  setPathWithQuery(p: string | undefined): void {
    if (p !== undefined && /[\s\0]/.test(p)) fail(undefined);
    this.#path = p;
  }
  scheme(): Scheme | undefined {
    return this.#scheme;
  }
  setScheme(s: Scheme | undefined): void {
    this.#scheme = s;
  }
  authority(): string | undefined {
    return this.#authority;
  }
  setAuthority(a: string | undefined): void {
    if (a !== undefined && /[\s\0/?#@]/.test(a)) fail(undefined);
    this.#authority = a;
  }
  headers(): Fields {
    return this.#headers;
  }
}

/** Timeouts a guest asks for, in nanoseconds (wasi:clocks duration). */
export class RequestOptions {
  #connect: bigint | undefined;
  #firstByte: bigint | undefined;
  #between: bigint | undefined;
  connectTimeout(): bigint | undefined {
    return this.#connect;
  }
  setConnectTimeout(d: bigint | undefined): void {
    this.#connect = d;
  }
  firstByteTimeout(): bigint | undefined {
    return this.#firstByte;
  }
  setFirstByteTimeout(d: bigint | undefined): void {
    this.#firstByte = d;
  }
  betweenBytesTimeout(): bigint | undefined {
    return this.#between;
  }
  setBetweenBytesTimeout(d: bigint | undefined): void {
    this.#between = d;
  }
}

/** A response to an outgoing request: its body streams in through `queue` as the guest reads. */
export class IncomingResponse {
  readonly #status: number;
  readonly #headers: Fields;
  readonly #queue: ByteQueue;
  #consumed = false;
  constructor(status: number, headers: [string, Uint8Array][], queue: ByteQueue) {
    this.#status = status;
    this.#headers = Fields.frozen(headers);
    this.#queue = queue;
  }
  status(): number {
    return this.#status;
  }
  headers(): Fields {
    return this.#headers;
  }
  consume(): IncomingBody {
    if (this.#consumed) fail(undefined);
    this.#consumed = true;
    return new IncomingBody(this.#queue);
  }
}

export type OutgoingOutcome = { tag: "ok"; val: IncomingResponse } | { tag: "err"; val: ErrorCode };

/** The pending answer to an outgoing request; `get` hands it over once. */
export class FutureIncomingResponse {
  #outcome: OutgoingOutcome | undefined;
  #taken = false;
  readonly #settled: Promise<void>;
  constructor(outcome: Promise<OutgoingOutcome>) {
    this.#settled = outcome.then((o) => {
      this.#outcome = o;
    });
  }
  subscribe(): Pollable {
    return this.#outcome ? new Pollable() : new Pollable(this.#settled);
  }
  get(): unknown {
    if (this.#outcome === undefined) return undefined;
    if (this.#taken) return { tag: "err", val: undefined };
    this.#taken = true;
    return { tag: "ok", val: this.#outcome };
  }
}

/** The error-code behind a failed body stream operation, if there is one. */
export function httpErrorCode(err: unknown): ErrorCode | undefined {
  return err instanceof IoError ? (err.code as ErrorCode | undefined) : undefined;
}

export function createHttpImports() {
  const types = {
    Fields,
    IncomingRequest,
    IncomingBody,
    FutureTrailers,
    OutgoingResponse,
    OutgoingBody,
    ResponseOutparam,
    OutgoingRequest,
    RequestOptions,
    IncomingResponse,
    FutureIncomingResponse,
    httpErrorCode,
  };
  // wasi:http/outgoing-handler is a capability of its own (../outbound-http).
  return { "wasi:http/types": types };
}
