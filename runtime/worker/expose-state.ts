// Makes a core module's state reachable from the host, so that an instance can be put back to the
// state it had when it was made (see instance-reset.ts): every mutable global, memory and table it
// defines is exported under a name of ours. Exporting changes nothing for the module's own code
// (V8 keeps a defined global where it was; the export only aliases it), and jco's generated code
// looks up exports by their own names, so it never sees these.

import { RuntimeError } from "../errors.ts";
import { writeU32 } from "./memory-cap.ts";

/** Prefix of the export names added here; no toolchain uses it. */
export const STATE_EXPORT_PREFIX = "wasmgate:state:";

const IMPORT_SECTION = 2;
const TABLE_SECTION = 4;
const MEMORY_SECTION = 5;
const GLOBAL_SECTION = 6;
const EXPORT_SECTION = 7;
/** Sections that must come after the export section, in the binary format's order. */
const AFTER_EXPORTS = new Set([8, 9, 10, 11, 12]);

const KIND_TABLE = 1;
const KIND_MEMORY = 2;
const KIND_GLOBAL = 3;

/** Value types whose globals the JS API can read and write (not v128, not typed references). */
const PLAIN_VALUE_TYPES = new Set([0x7f, 0x7e, 0x7d, 0x7c, 0x70, 0x6f]);

export interface ExposedModule {
  bytes: Uint8Array;
  /**
   * False when the module has state this cannot export (a global of a type JS cannot hold, or a
   * constant expression it does not know): its instances are never reset, only replaced.
   */
  resettable: boolean;
}

class Reader {
  at: number;
  readonly bytes: Uint8Array;
  constructor(bytes: Uint8Array, at: number) {
    this.bytes = bytes;
    this.at = at;
  }
  byte(): number {
    const b = this.bytes[this.at++];
    if (b === undefined) throw new RuntimeError("ERR_COMPONENT_INVALID", "truncated core module");
    return b;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return result;
      if (shift > 35) throw new RuntimeError("ERR_COMPONENT_INVALID", "overlong LEB128 in a core module");
    }
  }
  /** Skips a signed LEB128 of any length. */
  skipLeb(): void {
    while (this.byte() & 0x80) {}
  }
  skip(n: number): void {
    this.at += n;
  }
  name(): void {
    this.skip(this.u32());
  }
}

/** Skips a reference type: one byte, or two forms with a heap type after them. */
function skipRefType(r: Reader): void {
  const type = r.byte();
  if (type === 0x63 || type === 0x64) r.skipLeb();
}

/** Skips a table or memory's limits. */
function skipLimits(r: Reader): void {
  const flags = r.byte();
  r.u32();
  if (flags & 0x01) r.u32();
}

/** Skips a constant expression (up to and including `end`); false for an opcode it does not know. */
function skipConstExpr(r: Reader): boolean {
  for (;;) {
    const op = r.byte();
    switch (op) {
      case 0x0b:
        return true;
      case 0x41: // i32.const
      case 0x42: // i64.const
        r.skipLeb();
        break;
      case 0x43:
        r.skip(4);
        break;
      case 0x44:
        r.skip(8);
        break;
      case 0x23: // global.get
      case 0xd2: // ref.func
        r.u32();
        break;
      case 0xd0: // ref.null <heap type>
        r.skipLeb();
        break;
      // Extended constant expressions: add, sub, mul of i32 and i64.
      case 0x6a:
      case 0x6b:
      case 0x6c:
      case 0x7c:
      case 0x7d:
      case 0x7e:
        break;
      default:
        return false;
    }
  }
}

/**
 * Exports every mutable global, memory and table `module` defines that it does not export yet, as
 * `wasmgate:state:global:<index>`, `…:memory:<index>` and `…:table:<index>` (indexes in the
 * module's own index spaces, imports first). Immutable globals cannot change, so they are left.
 */
export function exposeState(module: Uint8Array): ExposedModule {
  const counts = { [KIND_TABLE]: 0, [KIND_MEMORY]: 0, [KIND_GLOBAL]: 0 };
  const defined: { kind: number; index: number }[] = [];
  const exported = new Set<string>();
  let exportSection: { start: number; end: number; contentStart: number } | undefined;
  let insertAt = module.length;
  let pos = 8;
  while (pos < module.length) {
    const r = new Reader(module, pos);
    const id = r.byte();
    const size = r.u32();
    const contentStart = r.at;
    const end = contentStart + size;
    if (AFTER_EXPORTS.has(id) && insertAt === module.length) insertAt = pos;
    if (id === IMPORT_SECTION) {
      for (let n = r.u32(); n > 0; n--) {
        r.name();
        r.name();
        const kind = r.byte();
        if (kind === 0) r.u32();
        else if (kind === KIND_TABLE) {
          skipRefType(r);
          skipLimits(r);
          counts[KIND_TABLE]++;
        } else if (kind === KIND_MEMORY) {
          skipLimits(r);
          counts[KIND_MEMORY]++;
        } else if (kind === KIND_GLOBAL) {
          // A typed reference's heap type is not read here.
          if (!PLAIN_VALUE_TYPES.has(r.byte())) return { bytes: module, resettable: false };
          r.byte();
          counts[KIND_GLOBAL]++;
        } else if (kind === 4) {
          r.byte();
          r.u32();
        } else return { bytes: module, resettable: false };
      }
    } else if (id === TABLE_SECTION) {
      for (let n = r.u32(); n > 0; n--) {
        // A table with an initial value (0x40 0x00) is newer than what this reads.
        if (module[r.at] === 0x40) return { bytes: module, resettable: false };
        skipRefType(r);
        skipLimits(r);
        defined.push({ kind: KIND_TABLE, index: counts[KIND_TABLE]++ });
      }
    } else if (id === MEMORY_SECTION) {
      for (let n = r.u32(); n > 0; n--) {
        skipLimits(r);
        defined.push({ kind: KIND_MEMORY, index: counts[KIND_MEMORY]++ });
      }
    } else if (id === GLOBAL_SECTION) {
      for (let n = r.u32(); n > 0; n--) {
        const type = r.byte();
        const mutable = r.byte() === 1;
        // A typed reference's immediates are not read here, and JS cannot hold a v128.
        if (!PLAIN_VALUE_TYPES.has(type) || !skipConstExpr(r)) return { bytes: module, resettable: false };
        const index = counts[KIND_GLOBAL]++;
        if (mutable) defined.push({ kind: KIND_GLOBAL, index });
      }
    } else if (id === EXPORT_SECTION) {
      exportSection = { start: pos, end, contentStart };
      for (let n = r.u32(); n > 0; n--) {
        r.name();
        const kind = r.byte();
        exported.add(`${kind}:${r.u32()}`);
      }
    }
    pos = end;
  }
  const KIND_NAMES: Record<number, string> = {
    [KIND_TABLE]: "table",
    [KIND_MEMORY]: "memory",
    [KIND_GLOBAL]: "global",
  };
  const added: number[] = [];
  let addedCount = 0;
  for (const { kind, index } of defined) {
    if (exported.has(`${kind}:${index}`)) continue;
    const name = new TextEncoder().encode(`${STATE_EXPORT_PREFIX}${KIND_NAMES[kind]}:${index}`);
    added.push(...writeU32(name.length), ...name, kind, ...writeU32(index));
    addedCount++;
  }
  if (addedCount === 0) return { bytes: module, resettable: true };
  let parts: (Uint8Array | number[])[];
  if (exportSection) {
    const r = new Reader(module, exportSection.contentStart);
    const count = r.u32();
    const old = module.subarray(r.at, exportSection.end);
    const head = writeU32(count + addedCount);
    parts = [
      module.subarray(0, exportSection.start),
      [EXPORT_SECTION, ...writeU32(head.length + old.length + added.length), ...head],
      old,
      added,
      module.subarray(exportSection.end),
    ];
  } else {
    const head = writeU32(addedCount);
    parts = [
      module.subarray(0, insertAt),
      [EXPORT_SECTION, ...writeU32(head.length + added.length), ...head],
      added,
      module.subarray(insertAt),
    ];
  }
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return { bytes: out, resettable: true };
}
