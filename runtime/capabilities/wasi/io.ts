// Host implementation of wasi:io (error, poll, streams), shared by every 0.2.x version.
// A result's error is returned to the guest by throwing a value (jco lowers a thrown non-Error
// value, or an Error's `payload`, as `err(...)`); a thrown Error would trap the instance instead.
// Every wait goes through `suspend`, so time a guest spends waiting is not charged as its CPU.

import { suspend } from "../../worker/cpu-meter.ts";

export type StreamError = { tag: "last-operation-failed"; val: IoError } | { tag: "closed" };

/** Throws the WIT error payload of a `result<_, E>`. */
export function fail(payload: unknown): never {
  throw { payload };
}

export class IoError {
  readonly #message: string;
  /** A wasi:http error-code behind the failure, for `http-error-code` (outbound bodies). */
  readonly code: unknown;
  constructor(message: string, code?: unknown) {
    this.#message = message;
    this.code = code;
  }
  toDebugString(): string {
    return this.#message;
  }
}

const READY = Promise.resolve();

export class Pollable {
  #ready: () => boolean;
  #wait: () => Promise<unknown>;
  /** A pollable that becomes ready once, when `promise` settles (at once without one). */
  constructor(promise?: Promise<unknown>) {
    if (promise === undefined) {
      this.#ready = () => true;
      this.#wait = () => READY;
      return;
    }
    let done = false;
    const settled = promise.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    this.#ready = () => done;
    this.#wait = () => settled;
  }
  /**
   * A pollable that follows a stream's state: guests (StarlingMonkey) subscribe once and poll the
   * same pollable again and again, so it must not stay ready after the stream stopped being so.
   */
  static live(ready: () => boolean, wait: () => Promise<unknown>): Pollable {
    const p = new Pollable();
    p.#ready = ready;
    p.#wait = wait;
    return p;
  }
  ready(): boolean {
    return this.#ready();
  }
  /** Suspends the guest (JSPI) until ready; the worker's event loop keeps running. */
  block(): void | Promise<void> {
    if (!this.ready()) return this.#blockUntilReady();
  }
  async #blockUntilReady(): Promise<void> {
    while (!this.ready()) await suspend(this.promise);
  }
  get promise(): Promise<unknown> {
    return this.#wait();
  }
}

export function poll(pollables: Pollable[]): Uint32Array | Promise<Uint32Array> {
  if (pollables.length === 0) throw new Error("poll: empty list");
  const ready = readyIndices(pollables);
  if (ready.length > 0) return Uint32Array.from(ready);
  return suspend(Promise.race(pollables.map((p) => p.promise))).then(() =>
    Uint32Array.from(readyIndices(pollables)),
  );
}

function readyIndices(pollables: Pollable[]): number[] {
  const out: number[] = [];
  for (let i = 0; i < pollables.length; i++) if (pollables[i]!.ready()) out.push(i);
  return out;
}

/**
 * A byte queue between a producer (the host, e.g. a request body arriving) and a guest reading
 * through an input-stream. `read` never blocks; `whenReadable` resolves once data or the end is there.
 */
export class ByteQueue {
  #chunks: Uint8Array[] = [];
  #size = 0;
  #ended = false;
  #error: string | undefined;
  #errorCode: unknown;
  #waiter: { promise: Promise<void>; resolve: () => void } | undefined;
  /** Called after the consumer took bytes, so a producer can apply backpressure. */
  onDrain: ((taken: number, buffered: number) => void) | undefined;
  /**
   * The chunks are referenced nowhere else (moved here from another thread): a reader that had one
   * copied out may free its memory at once instead of leaving it to the garbage collector.
   */
  exclusive = false;

  static of(bytes: Uint8Array | undefined): ByteQueue {
    const q = new ByteQueue();
    if (bytes && bytes.byteLength > 0) q.push(bytes);
    q.end();
    return q;
  }

  get buffered(): number {
    return this.#size;
  }

  /** The producer finished (bytes may still be buffered). */
  get ended(): boolean {
    return this.#ended;
  }

  /** Everything was read and the producer finished (a read would report `closed`). */
  get done(): boolean {
    return this.#ended && this.#size === 0 && this.#error === undefined;
  }

  push(chunk: Uint8Array): void {
    if (this.#ended || chunk.byteLength === 0) return;
    this.#chunks.push(chunk);
    this.#size += chunk.byteLength;
    this.#wake();
  }

  /** Ends the stream; with `error`, the reader fails (with `code` as its wasi:http error-code). */
  end(error?: string, code?: unknown): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#error = error;
    this.#errorCode = code;
    this.#wake();
  }

  /** Up to `max` bytes; an empty array when nothing is buffered yet; throws `closed` at the end. */
  read(max: number): Uint8Array {
    if (this.#size === 0) {
      if (this.#error !== undefined) {
        fail({ tag: "last-operation-failed", val: new IoError(this.#error, this.#errorCode) });
      }
      if (this.#ended) fail({ tag: "closed" });
      return new Uint8Array(0);
    }
    const first = this.#chunks[0]!;
    let out: Uint8Array;
    if (first.byteLength <= max) {
      out = first;
      this.#chunks.shift();
    } else {
      out = first.subarray(0, max);
      this.#chunks[0] = first.subarray(max);
    }
    this.#size -= out.byteLength;
    this.onDrain?.(out.byteLength, this.#size);
    return out;
  }

  whenReadable(): Promise<void> {
    if (this.#size > 0 || this.#ended) return READY;
    if (!this.#waiter) {
      let resolve!: () => void;
      const promise = new Promise<void>((r) => {
        resolve = r;
      });
      this.#waiter = { promise, resolve };
    }
    return this.#waiter.promise;
  }

  #wake(): void {
    const w = this.#waiter;
    this.#waiter = undefined;
    w?.resolve();
  }
}

export class InputStream {
  readonly #queue: ByteQueue;
  /** The chunk the guest's last read returned, whole: jco has copied it into guest memory since. */
  #lent: Uint8Array | undefined;
  constructor(queue: ByteQueue) {
    this.#queue = queue;
  }
  read(len: bigint): Uint8Array {
    const chunk = this.take(len);
    if (this.#queue.exclusive) this.#lent = chunk;
    return chunk;
  }
  blockingRead(len: bigint): Uint8Array | Promise<Uint8Array> {
    return this.#whenReadable(() => this.read(len));
  }
  /** Up to `len` bytes for the host itself (a splice), which keeps them: they are not freed later. */
  take(len: bigint): Uint8Array {
    if (this.#lent) {
      freeBuffer(this.#lent);
      this.#lent = undefined;
    }
    return this.#queue.read(clampLen(len));
  }
  blockingTake(len: bigint): Uint8Array | Promise<Uint8Array> {
    return this.#whenReadable(() => this.take(len));
  }
  /** `read` at once when there is something to read (or the end), else once there is. */
  #whenReadable<T>(read: () => T): T | Promise<T> {
    if (this.#queue.buffered > 0 || this.#queue.ended) return read();
    return suspend(this.#queue.whenReadable()).then(read);
  }
  skip(len: bigint): bigint {
    return BigInt(this.read(len).byteLength);
  }
  blockingSkip(len: bigint): bigint | Promise<bigint> {
    const bytes = this.blockingRead(len);
    return bytes instanceof Uint8Array ? BigInt(bytes.byteLength) : bytes.then((b) => BigInt(b.byteLength));
  }
  subscribe(): Pollable {
    const queue = this.#queue;
    return Pollable.live(
      () => queue.buffered > 0 || queue.ended,
      () => queue.whenReadable(),
    );
  }
}

/** Where an output-stream's bytes go. `write` returns a promise when the sink wants the guest to wait. */
export interface ByteSink {
  write(chunk: Uint8Array): void | Promise<void>;
  /** The sink refuses more bytes (limit reached, client gone): the guest sees `closed`. */
  readonly closed?: boolean;
}

const WRITE_BUDGET = 1024 * 1024;

export class OutputStream {
  readonly #sink: ByteSink;
  #pending: Promise<void> | undefined;
  constructor(sink: ByteSink) {
    this.#sink = sink;
  }
  checkWrite(): bigint {
    if (this.#sink.closed) fail({ tag: "closed" });
    return this.#pending ? 0n : BigInt(WRITE_BUDGET);
  }
  write(contents: Uint8Array): void {
    if (this.#sink.closed) fail({ tag: "closed" });
    // jco lifts list<u8> with memory.buffer.slice(): `contents` is already a copy of guest memory.
    const p = this.#sink.write(contents);
    if (p) this.#pending = p.finally(() => (this.#pending = undefined));
  }
  blockingWriteAndFlush(contents: Uint8Array): void | Promise<void> {
    if (!this.#pending && contents.byteLength <= WRITE_BUDGET) {
      this.write(contents);
      return this.#pending ? this.#waitPending() : undefined;
    }
    return this.#writeInSteps(contents);
  }
  async #writeInSteps(contents: Uint8Array): Promise<void> {
    for (let off = 0; off < contents.byteLength; off += WRITE_BUDGET) {
      if (this.#pending) await suspend(this.#pending);
      this.write(contents.subarray(off, off + WRITE_BUDGET));
    }
    if (this.#pending) await suspend(this.#pending);
  }
  async #waitPending(): Promise<void> {
    if (this.#pending) await suspend(this.#pending);
  }
  flush(): void {
    if (this.#sink.closed) fail({ tag: "closed" });
  }
  blockingFlush(): void | Promise<void> {
    if (!this.#pending) return this.flush();
    return this.#waitPending().then(() => this.flush());
  }
  subscribe(): Pollable {
    return Pollable.live(
      () => this.#pending === undefined || (this.#sink.closed ?? false),
      () => this.#pending ?? READY,
    );
  }
  writeZeroes(len: bigint): void {
    this.write(new Uint8Array(clampLen(len)));
  }
  blockingWriteZeroesAndFlush(len: bigint): void | Promise<void> {
    return this.blockingWriteAndFlush(new Uint8Array(clampLen(len)));
  }
  splice(src: InputStream, len: bigint): bigint {
    const chunk = src.take(len);
    this.write(chunk);
    return BigInt(chunk.byteLength);
  }
  async blockingSplice(src: InputStream, len: bigint): Promise<bigint> {
    const chunk = await src.blockingTake(len);
    await this.blockingWriteAndFlush(chunk);
    return BigInt(chunk.byteLength);
  }
}

/**
 * Frees the memory of a chunk that owns its buffer whole and is referenced nowhere else. Streamed
 * bodies are ArrayBuffers whose memory V8 frees only when it collects their small wrappers, which
 * can take tens of MiB of chunks when the guest allocates little JavaScript between them.
 */
export function freeBuffer(chunk: Uint8Array): void {
  const buffer = chunk.buffer;
  if (buffer instanceof ArrayBuffer && !buffer.detached && ownsWholeBuffer(chunk)) buffer.transfer(0);
}

/** The view covers its buffer from end to end: the buffer can be moved or freed with it. */
export function ownsWholeBuffer(chunk: Uint8Array): boolean {
  return chunk.byteOffset === 0 && chunk.byteLength === chunk.buffer.byteLength;
}

function clampLen(len: bigint): number {
  return Number(len > BigInt(WRITE_BUDGET * 4) ? BigInt(WRITE_BUDGET * 4) : len);
}
