// What every revision's host functions share: the app's grant, the request's operation budget,
// suspension through JSPI, and store failures as the WIT error variant (never a trap). A revision
// is only the shapes: which functions, which values in and out (see revisions.ts).

import { isKvError, type KvNamespace, type KvStore } from "../../../kv/index.ts";
import { GuestStopped, suspend } from "../../worker/cpu-meter.ts";
import { type BucketScope, bucketNamespace } from "./grant.ts";

/** What the running request may do; set by the worker before each call. */
export interface KvGrant extends BucketScope {
  /** Store operations left for this request. */
  opsLeft: number;
}

/** `wasi:keyvalue/store.error`, the same in every revision. */
export type StoreError = { tag: "no-such-store" } | { tag: "access-denied" } | { tag: "other"; val: string };

/** The one host every revision's functions run on, for one instance. */
export interface KvHost {
  /**
   * Runs one store call for the guest: takes `ops` from the request's budget, suspends the guest
   * while it waits, and turns a failure into the error variant (`error::other("<code>: …")`).
   */
  op<T>(fn: (store: KvStore) => Promise<T>, ops?: number): Promise<T>;
  /** The namespace of a bucket the app was granted; `error::access-denied` for any other. */
  open(identifier: string): KvNamespace;
}

/**
 * One revision of `wasi:keyvalue`: what a component built against it imports, and the host
 * functions that serve it from the same store and grants as every other revision.
 */
export interface KvRevision {
  /** Recorded in ComponentInfo.revisions.keyvalue, e.g. `0.2.0-draft`. */
  readonly id: string;
  /** The package version in the component's import names. */
  readonly version: string;
  /** Who publishes it, for docs and refusals. */
  readonly origin: string;
  /**
   * Every function of the revision, by interface (`store`, `atomics`, `batch`) and name, as
   * component-types.ts renders a component's imports: a component is served this revision only
   * if every function it imports from `wasi:keyvalue` is here with exactly this shape.
   */
  readonly functions: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** The host functions of one instance, keyed by unversioned interface name as jco links them. */
  imports(host: KvHost): Record<string, object>;
}

/** `error`, as component-types.ts renders it. */
export const ERROR = "variant { no-such-store, access-denied, other(string) }";
/** `result<ok, error>`, rendered. */
export const result = (ok: string) => `result<${ok}, ${ERROR}>`;

export function reject(payload: unknown): never {
  throw { payload };
}

function storeError(err: unknown): StoreError {
  if (isKvError(err)) return { tag: "other", val: `${err.code}: ${err.message}` };
  return { tag: "other", val: `ERR_KV_INTERNAL: ${(err as Error)?.message ?? String(err)}` };
}

export function createKvHost(
  store: () => KvStore,
  grant: () => KvGrant,
  /** Told when a call is refused for the request's operation budget (it never reaches the store). */
  onOpLimit: () => void = () => {},
): KvHost {
  return {
    async op(fn, ops = 1) {
      const g = grant();
      if (g.opsLeft < ops) {
        onOpLimit();
        reject({ tag: "other", val: "ERR_KV_OP_LIMIT: this request used up its key-value operations" });
      }
      g.opsLeft -= ops;
      try {
        return await suspend(fn(store()));
      } catch (err) {
        // A stopped guest (deadline, CPU, client gone) must unwind, not carry on with an error value.
        if (err instanceof GuestStopped) throw err;
        reject(storeError(err));
      }
    },
    open(identifier) {
      return bucketNamespace(grant(), identifier) ?? reject({ tag: "access-denied" });
    },
  };
}
