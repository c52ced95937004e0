// deploy-cli push: build the entry if it is source, upload the component as a new deployment of
// the app and make it live. Settings come from flags, then wasmgate.json.

import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  AppLimits,
  type AppView,
  type DeployResponse,
  GRANTS,
  routesProblem,
  type SecretView,
} from "../../gateway/schemas.ts";
import {
  BuildError,
  BuildToolError,
  buildEntry,
  type Componentizer,
  entryKind,
  shownPath,
  summarizeBuildError,
  summarizeTypeCheck,
  TypeCheckError,
  typeCheck,
} from "../build/index.ts";
import { bucketsOf, grantsOf, type LoadedManifest, loadManifest, MANIFEST_FILE } from "../build/manifest.ts";
import { buildKey, keepBuild, reusedBuild } from "../build/reuse.ts";
import { loadSpinApp, spinManifestPath } from "../build/spin-manifest.ts";
import { createClient, type FormPart, multipartBody } from "../client.ts";
import type { Command, CommandContext } from "../command.ts";
import { CliError, usage } from "../errors.ts";
import { formatBytes, formatSeconds, withElapsed } from "../format.ts";
import { HINTS, hintFor } from "../hints.ts";

export const LIMIT_FLAGS = {
  "cpu-ms": "cpuMs",
  "deadline-ms": "deadlineMs",
  "memory-mb": "memoryMb",
  "max-body-bytes": "maxBodyBytes",
  "max-response-bytes": "maxResponseBytes",
  "kv-ops": "kvOps",
  "outbound-requests": "outboundRequests",
  "outbound-connect-timeout-ms": "outboundConnectTimeoutMs",
  "outbound-timeout-ms": "outboundTimeoutMs",
  "outbound-max-response-bytes": "outboundMaxResponseBytes",
  instances: "instances",
} as const satisfies Record<string, keyof AppLimits>;

/** The values of the one setting among the limits that is not a number. */
const INSTANCE_MODES = AppLimits.shape.instances.unwrap().options;

export function limitFlags(values: Record<string, unknown>): AppLimits | undefined {
  const out: AppLimits = {};
  for (const [flag, key] of Object.entries(LIMIT_FLAGS)) {
    const raw = values[flag] as string | undefined;
    if (raw === undefined) continue;
    if (key === "instances") {
      const mode = INSTANCE_MODES.find((m) => m === raw);
      if (mode === undefined) {
        throw new CliError("ERR_USAGE", `--${flag} takes ${INSTANCE_MODES.join(" or ")}, not "${raw}"`);
      }
      out.instances = mode;
      continue;
    }
    const n = Number(raw);
    if (!Number.isInteger(n) || n < 0) {
      throw new CliError("ERR_USAGE", `--${flag} takes a whole number, not "${raw}"`);
    }
    out[key] = n;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export interface BuiltComponent {
  bytes: Uint8Array;
  /** Set when the entry was source and this run built it. */
  build?: { durationMs: number; sdk: boolean; backend: string; world: string };
}

/**
 * The component bytes for `entry`: read as they are, or built from source. A failed build is a
 * CliError whose message is one line and whose detail is the compiler's output.
 */
export async function componentFor(options: {
  entry: string;
  manifest: LoadedManifest | undefined;
  fast: boolean;
  progress: (line: string) => void;
  componentizer?: Componentizer;
}): Promise<BuiltComponent> {
  const { entry, manifest } = options;
  if ((await entryKind(entry)) === "wasm") return { bytes: new Uint8Array(await readFile(entry)) };
  const shown = shownPath(entry);
  const backend = options.fast ? "QuickJS, fast world" : "StarlingMonkey";
  // Builds are kept in a project (a folder with wasmgate.json); an entry pushed on its own is built
  // each time, and nothing is written beside it.
  const projectDir = manifest?.dir;
  const settings = {
    fast: options.fast,
    world: manifest?.manifest.world,
    bindings: manifest?.manifest.buckets === undefined ? undefined : bucketsOf(manifest.manifest).bindings,
  };
  const kept =
    projectDir === undefined
      ? undefined
      : { dir: projectDir, key: await buildKey({ projectDir, entry, options: settings }) };
  const reused = kept && (await reusedBuild(kept.dir, kept.key));
  if (reused !== undefined) {
    options.progress(
      `Reusing the build of ${shown}: nothing it is built from changed (${formatBytes(reused.length)}).`,
    );
    return { bytes: reused };
  }
  const work = await mkdtemp(path.join(tmpdir(), "wasmgate-push-"));
  try {
    const build = () =>
      buildEntry({
        entry,
        out: path.join(work, "component.wasm"),
        ...settings,
        displayRoot: manifest?.dir ?? process.cwd(),
        ...(options.componentizer ? { componentizer: options.componentizer } : {}),
      });
    // Progress goes to stderr; the build's line counts its seconds there on a terminal.
    const built = await withElapsed(`Building ${shown} (${backend})…`, build);
    for (const warning of built.warnings) options.progress(warning);
    options.progress(
      `Built ${built.sdk ? "SDK guest " : ""}in ${formatSeconds(built.durationMs)} (${formatBytes(built.size)}).`,
    );
    const bytes = new Uint8Array(await readFile(built.path));
    if (kept) {
      await keepBuild(kept.dir, kept.key, bytes).catch(() => {
        // A project folder we cannot write to builds again next time; the push goes on.
      });
    }
    return {
      bytes,
      build: { durationMs: built.durationMs, sdk: built.sdk, backend: built.backend, world: built.world },
    };
  } catch (err) {
    if (err instanceof BuildError) {
      throw new CliError("ERR_BUILD_FAILED", `${shown} does not build: ${summarizeBuildError(err.message)}`, {
        hint: "fix the error shown above and push again (`deploy-cli dev` rebuilds on every save)",
        detail: err.message,
      });
    }
    if (err instanceof BuildToolError) {
      throw new CliError("ERR_BUILD_TOOL", `the build tools failed: ${err.message}`, {
        hint: "reinstall wasmgate's dependencies (npm ci) and try again",
      });
    }
    throw err;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** A failed type check as the CLI reports it: one line, the compiler's diagnostics above it. */
export function typeCheckFailure(err: TypeCheckError, entry: string): CliError {
  const n = err.diagnostics.length;
  return new CliError(
    "ERR_TYPE_CHECK_FAILED",
    `${shownPath(entry)} does not type-check (${n} error${n === 1 ? "" : "s"}, ${err.tsconfig}): ${summarizeTypeCheck(err)}`,
    { hint: HINTS.ERR_TYPE_CHECK_FAILED, detail: err.message },
  );
}

/**
 * Type-checks each TypeScript entry's project once (tsc --noEmit on its tsconfig.json), before
 * anything is built: a type error fails the push in about a second, not after the build.
 */
export async function checkTypes(
  entries: readonly string[],
  displayRoot: string,
  progress: (line: string) => void,
): Promise<void> {
  const done = new Set<string>();
  for (const entry of entries) {
    try {
      const started = performance.now();
      const { tsconfig } = await typeCheck({ entry, displayRoot });
      if (tsconfig === undefined || done.has(tsconfig)) continue;
      done.add(tsconfig);
      const shown = path.relative(displayRoot, tsconfig) || tsconfig;
      progress(`Types checked (${shown}, ${formatSeconds(performance.now() - started)}).`);
    } catch (err) {
      if (err instanceof TypeCheckError) throw typeCheckFailure(err, entry);
      if (err instanceof BuildToolError) {
        throw new CliError("ERR_BUILD_TOOL", `the type checker failed: ${err.message}`, {
          hint: "reinstall wasmgate's dependencies (npm ci), or pass --no-check to build without it",
        });
      }
      throw err;
    }
  }
}

/** The entry to use: the argument, else `main` from wasmgate.json. */
export function resolveEntry(
  arg: string | undefined,
  manifest: LoadedManifest | undefined,
  command: string,
): string {
  if (arg !== undefined) return path.resolve(arg);
  if (manifest?.manifest.main) return path.resolve(manifest.dir, manifest.manifest.main);
  throw new CliError("ERR_USAGE", `${command} needs a component or an entry module`, {
    hint: `deploy-cli ${command} app.wasm --app <name>, or add "main" to wasmgate.json (deploy-cli init writes one)`,
  });
}

function progressBar(total: number) {
  const tty = process.stderr.isTTY === true;
  let last = -1;
  return (sent: number) => {
    if (!tty) return;
    const percent = Math.floor((sent / total) * 100);
    if (percent === last) return;
    last = percent;
    process.stderr.write(`\r  ${formatBytes(sent)} / ${formatBytes(total)} (${percent}%)`);
    if (sent === total) process.stderr.write("\n");
  };
}

async function push(ctx: CommandContext): Promise<void> {
  const { values } = ctx;
  if (ctx.args.length > 1) throw usage(`push takes one component or entry module, not ${ctx.args.length}`);
  const spin = await spinManifestPath(path.resolve(ctx.args[0] ?? "."));
  const own = values.manifest !== undefined || existsSync(path.join(process.cwd(), MANIFEST_FILE));
  if (spin && (ctx.args[0] !== undefined || !own)) return pushSpin(ctx, spin);
  const manifest = await loadManifest({ file: values.manifest as string | undefined, dir: process.cwd() });
  const m = manifest?.manifest;
  // wasmgate.json "routes" (pattern → entry) deploys one component per entry on its routes.
  const routes = ctx.args[0] === undefined && m?.routes ? m.routes : undefined;
  const entry = routes ? undefined : resolveEntry(ctx.args[0], manifest, "push");
  const app = (values.app as string | undefined) ?? m?.name;
  if (!app) {
    throw new CliError("ERR_USAGE", "push needs --app <name>", {
      hint: "deploy-cli push app.wasm --app <name>, or run it in a project with a wasmgate.json",
    });
  }
  if (entry) await entryKind(entry);
  const limits = limitFlags(values);
  const target = ctx.target();
  const client = createClient(target);

  // Reachability and the token are checked before a build that may take seconds.
  const existing = await existingApp(client, app);
  const flagHosts = values.host as string[] | undefined;
  const hosts = flagHosts ?? m?.hostnames ?? [];
  if (!existing && hosts.length === 0) {
    throw new CliError("ERR_APP_NOT_FOUND", `there is no app named ${app}`, {
      hint: `create it by pushing with --host, e.g. --host ${app}.localhost (or "hostnames" in wasmgate.json)`,
    });
  }
  await checkBeforeBuild(client, { app, existing, hosts: flagHosts ?? m?.hostnames, manifest, routes });
  const sources = routes ? Object.values(routes).map((f) => path.resolve(manifest!.dir, f)) : [entry!];
  if (values["no-check"] !== true) await checkTypes(sources, manifest?.dir ?? process.cwd(), ctx.progress);
  const fast = values.fast === true || m?.fast === true;
  let body: { bytes: Uint8Array; type: string };
  let build: BuiltComponent["build"];
  if (routes) body = await routedBody(routes, manifest!, fast, ctx.progress);
  else {
    const built = await componentFor({ entry: entry!, manifest, fast, progress: ctx.progress });
    body = { bytes: built.bytes, type: "application/wasm" };
    build = built.build;
  }

  // Each grant from its flag, else from wasmgate.json; an empty list changes nothing.
  const grants = grantsOf(m);
  for (const { field, cli } of GRANTS) {
    const flagged = values[cli.flag] as string[] | undefined;
    if (flagged) grants[field] = cli.parse(flagged);
    if (Array.isArray(grants[field]) && grants[field].length === 0) delete grants[field];
  }
  const wantedLimits = m?.limits || limits ? { ...existing?.limits, ...m?.limits, ...limits } : undefined;
  if (!existing || hosts.length > 0 || wantedLimits || Object.keys(grants).length > 0) {
    await client.putJson(`/v1/apps/${encodeURIComponent(app)}`, {
      ...(hosts.length > 0 ? { hostnames: hosts } : {}),
      ...grants,
      ...(wantedLimits ? { limits: wantedLimits } : {}),
    });
  }
  for (const [name, value] of Object.entries(m?.vars ?? {})) {
    await client.putJson(`/v1/apps/${encodeURIComponent(app)}/vars/${encodeURIComponent(name)}`, { value });
  }

  const result = await uploadNew(ctx, client, app, body, existing === undefined);
  ctx.result(build ? { ...result, build } : result, describeDeploy(result));
}

/** wasmgate.json's routes as one upload: each entry built once, named after its file. */
async function routedBody(
  routes: Record<string, string>,
  manifest: LoadedManifest,
  fast: boolean,
  progress: (line: string) => void,
): Promise<{ bytes: Uint8Array; type: string }> {
  const { table, entries } = routeTable(routes, manifest.dir);
  const parts: FormPart[] = [];
  for (const [entry, name] of entries) {
    const { bytes } = await componentFor({ entry, manifest, fast, progress });
    parts.push({ name, filename: `${name}.wasm`, data: bytes });
  }
  return multipartBody([{ name: "routes", data: JSON.stringify(table), type: "application/json" }, ...parts]);
}

/** wasmgate.json's routes as the upload names them: each entry once, named after its file. */
function routeTable(
  routes: Record<string, string>,
  dir: string,
): { table: { route: string; component: string }[]; entries: Map<string, string> } {
  const entries = new Map<string, string>();
  const table: { route: string; component: string }[] = [];
  for (const [route, file] of Object.entries(routes)) {
    const entry = path.resolve(dir, file);
    let name = entries.get(entry);
    if (name === undefined) {
      const base =
        path
          .basename(entry)
          .replace(/\.[^.]+$/, "")
          .toLowerCase()
          .replace(/[^a-z0-9_-]+/g, "-")
          .replace(/^[^a-z0-9]+/, "") || "component";
      name = base;
      for (let i = 2; [...entries.values()].includes(name); i++) name = `${base}-${i}`;
      entries.set(entry, name);
    }
    table.push({ route, component: name });
  }
  return { table, entries };
}

/**
 * What the gateway would refuse after the build, asked before it (the build takes seconds): a
 * variable of wasmgate.json that is already the app's secret, a hostname another app holds, routes
 * that are not valid. Each is refused with the gateway's own code and words.
 */
async function checkBeforeBuild(
  client: ReturnType<typeof createClient>,
  options: {
    app: string;
    existing: AppView | undefined;
    hosts: readonly string[] | undefined;
    manifest: LoadedManifest | undefined;
    routes: Record<string, string> | undefined;
  },
): Promise<void> {
  const { app, existing, manifest } = options;
  const where = manifest ? shownPath(manifest.file) : "wasmgate.json";
  const refuse = (code: string, message: string) =>
    new CliError({ gateway: code }, message, { hint: hintFor(code, message) });
  if (options.routes) {
    const problem = routesProblem(routeTable(options.routes, manifest!.dir).table);
    if (problem !== undefined) throw refuse("ERR_VALIDATION", `${where}: "routes": ${problem}`);
  }
  const vars = Object.keys(manifest?.manifest.vars ?? {});
  if (existing && vars.length > 0) {
    const { secrets } = await client.get<{ secrets: SecretView[] }>(
      `/v1/apps/${encodeURIComponent(app)}/secrets`,
    );
    const clash = vars.find((name) => secrets.some((s) => s.name === name));
    if (clash !== undefined) {
      throw refuse(
        "ERR_CONFIG_NAME_TAKEN",
        `${where} sets the variable ${clash}, but app ${app} already has a secret named ${clash}; a name is either a variable or a secret`,
      );
    }
  }
  const hosts = options.hosts ?? [];
  if (hosts.length > 0) {
    const { apps } = await client.get<{ apps: AppView[] }>("/v1/apps");
    for (const host of hosts) {
      const owner = apps.find((a) => a.name !== app && a.hostnames.includes(host.toLowerCase()));
      if (owner) {
        throw refuse(
          "ERR_HOSTNAME_TAKEN",
          `hostname ${host} is already bound to another app (${owner.name})`,
        );
      }
    }
  }
}

/**
 * `push spin.toml`: every component with an HTTP route, uploaded as one deployment on Spin's
 * routes, with the app's buckets, outbound hosts, variables and secrets from the manifest
 * (deploy-cli/build/spin-manifest.ts says what maps to what).
 */
async function pushSpin(ctx: CommandContext, file: string): Promise<void> {
  const { values } = ctx;
  const spin = await loadSpinApp(file);
  const app = (values.app as string | undefined) ?? spin.name.toLowerCase().replace(/[^a-z0-9-]+/g, "-");
  for (const note of spin.notes) ctx.progress(note);
  if (values.build === true) {
    for (const c of spin.components) {
      if (!c.build) continue;
      ctx.progress(`Building ${c.id}: ${c.build.command}`);
      await runBuild(c.build.command, c.build.workdir, c.id);
    }
  }
  const parts: FormPart[] = [];
  for (const c of spin.components) {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(await readFile(c.source));
    } catch {
      throw new CliError(
        "ERR_FILE_NOT_FOUND",
        `component ${c.id}: no such file: ${path.relative(process.cwd(), c.source)}`,
        {
          hint: c.build
            ? "build it first: deploy-cli push --build (runs its [component.*.build] command)"
            : "build the component, or fix its source in spin.toml",
        },
      );
    }
    parts.push({ name: c.id, filename: `${c.id}.wasm`, data: bytes });
  }
  const limits = limitFlags(values);
  const client = createClient(ctx.target());
  const existing = await existingApp(client, app);
  const hosts = (values.host as string[] | undefined) ?? [];
  if (!existing && hosts.length === 0) {
    throw new CliError("ERR_APP_NOT_FOUND", `there is no app named ${app}`, {
      hint: `create it by pushing with --host, e.g. deploy-cli push spin.toml --host ${app}.localhost`,
    });
  }
  // What the manifest grants is the whole grant: a component without key-value stores opens none.
  const enc = encodeURIComponent(app);
  await client.putJson(`/v1/apps/${enc}`, {
    ...(hosts.length > 0 ? { hostnames: hosts } : {}),
    buckets: spin.buckets,
    sqliteDatabases: spin.sqliteDatabases,
    allowedOutboundHosts: spin.allowedOutboundHosts,
    ...(limits ? { limits: { ...existing?.limits, ...limits } } : {}),
  });
  for (const [name, value] of Object.entries(spin.vars)) {
    await client.putJson(`/v1/apps/${enc}/vars/${encodeURIComponent(name)}`, { value });
  }
  for (const [name, value] of Object.entries(spin.secrets)) {
    await client.putJson(`/v1/apps/${enc}/secrets/${encodeURIComponent(name)}`, { value });
  }
  const body = multipartBody([
    { name: "routes", data: JSON.stringify(spin.routes), type: "application/json" },
    ...parts,
  ]);
  const result = await uploadNew(ctx, client, app, body, existing === undefined);
  ctx.result(result, describeDeploy(result));
}

/** Runs a component's build command in its folder; a failure is ERR_BUILD_FAILED with its output. */
async function runBuild(command: string, cwd: string, id: string): Promise<void> {
  const child = spawn(command, { cwd, shell: true, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d: Buffer) => {
    output += d;
  });
  child.stderr!.on("data", (d: Buffer) => {
    output += d;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", resolve);
  });
  if (code !== 0) {
    throw new CliError("ERR_BUILD_FAILED", `component ${id}: \`${command}\` exited with ${code}`, {
      hint: "fix the build and push again",
      detail: output.slice(-4000),
    });
  }
}

/** The app as the gateway has it, or undefined when there is none yet. */
async function existingApp(
  client: ReturnType<typeof createClient>,
  app: string,
): Promise<AppView | undefined> {
  try {
    return (await client.get<{ app: AppView }>(`/v1/apps/${encodeURIComponent(app)}`)).app;
  } catch (err) {
    if (err instanceof CliError && err.code === "ERR_APP_NOT_FOUND") return undefined;
    throw err;
  }
}

/**
 * `upload`, and when this push created the app and the gateway refused the upload, deletes the app
 * again: a refused first push leaves no app holding its hostnames.
 */
async function uploadNew(
  ctx: CommandContext,
  client: ReturnType<typeof createClient>,
  app: string,
  body: { bytes: Uint8Array; type: string },
  created: boolean,
): Promise<DeployResponse> {
  try {
    return await upload(ctx, client, app, body);
  } catch (err) {
    if (created && err instanceof CliError && err.exitCode === 1) {
      await client.delete(`/v1/apps/${encodeURIComponent(app)}`).catch(() => {});
    }
    throw err;
  }
}

/** Uploads a deployment (one component, or several as multipart/form-data) and reports progress. */
async function upload(
  ctx: CommandContext,
  client: ReturnType<typeof createClient>,
  app: string,
  { bytes, type }: { bytes: Uint8Array; type: string },
): Promise<DeployResponse> {
  ctx.progress(`Uploading ${formatBytes(bytes.byteLength)} to ${ctx.target().gateway} for app ${app}...`);
  const message = ctx.values.message as string | undefined;
  const query = message ? `?message=${encodeURIComponent(message)}` : "";
  const started = performance.now();
  let activating = false;
  const bar = progressBar(bytes.byteLength);
  const result = await client.postBytes<DeployResponse>(
    `/v1/apps/${encodeURIComponent(app)}/deployments${query}`,
    bytes,
    (sent, total) => {
      bar(sent);
      if (sent === total && !activating) {
        activating = true;
        ctx.progress("Activating (validating and compiling the component)...");
      }
    },
    type,
  );
  ctx.progress(`Live in ${Math.round(performance.now() - started)} ms.`);
  return result;
}

function describeDeploy(result: DeployResponse): string {
  const d = result.deployment;
  const lines = [
    `Deployed ${d.app}: ${d.id}`,
    `  digest  sha256:${d.digest}`,
    `  size    ${formatBytes(d.size)}`,
  ];
  for (const r of d.routes ?? [])
    lines.push(`  route   ${r.route} → ${r.component} (${formatBytes(r.size)})`);
  for (const url of result.urls) lines.push(`  url     ${url}`);
  return `${lines.join("\n")}\n`;
}

/** A grant's flag in the help, its description in the column the other flags use. */
function grantHelp({ cli }: (typeof GRANTS)[number]): string {
  const flag = `  --${cli.flag} ${cli.value}`;
  return flag.length < 27 ? `${flag.padEnd(27)}${cli.help}` : `${flag}\n${" ".repeat(27)}${cli.help}`;
}

export const pushCommand: Command = {
  name: "push",
  summary: "build (for .ts/.js) and deploy an app, then print its URL",
  usage: "push [entry] [--app <name>] [--host <hostname>]... [--fast] [--message <text>] [limits]",
  details: `Uploads a component as a new deployment of the app and makes it live. The entry is a .wasm
component, or a .ts/.js module that is built first with \`jco componentize\` (StarlingMonkey; --fast
builds for the QuickJS fast world). A module that default-exports a fetch handler is an SDK guest.
Without an entry, and for every setting not given as a flag, wasmgate.json in the current
directory is read (--manifest <file> names another); its "routes" deploy one component per entry,
each on its path routes. Given spin.toml (or a folder holding one, or run where there is one and
no wasmgate.json), every component with an HTTP route is uploaded as one deployment on Spin's
routes, with the manifest's key-value stores, outbound hosts, variables and secrets; --build first
runs each component's build command. Before any build, a TypeScript entry's project is
type-checked with the bundled compiler (tsc --noEmit on its tsconfig.json; --no-check skips it),
and what the gateway would refuse after the build is refused first: a variable that is already
one of the app's secrets, a hostname another app holds, routes that are not valid.

  --app <name>             the app (wasmgate.json "name")
  --host <hostname>        the app's hostnames, replacing its current ones (repeatable; "hostnames")
${GRANTS.map(grantHelp).join("\n")}
  --fast                   build with QuickJS for the fast world ("fast": true)
  --build                  spin.toml: run each component's [component.<id>.build] command first
  --no-check               build a .ts entry without type-checking it first
  --message <text>         a note kept with the deployment
Limits (kept for later pushes; "limits" in wasmgate.json): --cpu-ms <n> (guest CPU per request,
default 50), --deadline-ms <n> (default 30000), --memory-mb <n> (linear memory, default 128),
--max-body-bytes <n>, --max-response-bytes <n>, --kv-ops <n> (per request), --outbound-requests <n>
(default 50), --outbound-connect-timeout-ms <n>, --outbound-timeout-ms <n>,
--outbound-max-response-bytes <n>, --instances reuse|per-request (per-request: a fresh instance
for every request, nothing kept between them; default reuse).`,
  examples: [
    "deploy-cli push                     # in a project made by deploy-cli init",
    "deploy-cli push src/index.ts --app shop --host shop.example.com",
    "deploy-cli push examples/hello/dist/hello.wasm --app hello --host hello.localhost",
    "deploy-cli push examples/hello-fast/src/index.js --fast --app fast --host fast.localhost",
    'deploy-cli push app.wasm --app api --allow-outbound https://api.example.com --message "v2"',
    "deploy-cli push spin.toml --host shop.localhost --build",
  ],
  remote: true,
  options: {
    app: { type: "string" },
    host: { type: "string", multiple: true },
    message: { type: "string" },
    ...Object.fromEntries(GRANTS.map((g) => [g.cli.flag, { type: "string" as const, multiple: true }])),
    fast: { type: "boolean" },
    build: { type: "boolean" },
    "no-check": { type: "boolean" },
    manifest: { type: "string" },
    ...Object.fromEntries(Object.keys(LIMIT_FLAGS).map((f) => [f, { type: "string" as const }])),
  },
  run: push,
};
