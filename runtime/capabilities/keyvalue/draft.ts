// wasi:keyvalue@0.2.0-draft, the revision WebAssembly/wasi-keyvalue tagged v0.2.0-draft and the
// one wasmCloud's and Wasmtime's hosts implement. Against draft2 it has no compare-and-swap, a u64
// `list-keys` cursor (mapped onto the store's string cursors by u64-cursors.ts), a u64
// `increment`, and `get-many` answering none for a missing key.

import type { KvNamespace } from "../../../kv/index.ts";
import { after, type KvHost, type KvRevision, reject, result } from "./host.ts";
import { resolveCursor, saveCursor } from "./u64-cursors.ts";

function draftImports(host: KvHost): Record<string, object> {
  const { op } = host;

  class Bucket {
    readonly ns: KvNamespace;
    constructor(ns: KvNamespace) {
      this.ns = ns;
    }
    get(key: string) {
      return op((s) => s.get(this.ns, key));
    }
    set(key: string, value: Uint8Array) {
      return op((s) => s.set(this.ns, key, value));
    }
    delete(key: string) {
      return op((s) => s.delete(this.ns, key));
    }
    exists(key: string) {
      return op((s) => s.exists(this.ns, key));
    }
    /** A page and the number of the next; resolving a number and keeping one are a store call each. */
    async listKeys(cursor: bigint | undefined): Promise<{ keys: string[]; cursor: bigint | undefined }> {
      const from =
        cursor === undefined || cursor === 0n
          ? undefined
          : await op((s) => resolveCursor(s, this.ns, cursor));
      const page = await op((s) => s.listKeys(this.ns, from === undefined ? {} : { cursor: from }));
      const next = page.cursor;
      return {
        keys: page.keys,
        cursor: next === undefined ? undefined : await op((s) => saveCursor(s, this.ns, next)),
      };
    }
  }

  return {
    "wasi:keyvalue/store": { open: (identifier: string) => new Bucket(host.open(identifier)), Bucket },
    "wasi:keyvalue/atomics": {
      increment(bucket: Bucket, key: string, delta: bigint) {
        // The store keeps signed 64-bit integers: a delta past 2^63 - 1 is ERR_KV_INTEGER_OVERFLOW.
        return after(
          op((s) => s.increment(bucket.ns, key, delta)),
          (value) => {
            if (value < 0n) {
              reject({
                tag: "other",
                val: `ERR_KV_INTEGER_OVERFLOW: the value is now ${value}, which a u64 cannot hold (the increment was applied)`,
              });
            }
            return value;
          },
        );
      },
    },
    "wasi:keyvalue/batch": {
      getMany(bucket: Bucket, keys: string[]) {
        return after(
          op((s) => s.getMany(bucket.ns, keys), Math.max(1, keys.length)),
          (values) =>
            keys.map((key, i) => {
              const value = values[i];
              return value === undefined ? undefined : ([key, value] as [string, Uint8Array]);
            }),
        );
      },
      setMany(bucket: Bucket, entries: [string, Uint8Array][]) {
        return op((s) => s.setMany(bucket.ns, entries), Math.max(1, entries.length));
      },
      deleteMany(bucket: Bucket, keys: string[]) {
        return op((s) => s.deleteMany(bucket.ns, keys), Math.max(1, keys.length));
      },
    },
  };
}

export const draft: KvRevision = {
  id: "0.2.0-draft",
  version: "0.2.0-draft",
  origin: "WebAssembly/wasi-keyvalue v0.2.0-draft, as wasmCloud and Wasmtime implement it",
  functions: {
    store: {
      open: `func(string) -> ${result("own<bucket>")}`,
      "[method]bucket.get": `func(borrow<bucket>, string) -> ${result("option<list<u8>>")}`,
      "[method]bucket.set": `func(borrow<bucket>, string, list<u8>) -> ${result("_")}`,
      "[method]bucket.delete": `func(borrow<bucket>, string) -> ${result("_")}`,
      "[method]bucket.exists": `func(borrow<bucket>, string) -> ${result("bool")}`,
      "[method]bucket.list-keys": `func(borrow<bucket>, option<u64>) -> ${result("record { keys: list<string>, cursor: option<u64> }")}`,
    },
    atomics: {
      increment: `func(borrow<bucket>, string, u64) -> ${result("u64")}`,
    },
    batch: {
      "get-many": `func(borrow<bucket>, list<string>) -> ${result("list<option<tuple<string, list<u8>>>>")}`,
      "set-many": `func(borrow<bucket>, list<tuple<string, list<u8>>>) -> ${result("_")}`,
      "delete-many": `func(borrow<bucket>, list<string>) -> ${result("_")}`,
    },
  },
  imports: draftImports,
};
