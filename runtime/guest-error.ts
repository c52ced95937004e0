// A guest's uncaught error as its developer reads it. The SDK writes one stderr line,
// `wasmgate:error {"name","message","stack"}`, for an error its handler did not catch; this turns
// it into the error's name and message and a stack whose frames are mapped, through the source map
// deploy-cli embedded in the component, to the project's own files:
//
//   TypeError: something broke in helper
//       at helper (src/index.ts:8:11)
//       at fetch (src/index.ts:15:15)
//
// The line comes from the guest, so nothing in it is trusted: it is parsed without throwing, every
// part is cut to a bound (the whole result stays within a few KiB), and a line that is not what
// the SDK writes stays an ordinary line of output. The source map comes from the tenant too: it is
// read once per deployment, within a size limit, and a map that does not parse maps nothing.

import { readFileSync, statSync } from "node:fs";
import { SourceMap, type SourceMapPayload } from "node:module";
import { join } from "node:path";

/** How the SDK's line for an uncaught error starts. */
export const GUEST_ERROR_PREFIX = "wasmgate:error ";
/** The component's custom section holding the bundle's source map (deploy-cli/build/source-map.ts). */
export const SOURCE_MAP_SECTION = "wasmgate:source-map";
/** Where the preparer keeps it, beside the prepared files. */
export const SOURCE_MAP_FILE = "source-map.json";
/** A larger map is not kept (it would cost the main thread too long to parse). */
export const MAX_SOURCE_MAP_BYTES = 4 * 1024 * 1024;
/** A longer line is left as it is. */
export const MAX_GUEST_ERROR_LINE = 64 * 1024;
/** Bounds of what is shown. */
export const MAX_ERROR_NAME = 100;
export const MAX_ERROR_MESSAGE = 2000;
export const MAX_FRAMES = 30;
const MAX_FRAME_TEXT = 300;

export interface GuestError {
  name: string;
  message: string;
  /** One line per frame, `at fn (src/index.ts:8:11)`, mapped where the source map knows it. */
  stack: string[];
}

interface Frame {
  fn: string;
  file: string;
  line: number;
  column: number;
}

/** Looks up a position of the bundle; undefined where the map has nothing. */
export interface SourceLookup {
  origin(line: number, column: number): { file: string; line: number; column: number } | undefined;
}

const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

/** Control characters (a terminal escape, a line break) shown as spaces, so a field stays one line. */
const printable = (text: string) => text.replace(/[\p{Cc}\u2028\u2029]/gu, " ");

const field = (value: unknown, max: number) => (typeof value === "string" ? cut(printable(value), max) : "");

// SpiderMonkey (StarlingMonkey): `helper@entry.js:344:21`, `@entry.js:9:3` for an anonymous function.
const SPIDERMONKEY_FRAME = /^(.*)@(.+):(\d+):(\d+)$/;
// V8 and QuickJS: `    at helper (entry.js:344:21)` or `    at entry.js:344:21`.
const V8_FRAME = /^\s*at (?:(.+?) \((.+):(\d+):(\d+)\)|(.+):(\d+):(\d+))$/;

function parseFrame(text: string): Frame | undefined {
  const line = text.length > MAX_FRAME_TEXT * 2 ? "" : text;
  const sm = SPIDERMONKEY_FRAME.exec(line);
  if (sm) return { fn: sm[1] ?? "", file: sm[2]!, line: Number(sm[3]), column: Number(sm[4]) };
  const v8 = V8_FRAME.exec(line);
  if (v8?.[2]) return { fn: v8[1] ?? "", file: v8[2], line: Number(v8[3]), column: Number(v8[4]) };
  if (v8?.[5]) return { fn: "", file: v8[5], line: Number(v8[6]), column: Number(v8[7]) };
  return undefined;
}

/**
 * Frames in the bundle are named by its file alone (`entry.js`); frames with a path are the
 * engine's own glue (componentize-js's `…/sources/initializer.js`, a path of the machine that
 * built the component), which say nothing about the guest's code and are left out.
 */
const inBundle = (file: string) => !file.includes("/") && !file.includes("\\");

/** The error in `line` when it is the SDK's structured line, else undefined. Never throws. */
export function parseGuestError(line: string, map?: SourceLookup): GuestError | undefined {
  if (!line.startsWith(GUEST_ERROR_PREFIX) || line.length > MAX_GUEST_ERROR_LINE) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(line.slice(GUEST_ERROR_PREFIX.length));
  } catch {
    return undefined;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return undefined;
  const record = value as Record<string, unknown>;
  const name = field(record.name, MAX_ERROR_NAME) || "Error";
  const message = field(record.message, MAX_ERROR_MESSAGE);
  const stack: string[] = [];
  const lines = typeof record.stack === "string" ? record.stack.split("\n", MAX_FRAMES * 4) : [];
  for (const text of lines) {
    if (stack.length >= MAX_FRAMES) break;
    const frame = parseFrame(text.trimEnd());
    if (!frame || !inBundle(frame.file)) continue;
    stack.push(showFrame(frame, map));
  }
  return { name, message, stack };
}

function showFrame(frame: Frame, map: SourceLookup | undefined): string {
  let where = `${frame.file}:${frame.line}:${frame.column}`;
  if (map && Number.isSafeInteger(frame.line) && Number.isSafeInteger(frame.column)) {
    const origin = safeOrigin(map, frame.line, frame.column);
    if (origin) where = `${origin.file}:${origin.line}:${origin.column}`;
  }
  const fn = cut(printable(frame.fn), MAX_FRAME_TEXT);
  where = cut(printable(where), MAX_FRAME_TEXT);
  return fn === "" ? `at ${where}` : `at ${fn} (${where})`;
}

function safeOrigin(map: SourceLookup, line: number, column: number) {
  try {
    return map.origin(line, column);
  } catch {
    return undefined;
  }
}

/** The error as one text: `TypeError: message`, then one indented line per frame. */
export function formatGuestError(error: GuestError): string {
  const head = error.message === "" ? error.name : `${error.name}: ${error.message}`;
  return [head, ...error.stack.map((frame) => `    ${frame}`)].join("\n");
}

/** A lookup over a source map's JSON text, or undefined when it is no usable map. */
export function sourceLookup(json: string): SourceLookup | undefined {
  let map: SourceMap;
  try {
    const payload = JSON.parse(json) as SourceMapPayload;
    if (payload === null || typeof payload !== "object" || typeof payload.mappings !== "string")
      return undefined;
    if (!Array.isArray(payload.sources)) return undefined;
    map = new SourceMap(payload);
  } catch {
    return undefined;
  }
  return {
    origin(line, column) {
      // Both 1-based, as in the engines' stacks.
      const found = map.findOrigin(line, column) as Partial<{
        fileName: string;
        lineNumber: number;
        columnNumber: number;
      }>;
      if (typeof found.fileName !== "string" || typeof found.lineNumber !== "number") return undefined;
      return { file: found.fileName, line: found.lineNumber, column: found.columnNumber ?? 0 };
    },
  };
}

/** Deployments whose map is kept parsed; the least recently used is dropped past this. */
const CACHED_MAPS = 64;

/** Maps read and parsed per second at most, over all deployments (see SourceMaps). */
const LOADS_PER_SECOND = 2;

/**
 * Source maps of prepared components by their directory, read and parsed on a deployment's first
 * error (not at deploy: most deployments never need one), then kept. The read is synchronous so
 * that the error is told in its place among the request's output, before the request's own line;
 * it happens once per deployment and the map is at most MAX_SOURCE_MAP_BYTES. Tenants whose many
 * apps fail in turn could have every error read a map anew, on the thread that serves everyone:
 * so at most LOADS_PER_SECOND maps are read per second, and an error past that keeps the bundle's
 * positions (its name and message are told all the same).
 */
export class SourceMaps {
  readonly #maps = new Map<string, SourceLookup | undefined>();
  readonly #now: () => number;
  #second = -1;
  #loads = 0;

  constructor(now: () => number = () => performance.now()) {
    this.#now = now;
  }

  get(dir: string): SourceLookup | undefined {
    let found: SourceLookup | undefined;
    if (this.#maps.has(dir)) {
      found = this.#maps.get(dir);
      this.#maps.delete(dir);
    } else {
      const second = Math.floor(this.#now() / 1000);
      if (second !== this.#second) [this.#second, this.#loads] = [second, 0];
      if (this.#loads >= LOADS_PER_SECOND) return undefined;
      this.#loads++;
      found = load(join(dir, SOURCE_MAP_FILE));
    }
    this.#maps.set(dir, found);
    if (this.#maps.size > CACHED_MAPS) this.#maps.delete(this.#maps.keys().next().value!);
    return found;
  }
}

function load(file: string): SourceLookup | undefined {
  try {
    if (statSync(file).size > MAX_SOURCE_MAP_BYTES) return undefined;
    return sourceLookup(readFileSync(file, "utf8"));
  } catch {
    return undefined;
  }
}
