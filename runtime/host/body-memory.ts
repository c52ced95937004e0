// Request and response bodies cross the main thread as ArrayBuffers. Their bytes live outside the
// V8 heap and are freed only when the small objects wrapping them are collected. The main thread
// makes few JS objects per chunk, so its young generation fills slowly, and V8 collects for
// external memory only past about 64 MiB: two 100 MiB echoes raised the gateway's peak RSS by
// 80-100 MiB. A minor collection (a scavenge: about a millisecond, and the wrappers are young)
// after every BODY_BYTES_PER_COLLECTION bytes brings that to 22-43 MiB.

import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";

const BODY_BYTES_PER_COLLECTION = 16 * 1024 * 1024;

type Collect = (options: { type: "minor"; execution: "sync" }) => void;

/** V8's gc(), exposed for contexts made from now on; undefined if this V8 does not offer it. */
function loadCollect(): Collect | undefined {
  setFlagsFromString("--expose-gc");
  const gc: unknown = runInNewContext("typeof gc === 'function' ? gc : undefined");
  return typeof gc === "function" ? (gc as Collect) : undefined;
}

const collect = loadCollect();
let sinceCollection = 0;

/** Counts body bytes that passed through this thread, collecting young garbage now and then. */
export function bodyBytesPassed(bytes: number): void {
  sinceCollection += bytes;
  if (sinceCollection < BODY_BYTES_PER_COLLECTION) return;
  sinceCollection = 0;
  collect?.({ type: "minor", execution: "sync" });
}
