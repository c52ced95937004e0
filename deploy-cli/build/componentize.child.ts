// The build process behind componentize.ts: runs jco's componentize command in-process, one build
// at a time, for as long as the parent stays connected.
//
// jco's command module is not part of its public API, so when it cannot be loaded this falls
// back to the `jco componentize` binary (same result, only no warm start and always complete).
// Splicing the world's bindings into the StarlingMonkey engine depends only on the engine, the WIT
// and the world, not on the source: it is kept between builds while those stay the same.

import { spawn } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { ChildReply, ChildRequest, ComponentizeRequest } from "./componentize.ts";
import { packageInfo } from "./packages.ts";

type Run = (request: ComponentizeRequest) => Promise<void>;

let output: string[] = [];
for (const method of ["log", "info", "warn", "error"] as const) {
  console[method] = (...args: unknown[]) => {
    output.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(" "));
  };
}

/** A signature of every file under `dir`, so a WIT edit is noticed without reading the files. */
function treeSignature(dir: string): string {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => {
        const file = path.join(e.parentPath, e.name);
        const s = statSync(file);
        return `${file}:${s.size}:${s.mtimeMs}`;
      })
      .sort()
      .join("|");
  } catch {
    return String(Math.random());
  }
}

/** The request being built, for the splicer hooks below. */
let current: ComponentizeRequest | undefined;

async function hookSplicer(): Promise<void> {
  const jco = packageInfo("@bytecodealliance/jco");
  let dir = jco.dir;
  // componentize-js is jco's dependency: nested under it or hoisted next to it.
  for (const candidate of [
    path.join(jco.dir, "node_modules", "@bytecodealliance", "componentize-js"),
    path.join(path.dirname(jco.dir), "componentize-js"),
  ]) {
    try {
      statSync(path.join(candidate, "lib", "spidermonkey-embedding-splicer.js"));
      dir = candidate;
      break;
    } catch {}
  }
  const module = await import(pathToFileURL(path.join(dir, "lib", "spidermonkey-embedding-splicer.js")).href);
  const splicer = module.splicer as Record<string, (...args: unknown[]) => unknown> | undefined;
  const splice = splicer?.spliceBindings;
  const stub = splicer?.stubWasi;
  if (!splicer || typeof splice !== "function" || typeof stub !== "function") return;
  let last: { key: string; result: unknown } | undefined;
  splicer.spliceBindings = (engine: unknown, ...rest: unknown[]) => {
    const witPath = typeof rest[2] === "string" ? rest[2] : "";
    const key = JSON.stringify([(engine as Uint8Array)?.byteLength, rest, treeSignature(witPath)]);
    if (last?.key !== key) last = { key, result: splice(engine, ...rest) };
    return last.result;
  };
  splicer.stubWasi = (bin: unknown, ...rest: unknown[]) =>
    current?.keepUnusedImports ? bin : stub(bin, ...rest);
}

async function inProcess(): Promise<Run> {
  const jco = packageInfo("@bytecodealliance/jco");
  const command = await import(pathToFileURL(path.join(jco.dir, "dist", "cmd", "componentize.js")).href);
  if (typeof command.componentize !== "function") throw new Error("jco has no componentize command module");
  await hookSplicer().catch(() => {});
  return async (request) => {
    await command.componentize(request.entry, {
      wit: request.wit,
      worldName: request.world,
      backend: request.backend,
      out: request.out,
      bundle: true,
      ...(request.bundleConfig ? { bundleConfig: request.bundleConfig } : {}),
    });
  };
}

function viaBinary(): Run {
  const jco = packageInfo("@bytecodealliance/jco");
  const bin = path.join(jco.dir, jco.bin.jco ?? "dist/jco.js");
  return (request) =>
    new Promise((resolve, reject) => {
      const args = [bin, "componentize", request.entry, "--wit", request.wit, "--world-name", request.world];
      args.push("--backend", request.backend, "-o", request.out, "--bundle");
      if (request.bundleConfig) args.push("--bundle-config", request.bundleConfig);
      const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
      let text = "";
      child.stdout.setEncoding("utf8").on("data", (c: string) => {
        text += c;
      });
      child.stderr.setEncoding("utf8").on("data", (c: string) => {
        text += c;
      });
      child.on("error", reject);
      child.on("close", (code) => {
        if (code === 0) {
          output.push(...text.split("\n").filter((l) => l.trim() !== "" && !l.startsWith("OK ")));
          resolve();
        } else reject(new Error(text.replace(/^\(jco componentize\)\s*/, "")));
      });
    });
}

/** The compiler's message without the tools' stack traces, paths relative to `root`. */
function clean(message: string, request: ComponentizeRequest): string {
  let text = message
    .split("\n")
    .filter((line) => !/^\s+at .+/.test(line) && !/^\s*(errors: \[Getter\/Setter\]|\{|\})\s*$/.test(line))
    .join("\n")
    .replace(/^Error: /, "")
    .trim();
  if (request.displayRoot) {
    // Rolldown names files relative to the entry's folder, which is a temporary one.
    const prefix = path.relative(path.dirname(request.entry), request.displayRoot);
    if (prefix !== "") text = text.split(`${prefix}${path.sep}`).join("");
  }
  return text;
}

let runner: Promise<Run> | undefined;
let queue: Promise<unknown> = Promise.resolve();

async function handle({ id, request }: ChildRequest): Promise<ChildReply> {
  let run: Run;
  try {
    runner ??= inProcess().catch(() => viaBinary());
    run = await runner;
  } catch (err) {
    return { id, ok: false, kind: "tool", message: (err as Error).message };
  }
  output = [];
  current = request;
  try {
    await run(request);
    const warnings = output.filter((l) => !/^\S*OK\S* Successfully written/.test(l) && l.trim() !== "");
    return { id, ok: true, warnings };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    return { id, ok: false, kind: "build", message: clean(message, request) };
  } finally {
    current = undefined;
  }
}

process.on("message", (msg: ChildRequest) => {
  const reply = queue.then(() => handle(msg));
  queue = reply;
  void reply.then((r) => process.send?.(r));
});
process.on("disconnect", () => process.exit(0));
