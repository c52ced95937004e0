// wasi:clocks and wasi:random. Timers are pollables that resolve on the worker's event loop, so a
// guest waiting on one (setTimeout in StarlingMonkey) is suspended through JSPI, not spinning.

import { randomBytes } from "node:crypto";
import { Pollable } from "./io.ts";

const NS_PER_MS = 1_000_000n;

function sleepNs(ns: bigint): Pollable {
  if (ns <= 0n) return new Pollable();
  return new Pollable(new Promise((resolve) => setTimeout(resolve, Number(ns / NS_PER_MS) || 1)));
}

/** wasi:clocks/monotonic-clock `now`: nanoseconds from an arbitrary start. */
export const monotonicNow = (): bigint => process.hrtime.bigint();

export function createClockImports() {
  const monotonic = {
    now: monotonicNow,
    resolution: (): bigint => 1n,
    subscribeDuration: (ns: bigint): Pollable => sleepNs(ns),
    subscribeInstant: (when: bigint): Pollable => sleepNs(when - process.hrtime.bigint()),
  };
  const wall = {
    now() {
      const ms = Date.now();
      return { seconds: BigInt(Math.floor(ms / 1000)), nanoseconds: (ms % 1000) * 1_000_000 };
    },
    resolution: () => ({ seconds: 0n, nanoseconds: 1_000_000 }),
  };
  const random = {
    getRandomBytes: (len: bigint): Uint8Array => new Uint8Array(randomBytes(Number(len))),
    getRandomU64: (): bigint => randomBytes(8).readBigUInt64LE(),
  };
  const insecure = {
    getInsecureRandomBytes: random.getRandomBytes,
    getInsecureRandomU64: random.getRandomU64,
  };
  const insecureSeed = {
    insecureSeed: (): [bigint, bigint] => [random.getRandomU64(), random.getRandomU64()],
  };
  return {
    "wasi:clocks/monotonic-clock": monotonic,
    "wasi:clocks/wall-clock": wall,
    "wasi:random/random": random,
    "wasi:random/insecure": insecure,
    "wasi:random/insecure-seed": insecureSeed,
  };
}
