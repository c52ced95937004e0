// deploy-cli dev: serve the project on this machine as the gateway would, rebuilding and reloading
// it on every save. A build that fails is shown and the last good version keeps serving.

import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { APP_NAME } from "../../gateway/schemas.ts";
import {
  BuildError,
  BuildToolError,
  buildEntry,
  createComponentizer,
  entryKind,
  shownPath,
  summarizeBuildError,
  summarizeTypeCheck,
  TypeCheckError,
  typeCheck,
} from "../build/index.ts";
import { bucketsOf, grantsOf, type LoadedManifest, loadManifest } from "../build/manifest.ts";
import type { Command } from "../command.ts";
import { createDevOutput } from "../dev/output.ts";
import { exists, sourceHash, watchProject } from "../dev/watch.ts";
import { CliError } from "../errors.ts";
import { formatBytes, formatSeconds } from "../format.ts";
import { HINTS } from "../hints.ts";
import { ADMIN_URL_FILE, DEFAULT_STATE_DIR } from "../profiles.ts";
import { resolveEntry } from "./push.ts";

/** Beside a gateway's own 8787 (data) and 8788 (admin), so `dev` and a gateway run side by side. */
export const DEV_PORT = 8789;
/** Long enough to take an editor's save (a write and a rename) as one change. */
const DEBOUNCE_MS = 40;

function appNameFrom(dir: string): string {
  return path
    .basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "")
    .slice(0, 63);
}

function portOf(raw: unknown): number {
  if (raw === undefined) return DEV_PORT;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 65535) {
    throw new CliError("ERR_USAGE", `--port takes a port number (0 picks a free one), not "${raw}"`);
  }
  return n;
}

export const dev: Command = {
  name: "dev",
  summary: "serve the project locally with hot reload and persistent KV",
  usage:
    "dev [entry] [--port <n>] [--ip <addr>] [--persist-to <dir> | --no-persist] [--no-watch] [--no-check] [--fast]",
  details: `Starts a gateway in this process (no Redis, no token needed), builds the entry (default:
"main" from wasmgate.json, else src/index.ts) and serves the app at http://<app>.localhost:<port>/
(also http://localhost:<port>/). The project's files are watched: a save rebuilds and reloads the
app; a build that fails (or a TypeScript entry with type errors) is printed and the last good
version keeps serving. Each request is printed
with the guest's console output under it. Key-value data is kept in .wasmgate/kv.db across
sessions; \`deploy-cli kv …\` run in the project reads it while dev runs.

  --port <n>          data plane port (default ${DEV_PORT}; 0 picks a free one)
  --ip <addr>         address to listen on (default 127.0.0.1)
  --persist-to <dir>  where key-value data is kept (default .wasmgate)
  --no-persist        keep key-value data only for this session
  --no-watch          build and serve once, without watching
  --no-check          build a .ts entry without type-checking it (tsc --noEmit on its tsconfig.json)
  --app <name>        the app's name (default: wasmgate.json "name", else the folder's name)
  --fast              build for the QuickJS fast world
  --manifest <file>   a wasmgate.json elsewhere
With --json, every event (ready, build, reload, request with its logs, log, warning) is a JSON
object on its own line.`,
  examples: [
    "deploy-cli dev",
    "deploy-cli dev src/worker.ts --port 9000",
    "deploy-cli dev --no-persist --json",
  ],
  options: {
    port: { type: "string" },
    ip: { type: "string" },
    "persist-to": { type: "string" },
    "no-persist": { type: "boolean" },
    "no-watch": { type: "boolean" },
    "no-check": { type: "boolean" },
    app: { type: "string" },
    fast: { type: "boolean" },
    manifest: { type: "string" },
  },
  async run(ctx) {
    const { values } = ctx;
    const manifestFile = values.manifest as string | undefined;
    let manifest: LoadedManifest | undefined = await loadManifest({ file: manifestFile, dir: process.cwd() });
    const projectDir = manifest?.dir ?? process.cwd();
    const fallback = path.join(projectDir, "src", "index.ts");
    const entry =
      ctx.args[0] === undefined && !manifest?.manifest.main && (await exists(fallback))
        ? fallback
        : resolveEntry(ctx.args[0], manifest, "dev");
    const kind = await entryKind(entry);
    const app = (values.app as string | undefined) ?? manifest?.manifest.name ?? appNameFrom(projectDir);
    if (!APP_NAME.test(app)) {
      throw new CliError(
        "ERR_USAGE",
        `"${app}" is not an app name: 1-63 lower-case letters, digits or dashes`,
        {
          hint: 'pass --app <name>, or set "name" in wasmgate.json',
        },
      );
    }
    const port = portOf(values.port);
    const ip = (values.ip as string | undefined) ?? "127.0.0.1";
    const fast = values.fast === true || manifest?.manifest.fast === true;
    const persistDir =
      values["no-persist"] === true
        ? undefined
        : path.resolve(
            (values["persist-to"] as string | undefined) ?? path.join(projectDir, DEFAULT_STATE_DIR),
          );
    const scratch = persistDir ? undefined : await mkdtemp(path.join(tmpdir(), "wasmgate-dev-kv-"));
    const kvPath = path.join(persistDir ?? scratch!, "kv.db");
    const ignored = persistDir ? [path.relative(projectDir, persistDir)] : [];

    const output = createDevOutput({ json: ctx.json });
    // The gateway (Hono, the runtime, pino) loads only for dev, not for every deploy-cli command.
    const { startDevGateway } = await import("../dev/gateway.ts");
    const gw = await startDevGateway({
      port,
      ip,
      kvPath,
      onRequest: (request) => output.request(request),
      onOutput: (line) => output.output(line),
      onWarning: (warning) => output.warning(warning),
    }).catch(async (err) => {
      if (scratch) await rm(scratch, { recursive: true, force: true });
      throw err;
    });
    const shownHost = ip === "0.0.0.0" || ip === "127.0.0.1" || ip === "::" ? "localhost" : ip;
    const url = `http://${app}.${shownHost}:${gw.port}/`;

    // `deploy-cli kv …` in the project finds this session like a local gateway: the admin URL and
    // token next to the data. Never over a real gateway's own state directory.
    const discovery: [string, string][] = [];
    if (persistDir && !(await exists(path.join(persistDir, "state.db")))) {
      discovery.push([path.join(persistDir, ADMIN_URL_FILE), gw.adminUrl]);
      discovery.push([path.join(persistDir, "operator-token"), gw.token]);
      for (const [file, content] of discovery) {
        await writeFile(file, `${content}\n`, { mode: 0o600 });
        await chmod(file, 0o600);
      }
    }

    let appliedSettings = "";
    async function configure(): Promise<void> {
      const m = manifest?.manifest;
      const hostnames = [...new Set([...(m?.hostnames ?? []), `${app}.localhost`, "localhost", "127.0.0.1"])];
      const settings = {
        hostnames,
        ...Object.fromEntries(
          Object.entries(grantsOf(m)).filter(([, v]) => !(Array.isArray(v) && v.length === 0)),
        ),
        ...(m?.limits ? { limits: m.limits } : {}),
      };
      const key = JSON.stringify([settings, m?.vars]);
      if (key === appliedSettings) return;
      await gw.putApp(app, settings);
      for (const [name, value] of Object.entries(m?.vars ?? {})) await gw.setVar(app, name, value);
      appliedSettings = key;
    }

    const componentizer = createComponentizer();
    const relEntry = shownPath(entry);
    let lastHash: string | undefined;
    let live = false;
    let building = false;
    let first = true;
    const pending = new Set<string>();
    async function reload(changed: string[]): Promise<void> {
      const started = performance.now();
      manifest = (await loadManifest({ file: manifestFile, dir: process.cwd() })) ?? manifest;
      await configure();
      const hash = await sourceHash(projectDir, [entry], ignored);
      if (hash === lastHash) return;
      lastHash = hash;
      if (changed.length > 0) {
        // An editor's temporary files are gone by now: name the files that are still there.
        const present: string[] = [];
        for (const file of changed) if (await exists(path.join(projectDir, file))) present.push(file);
        const names = present.length > 0 ? present : changed;
        const what = names.length <= 3 ? names.join(", ") : `${names.length} files`;
        output.event("change", { files: names }, `[wasmgate] ${what} changed: rebuilding…`);
      }
      let bytes: Uint8Array;
      let buildMs = 0;
      if (kind === "wasm") bytes = new Uint8Array(await readFile(entry));
      else {
        // The first build takes seconds (the engine is compiled in); say so before it starts.
        if (changed.length === 0) {
          output.event(
            "building",
            { entry: relEntry },
            `[wasmgate] building ${relEntry} (${fast ? "QuickJS, fast world" : "StarlingMonkey"})…`,
          );
        }
        // The type check runs beside the build (a save waits for the slower of the two, not
        // both); a build that fails says so first, with the bundler's view of the source.
        const checked: Promise<unknown> =
          values["no-check"] === true
            ? Promise.resolve()
            : typeCheck({ entry, displayRoot: projectDir }).then(
                () => undefined,
                (err: unknown) => err,
              );
        const work = await mkdtemp(path.join(tmpdir(), "wasmgate-dev-build-"));
        try {
          const built = await buildEntry({
            entry,
            out: path.join(work, "component.wasm"),
            fast,
            world: manifest?.manifest.world,
            bindings:
              manifest?.manifest.buckets === undefined ? undefined : bucketsOf(manifest.manifest).bindings,
            displayRoot: projectDir,
            componentizer,
            dev: true,
          });
          for (const warning of built.warnings)
            output.event("warning", { message: warning }, `[wasmgate] ${warning}`, "stderr");
          const checkError = await checked;
          if (checkError !== undefined) throw checkError;
          bytes = new Uint8Array(await readFile(built.path));
          buildMs = built.durationMs;
          output.event(
            "build",
            { ok: true, ms: Math.round(buildMs), size: built.size },
            `[wasmgate] built ${relEntry} in ${formatSeconds(buildMs)} (${formatBytes(built.size)})`,
          );
        } finally {
          await rm(work, { recursive: true, force: true });
        }
      }
      const result = await gw.deploy(app, bytes);
      live = true;
      const ms = performance.now() - started;
      output.event(
        "reload",
        {
          deployment: result.deployment.id,
          digest: result.deployment.digest,
          ms: Math.round(ms),
          buildMs: Math.round(buildMs),
        },
        `[wasmgate] ${app} reloaded in ${formatSeconds(ms)}: ${url}`,
      );
    }

    /** Runs reloads one at a time; changes that arrive during one cause exactly one more. */
    async function cycle(): Promise<void> {
      if (building) return;
      building = true;
      try {
        while (first || pending.size > 0) {
          first = false;
          const changed = [...pending];
          pending.clear();
          try {
            await reload(changed);
          } catch (err) {
            reportFailure(err);
          }
        }
      } finally {
        building = false;
      }
    }

    function reportFailure(err: unknown): void {
      const still = live ? "; still serving the last good version" : "";
      if (err instanceof BuildError) {
        const summary = summarizeBuildError(err.message);
        output.event(
          "build",
          { ok: false, error: summary, detail: err.message },
          `[wasmgate] ${relEntry} does not build${still}:\n${err.message}\n`,
          "stderr",
        );
      } else if (err instanceof TypeCheckError) {
        output.event(
          "build",
          {
            ok: false,
            code: "ERR_TYPE_CHECK_FAILED",
            error: summarizeTypeCheck(err),
            detail: err.message,
            diagnostics: err.diagnostics,
          },
          `[wasmgate] ${relEntry} does not type-check${still}:\n${err.message}\n` +
            `[wasmgate] hint: ${HINTS.ERR_TYPE_CHECK_FAILED}\n`,
          "stderr",
        );
      } else if (
        err instanceof CliError ||
        err instanceof BuildToolError ||
        (err as { code?: string })?.code
      ) {
        const e = err as Error & { code?: string };
        output.event(
          "error",
          { code: e.code ?? "ERR_BUILD_TOOL", message: e.message },
          `[wasmgate] ${e.message}${e.code ? ` (${e.code})` : ""}${still}`,
          "stderr",
        );
      } else {
        output.event(
          "error",
          { code: "ERR_INTERNAL", message: String(err) },
          `[wasmgate] ${String(err)}${still}`,
          "stderr",
        );
      }
    }

    await cycle();
    const where = persistDir
      ? path.relative(process.cwd(), kvPath) || kvPath
      : "this session only (--no-persist)";
    output.event(
      "ready",
      { app, url, port: gw.port, adminUrl: gw.adminUrl, live, kv: persistDir ? kvPath : null },
      `[wasmgate] ${live ? `${app} is live at ${url}` : `${app} is not live yet: fix the error above and save`}\n` +
        `[wasmgate] key-value data: ${where}; admin API: ${gw.adminUrl}\n` +
        `[wasmgate] ${values["no-watch"] ? "not watching" : `watching ${path.relative(process.cwd(), projectDir) || "."} for changes`}; Ctrl+C stops`,
    );

    const watcher =
      values["no-watch"] === true
        ? undefined
        : watchProject({
            dir: projectDir,
            files: [entry],
            ignored,
            debounceMs: DEBOUNCE_MS,
            onChange(changed) {
              for (const file of changed) pending.add(file);
              void cycle();
            },
          });

    await new Promise<void>((resolve) => {
      process.once("SIGINT", () => resolve());
      process.once("SIGTERM", () => resolve());
    });
    watcher?.close();
    output.close();
    await componentizer.close();
    await gw.close();
    for (const [file, content] of discovery) {
      const current = await readFile(file, "utf8").catch(() => "");
      if (current.trim() === content) await rm(file, { force: true });
    }
    if (scratch) await rm(scratch, { recursive: true, force: true });
    output.event("stopped", {}, "[wasmgate] stopped");
    // Whatever still holds the event loop (a closing socket) must not keep the command alive.
    setTimeout(() => process.exit(0), 1000).unref();
  },
};
