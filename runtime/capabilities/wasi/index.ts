// The wasi imports every guest gets, keyed by unversioned interface name: jco's instantiation
// looks imports up without the version, so one implementation serves every 0.2.x a component uses.

import type { Capability } from "../types.ts";
import { createCliImports, type GuestOutput } from "./cli.ts";
import { createClockImports } from "./clocks.ts";
import { createDeniedImports } from "./denied.ts";
import { linkDirectly } from "./direct.ts";
import { createHttpImports } from "./http.ts";
import { InputStream, IoError, OutputStream, Pollable, poll } from "./io.ts";

export { GuestExit, GuestOutput, type GuestStream } from "./cli.ts";
export { linkDirectly } from "./direct.ts";
export {
  type ErrorCode,
  HOP_BY_HOP,
  IncomingRequest,
  type IncomingRequestInit,
  OutgoingBody,
  ResponseOutparam,
  type ResponseSink,
} from "./http.ts";
export { ByteQueue } from "./io.ts";

/**
 * Host imports that may suspend the guest (JSPI). Names are unversioned: jco matches them against
 * every version of the interface.
 */
export const ASYNC_IMPORTS = [
  "wasi:io/poll#poll",
  "wasi:io/poll#[method]pollable.block",
  "wasi:io/streams#[method]input-stream.blocking-read",
  "wasi:io/streams#[method]input-stream.blocking-skip",
  "wasi:io/streams#[method]output-stream.blocking-flush",
  "wasi:io/streams#[method]output-stream.blocking-write-and-flush",
  "wasi:io/streams#[method]output-stream.blocking-write-zeroes-and-flush",
  "wasi:io/streams#[method]output-stream.blocking-splice",
] as const;

export function createWasiImports(output: GuestOutput): Record<string, Record<string, unknown>> {
  return {
    "wasi:io/error": { Error: IoError },
    "wasi:io/poll": { Pollable, poll },
    "wasi:io/streams": { InputStream, OutputStream },
    ...createClockImports(),
    ...createCliImports(output),
    ...createHttpImports(),
    ...createDeniedImports(),
    // Types only (records); the fast world's functions are exports.
    "wasmgate:edge/types": {},
  };
}

/**
 * The basics every guest has and needs no grant for: wasi:io, clocks, random, cli (stdout and
 * stderr become log lines; no environment, arguments or stdin), the wasi:http types and incoming
 * handler, and filesystem and sockets that grant nothing.
 */
export const wasi: Capability<undefined, undefined> = {
  name: "wasi",
  docs: "docs/guides/components.md",
  asyncImports: ASYNC_IMPORTS,
  imports: (ctx) => createWasiImports(ctx.output),
  linkCore: linkDirectly,
  forApp: () => undefined,
  begin: () => undefined,
  idle: undefined,
};
