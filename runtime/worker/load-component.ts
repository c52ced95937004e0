// Loads jco's generated component.js so that it can be garbage-collected again. An ES module
// imported with import() stays in the module map for the life of the thread; with hundreds of
// deployments (0.4-1.2 MB of generated JS each) a worker could never give that memory back. The
// generated module uses only a few ES-module-only forms, rewritten here into a script that returns
// `instantiate`; anything unexpected falls back to import(). jco's debug logging, which reads an
// environment variable on each of its calls (hundreds per request), is switched off for good.

import { readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";
import { Script } from "node:vm";
import { LEAN_HELPERS, leanHostCalls } from "./lean-host-calls.ts";

const require = createRequire(import.meta.url);

/** Loads `file` (whose text is `source`, when the caller has read it already). */
export async function loadInstantiate<T>(
  file: string,
  source?: string,
): Promise<{ instantiate: T; bytes: number }> {
  source ??= await readFile(file, "utf8");
  const url = pathToFileURL(file).href;
  let rewritten = source
    .replace(/^export function instantiate\(/m, "function instantiate(")
    .replace(/^export const _util = /m, "const _util = ")
    .replaceAll("import.meta.url", JSON.stringify(url))
    .replaceAll("await import('node:fs/promises')", "__require('node:fs/promises')")
    .replaceAll("globalThis?.process?.env?.JCO_DEBUG", "false");
  // jco records every resource representation a handle table ever held and never forgets one; where
  // the glue never reads that record, it is dropped instead of growing by a few entries per request.
  if (!source.includes("._createdReps.has(")) {
    rewritten = rewritten.replaceAll("table._createdReps.add(rep);", "");
  }
  if (/^(export|import)\s/m.test(rewritten) || /\bimport\s*\(|\bimport\.meta\b/.test(rewritten)) {
    const module = (await import(url)) as { instantiate: T };
    return { instantiate: module.instantiate, bytes: source.length };
  }
  // Host imports without jco's per-call task bookkeeping (lean-host-calls.ts).
  rewritten = leanHostCalls(rewritten);
  const factory = new Script(
    `(function (__require) {"use strict";\n${LEAN_HELPERS}\n${rewritten}\nreturn instantiate;\n})`,
    {
      filename: url,
    },
  ).runInThisContext() as (req: NodeJS.Require) => T;
  return { instantiate: factory(require), bytes: source.length };
}
