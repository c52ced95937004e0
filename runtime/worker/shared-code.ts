// Code a worker loads once per content, not once per deployment: jco's generated glue
// (component.js) and the compiled core modules. Two deployments whose files are byte-identical
// (the same build pushed with another source map, copies that differ only in a custom section,
// apps of one toolchain whose glue comes out the same) share the loaded function and the
// `WebAssembly.Module`, as apps that deploy identical bytes already share a deployment's code.
// Both are immutable; instances, memories and pools are never shared. An entry is forgotten with
// its last user, so the memory goes when the last deployment using it is unloaded.

import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { exposeState } from "./expose-state.ts";
import { loadInstantiate } from "./load-component.ts";
import { capMemory } from "./memory-cap.ts";

interface Entry<T> {
  value: Promise<T>;
  users: number;
  /** The memory it holds, once loaded (0 before). */
  bytes: number;
}

/**
 * A refcounted cache: `acquire` makes or reuses the value for a key, `release` forgets it with its
 * last user. It keeps the sum of what its loaded values hold, each counted once however many use it.
 */
class Shared<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #sizeOf: (value: T) => number;
  #bytes = 0;

  constructor(sizeOf: (value: T) => number) {
    this.#sizeOf = sizeOf;
  }

  acquire(key: string, make: () => Promise<T>): { value: Promise<T>; entry: Entry<T> } {
    let entry = this.#entries.get(key);
    if (!entry) {
      const made: Entry<T> = { value: make(), users: 0, bytes: 0 };
      entry = made;
      this.#entries.set(key, made);
      made.value.then(
        (value) => {
          if (this.#entries.get(key) !== made) return;
          made.bytes = this.#sizeOf(value);
          this.#bytes += made.bytes;
        },
        // A failed load is not kept: the next user tries again.
        () => {
          if (this.#entries.get(key) === made) this.#entries.delete(key);
        },
      );
    }
    entry.users++;
    return { value: entry.value, entry };
  }

  release(key: string): void {
    const entry = this.#entries.get(key);
    if (entry && --entry.users <= 0) {
      this.#entries.delete(key);
      this.#bytes -= entry.bytes;
    }
  }

  get size(): number {
    return this.#entries.size;
  }

  get bytes(): number {
    return this.#bytes;
  }
}

function digestOf(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("base64url");
}

/** A loaded glue: jco's `instantiate` and the size of its source. */
export interface Glue<T> {
  instantiate: T;
  bytes: number;
}

/**
 * What loaded code holds, for the memory budget: twice its size (the source or wasm bytes kept,
 * and what V8 compiled from them), as the budget has always estimated it.
 */
const HELD_PER_BYTE = 2;

const glues = new Shared<Glue<unknown>>((glue) => glue.bytes * HELD_PER_BYTE);

/** A compiled core module, and whether its state could be exported (expose-state.ts). */
export interface CoreModule {
  module: WebAssembly.Module;
  resettable: boolean;
  /** Its size in bytes as prepared (before the memory cap and state exports were added). */
  bytes: number;
}

const cores = new Shared<CoreModule>((core) => core.bytes * HELD_PER_BYTE);

/** A use of shared code: `release` it when the deployment that loaded it goes. */
export interface Held<T> {
  value: T;
  release(): void;
  /** The memory `release` would free now: what the code holds if this is its last user, else 0. */
  freed(): number;
}

function held<T>(value: T, entry: Entry<unknown>, release: () => void): Held<T> {
  return { value, release, freed: () => (entry.users === 1 ? entry.bytes : 0) };
}

/**
 * The glue in `file`, loaded once per content in this worker. `digest` is the file's (from the
 * component's info); without one the file is read and hashed first.
 */
export async function holdGlue<T>(file: string, digest: string | undefined): Promise<Held<Glue<T>>> {
  let source: string | undefined;
  if (digest === undefined) {
    source = await readFile(file, "utf8");
    digest = digestOf(source);
  }
  const key = digest;
  const { value, entry } = glues.acquire(key, () => loadInstantiate(file, source));
  return held((await value) as Glue<T>, entry, () => glues.release(key));
}

/** The core module in `file` under `memoryBytes`, compiled once per content and cap in this worker. */
export async function holdCoreModule(
  file: string,
  digest: string | undefined,
  memoryBytes: number,
): Promise<Held<CoreModule>> {
  let bytes: Uint8Array | undefined;
  if (digest === undefined) {
    bytes = await readFile(file);
    digest = digestOf(bytes);
  }
  const key = `${digest}:${memoryBytes}`;
  const { value, entry } = cores.acquire(key, async () => {
    const data = bytes ?? (await readFile(file));
    const exposed = exposeState(capMemory(data, memoryBytes).bytes);
    const module = await WebAssembly.compile(exposed.bytes as Uint8Array<ArrayBuffer>);
    return { module, resettable: exposed.resettable, bytes: data.byteLength };
  });
  return held(await value, entry, () => cores.release(key));
}

/** The memory the loaded glues and core modules hold, each counted once (for the memory budget). */
export function sharedBytes(): number {
  return glues.bytes + cores.bytes;
}

/** How many distinct glues and core modules this worker holds (for tests and benchmarks). */
export function sharedCounts(): { glues: number; cores: number } {
  return { glues: glues.size, cores: cores.size };
}
