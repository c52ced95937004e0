// The interfaces a component imports, with the type of every function it imports from them, read
// from the component's own bytes at deploy time.
//
// Why decode the binary here rather than ask wasm-tools: `jco wit` (wasm-tools' `component wit`)
// prints only the root world of a component (`import wasi:keyvalue/store@0.2.0-draft2;`), not the
// packages it imports, so it cannot tell two revisions with the same version apart; printing the
// whole component as WAT costs seconds and megabytes for a 14 MB StarlingMonkey guest and would
// still need parsing. The type and import sections come first and are small: this walks the
// sections, skips every core module by its length without reading it, and decodes only the
// component-level types, aliases and imports (Binary.md of the component model). It takes well
// under a millisecond, and it fails closed: a type it cannot decode renders as `?`, which matches
// no signature a capability serves.
//
// A signature is rendered structurally, the way jco sees it: value types inline (a record with its
// field names, a variant with its cases), resources by name, parameter names left out, e.g.
// `func(borrow<bucket>, list<string>) -> result<list<tuple<string, option<list<u8>>>>, variant { no-such-store, access-denied, other(string) }>`.

/** One instance a component imports, e.g. `wasi:keyvalue/store@0.2.0-draft2`. */
export interface ImportedInterface {
  /** The import's full name, e.g. `wasi:keyvalue/batch@0.2.0-draft2`. */
  readonly name: string;
  /** Without the version, as jco looks the host's implementation up: `wasi:keyvalue/batch`. */
  readonly unversioned: string;
  /** `0.2.0-draft2`; undefined for an unversioned name. */
  readonly version: string | undefined;
  /** Each function the component imports from it, by its name in the interface, rendered. */
  readonly functions: ReadonlyMap<string, string>;
}

/** The bytes are not a component this decoder understands. */
export class ComponentTypesError extends Error {
  override readonly name = "ComponentTypesError";
}

type Ty =
  | { readonly k: "text"; readonly text: string }
  | { readonly k: "resource"; readonly name: string }
  | {
      readonly k: "func";
      readonly params: readonly Ty[];
      readonly result: Ty | undefined;
      readonly async: boolean;
    }
  | { readonly k: "instance"; readonly exports: ReadonlyMap<string, Export> };

/** What an extern description names: a type, a function or an instance of a type; or another sort. */
type Export = { readonly kind: "type" | "func" | "instance"; readonly ty: Ty } | { readonly kind: "other" };

const UNKNOWN: Ty = { k: "text", text: "?" };

const PRIMITIVES: Readonly<Record<number, string>> = {
  127: "bool",
  126: "s8",
  125: "u8",
  124: "s16",
  123: "u16",
  122: "s32",
  121: "u32",
  120: "s64",
  119: "u64",
  118: "f32",
  117: "f64",
  116: "char",
  115: "string",
  100: "error-context",
};

const SECTION_ALIAS = 6;
const SECTION_TYPE = 7;
const SECTION_IMPORT = 10;
const SECTION_EXPORT = 11;
const SECTION_INSTANCE = 5;
const SORT_TYPE = 0x03;
const SORT_INSTANCE = 0x05;

class Reader {
  readonly bytes: Uint8Array;
  pos: number;
  readonly end: number;
  constructor(bytes: Uint8Array, pos: number, end: number) {
    this.bytes = bytes;
    this.pos = pos;
    this.end = end;
  }
  byte(): number {
    if (this.pos >= this.end) throw new ComponentTypesError("unexpected end of a section");
    return this.bytes[this.pos++]!;
  }
  peek(): number {
    if (this.pos >= this.end) throw new ComponentTypesError("unexpected end of a section");
    return this.bytes[this.pos]!;
  }
  u32(): number {
    let result = 0;
    let shift = 0;
    for (;;) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
      if (shift > 28) throw new ComponentTypesError("a LEB128 number is too long");
    }
    return result;
  }
  /** A type index in value-type position: signed LEB128 (33 bits), never negative here. */
  s33(): number {
    let result = 0;
    let shift = 0;
    let b: number;
    do {
      b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (shift > 35) throw new ComponentTypesError("a LEB128 number is too long");
    } while (b & 0x80);
    if (b & 0x40) throw new ComponentTypesError("a negative type index");
    return result;
  }
  string(): string {
    const length = this.u32();
    if (this.pos + length > this.end) throw new ComponentTypesError("a name runs past its section");
    const text = new TextDecoder("utf-8", { fatal: true }).decode(
      this.bytes.subarray(this.pos, this.pos + length),
    );
    this.pos += length;
    return text;
  }
  /** An import or export name: a discriminant byte (0x00, or 0x01 in older encodings), then the name. */
  externName(): string {
    const tag = this.byte();
    if (tag !== 0x00 && tag !== 0x01) throw new ComponentTypesError(`unknown name encoding 0x${hex(tag)}`);
    return this.string();
  }
  vec<T>(item: () => T): T[] {
    const n = this.u32();
    const items: T[] = [];
    for (let i = 0; i < n; i++) items.push(item());
    return items;
  }
  option<T>(item: () => T): T | undefined {
    const tag = this.byte();
    if (tag === 0x00) return undefined;
    if (tag === 0x01) return item();
    throw new ComponentTypesError(`unknown option byte 0x${hex(tag)}`);
  }
}

function hex(n: number): string {
  return n.toString(16).padStart(2, "0");
}

/** A type index space: the component's, or one instance type's (outer aliases see `parent`). */
class Scope {
  readonly types: Ty[] = [];
  readonly parent: Scope | undefined;
  constructor(parent?: Scope) {
    this.parent = parent;
  }
  type(index: number): Ty {
    return this.types[index] ?? UNKNOWN;
  }
}

function valType(r: Reader, scope: Scope): Ty {
  const b = r.peek();
  const primitive = PRIMITIVES[b];
  if (primitive !== undefined) {
    r.pos++;
    return { k: "text", text: primitive };
  }
  return scope.type(r.s33());
}

function text(ty: Ty | undefined): string {
  if (ty === undefined) return "_";
  switch (ty.k) {
    case "text":
      return ty.text;
    case "resource":
      return ty.name;
    case "func":
      return `${ty.async ? "async " : ""}func(${ty.params.map(text).join(", ")})${ty.result ? ` -> ${text(ty.result)}` : ""}`;
    case "instance":
      return "instance";
  }
}

const t = (s: string): Ty => ({ k: "text", text: s });

/** A defined value type whose opcode `b` has been read. */
function defValType(b: number, r: Reader, scope: Scope): Ty {
  switch (b) {
    case 0x72: {
      const fields = r.vec(() => `${r.string()}: ${text(valType(r, scope))}`);
      return t(`record { ${fields.join(", ")} }`);
    }
    case 0x71: {
      const cases = r.vec(() => {
        const name = r.string();
        const payload = r.option(() => valType(r, scope));
        if (r.byte() !== 0x00) throw new ComponentTypesError("a variant case refines another (unsupported)");
        return payload ? `${name}(${text(payload)})` : name;
      });
      return t(`variant { ${cases.join(", ")} }`);
    }
    case 0x70:
      return t(`list<${text(valType(r, scope))}>`);
    case 0x67: {
      const element = text(valType(r, scope));
      return t(`list<${element}, ${r.u32()}>`);
    }
    case 0x6f:
      return t(`tuple<${r.vec(() => text(valType(r, scope))).join(", ")}>`);
    case 0x6e:
      return t(`flags { ${r.vec(() => r.string()).join(", ")} }`);
    case 0x6d:
      return t(`enum { ${r.vec(() => r.string()).join(", ")} }`);
    case 0x6b:
      return t(`option<${text(valType(r, scope))}>`);
    case 0x6a: {
      const ok = r.option(() => valType(r, scope));
      const err = r.option(() => valType(r, scope));
      if (ok === undefined && err === undefined) return t("result");
      if (err === undefined) return t(`result<${text(ok)}>`);
      return t(`result<${text(ok)}, ${text(err)}>`);
    }
    case 0x69:
      return t(`own<${text(scope.type(r.u32()))}>`);
    case 0x68:
      return t(`borrow<${text(scope.type(r.u32()))}>`);
    case 0x66: {
      const element = r.option(() => valType(r, scope));
      return t(element ? `stream<${text(element)}>` : "stream");
    }
    case 0x65: {
      const element = r.option(() => valType(r, scope));
      return t(element ? `future<${text(element)}>` : "future");
    }
    default: {
      const primitive = PRIMITIVES[b];
      if (primitive !== undefined) return t(primitive);
      throw new ComponentTypesError(`unknown type opcode 0x${hex(b)}`);
    }
  }
}

/** One `type` (deftype) of a type section or instance declaration. */
function defType(r: Reader, scope: Scope): Ty {
  const b = r.byte();
  switch (b) {
    case 0x40:
    case 0x43: {
      const params = r.vec(() => {
        r.string();
        return valType(r, scope);
      });
      const tag = r.byte();
      let result: Ty | undefined;
      if (tag === 0x00) result = valType(r, scope);
      else if (tag === 0x01) {
        if (r.u32() !== 0) throw new ComponentTypesError("named function results (unsupported)");
      } else throw new ComponentTypesError(`unknown result list 0x${hex(tag)}`);
      return { k: "func", params, result, async: b === 0x43 };
    }
    case 0x41:
      componentType(r, scope);
      return UNKNOWN;
    case 0x42:
      return instanceType(r, scope);
    case 0x3f: {
      if (r.byte() !== 0x7f) throw new ComponentTypesError("a resource whose representation is not i32");
      r.option(() => r.u32());
      return { k: "resource", name: "resource" };
    }
    default:
      return defValType(b, r, scope);
  }
}

const OTHER: Export = { kind: "other" };

/** An extern description, of an import or an export named `name`. */
function externDesc(r: Reader, scope: Scope, name: string): Export {
  const kind = r.byte();
  switch (kind) {
    case 0x00:
      if (r.byte() !== 0x11) throw new ComponentTypesError("a core extern that is not a module");
      r.u32();
      return OTHER;
    case 0x01:
      return { kind: "func", ty: scope.type(r.u32()) };
    case 0x02:
      // A value bound: `eq` a value index, or a value type.
      if (r.byte() === 0x00) r.u32();
      else valType(r, scope);
      return OTHER;
    case 0x03: {
      const bound = r.byte();
      if (bound === 0x00) return { kind: "type", ty: scope.type(r.u32()) };
      if (bound === 0x01) return { kind: "type", ty: { k: "resource", name } };
      throw new ComponentTypesError(`unknown type bound 0x${hex(bound)}`);
    }
    case 0x04:
      r.u32();
      return OTHER;
    case 0x05:
      return { kind: "instance", ty: scope.type(r.u32()) };
    default:
      throw new ComponentTypesError(`unknown extern kind 0x${hex(kind)}`);
  }
}

/** An alias inside a type declaration: only outer type aliases are allowed there. */
function declAlias(r: Reader, scope: Scope): void {
  const sort = r.byte();
  if (sort === 0x00) r.byte();
  const target = r.byte();
  if (target === 0x02) {
    let count = r.u32();
    const index = r.u32();
    let outer: Scope | undefined = scope;
    while (count-- > 0) outer = outer?.parent;
    if (sort === SORT_TYPE) scope.types.push(outer?.type(index) ?? UNKNOWN);
    return;
  }
  if (target === 0x00 || target === 0x01) {
    r.u32();
    r.string();
    if (sort === SORT_TYPE) scope.types.push(UNKNOWN);
    return;
  }
  throw new ComponentTypesError(`unknown alias target 0x${hex(target)}`);
}

function instanceType(r: Reader, parent: Scope): Ty {
  const scope = new Scope(parent);
  const exports = new Map<string, Export>();
  const n = r.u32();
  for (let i = 0; i < n; i++) instanceDecl(r, scope, exports);
  return { k: "instance", exports };
}

function instanceDecl(r: Reader, scope: Scope, exports: Map<string, Export>): void {
  const tag = r.byte();
  switch (tag) {
    case 0x00:
      throw new ComponentTypesError("a core type inside an instance type (unsupported)");
    case 0x01:
      scope.types.push(defType(r, scope));
      return;
    case 0x02:
      declAlias(r, scope);
      return;
    case 0x04: {
      const name = r.externName();
      const desc = externDesc(r, scope, name);
      exports.set(name, desc);
      if (desc.kind === "type") scope.types.push(desc.ty);
      return;
    }
    default:
      throw new ComponentTypesError(`unknown instance declaration 0x${hex(tag)}`);
  }
}

/** A component type: parsed only to get past it (guests import instances, not components). */
function componentType(r: Reader, parent: Scope): void {
  const scope = new Scope(parent);
  const exports = new Map<string, Export>();
  const n = r.u32();
  for (let i = 0; i < n; i++) {
    if (r.peek() === 0x03) {
      r.pos++;
      const name = r.externName();
      const desc = externDesc(r, scope, name);
      if (desc.kind === "type") scope.types.push(desc.ty);
    } else {
      instanceDecl(r, scope, exports);
    }
  }
}

function sortOf(r: Reader): number {
  const sort = r.byte();
  if (sort === 0x00) {
    r.byte();
    return -1;
  }
  return sort;
}

/**
 * Every instance the component imports and the type of each function it imports from it.
 * Throws ComponentTypesError when the bytes are not a component it can walk (not when a single
 * type is unknown: that one renders as `?`).
 *
 * @example
 * const store = importedInterfaces(bytes).find((i) => i.unversioned === "wasi:keyvalue/store");
 * store?.functions.get("[method]bucket.list-keys"); // "func(borrow<bucket>, option<u64>) -> result<…>"
 */
export function importedInterfaces(bytes: Uint8Array): ImportedInterface[] {
  if (
    bytes.byteLength < 8 ||
    bytes[0] !== 0x00 ||
    bytes[1] !== 0x61 ||
    bytes[2] !== 0x73 ||
    bytes[3] !== 0x6d
  ) {
    throw new ComponentTypesError("not WebAssembly");
  }
  if (bytes[6] !== 0x01 || bytes[7] !== 0x00) throw new ComponentTypesError("not a component");
  const scope = new Scope();
  /** The instance index space: an imported instance's type, or undefined for others. */
  const instances: (Ty | undefined)[] = [];
  const imported: ImportedInterface[] = [];
  let pos = 8;
  while (pos < bytes.byteLength) {
    const header = new Reader(bytes, pos, bytes.byteLength);
    const id = header.byte();
    const size = header.u32();
    const end = header.pos + size;
    if (end > bytes.byteLength) throw new ComponentTypesError(`section ${id} runs past the end`);
    const r = new Reader(bytes, header.pos, end);
    pos = end;
    switch (id) {
      case SECTION_TYPE: {
        const n = r.u32();
        for (let i = 0; i < n; i++) scope.types.push(defType(r, scope));
        break;
      }
      case SECTION_IMPORT: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const name = r.externName();
          const desc = externDesc(r, scope, name);
          if (desc.kind === "instance") {
            instances.push(desc.ty);
            if (desc.ty.k === "instance") imported.push(describe(name, desc.ty));
          } else if (desc.kind === "type") {
            scope.types.push(desc.ty);
          }
        }
        break;
      }
      case SECTION_ALIAS: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const sort = sortOf(r);
          const target = r.byte();
          let ty: Ty | undefined;
          if (target === 0x00) {
            const instance = instances[r.u32()];
            const name = r.string();
            const exported = instance?.k === "instance" ? instance.exports.get(name) : undefined;
            ty = exported?.kind === "other" ? undefined : exported?.ty;
          } else if (target === 0x01) {
            r.u32();
            r.string();
          } else if (target === 0x02) {
            r.u32();
            r.u32();
          } else {
            throw new ComponentTypesError(`unknown alias target 0x${hex(target)}`);
          }
          if (sort === SORT_TYPE) scope.types.push(ty ?? UNKNOWN);
          else if (sort === SORT_INSTANCE) instances.push(ty);
        }
        break;
      }
      case SECTION_INSTANCE: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const tag = r.byte();
          if (tag === 0x00) {
            r.u32();
            r.vec(() => {
              r.string();
              sortOf(r);
              r.u32();
            });
          } else if (tag === 0x01) {
            r.vec(() => {
              r.externName();
              sortOf(r);
              r.u32();
            });
          } else {
            throw new ComponentTypesError(`unknown instance expression 0x${hex(tag)}`);
          }
          instances.push(undefined);
        }
        break;
      }
      case SECTION_EXPORT: {
        const n = r.u32();
        for (let i = 0; i < n; i++) {
          const name = r.externName();
          const sort = sortOf(r);
          const index = r.u32();
          const ascribed = r.option(() => externDesc(r, scope, name));
          if (sort === SORT_TYPE)
            scope.types.push(ascribed?.kind === "type" ? ascribed.ty : scope.type(index));
          else if (sort === SORT_INSTANCE) instances.push(undefined);
        }
        break;
      }
      default:
        // Core modules, core instances and types, nested components, canonical functions, start,
        // values and custom sections add nothing to the type or instance index spaces.
        break;
    }
  }
  return imported;
}

function describe(name: string, instance: Ty & { k: "instance" }): ImportedInterface {
  const at = name.indexOf("@");
  const functions = new Map<string, string>();
  for (const [item, exported] of instance.exports) {
    if (exported.kind === "func") functions.set(item, text(exported.ty));
  }
  return {
    name,
    unversioned: at === -1 ? name : name.slice(0, at),
    version: at === -1 ? undefined : name.slice(at + 1),
    functions,
  };
}
