// The stacks guests run on. A call into a guest that may suspend (JSPI) runs on a stack of its
// own, which V8 takes from a pool of finished ones. The pool keeps at most 4 MiB of stacks, and a
// stack is 984 KiB by default: with more than four guests suspended at once (a busy worker whose
// guests wait on Redis), nearly every call mapped a fresh stack, two `mmap` and one `madvise` per
// request (`perf stat` of a fast-world Redis counter at 32 connections: 14,000-19,000 `mmap`s in
// 5 s, against about 100 at 1-4 connections). Growable stacks start with one small segment and add
// segments as a guest goes deeper, to about the same limit as before (test/fixtures/deep-calls
// overflows past about 1,980 calls, against 2,271 with the default stacks), so the pool holds 64
// of them and calls reuse them. V8's flags are the process's: this runs on import, before any
// worker starts.

import { setFlagsFromString } from "node:v8";

/** The first segment of a guest's stack; deeper calls add segments. */
export const GUEST_STACK_FIRST_SEGMENT_KIB = 64;

/**
 * The V8 these flags were measured on (Node 24's). On another, where the growable-stacks flag may
 * be gone, a 64 KiB stack would stay 64 KiB and cut a guest's depth to a tenth, so V8's defaults
 * stay there.
 */
const MEASURED_V8 = /^13\./;

if (MEASURED_V8.test(process.versions.v8)) {
  setFlagsFromString("--experimental-wasm-growable-stacks");
  setFlagsFromString(`--wasm-stack-switching-stack-size=${GUEST_STACK_FIRST_SEGMENT_KIB}`);
}
