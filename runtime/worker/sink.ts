// The guest's response as it is written: checked (response-head.ts), buffered while the guest runs
// without suspending, streamed to the main thread with flow control once it does.

import type { ErrorCode, ResponseSink } from "../capabilities/wasi/index.ts";
import { freeBuffer, ownsWholeBuffer } from "../capabilities/wasi/io.ts";
import { STREAM_WINDOW } from "../limits.ts";
import { NULL_BODY_STATUS, type WireHeaders } from "../protocol.ts";
import { post } from "./env.ts";
import { BadResponseHead, checkResponseHead } from "./response-head.ts";

/** A whole response body this large moves to the main thread; a smaller one is copied, which is cheaper. */
const TRANSFER_MIN_BYTES = 4096;

/**
 * Collects the guest's response. While the guest runs without suspending, everything is buffered
 * and sent as one message when `handle` returns; once the guest suspends (a setImmediate only runs
 * then), what is there is flushed and the rest streams, at most STREAM_WINDOW bytes ahead of what
 * the main thread has passed on.
 */
export class Sink implements ResponseSink {
  readonly #id: number;
  readonly #limit: number;
  #status = 0;
  #headers: WireHeaders = {};
  #chunks: Uint8Array[] = [];
  #written = 0;
  #inFlight = 0;
  #unblock: (() => void) | undefined;
  #headSent = false;
  #hasHead = false;
  #ended = false;
  #failed: ErrorCode | undefined;
  #tooLarge = false;
  #flushScheduled = false;
  /** Why what the guest answered cannot be sent: a bad head, or a body its length does not fit. */
  #bad: string | undefined;
  /** The body length the guest promised, held to when the response carries a body. */
  #declared: number | undefined;
  /** The request was HEAD: a promised length describes a body that is not sent. */
  readonly #headRequest: boolean;

  constructor(id: number, limit: number, method: string) {
    this.#id = id;
    this.#limit = limit;
    this.#headRequest = method === "HEAD";
  }

  get hasHead(): boolean {
    return this.#hasHead;
  }
  get streaming(): boolean {
    return this.#headSent;
  }
  get failed(): ErrorCode | undefined {
    return this.#failed;
  }
  get tooLarge(): boolean {
    return this.#tooLarge;
  }
  get bad(): string | undefined {
    return this.#bad;
  }
  get closed(): boolean {
    return this.#ended || this.#tooLarge || this.#bad !== undefined;
  }

  head(status: number, headers: [string, Uint8Array][]): void {
    if (this.#setHead(status, headers)) this.#schedule();
  }

  /** A whole response at once (the fast world): `complete()` sends it, nothing streams. */
  answer(status: number, headers: [string, string][], body: Uint8Array): void {
    if (!this.#setHead(status, headers)) return;
    this.#written = body.byteLength;
    if (this.#written > this.#limit) {
      this.#tooLarge = true;
      return;
    }
    if (this.#declared !== undefined && this.#declared !== body.byteLength) {
      this.#misframed(`its body is ${body.byteLength} bytes`);
      return;
    }
    if (body.byteLength > 0) this.#chunks.push(body);
    this.#ended = true;
  }

  /** Checks the guest's head (see response-head.ts); false when it cannot be sent. */
  #setHead(status: number, headers: readonly (readonly [string, Uint8Array | string])[]): boolean {
    this.#hasHead = true;
    try {
      const head = checkResponseHead(status, headers);
      this.#status = head.status;
      this.#headers = head.headers;
      const bodyless = this.#headRequest || NULL_BODY_STATUS.has(head.status);
      this.#declared = bodyless ? undefined : head.declaredLength;
      return true;
    } catch (err) {
      if (!(err instanceof BadResponseHead)) throw err;
      this.#bad = err.message;
      return false;
    }
  }

  /** The body does not fit the length the guest promised: nothing more of it goes out. */
  #misframed(what: string): void {
    this.#bad = `the guest's content-length is ${this.#declared} but ${what}`;
    this.#chunks = [];
  }

  write(chunk: Uint8Array): Promise<void> | undefined {
    if (this.closed) return undefined;
    if (this.#declared !== undefined && this.#written + chunk.byteLength > this.#declared) {
      this.#misframed(`it wrote ${this.#written + chunk.byteLength} bytes or more`);
      return undefined;
    }
    this.#written += chunk.byteLength;
    if (this.#written > this.#limit) {
      this.#tooLarge = true;
      this.#chunks = [];
      return undefined;
    }
    this.#chunks.push(chunk);
    this.#inFlight += chunk.byteLength;
    if (this.#headSent) this.#schedule();
    if (this.#inFlight <= STREAM_WINDOW) return undefined;
    // Wait until the main thread has passed enough on. Before the first flush nothing is in flight
    // across threads yet, so this also makes a large synchronous writer start streaming.
    this.#schedule();
    return new Promise((resolve) => {
      this.#unblock = resolve;
    });
  }

  ack(bytes: number): void {
    this.#inFlight -= bytes;
    if (this.#inFlight <= STREAM_WINDOW) {
      const unblock = this.#unblock;
      this.#unblock = undefined;
      unblock?.();
    }
  }

  end(): void {
    if (this.#ended || this.#bad !== undefined) return;
    if (this.#declared !== undefined && this.#written < this.#declared) {
      this.#misframed(`its body ended after ${this.#written} bytes`);
      return;
    }
    this.#ended = true;
    if (this.#headSent) {
      this.#flush();
      post({ type: "end", id: this.#id });
    }
  }

  error(code: ErrorCode): void {
    this.#failed = code;
  }

  /** After `handle` returned: send whatever has not gone out yet (nothing, once `bad` is set). */
  complete(): void {
    if (this.#headSent) {
      if (!this.#ended) this.end();
      return;
    }
    if (this.#bad !== undefined) return;
    if (this.#declared !== undefined && this.#written !== this.#declared) {
      this.#misframed(`its body is ${this.#written} bytes`);
      return;
    }
    this.#ended = true;
    const body = concat(this.#chunks);
    this.#chunks = [];
    post(
      { type: "response", id: this.#id, status: this.#status, headers: this.#headers, body },
      body.byteLength >= TRANSFER_MIN_BYTES ? [body.buffer] : undefined,
    );
  }

  #schedule(): void {
    if (this.#flushScheduled || !this.#hasHead) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      if (this.#ended && !this.#headSent) return; // answered in one go: complete() sends it
      if (this.#tooLarge || this.#bad !== undefined) return;
      if (!this.#headSent) {
        this.#headSent = true;
        // A streamed body goes out with the length the guest promised, if any; it is held to it.
        const headers =
          this.#declared === undefined
            ? this.#headers
            : { ...this.#headers, "content-length": String(this.#declared) };
        post({ type: "head", id: this.#id, status: this.#status, headers });
      }
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#chunks.length === 0) return;
    const data = concat(this.#chunks);
    this.#chunks = [];
    post({ type: "chunk", id: this.#id, data }, [data.buffer]);
  }
}

/** The chunks as one, which the caller may move; chunks copied into it are freed (nothing else holds them). */
function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const only = chunks[0];
  if (chunks.length === 1 && ownsWholeBuffer(only!)) {
    return only as Uint8Array<ArrayBuffer>;
  }
  const whole = new Uint8Array(Buffer.concat(chunks));
  for (const chunk of chunks) freeBuffer(chunk);
  return whole;
}
