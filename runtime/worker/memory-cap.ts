// Caps the linear memories a core wasm module defines by rewriting their declared maximum.
// Linear memory lives outside the V8 heap, so worker resourceLimits do not bound it; a declared
// maximum makes `memory.grow` fail at the cap instead (measured: an uncapped bomb reached 3 GiB RSS,
// a capped one trapped in 72 ms).

import { RuntimeError } from "../errors.ts";

export const WASM_PAGE = 64 * 1024;
const MEMORY_SECTION = 5;

function readU32(bytes: Uint8Array, at: number): [value: number, next: number] {
  let result = 0;
  let shift = 0;
  for (let i = at; ; i++) {
    const b = bytes[i];
    if (b === undefined) throw new RuntimeError("ERR_COMPONENT_INVALID", "truncated LEB128 in a core module");
    result += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [result, i + 1];
    if (shift > 63) throw new RuntimeError("ERR_COMPONENT_INVALID", "overlong LEB128 in a core module");
  }
}

/** `value` as unsigned LEB128, as a module's sizes and counts are written. */
export function writeU32(value: number): number[] {
  const out: number[] = [];
  let v = value;
  do {
    let b = v % 128;
    v = Math.floor(v / 128);
    if (v > 0) b |= 0x80;
    out.push(b);
  } while (v > 0);
  return out;
}

function concat(parts: (Uint8Array | number[])[]): Uint8Array {
  const size = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface CappedModule {
  bytes: Uint8Array;
  /** The largest initial size (bytes) of the memories the module defines. */
  initialBytes: number;
}

/** Rewrites every defined memory's maximum to at most `maxBytes`; throws if one starts larger. */
export function capMemory(module: Uint8Array, maxBytes: number): CappedModule {
  const maxPages = Math.floor(maxBytes / WASM_PAGE);
  let pos = 8;
  while (pos < module.length) {
    const id = module[pos]!;
    const [size, contentStart] = readU32(module, pos + 1);
    const end = contentStart + size;
    if (id !== MEMORY_SECTION) {
      pos = end;
      continue;
    }
    let [count, at] = readU32(module, contentStart);
    const entries: number[] = [...writeU32(count)];
    let initialBytes = 0;
    for (; count > 0; count--) {
      const flags = module[at]!;
      if (flags & 0x04) {
        throw new RuntimeError("ERR_COMPONENT_INVALID", "64-bit linear memories are not supported");
      }
      const [min, afterMin] = readU32(module, at + 1);
      let next = afterMin;
      let max = maxPages;
      if (flags & 0x01) {
        const [declared, afterMax] = readU32(module, afterMin);
        max = Math.min(declared, maxPages);
        next = afterMax;
      }
      if (min > maxPages) {
        throw new RuntimeError(
          "ERR_COMPONENT_MEMORY_TOO_LARGE",
          `the component starts with ${min * WASM_PAGE} bytes of linear memory; the limit is ${maxPages * WASM_PAGE} bytes`,
        );
      }
      initialBytes = Math.max(initialBytes, min * WASM_PAGE);
      entries.push(flags | 0x01, ...writeU32(min), ...writeU32(max));
      at = next;
    }
    const content = new Uint8Array(entries);
    return {
      bytes: concat([
        module.subarray(0, pos),
        [MEMORY_SECTION],
        writeU32(content.length),
        content,
        module.subarray(end),
      ]),
      initialBytes,
    };
  }
  return { bytes: module, initialBytes: 0 };
}
