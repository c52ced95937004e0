// fermyon:spin/key-value@2.0.0: Spin's key-value stores, served by the host that every revision of
// wasi:keyvalue runs on (../keyvalue/host.ts): the same store, grants and budget, so a component
// built with Spin's SDKs keeps its data here unchanged.
//
// A Spin store label is a bucket: `Store.open(label)` opens the app's bucket of that name when the
// app is granted it (`buckets`; `deploy-cli push spin.toml` grants each component's
// `key_value_stores`), else it is `access-denied`. Store calls suspend the guest on Redis (the
// embedded store answers at once), count against the request's one `kvOps` budget, which this
// capability shares with wasi:keyvalue, and fail as the interface's `error` variant (`other` with
// the store's error code), never as a trap: wasi's store errors have the same cases and shapes as
// Spin's.

import type { KvNamespace, KvStore } from "../../../kv/index.ts";
import type { BucketScope } from "../keyvalue/grant.ts";
import { createKvHost } from "../keyvalue/host.ts";
import { type KvGrant, keyValue } from "../keyvalue/index.ts";
import type { Capability, Suspending } from "../types.ts";

type SpinStore = import("fermyon:spin/key-value@2.0.0").Store;

/** Host functions that wait on the store: the transpile marks them async (JSPI). */
export const SPIN_KV_ASYNC_IMPORTS = [
  "fermyon:spin/key-value#[method]store.get",
  "fermyon:spin/key-value#[method]store.set",
  "fermyon:spin/key-value#[method]store.delete",
  "fermyon:spin/key-value#[method]store.exists",
  "fermyon:spin/key-value#[method]store.get-keys",
] as const;

/** Of those, the one that stays async on the embedded store: a listing is a loop of pages. */
export const SPIN_KV_ASYNC_IMPORTS_EMBEDDED = [
  "fermyon:spin/key-value#[method]store.get-keys",
] as const satisfies readonly (typeof SPIN_KV_ASYNC_IMPORTS)[number][];

/**
 * @example
 * const imports = createSpinKeyValueImports(() => store, () => grant);
 * imports["fermyon:spin/key-value"].Store.open("default");
 */
export function createSpinKeyValueImports(
  store: () => KvStore,
  grant: () => KvGrant,
  onOpLimit: () => void = () => {},
) {
  // wasi:keyvalue's store errors are Spin's, case for case: the host's rejections need no mapping.
  const { op, open } = createKvHost(store, grant, onOpLimit);

  class Store implements Omit<Suspending<SpinStore>, typeof Symbol.dispose> {
    readonly #ns: KvNamespace;
    private constructor(ns: KvNamespace) {
      this.#ns = ns;
    }
    static open(label: string): Store {
      return new Store(open(label));
    }
    get(key: string) {
      return op((s) => s.get(this.#ns, key));
    }
    set(key: string, value: Uint8Array) {
      return op((s) => s.set(this.#ns, key, value));
    }
    delete(key: string) {
      return op((s) => s.delete(this.#ns, key));
    }
    exists(key: string) {
      return op((s) => s.exists(this.#ns, key));
    }
    /** Every key: one store operation per page of the listing. */
    async getKeys(): Promise<string[]> {
      const keys: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await op((s) => s.listKeys(this.#ns, cursor === undefined ? {} : { cursor }));
        keys.push(...page.keys);
        cursor = page.cursor;
      } while (cursor !== undefined);
      return keys;
    }
  }

  return { "fermyon:spin/key-value": { Store } };
}

/** Spin's key-value interface on wasi:keyvalue's grants (`buckets`) and request state (`kvOps`). */
export const spinKeyValue: Capability<BucketScope, KvGrant> = {
  name: "spin-key-value",
  docs: "runtime/capabilities/spin-key-value/README.md",
  asyncImports: (host) => (host.kv === "sqlite" ? SPIN_KV_ASYNC_IMPORTS_EMBEDDED : SPIN_KV_ASYNC_IMPORTS),
  imports: ({ current, services }) =>
    createSpinKeyValueImports(services.kvStore, current, services.onKvOpLimit),
  sharesStateOf: keyValue,
  forApp: keyValue.forApp,
  begin: keyValue.begin,
  idle: keyValue.idle,
};
