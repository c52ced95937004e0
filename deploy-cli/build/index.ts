/**
 * Builds a guest's entry module into a component, the way `push` and `dev` do.
 *
 * An entry that default-exports a handler (`export default { fetch }`, or a Hono app) is an SDK
 * guest: it is built against world `sdk-guest` through a small generated module that passes it
 * to the SDK's `serve()` and exports the result as `incomingHandler`. Any other entry is built as
 * it is, against the world it names (default `sdk-guest` for StarlingMonkey, `edge-kv` for the
 * fast world). Everything an entry imports is bundled; `wasmgate` resolves to the SDK.
 *
 * @example
 *   const built = await buildEntry({ entry: "/app/src/index.ts", out: "/app/.wasmgate/build/app.wasm" });
 */

import { randomUUID } from "node:crypto";
import { mkdtemp, open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { CliError } from "../errors.ts";
import { type Backend, BuildError, type Componentizer, componentize } from "./componentize.ts";
import { INSTALL_ROOT } from "./packages.ts";
import { bundleConfigSource, embedSourceMap } from "./source-map.ts";

export { BuildError, BuildToolError, type Componentizer, createComponentizer } from "./componentize.ts";
export { isTypeScriptEntry, summarizeTypeCheck, TypeCheckError, typeCheck } from "./typecheck.ts";

export const WIT_DIR = path.join(INSTALL_ROOT, "wit");
export const SDK_ENTRY = path.join(INSTALL_ROOT, "sdk", "index.ts");
export const SDK_WORLD = "sdk-guest";
export const FAST_WORLD = "edge-kv";
export const DEFAULT_BINDINGS: Readonly<Record<string, string>> = { KV: "default" };
const SOURCE_EXTENSIONS = /\.(?:[cm]?[jt]s|tsx)$/i;

export interface BuildOptions {
  /** The entry module, absolute. */
  entry: string;
  /** Where the component goes, absolute; written atomically. */
  out: string;
  /** QuickJS and the fast world instead of StarlingMonkey. */
  fast?: boolean;
  /** World for entries that are not SDK guests. */
  world?: string | undefined;
  /** SDK guests: KV binding name → bucket (default `{ KV: "default" }`). */
  bindings?: Readonly<Record<string, string>> | undefined;
  /** Paths in build errors are shown relative to this folder (the project). */
  displayRoot?: string;
  /** A warm build process to use (dev); otherwise one is started for this build. */
  componentizer?: Componentizer;
  /** A development build (see ComponentizeRequest.keepUnusedImports). */
  dev?: boolean;
}

export interface BuildResult {
  path: string;
  size: number;
  sdk: boolean;
  backend: Backend;
  world: string;
  durationMs: number;
  warnings: string[];
}

export type EntryKind = "wasm" | "source";

/** A path as the user would write it: relative to the working directory when it is inside it. */
export function shownPath(file: string): string {
  const relative = path.relative(process.cwd(), file);
  return relative === "" ? "." : relative.startsWith("..") || path.isAbsolute(relative) ? file : relative;
}

/** Checks that `file` is something push and dev can use, and says which kind. */
export async function entryKind(file: string): Promise<EntryKind> {
  const shown = shownPath(file);
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(file);
  } catch {
    throw new CliError("ERR_FILE_NOT_FOUND", `no such file: ${shown}`, {
      hint: "pass a .wasm component or a .ts/.js entry module, or create a project with `deploy-cli init`",
    });
  }
  if (info.isDirectory()) {
    throw new CliError("ERR_NOT_A_FILE", `${shown} is a directory, not a component or an entry module`, {
      hint: `pass the file itself (e.g. ${path.join(shown, "src", "index.ts")}), or run the command inside the project`,
    });
  }
  if (file.toLowerCase().endsWith(".wasm")) return "wasm";
  if (SOURCE_EXTENSIONS.test(file)) return "source";
  throw new CliError("ERR_ENTRY_UNSUPPORTED", `${shown} is neither a .wasm component nor a .ts/.js module`, {
    hint: "pass a built .wasm, or the guest's entry module (src/index.ts)",
  });
}

/** True when the module default-exports a handler and does not export wasi:http itself. */
export function isSdkSource(source: string): boolean {
  const defaultExport =
    /^\s*export\s+default\b/m.test(source) || /\bexport\s*\{[^}]*\bas\s+default\b/.test(source);
  const ownExports = /\bexport\s+(?:const|let|var|function|class)\s+(?:incomingHandler|handler)\b/.test(
    source,
  );
  return defaultExport && !ownExports;
}

export async function buildEntry(options: BuildOptions): Promise<BuildResult> {
  const started = performance.now();
  const source = await readFile(options.entry, "utf8");
  const sdk = isSdkSource(source);
  if (sdk && options.fast) {
    throw new CliError(
      "ERR_FAST_NEEDS_HANDLER",
      "an SDK guest (export default { fetch }) cannot be built with --fast",
      {
        hint: "drop --fast; the fast world (QuickJS) takes a module that exports `handler`, like examples/hello-fast",
      },
    );
  }
  const backend: Backend = options.fast ? "quickjs" : "starlingmonkey";
  const world = sdk ? SDK_WORLD : (options.world ?? (options.fast ? FAST_WORLD : SDK_WORLD));
  const work = await mkdtemp(path.join(tmpdir(), "wasmgate-build-"));
  const tmpOut = `${options.out}.${process.pid}-${randomUUID().slice(0, 8)}.tmp`;
  try {
    const bundleConfig = path.join(work, "bundle.config.mjs");
    const mapOut = path.join(work, "bundle.js.map");
    const displayRoot = options.displayRoot ?? path.dirname(options.entry);
    await writeFile(
      bundleConfig,
      bundleConfigSource({ sdkEntry: SDK_ENTRY, mapOut, root: displayRoot, installRoot: INSTALL_ROOT }),
    );
    let entry = options.entry;
    if (sdk) {
      entry = path.join(work, "entry.ts");
      const serveOptions = { kv: options.bindings ?? DEFAULT_BINDINGS };
      await writeFile(
        entry,
        `import handler from ${JSON.stringify(options.entry)};\n` +
          `import { serve } from ${JSON.stringify(SDK_ENTRY)};\n` +
          `export const incomingHandler = serve(handler, ${JSON.stringify(serveOptions)});\n`,
      );
    }
    const request = {
      entry,
      wit: WIT_DIR,
      world,
      backend,
      out: tmpOut,
      bundleConfig,
      displayRoot,
      ...(options.dev ? { keepUnusedImports: true } : {}),
    };
    const { warnings } = options.componentizer
      ? await options.componentizer.build(request)
      : await componentize(request);
    if ((await wasmLayer(tmpOut)) !== "component") {
      throw new BuildError(`building ${options.entry} did not produce a component`);
    }
    const mapped = await embedSourceMap(tmpOut, mapOut);
    if (mapped) await writeFile(tmpOut, mapped);
    await rename(tmpOut, options.out);
    const { size } = await stat(options.out);
    return {
      path: options.out,
      size,
      sdk,
      backend,
      world,
      durationMs: performance.now() - started,
      warnings,
    };
  } finally {
    await rm(tmpOut, { force: true });
    await rm(work, { recursive: true, force: true });
  }
}

/** `component` for `\0asm` + layer `0d 00 01 00`, `core` for version `01 00 00 00`. */
export async function wasmLayer(file: string): Promise<"component" | "core" | "not wasm"> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, "r");
  } catch {
    return "not wasm";
  }
  try {
    const header = Buffer.alloc(8);
    const { bytesRead } = await handle.read(header, 0, 8, 0);
    if (bytesRead < 8 || header.readUInt32BE(0) !== 0x0061736d) return "not wasm";
    const version = header.readUInt32BE(4);
    if (version === 0x0d000100) return "component";
    if (version === 0x01000000) return "core";
    return "not wasm";
  } finally {
    await handle.close();
  }
}

/** One line for a build failure: the compiler's own error with its location, or the first line. */
export function summarizeBuildError(message: string): string {
  const lines = message.split("\n").map((l) => l.trim());
  const coded = lines.find((l) => /^\[[A-Z_]+\] /.test(l));
  if (coded) {
    const where = /╭─\[ (.+?) \]/.exec(message)?.[1];
    return where ? `${coded} (${where})` : coded;
  }
  const thrown = lines.findIndex((l) => l.startsWith("Exception while evaluating top-level script"));
  if (thrown !== -1 && lines[thrown + 1]) return `the module threw while loading: ${lines[thrown + 1]}`;
  return lines.find((l) => l !== "") ?? "the build failed";
}
