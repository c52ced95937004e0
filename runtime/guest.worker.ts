// A long-lived worker thread running guests. It keeps, per deployment, the compiled core modules
// and a pool of idle instances; one instance serves one request at a time. Guests that wait (timers,
// body reads, later KV) are suspended through JSPI, so one worker serves many requests at once.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { parentPort } from "node:worker_threads";
import type { ComponentInfo } from "./component-info.ts";
import type { RuntimeErrorCode } from "./errors.ts";
import {
  ByteQueue,
  createWasiImports,
  type ErrorCode,
  GuestOutput,
  type GuestStream,
  IncomingRequest,
  ResponseOutparam,
  type ResponseSink,
} from "./wasi/index.ts";
import type { FromWorker, ToWorker, WireDeployment, WireRequest } from "./wire.ts";

const port = parentPort!;
const post = (msg: FromWorker, transfer?: ArrayBuffer[]) => port.postMessage(msg, transfer ?? []);

interface Handler {
  handle(request: IncomingRequest, out: ResponseOutparam): Promise<void>;
}

interface Instance {
  handler: Handler;
  output: GuestOutput;
  requestId: number;
  uses: number;
}

type Instantiate = (
  getCoreModule: (name: string) => Promise<WebAssembly.Module>,
  imports: Record<string, unknown>,
) => Promise<Record<string, Handler>>;

class AppPool {
  readonly #deployment: WireDeployment;
  readonly #info: ComponentInfo;
  #instantiate: Promise<Instantiate> | undefined;
  readonly #cores = new Map<string, Promise<WebAssembly.Module>>();
  readonly #idle: Instance[] = [];
  #live = 0;
  readonly #waiters: (() => void)[] = [];

  constructor(deployment: WireDeployment) {
    this.#deployment = deployment;
    this.#info = deployment.info;
  }

  get singleUse(): boolean {
    return this.#info.singleUse;
  }

  async acquire(limit: number): Promise<Instance> {
    for (;;) {
      const idle = this.#idle.pop();
      if (idle) return idle;
      if (this.#live < limit) break;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
    this.#live++;
    try {
      return await this.#create();
    } catch (err) {
      this.#released();
      throw err;
    }
  }

  release(instance: Instance, reusable: boolean, maxUses: number): void {
    if (reusable && instance.uses < maxUses) this.#idle.push(instance);
    else this.#released();
    this.#waiters.shift()?.();
  }

  #released(): void {
    this.#live--;
  }

  async #create(): Promise<Instance> {
    const dir = this.#deployment.dir;
    this.#instantiate ??= import(pathToFileURL(join(dir, "component.js")).href).then(
      (m: { instantiate: Instantiate }) => m.instantiate,
    );
    const instantiate = await this.#instantiate;
    const instance: Instance = {
      handler: undefined as never,
      output: undefined as never,
      requestId: 0,
      uses: 0,
    };
    instance.output = new GuestOutput(OUTPUT_LIMIT, (stream: GuestStream, line: string) =>
      post({ type: "log", id: instance.requestId, stream, line }),
    );
    const getCoreModule = (name: string) => {
      let module = this.#cores.get(name);
      if (!module) {
        module = readFile(join(dir, name)).then((bytes) => WebAssembly.compile(bytes));
        this.#cores.set(name, module);
      }
      return module;
    };
    const exports = await instantiate(getCoreModule, createWasiImports(instance.output));
    const handler = exports[this.#info.handlerExport];
    if (!handler) throw new Error(`the component has no export ${this.#info.handlerExport}`);
    instance.handler = handler;
    return instance;
  }
}

const OUTPUT_LIMIT = 64 * 1024;
const pools = new Map<string, AppPool>();

/**
 * Collects the guest's response. While the guest runs without suspending, everything is buffered
 * and sent as one message when `handle` returns; once the guest suspends (a setImmediate only runs
 * then), what is there is flushed and the rest streams.
 */
class Sink implements ResponseSink {
  readonly #id: number;
  #status = 0;
  #headers: [string, string][] = [];
  #chunks: Uint8Array[] = [];
  #headSent = false;
  #hasHead = false;
  #ended = false;
  #failed: ErrorCode | undefined;
  #flushScheduled = false;

  constructor(id: number) {
    this.#id = id;
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

  head(status: number, headers: [string, Uint8Array][]): void {
    this.#hasHead = true;
    this.#status = status;
    this.#headers = headers.map(([n, v]) => [n, Buffer.from(v).toString("latin1")]);
    this.#schedule();
  }
  write(chunk: Uint8Array): undefined {
    if (this.#ended) return;
    this.#chunks.push(chunk);
    if (this.#headSent) this.#schedule();
    return undefined;
  }
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#headSent) {
      this.#flush();
      post({ type: "end", id: this.#id });
    }
  }
  error(code: ErrorCode): void {
    this.#failed = code;
  }

  /** After `handle` returned: send whatever has not gone out yet. */
  complete(): void {
    if (this.#headSent) {
      if (!this.#ended) this.end();
      return;
    }
    const body = concat(this.#chunks);
    this.#chunks = [];
    this.#ended = true;
    post({ type: "response", id: this.#id, status: this.#status, headers: this.#headers, body }, [
      body.buffer as ArrayBuffer,
    ]);
  }

  #schedule(): void {
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setImmediate(() => {
      this.#flushScheduled = false;
      if (this.#ended && !this.#headSent) return; // completed in one go: complete() sends it
      if (!this.#headSent) {
        this.#headSent = true;
        post({ type: "head", id: this.#id, status: this.#status, headers: this.#headers });
      }
      this.#flush();
    });
  }

  #flush(): void {
    if (this.#chunks.length === 0) return;
    const data = concat(this.#chunks);
    this.#chunks = [];
    post({ type: "chunk", id: this.#id, data }, [data.buffer as ArrayBuffer]);
  }
}

function concat(chunks: Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (
    chunks.length === 1 &&
    chunks[0]!.byteOffset === 0 &&
    chunks[0]!.byteLength === chunks[0]!.buffer.byteLength
  ) {
    return chunks[0] as Uint8Array<ArrayBuffer>;
  }
  return new Uint8Array(Buffer.concat(chunks));
}

function fail(id: number, code: RuntimeErrorCode, message: string): void {
  post({ type: "error", id, code, message });
}

async function invoke(id: number, deployment: WireDeployment, request: WireRequest, limits: WireLimits) {
  let pool = pools.get(deployment.key);
  if (!pool) {
    pool = new AppPool(deployment);
    pools.set(deployment.key, pool);
  }
  let instance: Instance;
  try {
    instance = await pool.acquire(limits.maxInstances);
  } catch (err) {
    fail(id, "ERR_RUNTIME_INSTANTIATE", `the component could not be instantiated: ${message(err)}`);
    return;
  }
  instance.requestId = id;
  instance.uses++;
  const sink = new Sink(id);
  const out = new ResponseOutparam(sink);
  const incoming = new IncomingRequest({ ...request, body: ByteQueue.of(request.body) });
  let trapped = false;
  try {
    await instance.handler.handle(incoming, out);
  } catch (err) {
    trapped = true;
    if (sink.streaming) post({ type: "abort", id, message: `guest trapped: ${message(err)}` });
    else fail(id, "ERR_RUNTIME_TRAP", `the guest trapped: ${message(err)}`);
  } finally {
    instance.output.reset();
  }
  if (!trapped) {
    if (sink.failed) {
      fail(id, "ERR_RUNTIME_GUEST_ERROR", `the guest answered with an error: ${sink.failed.tag}`);
    } else if (!out.isSet || !sink.hasHead) {
      fail(id, "ERR_RUNTIME_NO_RESPONSE", "the guest returned without setting a response");
    } else {
      sink.complete();
    }
  }
  // A trap can leave the instance's memory in any state: never reuse it.
  pool.release(instance, !trapped && !pool.singleUse, limits.maxUses);
}

interface WireLimits {
  maxInstances: number;
  maxUses: number;
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!.slice(0, 300);
}

port.on("message", (msg: ToWorker) => {
  switch (msg.type) {
    case "invoke":
      void invoke(msg.id, msg.deployment, msg.request, msg.limits);
      break;
    case "evict":
      pools.delete(msg.key);
      break;
  }
});
