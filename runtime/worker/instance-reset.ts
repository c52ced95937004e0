// Puts an instance back to the state it had when it was made: what Spin gets from a fresh
// instance per request, at a fraction of the cost. A fresh StarlingMonkey instance costs V8 an
// instantiation (a 9 MiB memory mapped, 3 MiB of data segments copied, thousands of table
// entries) and, because every new memory counts as external memory, a major garbage collection
// every few requests; copying the memory image back costs one memcpy.
//
// A core instance's state is its memories, its mutable globals and its tables; expose-state.ts
// exports the ones a module keeps to itself, so all of it is reachable here. Memories get their
// image back, globals their values; a memory or table that grew cannot shrink, so an instance
// whose memory or table grew is not reset (it is replaced).
//
// A request writes little of the memory (a Spin JS hello: 59 of 2,320 pages), and comparing is
// cheaper than copying (memcmp reads where memcpy also writes): memory is compared with its image
// a block at a time, and only the pages of blocks that differ are compared and copied. Measured on
// the 9 MiB memory of a StarlingMonkey guest: 0.4-0.5 ms to compare all of it, 0.7-1.0 ms to copy.

/** Bytes compared at a time; a block that differs is compared again by page. */
const BLOCK = 64 * 1024;
const PAGE = 4 * 1024;

export class InstanceImage {
  readonly #memories: { memory: WebAssembly.Memory; view: Buffer; image: Buffer }[] = [];
  readonly #globals: { global: WebAssembly.Global; value: unknown }[] = [];
  readonly #tables: { table: WebAssembly.Table; length: number }[] = [];
  /** Bytes of memory images this instance holds alone (not shared with `shared`). */
  readonly ownBytes: number = 0;

  /**
   * The state of the core instances of one component instance, as it is now. `shared` holds the
   * memory images of the first instance of the same code: a memory that starts identical to the
   * one there uses that image instead of a copy of its own; where there is none yet, this one's
   * becomes it.
   */
  constructor(cores: readonly WebAssembly.Instance[], shared: Uint8Array<ArrayBuffer>[]) {
    const seen = new Set<unknown>();
    let own = 0;
    for (const core of cores) {
      for (const value of Object.values(core.exports)) {
        if (seen.has(value)) continue;
        seen.add(value);
        if (value instanceof WebAssembly.Memory) {
          const index = this.#memories.length;
          const now = new Uint8Array(value.buffer);
          let image = shared[index];
          if (image === undefined) {
            image = now.slice();
            shared[index] = image;
          } else if (image.byteLength !== now.byteLength || Buffer.compare(image, now) !== 0) {
            image = now.slice();
            own += image.byteLength;
          }
          this.#memories.push({
            memory: value,
            view: Buffer.from(value.buffer),
            image: Buffer.from(image.buffer, image.byteOffset, image.byteLength),
          });
        } else if (value instanceof WebAssembly.Global) {
          if (mutable(value)) this.#globals.push({ global: value, value: value.value });
        } else if (value instanceof WebAssembly.Table) {
          this.#tables.push({ table: value, length: value.length });
        }
      }
    }
    this.ownBytes = own;
  }

  /** Puts the instance back; false (and nothing changed) when a memory or table has grown. */
  restore(): boolean {
    // A memory that grew has a new buffer (the old one is detached, its length 0).
    for (const m of this.#memories) if (m.memory.buffer !== m.view.buffer) return false;
    for (const t of this.#tables) if (t.table.length !== t.length) return false;
    for (const m of this.#memories) restoreMemory(m.view, m.image);
    for (const g of this.#globals) g.global.value = g.value;
    return true;
  }
}

/** Makes `memory` equal to `image` (same length), writing only the pages that differ. */
function restoreMemory(memory: Buffer, image: Buffer): void {
  const length = image.byteLength;
  for (let block = 0; block < length; block += BLOCK) {
    const blockEnd = Math.min(length, block + BLOCK);
    if (image.compare(memory, block, blockEnd, block, blockEnd) === 0) continue;
    for (let page = block; page < blockEnd; page += PAGE) {
      const pageEnd = Math.min(blockEnd, page + PAGE);
      if (image.compare(memory, page, pageEnd, page, pageEnd) !== 0) image.copy(memory, page, page, pageEnd);
    }
  }
}

/** The JS API does not say whether a global is mutable; writing its own value back tells. */
function mutable(global: WebAssembly.Global): boolean {
  try {
    const value: unknown = global.value;
    global.value = value;
    return true;
  } catch {
    return false;
  }
}
