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
}

/** A refcounted cache: `acquire` makes or reuses the value for a key, `release` forgets it with its last user. */
class Shared<T> {
  readonly #entries = new Map<string, Entry<T>>();

  acquire(key: string, make: () => Promise<T>): Promise<T> {
    let entry = this.#entries.get(key);
    if (!entry) {
      entry = { value: make(), users: 0 };
      this.#entries.set(key, entry);
      // A failed load is not kept: the next user tries again.
      entry.value.catch(() => {
        if (this.#entries.get(key) === entry) this.#entries.delete(key);
      });
    }
    entry.users++;
    return entry.value;
  }

  release(key: string): void {
    const entry = this.#entries.get(key);
    if (entry && --entry.users <= 0) this.#entries.delete(key);
  }

  get size(): number {
    return this.#entries.size;
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

const glues = new Shared<Glue<unknown>>();

/** A compiled core module, and whether its state could be exported (expose-state.ts). */
export interface CoreModule {
  module: WebAssembly.Module;
  resettable: boolean;
  /** Its size in bytes as prepared (before the memory cap and state exports were added). */
  bytes: number;
}

const cores = new Shared<CoreModule>();

/** A use of shared code: `release` it when the deployment that loaded it goes. */
export interface Held<T> {
  value: T;
  release(): void;
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
  const value = (await glues.acquire(key, () => loadInstantiate(file, source))) as Glue<T>;
  return { value, release: () => glues.release(key) };
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
  const value = await cores.acquire(key, async () => {
    const data = bytes ?? (await readFile(file));
    const exposed = exposeState(capMemory(data, memoryBytes).bytes);
    const module = await WebAssembly.compile(exposed.bytes as Uint8Array<ArrayBuffer>);
    return { module, resettable: exposed.resettable, bytes: data.byteLength };
  });
  return { value, release: () => cores.release(key) };
}

/** How many distinct glues and core modules this worker holds (for tests and benchmarks). */
export function sharedCounts(): { glues: number; cores: number } {
  return { glues: glues.size, cores: cores.size };
}
