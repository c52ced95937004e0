// `list-keys` cursors for revisions whose cursor is a u64 (wasi:keyvalue@0.2.0-draft), over the
// store's string cursors, which carry far more than 64 bits (SQLite: the last key listed, up to
// 512 bytes; Redis: the SCAN cursor and the keys it found past the page).
//
// Each string cursor is kept in the store itself, under a number derived from it, for
// U64_CURSOR_TTL_SECONDS: a page's cursor then resolves on any worker and any gateway sharing the
// store, in a later request too, as a guest that hands its cursor to a client expects.
//
// The number is the first 53 bits of the cursor's SHA-256 (never 0). The same position gets the
// same number, so listing a bucket again rewrites the entries it wrote before instead of adding
// new ones. 53 bits survive every guest language, also those that hold a u64 in a double (QuickJS
// guests built with componentize-qjs get a JavaScript number); two positions of one bucket
// drawing the same number within the hour is a chance of about pages² / 2^54.
//
// Entries live in a namespace of the tenant named after the bucket with a `~`, which no bucket
// grant can name (BUCKET_NAME): no guest and no admin call sees them, and one bucket's numbers
// never resolve in another. A cursor of 0 means "from the start", as Redis' SCAN cursor does, for
// guests that pass 0 for the first page.

import { createHash } from "node:crypto";
import { KvError, type KvNamespace } from "../../../kv/index.ts";
import type { KvCalls } from "./host.ts";

/** How long a cursor handed to a guest stays valid. */
export const U64_CURSOR_TTL_SECONDS = 3600;

/** Cursor numbers are below 2^53, so a guest holding one in a double holds it exactly. */
const CURSOR_BITS = 53n;

/** Where the u64 cursors of `ns`'s listings are kept. */
export function cursorNamespace(ns: KvNamespace): KvNamespace {
  return { tenant: ns.tenant, bucket: `~list-cursors:${ns.bucket}` };
}

/** The number that stands for a string cursor: 1 to 2^53 - 1, the same for the same cursor. */
export function cursorNumber(cursor: string): bigint {
  const n = createHash("sha256").update(cursor).digest().readBigUInt64BE(0) >> (64n - CURSOR_BITS);
  return n === 0n ? 1n : n;
}

/** Keeps `cursor` for the guest and returns the number it gets instead. */
export async function saveCursor(store: KvCalls, ns: KvNamespace, cursor: string): Promise<bigint> {
  const n = cursorNumber(cursor);
  await store.set(cursorNamespace(ns), String(n), new TextEncoder().encode(cursor), {
    ttlSeconds: U64_CURSOR_TTL_SECONDS,
  });
  return n;
}

/** The string cursor `n` stands for; `ERR_KV_CURSOR_INVALID` for a number this bucket never gave out or that expired. */
export async function resolveCursor(store: KvCalls, ns: KvNamespace, n: bigint): Promise<string> {
  const saved = await store.get(cursorNamespace(ns), String(n));
  if (saved === undefined) {
    throw new KvError(
      "ERR_KV_CURSOR_INVALID",
      `the list-keys cursor ${n} was not returned for this bucket, or is older than ${U64_CURSOR_TTL_SECONDS} seconds`,
    );
  }
  return new TextDecoder().decode(saved);
}
