// wasi:keyvalue (store, atomics, batch) in every revision revisions.ts lists, and our
// wasmgate:kv/ext, on a KvStore.
//
// A bucket identifier is the app's own bucket, or a tenant-level one the app names as shared
// (grant.ts), and an app may open only the buckets granted to it: anything else is
// `access-denied`. On Redis every store call suspends the guest through JSPI (the wait is not
// charged as CPU and a deadline interrupts it); the embedded store answers at once, on the guest's
// own thread. Every call counts against the request's operation budget, and reports failures as
// the WIT error variant, never as a trap. Each instance is linked to the revision its component
// was built against, read from the component's types at deploy; all revisions serve the same
// store under the same grants (host.ts).

import type { Capability } from "../types.ts";
import { type BucketScope, bucketScope, bucketsGrant, sharedBucketsGrant } from "./grant.ts";
import { createKvHost, type KvGrant } from "./host.ts";
import { detectKvRevision, kvRevision } from "./revisions.ts";

export type { KvGrant } from "./host.ts";

/**
 * Host imports that wait on the store: the transpile marks them async (JSPI). Unversioned, so
 * one list covers every revision (a revision without a function simply never calls it).
 */
export const KV_ASYNC_IMPORTS = [
  "wasi:keyvalue/store#[method]bucket.get",
  "wasi:keyvalue/store#[method]bucket.set",
  "wasi:keyvalue/store#[method]bucket.delete",
  "wasi:keyvalue/store#[method]bucket.exists",
  "wasi:keyvalue/store#[method]bucket.list-keys",
  "wasi:keyvalue/atomics#increment",
  "wasi:keyvalue/atomics#swap",
  "wasi:keyvalue/atomics#[static]cas.new",
  "wasi:keyvalue/batch#get-many",
  "wasi:keyvalue/batch#set-many",
  "wasi:keyvalue/batch#delete-many",
  "wasmgate:kv/ext#set-with-options",
  "wasmgate:kv/ext#get-with-metadata",
  "wasmgate:kv/ext#list-page",
] as const;

/**
 * Of those, the ones that stay async on the embedded store, where the rest are plain calls (see
 * host.ts): host functions made of awaits (draft's u64 `list-keys` cursors, `swap`'s second read).
 */
export const KV_ASYNC_IMPORTS_EMBEDDED = [
  "wasi:keyvalue/store#[method]bucket.list-keys",
  "wasi:keyvalue/atomics#swap",
] as const satisfies readonly (typeof KV_ASYNC_IMPORTS)[number][];

const NO_KV: KvGrant = Object.freeze({
  tenant: "",
  app: "",
  buckets: Object.freeze([]),
  sharedBuckets: Object.freeze([]),
  opsLeft: 0,
});

/**
 * wasi:keyvalue (0.2.0-draft2 in both its published shapes, and 0.2.0-draft) and wasmgate:kv/ext
 * on the gateway's store: an app opens only the buckets granted to it, each request has an
 * operation budget (`kvOps`).
 */
export const keyValue: Capability<BucketScope, KvGrant> = {
  name: "keyvalue",
  docs: "docs/guides/key-value.md",
  asyncImports: (host) => (host.kv === "sqlite" ? KV_ASYNC_IMPORTS_EMBEDDED : KV_ASYNC_IMPORTS),
  imports: ({ current, services, revision }) =>
    kvRevision(revision).imports(createKvHost(services.kvStore, current, services.onKvOpLimit)),
  revision: detectKvRevision,
  grants: [bucketsGrant, sharedBucketsGrant],
  forApp: (access) => bucketScope(access.tenant, access.app, access.grants),
  begin: (app, limits) => ({ ...app, opsLeft: limits.kvOps }),
  idle: NO_KV,
};
