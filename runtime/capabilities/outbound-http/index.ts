// wasi:http/outgoing-handler on undici, deny by default. Over 400 lines on purpose: the request
// path (allow-list, DNS, policy, redirects, limits) and the response streams share one state.
//
// A request goes out only when one of its app's allowed patterns matches it (otherwise
// `HTTP-request-denied`, before any DNS or network traffic). The host name is resolved here, every
// address is checked against the network policy (loopback, private, link-local, metadata… only
// where the operator opened them, the gateway's own admin port never; see outbound-hosts.ts:
// `destination-IP-prohibited`), and the connection goes to a vetted address only: the socket's
// lookup returns exactly those, so DNS cannot answer differently in between.
// Redirects are followed here (at most MAX_REDIRECTS), each hop checked again like a new request.
// Each request has a budget of subrequests (every hop counts), a connect timeout, a total timeout
// and a response body limit. Waiting (for the answer, for body bytes, for the upstream to take the
// request body) suspends the guest through JSPI, so it is not charged as CPU and a deadline
// interrupts it. Failures reach the guest as wasi:http `error-code` variants, never as traps.
//
// Over 400 lines on purpose: the request, its redirects, its body pumps and its limits share one
// call's state, and reading them in one place is how the address checks are kept on every hop.

import type { LookupAddress } from "node:dns";
import { lookup as dnsLookup } from "node:dns/promises";
import { isIP } from "node:net";
import { Readable } from "node:stream";
import type { Agent } from "undici";
import { STREAM_WINDOW } from "../../limits.ts";
import type { WireLimits } from "../../protocol.ts";
import { grantOf } from "../grants.ts";
import type { Capability, HostServices } from "../types.ts";
import {
  type ErrorCode,
  FutureIncomingResponse,
  HOP_BY_HOP,
  IncomingResponse,
  type OutgoingOutcome,
  type OutgoingRequest,
  type RequestOptions,
} from "../wasi/http.ts";
import { ByteQueue, fail } from "../wasi/io.ts";
import { outboundHostsGrant } from "./grant.ts";
import {
  AddressRanges,
  addressAllowed,
  matchingPatterns,
  type NetworkPolicy,
  NO_LISTENERS,
  type OutboundPattern,
  type OutboundTarget,
  parseOutboundPattern,
  targetOf,
} from "./hosts.ts";

/** What the running request may do; set by the worker before each call. */
export interface OutboundGrant {
  allowed: readonly OutboundPattern[];
  /** Which special addresses and gateway ports may be reached, checked after DNS on every hop. */
  network: NetworkPolicy;
  /** Outgoing requests (every redirect hop counts) left for this request. */
  subrequestsLeft: number;
  connectTimeoutMs: number;
  /** From sending the request to the last byte of the response. */
  timeoutMs: number;
  maxResponseBytes: number;
  /** Aborted when the guest's request ends or is cancelled: every call still open is dropped. */
  signal: AbortSignal;
}

export const MAX_REDIRECTS = 5;
// No host import here waits: `handle` returns a future at once, and the guest waits on pollables
// and streams (wasi:io), which are already suspending imports.

// undici is loaded by the first outgoing call: workers whose guests never call out do without it
// (it costs every worker several MiB of heap).
let undici: Promise<typeof import("undici")> | undefined;
const loadUndici = () => {
  undici ??= import("undici");
  return undici;
};

const REDIRECTS = new Set([301, 302, 303, 307, 308]);
// Connection-level headers are not passed either way, and the Host comes from the request's URL.
const DROPPED_HEADERS: ReadonlySet<string> = new Set([...HOP_BY_HOP, "host"]);
const CREDENTIALS = new Set(["authorization", "cookie", "proxy-authorization"]);
const encoder = new TextEncoder();

class Refused {
  readonly code: ErrorCode;
  constructor(code: ErrorCode) {
    this.code = code;
  }
}

function ms(nanos: bigint | undefined, max: number): number {
  if (nanos === undefined) return max;
  return Math.max(1, Math.min(max, Number(nanos / 1_000_000n)));
}

/** Maps an undici, net, tls or dns failure to the closest wasi:http error-code. */
export function errorCodeOf(err: unknown): ErrorCode {
  if (err instanceof Refused) return err.code;
  const e = err as { code?: string; name?: string; message?: string; cause?: unknown; errors?: unknown[] };
  if (e?.name === "TimeoutError") return { tag: "HTTP-response-timeout" };
  if (e?.code === undefined && e?.errors?.[0]) return errorCodeOf(e.errors[0]);
  if (e?.code === undefined && e?.cause) return errorCodeOf(e.cause);
  switch (e?.code) {
    case "ECONNREFUSED":
      return { tag: "connection-refused" };
    case "UND_ERR_CONNECT_TIMEOUT":
    case "ETIMEDOUT":
      return { tag: "connection-timeout" };
    case "UND_ERR_HEADERS_TIMEOUT":
      return { tag: "HTTP-response-timeout" };
    case "UND_ERR_BODY_TIMEOUT":
      return { tag: "connection-read-timeout" };
    case "ECONNRESET":
    case "EPIPE":
    case "UND_ERR_SOCKET":
    case "UND_ERR_CLOSED":
      return { tag: "connection-terminated" };
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return { tag: "destination-unavailable" };
    case "ENOTFOUND":
    case "EAI_AGAIN":
    case "ENODATA":
    case "EAI_FAIL":
      return { tag: "DNS-error", val: { rcode: e.code, infoCode: undefined } };
    case "UND_ERR_RES_CONTENT_LENGTH_MISMATCH":
      return { tag: "HTTP-response-incomplete" };
    case "HPE_INVALID_CONSTANT":
    case "HPE_INVALID_HEADER_TOKEN":
    case "UND_ERR_INFO":
      return { tag: "HTTP-protocol-error" };
  }
  if (typeof e?.code === "string" && /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS_CERT/.test(e.code)) {
    return { tag: "TLS-certificate-error" };
  }
  if (typeof e?.code === "string" && /^ERR_SSL|^ERR_TLS/.test(e.code)) return { tag: "TLS-protocol-error" };
  return { tag: "internal-error", val: `${e?.code ?? e?.name ?? "Error"}: ${e?.message ?? String(err)}` };
}

/** The request's URL, or the error-code that says why it has none. */
function urlOf(request: OutgoingRequest): URL {
  const scheme = request.scheme() ?? { tag: "HTTPS" };
  if (scheme.tag === "other") fail({ tag: "HTTP-protocol-error" });
  const authority = request.authority();
  if (!authority) fail({ tag: "HTTP-request-URI-invalid" });
  const path = request.pathWithQuery() ?? "/";
  try {
    const url = new URL(
      `${scheme.tag === "HTTPS" ? "https" : "http"}://${authority}${path.startsWith("/") ? "" : "/"}${path}`,
    );
    if (url.username || url.password) fail({ tag: "HTTP-request-URI-invalid" });
    return url;
  } catch {
    return fail({ tag: "HTTP-request-URI-invalid" });
  }
}

function methodOf(request: OutgoingRequest): string {
  const m = request.method();
  return m.tag === "other" ? m.val : m.tag.toUpperCase();
}

/** Resolves and vets the target's addresses; refuses with the error-code when none may be used. */
async function vet(
  target: OutboundTarget,
  patterns: OutboundPattern[],
  network: NetworkPolicy,
  timeoutMs: number,
): Promise<LookupAddress[]> {
  let addresses: LookupAddress[];
  const family = isIP(target.host);
  if (family !== 0) addresses = [{ address: target.host, family }];
  else {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Refused({ tag: "DNS-timeout" })), timeoutMs);
    });
    try {
      addresses = await Promise.race([dnsLookup(target.host, { all: true, order: "verbatim" }), timeout]);
    } finally {
      clearTimeout(timer);
    }
    if (addresses.length === 0)
      throw new Refused({ tag: "DNS-error", val: { rcode: "ENODATA", infoCode: undefined } });
  }
  const usable = addresses.filter((a) => addressAllowed(network, patterns, a.address, target.port));
  if (usable.length === 0) throw new Refused({ tag: "destination-IP-prohibited" });
  return usable;
}

/** A socket lookup that answers only the vetted addresses, whatever name it is asked for. */
function pinnedLookup(addresses: LookupAddress[]) {
  return (
    _hostname: string,
    options: { all?: boolean },
    callback: (err: Error | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    if (options?.all) callback(null, addresses);
    else callback(null, addresses[0]!.address, addresses[0]!.family);
  };
}

/** The guest's request body as undici reads it, with backpressure on the guest's writes. */
class BodyPipe {
  readonly queue = new ByteQueue();
  #drained: (() => void) | undefined;
  #failed = false;
  constructor() {
    this.queue.onDrain = (_taken, buffered) => {
      if (buffered <= STREAM_WINDOW / 2) this.#release();
    };
  }
  write(chunk: Uint8Array): Promise<void> | undefined {
    this.queue.push(chunk);
    if (this.queue.buffered <= STREAM_WINDOW) return undefined;
    return new Promise((resolve) => {
      this.#drained = resolve;
    });
  }
  get closed(): boolean {
    return this.#failed;
  }
  end(): void {
    this.queue.end();
  }
  /** The request failed or finished early: the guest's writes see `closed`. */
  close(): void {
    this.#failed = true;
    this.queue.end("the outgoing request ended");
    this.#release();
  }
  #release(): void {
    const d = this.#drained;
    this.#drained = undefined;
    d?.();
  }
  async *chunks(): AsyncGenerator<Uint8Array> {
    for (;;) {
      await this.queue.whenReadable();
      if (this.queue.done) return;
      yield this.queue.read(STREAM_WINDOW);
    }
  }
}

/**
 * The outgoing-handler import for a worker's instance; `grant` returns the running request's.
 *
 * @example
 * const imports = { ...createWasiImports(output), ...createOutboundHttpImports(() => instance.outbound) };
 */
export function createOutboundHttpImports(grant: () => OutboundGrant) {
  function handle(request: OutgoingRequest, options: RequestOptions | undefined): FutureIncomingResponse {
    const g = grant();
    const url = urlOf(request);
    const target = targetOf(url);
    if (!target) return fail({ tag: "HTTP-protocol-error" });
    const patterns = matchingPatterns(g.allowed, target);
    if (patterns.length === 0) return fail({ tag: "HTTP-request-denied" });
    if (g.subrequestsLeft <= 0) return fail({ tag: "connection-limit-reached" });
    g.subrequestsLeft--;
    const headers: [string, string][] = [];
    for (const [name, value] of request.headers().entries()) {
      if (!DROPPED_HEADERS.has(name)) headers.push([name, Buffer.from(value).toString("latin1")]);
    }
    // The body may still be written after `handle`: it streams to the upstream as it comes.
    let pipe: BodyPipe | undefined;
    const body = request.outgoingBody;
    if (body) {
      pipe = new BodyPipe();
      body.attach(pipe);
    }
    const limits = {
      connectMs: ms(options?.connectTimeout(), g.connectTimeoutMs),
      firstByteMs: ms(options?.firstByteTimeout(), g.timeoutMs),
      betweenMs: ms(options?.betweenBytesTimeout(), g.timeoutMs),
    };
    return new FutureIncomingResponse(send(g, url, patterns, methodOf(request), headers, pipe, limits));
  }

  async function send(
    g: OutboundGrant,
    first: URL,
    firstPatterns: OutboundPattern[],
    firstMethod: string,
    firstHeaders: [string, string][],
    pipe: BodyPipe | undefined,
    limits: { connectMs: number; firstByteMs: number; betweenMs: number },
  ): Promise<OutgoingOutcome> {
    const signal = AbortSignal.any([g.signal, AbortSignal.timeout(g.timeoutMs)]);
    let url = first;
    let patterns = firstPatterns;
    let method = firstMethod;
    let headers = firstHeaders;
    // Wait for the guest to write the first bytes or finish the body: a body finished empty (what
    // guests do for a GET) is no body at all, and a request without one can follow redirects.
    if (pipe) {
      const aborted = new Promise<void>((resolve) => signal.addEventListener("abort", () => resolve()));
      await Promise.race([pipe.queue.whenReadable(), aborted]);
    }
    let withBody = pipe !== undefined && !pipe.queue.done;
    for (let hop = 0; ; hop++) {
      let agent: Agent | undefined;
      try {
        const target = targetOf(url)!;
        const addresses = await vet(target, patterns, g.network, limits.connectMs);
        if (signal.aborted) throw signal.reason;
        const { Agent } = await loadUndici();
        agent = new Agent({
          connections: 1,
          pipelining: 0,
          connect: {
            timeout: limits.connectMs,
            lookup: pinnedLookup(addresses),
            autoSelectFamily: true,
          } as never,
        });
        const res = await agent.request({
          origin: url.origin,
          path: url.pathname + url.search,
          method: method as "GET",
          headers,
          body: withBody && pipe ? Readable.from(pipe.chunks(), { objectMode: false }) : undefined,
          headersTimeout: limits.firstByteMs,
          bodyTimeout: limits.betweenMs,
          signal,
        });
        const location = res.headers.location;
        if (REDIRECTS.has(res.statusCode) && typeof location === "string") {
          // A streamed body cannot be sent again: only a redirect that drops it, or a request
          // without one, is followed; anything else goes back to the guest as it is.
          const toGet =
            res.statusCode === 303 ||
            ((res.statusCode === 301 || res.statusCode === 302) && method === "POST");
          if (!withBody || toGet) {
            await agent.destroy().catch(() => {});
            agent = undefined;
            if (hop >= MAX_REDIRECTS) return { tag: "err", val: { tag: "loop-detected" } };
            const next = new URL(location, url);
            const nextTarget = targetOf(next);
            if (!nextTarget) return { tag: "err", val: { tag: "HTTP-request-denied" } };
            const nextPatterns = matchingPatterns(g.allowed, nextTarget);
            if (nextPatterns.length === 0) return { tag: "err", val: { tag: "HTTP-request-denied" } };
            if (g.subrequestsLeft <= 0) return { tag: "err", val: { tag: "connection-limit-reached" } };
            g.subrequestsLeft--;
            if (toGet) {
              method = method === "HEAD" ? "HEAD" : "GET";
              withBody = false;
              headers = headers.filter(([n]) => !n.startsWith("content-"));
            }
            if (next.origin !== url.origin) headers = headers.filter(([n]) => !CREDENTIALS.has(n));
            url = next;
            patterns = nextPatterns;
            continue;
          }
        }
        // The request body keeps streaming if the upstream answered before reading all of it.
        return { tag: "ok", val: respond(res, g, agent, signal) };
      } catch (err) {
        pipe?.close();
        await agent?.destroy().catch(() => {});
        const code =
          signal.aborted && !g.signal.aborted ? { tag: "HTTP-response-timeout" } : errorCodeOf(err);
        return { tag: "err", val: code };
      }
    }
  }

  /** Hands the response to the guest; its body streams into a queue the guest reads. */
  function respond(
    res: Awaited<ReturnType<Agent["request"]>>,
    g: OutboundGrant,
    agent: Agent,
    signal: AbortSignal,
  ) {
    const queue = new ByteQueue();
    const headers: [string, Uint8Array][] = [];
    for (const [name, value] of Object.entries(res.headers)) {
      if (DROPPED_HEADERS.has(name) || value === undefined) continue;
      for (const v of Array.isArray(value) ? value : [value]) headers.push([name, encoder.encode(v)]);
    }
    const max = g.maxResponseBytes;
    const sizeError = { tag: "HTTP-response-body-size", val: BigInt(max) };
    const declared = Number(res.headers["content-length"]);
    void (async () => {
      let received = 0;
      let wake: (() => void) | undefined;
      queue.onDrain = (_taken, buffered) => {
        if (buffered <= STREAM_WINDOW / 2) {
          const w = wake;
          wake = undefined;
          w?.();
        }
      };
      const onAbort = () => wake?.();
      signal.addEventListener("abort", onAbort);
      try {
        if (Number.isFinite(declared) && declared > max) {
          queue.end(`the response body is larger than the limit of ${max} bytes`, sizeError);
          return;
        }
        for await (const chunk of res.body) {
          const bytes = chunk as Buffer;
          received += bytes.byteLength;
          if (received > max) {
            queue.end(`the response body is larger than the limit of ${max} bytes`, sizeError);
            return;
          }
          queue.push(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength));
          if (queue.buffered > STREAM_WINDOW) {
            await new Promise<void>((resolve) => {
              wake = resolve;
            });
            if (signal.aborted) throw signal.reason;
          }
        }
        queue.end();
      } catch (err) {
        const code =
          signal.aborted && !g.signal.aborted ? { tag: "HTTP-response-timeout" } : errorCodeOf(err);
        queue.end(`the response body failed: ${code.tag}`, code);
      } finally {
        signal.removeEventListener("abort", onAbort);
        await agent.destroy().catch(() => {});
      }
    })();
    return new IncomingResponse(res.statusCode, headers, queue);
  }

  return { "wasi:http/outgoing-handler": { handle } };
}

/** What an app's access means for its outgoing calls, worked out once per app and worker. */
interface OutboundApp {
  allowed: readonly OutboundPattern[];
  /** The special addresses the operator opened for the app's tenant. */
  granted: AddressRanges;
  trustAllowList: boolean;
}

/** Why a request's outgoing calls were cut short when it ended normally. */
const REQUEST_ENDED = new Error("the request that made this call has ended");
const stopped = new AbortController();
stopped.abort();
const NO_RANGES = new AddressRanges([]);
/** Between requests an instance may call nothing. */
const NO_OUTBOUND: OutboundGrant = {
  allowed: [],
  network: { granted: NO_RANGES, trustAllowList: false, listeners: NO_LISTENERS },
  subrequestsLeft: 0,
  connectTimeoutMs: 0,
  timeoutMs: 0,
  maxResponseBytes: 0,
  signal: stopped.signal,
};

/**
 * What one request may call out to. Its calls end with it (answered, failed or cancelled); the
 * abort signal is made on first use, as most requests call out to nothing.
 */
class RequestOutbound implements OutboundGrant {
  readonly allowed: readonly OutboundPattern[];
  readonly #app: OutboundApp;
  readonly #services: HostServices;
  #network: NetworkPolicy | undefined;
  subrequestsLeft: number;
  readonly connectTimeoutMs: number;
  readonly timeoutMs: number;
  readonly maxResponseBytes: number;
  #done: AbortController | undefined;
  #ended: unknown;

  constructor(app: OutboundApp, limits: WireLimits, services: HostServices) {
    this.allowed = app.allowed;
    this.#app = app;
    this.#services = services;
    this.subrequestsLeft = limits.outboundRequests;
    this.connectTimeoutMs = limits.outboundConnectTimeoutMs;
    this.timeoutMs = limits.outboundTimeoutMs;
    this.maxResponseBytes = limits.outboundMaxResponseBytes;
  }

  /** Made on the first outgoing call, with the gateway's ports as the worker knows them then. */
  get network(): NetworkPolicy {
    this.#network ??= {
      granted: this.#app.granted,
      trustAllowList: this.#app.trustAllowList,
      listeners: this.#services.gatewayListeners(),
    };
    return this.#network;
  }

  get signal(): AbortSignal {
    if (!this.#done) {
      this.#done = new AbortController();
      if (this.#ended !== undefined) this.#done.abort(this.#ended);
    }
    return this.#done.signal;
  }

  end(reason: unknown): void {
    if (this.#ended !== undefined) return;
    this.#ended = reason;
    this.#done?.abort(reason);
  }
}

/**
 * wasi:http/outgoing-handler: deny by default, the app's allow-list, the operator's network
 * policy, and per-request limits (subrequests, timeouts, response size).
 */
export const outboundHttp: Capability<OutboundApp, OutboundGrant> = {
  name: "outbound-http",
  docs: "docs/guides/outbound-http.md",
  asyncImports: [],
  imports: ({ current }) => createOutboundHttpImports(current),
  grants: [outboundHostsGrant],
  forApp: (access) => ({
    // The gateway validated them; anything unparsable is simply not allowed.
    allowed: grantOf(outboundHostsGrant, access.grants)
      .map(parseOutboundPattern)
      .filter((p): p is OutboundPattern => typeof p !== "string"),
    granted:
      access.network.allowPrivateNetwork.length === 0
        ? NO_RANGES
        : new AddressRanges(access.network.allowPrivateNetwork),
    trustAllowList: access.network.trustAllowList,
  }),
  begin: (app, limits, services) => new RequestOutbound(app, limits, services),
  end: (request, reason) => (request as RequestOutbound).end(reason ?? REQUEST_ENDED),
  idle: NO_OUTBOUND,
};
