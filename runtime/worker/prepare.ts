// Deploy-time preparation: check that the upload is a component we can serve, transpile it with
// jco (JSPI for the handler and every host import that waits on this gateway), and write the
// result to a directory the guest workers load from. Runs inside prepare.worker.ts so transpiling
// never blocks requests.

import { createHash } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { transpile } from "@bytecodealliance/jco";
import { asyncImports, refusals, revisionsOf, supportedImports } from "../capabilities/index.ts";
import type { ComponentInfo } from "../component-info.ts";
import { customSection } from "../component-sections.ts";
import { RuntimeError } from "../errors.ts";
import { MAX_SOURCE_MAP_BYTES, SOURCE_MAP_FILE, SOURCE_MAP_SECTION } from "../guest-error.ts";
import type { DeployHost, PrepareLimits } from "../protocol.ts";
import { capMemory } from "./memory-cap.ts";

const WASM_MAGIC = [0x00, 0x61, 0x73, 0x6d];
const CORE_VERSION = [0x01, 0x00, 0x00, 0x00];
const COMPONENT_VERSION = [0x0d, 0x00, 0x01, 0x00];
const HTTP_HANDLER = /^wasi:http\/incoming-handler@0\.2\.\d+$/;
const EDGE_HANDLER = /^wasmgate:edge\/handler@0\.1\.\d+$/;

/** What a component may import: every interface some capability implements. */
export const SUPPORTED_IMPORTS: ReadonlySet<string> = supportedImports();

function startsWith(bytes: Uint8Array, offset: number, expected: number[]): boolean {
  return expected.every((b, i) => bytes[offset + i] === b);
}

/** Cheap checks on the bytes alone, before any parsing. */
export function checkComponentHeader(bytes: Uint8Array, maxBytes: number): void {
  if (bytes.byteLength === 0) throw new RuntimeError("ERR_COMPONENT_EMPTY", "the upload is empty");
  if (bytes.byteLength > maxBytes) {
    throw new RuntimeError(
      "ERR_COMPONENT_TOO_LARGE",
      `the component is ${bytes.byteLength} bytes; the limit is ${maxBytes} bytes`,
    );
  }
  if (bytes.byteLength < 8 || !startsWith(bytes, 0, WASM_MAGIC)) {
    throw new RuntimeError("ERR_COMPONENT_NOT_WASM", "the upload is not WebAssembly (no \\0asm header)");
  }
  if (startsWith(bytes, 4, CORE_VERSION)) {
    throw new RuntimeError(
      "ERR_COMPONENT_CORE_MODULE",
      "the upload is a core WebAssembly module, not a component; build it with `jco componentize` or `wasm-tools component new`",
    );
  }
  if (!startsWith(bytes, 4, COMPONENT_VERSION)) {
    throw new RuntimeError("ERR_COMPONENT_INVALID", "the upload has an unknown WebAssembly version or layer");
  }
}

export type { PrepareLimits };

/**
 * Validates and transpiles `bytes` into `outDir` (written atomically: a temp directory renamed
 * into place). Throws a RuntimeError with an `ERR_COMPONENT_*` code when the upload is unusable,
 * or cannot run on `host` (Spin's sqlite on a Redis-backed gateway).
 */
export async function prepareComponent(
  bytes: Uint8Array,
  outDir: string,
  limits: PrepareLimits,
  host: DeployHost = { kv: undefined },
): Promise<ComponentInfo> {
  checkComponentHeader(bytes, limits.maxBytes);
  let result: { files: Record<string, Uint8Array>; imports: string[]; exports: [string, string][] };
  try {
    result = (await transpile(bytes, {
      name: "component",
      instantiation: "async",
      asyncMode: "jspi",
      asyncImports: asyncImports(host),
      asyncExports: ["wasi:http/incoming-handler#handle", "wasmgate:edge/handler#handle"],
      emitTypescriptDeclarations: false,
    } as never)) as never;
  } catch (err) {
    throw new RuntimeError("ERR_COMPONENT_INVALID", `the component could not be parsed: ${firstLine(err)}`, {
      cause: err,
    });
  }

  const names = result.exports.map(([name]) => name);
  const handlerExport =
    names.find((name) => HTTP_HANDLER.test(name)) ?? names.find((name) => EDGE_HANDLER.test(name));
  if (!handlerExport) {
    const found = result.exports.map(([name]) => name).filter((n) => n.includes(":"));
    throw new RuntimeError(
      "ERR_COMPONENT_NO_HANDLER",
      `the component exports neither wasi:http/incoming-handler@0.2.x nor wasmgate:edge/handler@0.1.x (it exports: ${found.join(", ") || "nothing"})`,
    );
  }
  const missing = result.imports.filter((name) => !SUPPORTED_IMPORTS.has(name));
  if (missing.length > 0) {
    throw new RuntimeError(
      "ERR_COMPONENT_UNSUPPORTED_IMPORTS",
      `the component imports interfaces this gateway does not provide: ${missing.join(", ")}`,
    );
  }
  const refused = refusals(result.imports, host);
  if (refused.length > 0) {
    throw new RuntimeError(
      "ERR_COMPONENT_IMPORT_UNAVAILABLE",
      `the component cannot run on this gateway: ${refused.join("; ")}`,
    );
  }
  // jco links imports by unversioned name, so a revision the host does not serve would link and
  // trap on its first call: each capability reads the revision from the component's own types.
  const revisions = revisionsOf(bytes, result.imports);

  let singleUse = false;
  for (const [name, data] of Object.entries(result.files)) {
    if (!name.endsWith(".wasm")) continue;
    let module: WebAssembly.Module;
    try {
      module = await WebAssembly.compile(
        capMemory(data, limits.memoryBytes).bytes as Uint8Array<ArrayBuffer>,
      );
    } catch (err) {
      if (err instanceof RuntimeError) throw err;
      throw new RuntimeError("ERR_COMPONENT_INVALID", `the component's code is invalid: ${firstLine(err)}`, {
        cause: err,
      });
    }
    const exported = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
    // StarlingMonkey's built-in fetch-event handler exports `handle` without the post-return
    // function that a JS `incomingHandler` export gets from the splicer.
    if (
      exported.has(`${handlerExport}#handle`) &&
      !exported.has(`cabi_post_${handlerExport}#handle`) &&
      exported.has("wizer.resume")
    ) {
      singleUse = true;
    }
  }

  const tmp = `${outDir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  for (const [name, data] of Object.entries(result.files)) await writeFile(join(tmp, name), data);
  await writeFile(join(tmp, "package.json"), '{ "type": "module" }\n');
  // The bundle's source map, which deploy-cli embeds, so guest errors name the project's lines.
  const sourceMap = customSection(bytes, SOURCE_MAP_SECTION);
  if (sourceMap && sourceMap.byteLength <= MAX_SOURCE_MAP_BYTES) {
    await writeFile(join(tmp, SOURCE_MAP_FILE), sourceMap);
  }
  const info: ComponentInfo = {
    world: EDGE_HANDLER.test(handlerExport) ? "edge" : "wasi-http",
    handlerExport,
    singleUse,
    imports: result.imports,
    revisions,
    preparedFor: host.kv,
    files: Object.keys(result.files),
    digests: Object.fromEntries(
      Object.entries(result.files).map(([name, data]) => [
        name,
        createHash("sha256").update(data).digest("base64url"),
      ]),
    ),
  };
  await writeFile(join(tmp, "info.json"), JSON.stringify(info));
  await rm(outDir, { recursive: true, force: true });
  await rename(tmp, outDir);
  return info;
}

function firstLine(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  return text.split("\n")[0]!.slice(0, 300);
}
