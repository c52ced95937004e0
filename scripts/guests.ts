/**
 * Builds guest components once per source hash into `.cache/guests/`, so tests and benchmarks can
 * use real components without paying for a build on every run.
 * Over 400 lines on purpose: every kind of guest (examples, fixtures, other toolchains) is built
 * and hashed here, so the cache has one set of rules.
 *
 * Two kinds of guest:
 * - `example`: `examples/<name>/src/index.ts` (or `.js`), built as `deploy-cli push` builds an
 *   entry (deploy-cli/build: `jco componentize`, bundled; StarlingMonkey unless
 *   `examples/<name>/guest.json` says `"backend": "quickjs"`) against `wit/`, world `http-guest`
 *   unless `guest.json` names another. An example that default-exports a fetch handler is an SDK
 *   guest (world `sdk-guest`, and the SDK's files are part of its hash). The result is also copied
 *   to `examples/<name>/dist/<name>.wasm`.
 * - `fixture`: `test/fixtures/<name>.wat`, turned into a component by wasm-tools' parse, embed and
 *   new (through jco's API). Directives in the file's leading comments choose what it is built
 *   against: `;; @wit <dir>` (relative to the repository, default `wit`), `;; @world <name>`
 *   (default `http-guest`), or `;; @core-module` to keep the parsed core module as the output.
 *   A fixture may also be a folder, `test/fixtures/<name>/src/index.js` (or `.ts`) with an
 *   optional `guest.json`, built as an example is (without the `dist/` copy). Its `guest.json`
 *   may name a WIT folder of its own (`"wit": "wit"`, relative to the guest's folder), for a guest
 *   built against interfaces as someone else publishes them rather than against `wit/`.
 * - Either kind of folder may instead be built by another toolchain, its own: `guest.json` says
 *   `"toolchain": "npm"` and the file its build writes (`"output"`). Its `package.json` and
 *   `package-lock.json` are installed with `npm ci` once per lockfile, into
 *   `.cache/guest-deps/<hash>/` (never beside the sources, never into the repository's own
 *   `node_modules`), and `npm run build` runs in a copy of the folder inside that one. Spin's JS
 *   toolchain (`examples/spin-hello`) is built this way.
 *
 * The cache key covers the guest's files, every file of the WIT directory it is built against,
 * the build recipe and the versions of the tools that run it. Outputs are written to a temporary
 * file and renamed into place, so concurrent builders (in this process or others) never leave a
 * partial file behind; a lock file only saves them from doing the same build twice.
 *
 * @example
 *   import { buildGuest, ensureGuest } from "../scripts/guests.ts";
 *   const wasm = await buildGuest("fixture", "trap"); // absolute path of the component
 *   const { path, cached } = await ensureGuest("example", "hello");
 */
import { createHash, randomUUID } from "node:crypto";
import {
  copyFile,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  utimes,
  writeFile,
} from "node:fs/promises";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import {
  buildEntry,
  createComponentizer,
  isSdkSource,
  SDK_ENTRY,
  SDK_WORLD,
  wasmLayer,
} from "../deploy-cli/build/index.ts";
import { MissingPackageError, packageInfo } from "../deploy-cli/build/packages.ts";

export { wasmLayer };

export type GuestKind = "example" | "fixture";

export const GUEST_KINDS: readonly GuestKind[] = ["example", "fixture"];

export interface GuestBuild {
  readonly kind: GuestKind;
  readonly name: string;
  /** Absolute path of the built `.wasm` in the cache; its content never changes for a given hash. */
  readonly path: string;
  /** Cache key: hex digest of everything the build depends on (16 characters). */
  readonly hash: string;
  /** True when the output was already in the cache (or another process built it meanwhile). */
  readonly cached: boolean;
  readonly durationMs: number;
  /** Examples only: the copy in `examples/<name>/dist/<name>.wasm`. */
  readonly distPath?: string;
}

export interface GuestBuildOptions {
  /** Folder holding `examples/`, `test/fixtures/` and `wit/`; defaults to this repository. */
  readonly root?: string;
  /** Where progress lines go; defaults to stderr. */
  readonly onProgress?: (line: string) => void;
}

/** The build script's codes and what each means (docs/reference/errors.md is made from this). */
export const GUEST_BUILD_ERRORS = {
  ERR_GUEST_NOT_FOUND: "no example or fixture of that name, or one of its source files is missing",
  ERR_GUEST_CONFIG_INVALID: "a guest's `guest.json` (or its WIT folder, for a fixture) is not valid",
  ERR_GUEST_BUILD_FAILED: "a guest's build step failed; the message holds the tool's output",
} as const satisfies Record<string, string>;

export type GuestBuildErrorCode = keyof typeof GUEST_BUILD_ERRORS;

export class GuestBuildError extends Error {
  override readonly name = "GuestBuildError";
  readonly code: GuestBuildErrorCode;

  constructor(code: GuestBuildErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.code = code;
  }
}

/** Bump when the build steps change in a way the hashed inputs do not show (4: the source map section). */
const CACHE_FORMAT = 4;
/** The same for installed toolchain dependencies, which the build steps do not touch. */
const DEPS_FORMAT = 2;
const HASH_LENGTH = 16;
/** The build machines have 2 cores; a StarlingMonkey build keeps one busy for ~10 s. */
const MAX_PARALLEL_BUILDS = 2;
const LOCK_POLL_MS = 100;
/** A lock older than this is taken over even if its process seems alive (the pid may be reused). */
const LOCK_STALE_MS = 10 * 60 * 1000;
const DEFAULT_WIT_DIR = "wit";
const DEFAULT_WORLD = "http-guest";
const CACHE_DIR = path.join(".cache", "guests");
/** Installed packages of guests built by their own toolchain, one folder per lockfile. */
const DEPS_DIR = path.join(".cache", "guest-deps");
const FIXTURES_DIR = path.join("test", "fixtures");
const EXAMPLES_DIR = "examples";
/** Folders inside an example that are outputs or installed packages, not sources. */
const EXAMPLE_IGNORED_DIRS = new Set(["dist", "node_modules"]);

const REPO_ROOT = path.resolve(import.meta.dirname, "..");

type Backend = "starlingmonkey" | "quickjs";

/** What to run. Paths are relative to the root so that the hash does not depend on the checkout. */
type Recipe =
  | {
      readonly tool: "wasm-tools";
      readonly output: "component";
      readonly wit: string;
      readonly world: string;
    }
  | { readonly tool: "wasm-tools"; readonly output: "core-module" }
  | {
      readonly tool: "componentize";
      readonly backend: Backend;
      readonly source: string;
      readonly wit: string;
      readonly world: string;
    }
  | {
      /** The guest's own package.json: `npm ci`, then `npm run build`, which writes `output`. */
      readonly tool: "npm";
      /** The guest's folder and the file its build writes in it, relative to the root. */
      readonly dir: string;
      readonly output: string;
    };

interface Plan {
  readonly kind: GuestKind;
  readonly name: string;
  readonly root: string;
  readonly recipe: Recipe;
  /** Fixture: the WAT file; example: the entry module. Absolute. */
  readonly source: string;
  readonly hash: string;
  readonly out: string;
  readonly distPath?: string;
}

/** Names of the guests of a kind, sorted. */
export async function listGuests(kind: GuestKind, options: GuestBuildOptions = {}): Promise<string[]> {
  const root = options.root ?? REPO_ROOT;
  const dir = path.join(root, kind === "fixture" ? FIXTURES_DIR : EXAMPLES_DIR);
  const names: string[] = [];
  for (const entry of await readdirIfExists(dir)) {
    if (kind === "fixture" && entry.isFile() && entry.name.endsWith(".wat")) {
      names.push(entry.name.slice(0, -".wat".length));
    } else if (entry.isDirectory() && (await exampleEntry(path.join(dir, entry.name))) !== undefined) {
      names.push(entry.name);
    }
  }
  return names.sort();
}

/** Builds one guest unless the cache has it, and says which happened. */
export async function ensureGuest(
  kind: GuestKind,
  name: string,
  options: GuestBuildOptions = {},
): Promise<GuestBuild> {
  const started = performance.now();
  const plan = await planGuest(kind, name, options.root ?? REPO_ROOT);
  const progress = options.onProgress ?? writeStderr;
  let cached = await exists(plan.out);
  if (!cached) {
    let pending = inFlight.get(plan.out);
    if (pending === undefined) {
      pending = buildLocked(plan, progress).finally(() => inFlight.delete(plan.out));
      inFlight.set(plan.out, pending);
    }
    cached = await pending;
  }
  if (plan.distPath !== undefined) await syncCopy(plan.out, plan.distPath);
  return {
    kind,
    name,
    path: plan.out,
    hash: plan.hash,
    cached,
    durationMs: performance.now() - started,
    ...(plan.distPath === undefined ? {} : { distPath: plan.distPath }),
  };
}

/** Builds one guest unless the cache has it; resolves to the absolute path of its `.wasm`. */
export async function buildGuest(
  kind: GuestKind,
  name: string,
  options: GuestBuildOptions = {},
): Promise<string> {
  return (await ensureGuest(kind, name, options)).path;
}

/** Builds every guest of a kind (or of both), at most {@link MAX_PARALLEL_BUILDS} at a time. */
export async function buildAll(
  kind: GuestKind | "all",
  options: GuestBuildOptions = {},
): Promise<GuestBuild[]> {
  const kinds = kind === "all" ? GUEST_KINDS : [kind];
  const jobs: Promise<GuestBuild>[] = [];
  for (const k of kinds) {
    for (const name of await listGuests(k, options)) jobs.push(ensureGuest(k, name, options));
  }
  return Promise.all(jobs);
}

/** Same output path → same build; concurrent callers in this process share it. */
const inFlight = new Map<string, Promise<boolean>>();

async function planGuest(kind: GuestKind, name: string, root: string): Promise<Plan> {
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
    throw new GuestBuildError("ERR_GUEST_NOT_FOUND", `Guest names are kebab-case; got "${name}".`);
  }
  let recipe: Recipe;
  let source: string;
  let files: string[];
  let sdkFiles: string[] = [];
  let distPath: string | undefined;
  const jsFixture = kind === "fixture" && (await exampleEntry(path.join(root, FIXTURES_DIR, name)));
  if (kind === "fixture" && !jsFixture) {
    source = path.join(root, FIXTURES_DIR, `${name}.wat`);
    const wat = await readFile(source, "utf8").catch((cause: unknown) => {
      throw notFound(`fixture "${name}"`, `${path.join(FIXTURES_DIR, name)}.wat`, cause);
    });
    recipe = fixtureRecipe(wat, name);
    files = [source];
  } else {
    const dir = path.join(root, kind === "fixture" ? FIXTURES_DIR : EXAMPLES_DIR, name);
    const entry = await exampleEntry(dir);
    if (entry === undefined) {
      throw notFound(`example "${name}"`, path.join(EXAMPLES_DIR, name, "src", "index.ts"));
    }
    source = entry;
    const manifest = await readExampleManifest(dir);
    const sdk = manifest.toolchain === undefined && isSdkSource(await readFile(source, "utf8"));
    if (sdk && manifest.wit !== undefined) {
      throw new GuestBuildError(
        "ERR_GUEST_CONFIG_INVALID",
        `${path.join(dir, "guest.json")}: an SDK guest is built against the SDK's world in wit/; drop "wit".`,
      );
    }
    recipe =
      manifest.toolchain === "npm"
        ? { tool: "npm", dir: path.relative(root, dir), output: npmOutput(dir, manifest) }
        : {
            tool: "componentize",
            backend: manifest.backend ?? "starlingmonkey",
            source: path.relative(root, source),
            wit:
              manifest.wit === undefined
                ? DEFAULT_WIT_DIR
                : path.relative(root, path.resolve(dir, manifest.wit)),
            world: sdk ? SDK_WORLD : (manifest.world ?? DEFAULT_WORLD),
          };
    files = (await listFiles(dir)).filter(
      (f) => !EXAMPLE_IGNORED_DIRS.has(path.relative(dir, f).split(path.sep)[0]!),
    );
    // The SDK is part of an SDK guest; it is hashed by content, under a name of its own.
    if (sdk) sdkFiles = await listFiles(path.dirname(SDK_ENTRY));
    if (kind === "example") distPath = path.join(dir, "dist", `${name}.wasm`);
  }
  if ("wit" in recipe) {
    const witDir = path.resolve(root, recipe.wit);
    const witFiles = await listFiles(witDir).catch((cause: unknown) => {
      throw new GuestBuildError(
        "ERR_GUEST_CONFIG_INVALID",
        `The WIT directory "${recipe.wit}" for ${kind} "${name}" could not be read.`,
        { cause },
      );
    });
    // A guest's own WIT folder is among its files already.
    files.push(...witFiles.filter((f) => !files.includes(f)));
  }
  const sdkDir = path.dirname(SDK_ENTRY);
  const hash = await hashInputs(
    root,
    { format: CACHE_FORMAT, kind, name, recipe, tools: toolVersions(recipe) },
    files,
    sdkFiles.map((f) => [path.join("<sdk>", path.relative(sdkDir, f)), f] as const),
  );
  const out = path.join(root, CACHE_DIR, `${kind}s`, `${name}-${hash}.wasm`);
  return { kind, name, root, recipe, source, hash, out, ...(distPath === undefined ? {} : { distPath }) };
}

/** Reads the `;; @wit`, `;; @world` and `;; @core-module` directives from the leading comments. */
function fixtureRecipe(wat: string, name: string): Recipe {
  let wit = DEFAULT_WIT_DIR;
  let world = DEFAULT_WORLD;
  let coreModule = false;
  for (const line of wat.split("\n")) {
    const trimmed = line.trim();
    if (trimmed === "") continue;
    if (!trimmed.startsWith(";;")) break;
    const directive = /^;;\s*@([\w-]+)\s*(.*)$/.exec(trimmed);
    if (directive === null) continue;
    const [, key, value = ""] = directive;
    if (key === "wit" && value !== "") wit = value;
    else if (key === "world" && value !== "") world = value;
    else if (key === "core-module" && value === "") coreModule = true;
    else {
      throw new GuestBuildError(
        "ERR_GUEST_CONFIG_INVALID",
        `Fixture "${name}": unknown directive "${trimmed}"; use "@wit <dir>", "@world <name>" or "@core-module".`,
      );
    }
  }
  return coreModule
    ? { tool: "wasm-tools", output: "core-module" }
    : { tool: "wasm-tools", output: "component", wit, world };
}

async function exampleEntry(dir: string): Promise<string | undefined> {
  for (const file of ["index.ts", "index.js"]) {
    const candidate = path.join(dir, "src", file);
    if (await exists(candidate)) return candidate;
  }
  return undefined;
}

interface ExampleManifest {
  readonly world?: string | undefined;
  readonly backend?: Backend | undefined;
  /** A WIT folder of the guest's own, relative to its folder, instead of `wit/`. */
  readonly wit?: string | undefined;
  /** Built by its own package.json instead of `jco componentize`; `output` is what it writes. */
  readonly toolchain?: "npm" | undefined;
  readonly output?: string | undefined;
}

/** The output a guest with its own toolchain names, checked to stay inside its folder. */
function npmOutput(dir: string, manifest: ExampleManifest): string {
  const output = manifest.output;
  const resolved = output === undefined ? undefined : path.resolve(dir, output);
  if (resolved === undefined || !resolved.startsWith(`${dir}${path.sep}`) || !resolved.endsWith(".wasm")) {
    throw new GuestBuildError(
      "ERR_GUEST_CONFIG_INVALID",
      `${path.join(dir, "guest.json")}: "toolchain": "npm" needs "output", the .wasm file its build writes inside the folder (e.g. "dist/app.wasm").`,
    );
  }
  return path.relative(dir, resolved).split(path.sep).join("/");
}

async function readExampleManifest(dir: string): Promise<ExampleManifest> {
  const file = path.join(dir, "guest.json");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (cause) {
    if (isErrnoException(cause) && cause.code === "ENOENT") return {};
    throw cause;
  }
  // Loaded only when a manifest exists, so that a cache hit stays fast.
  const { z } = await import("zod");
  const schema = z.strictObject({
    world: z.string().min(1).optional(),
    backend: z.enum(["starlingmonkey", "quickjs"]).optional(),
    wit: z.string().min(1).optional(),
    toolchain: z.enum(["npm"]).optional(),
    output: z.string().min(1).optional(),
  });
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new GuestBuildError("ERR_GUEST_CONFIG_INVALID", `${file} is not valid JSON.`, { cause });
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    throw new GuestBuildError(
      "ERR_GUEST_CONFIG_INVALID",
      `${file}: ${z.prettifyError(result.error)} (allowed: "world", "backend": "starlingmonkey" | "quickjs", "wit": a folder, "toolchain": "npm" with "output").`,
    );
  }
  return result.data;
}

async function hashInputs(
  root: string,
  recipe: unknown,
  files: readonly string[],
  named: readonly (readonly [name: string, file: string])[] = [],
): Promise<string> {
  const hash = createHash("sha256");
  hash.update(JSON.stringify(recipe));
  const inputs = [...files.map((f) => [path.relative(root, f), f] as const), ...named].map(
    ([name, file]) => [name.split(path.sep).join("/"), file] as const,
  );
  inputs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, file] of inputs) {
    const content = await readFile(file);
    // Name and length delimit each file, so moving bytes between files changes the hash.
    hash.update(`\0${name}\0${content.length}\0`);
    hash.update(content);
  }
  return hash.digest("hex").slice(0, HASH_LENGTH);
}

function toolVersion(name: string): string {
  try {
    return packageInfo(name).version;
  } catch (cause) {
    if (cause instanceof MissingPackageError)
      throw new GuestBuildError("ERR_GUEST_BUILD_FAILED", cause.message);
    throw cause;
  }
}

function toolVersions(recipe: Recipe): Record<string, string> {
  // The guest's own lockfile pins its tools (and is hashed); the Node that runs them is ours.
  if (recipe.tool === "npm") return { node: process.version };
  const packages = ["@bytecodealliance/jco"];
  if (recipe.tool === "wasm-tools") packages.push("@bytecodealliance/jco-transpile");
  else if (recipe.backend === "quickjs") packages.push("componentize-qjs");
  else packages.push("@bytecodealliance/componentize-js", "@bytecodealliance/componentize-js-0-19-3");
  return Object.fromEntries(packages.map((p) => [p, toolVersion(p)]));
}

async function buildLocked(plan: Plan, progress: (line: string) => void): Promise<boolean> {
  await mkdir(path.dirname(plan.out), { recursive: true });
  const release = await acquireLock(`${plan.out}.lock`, plan, progress);
  if (release === undefined) return true;
  try {
    if (await exists(plan.out)) return true;
    await withBuildSlot(() => runBuild(plan, progress));
    await pruneSiblings(plan);
    return false;
  } finally {
    await release();
  }
}

async function runBuild(plan: Plan, progress: (line: string) => void): Promise<void> {
  const label = `${plan.kind} ${plan.name}`;
  progress(`building ${label}…`);
  const started = performance.now();
  const tmp = `${plan.out}.${process.pid}-${randomUUID().slice(0, 8)}.tmp`;
  try {
    if (plan.recipe.tool === "componentize") await componentize(plan, plan.recipe, tmp, progress);
    else if (plan.recipe.tool === "npm") await npmBuild(plan, plan.recipe, tmp, progress);
    else await writeFile(tmp, await buildWat(plan, plan.recipe));
    const expected =
      plan.recipe.tool === "wasm-tools" && plan.recipe.output === "core-module" ? "core" : "component";
    const layer = await wasmLayer(tmp);
    if (layer !== expected) {
      throw new GuestBuildError(
        "ERR_GUEST_BUILD_FAILED",
        `Building ${label} produced a ${layer}, not a ${expected}.`,
      );
    }
    await rename(tmp, plan.out);
  } finally {
    await rm(tmp, { force: true });
  }
  const { size } = await stat(plan.out);
  progress(`built ${label} in ${((performance.now() - started) / 1000).toFixed(1)} s (${formatSize(size)})`);
}

async function buildWat(plan: Plan, recipe: Recipe & { tool: "wasm-tools" }): Promise<Uint8Array> {
  // Loaded on first build only: a cache hit should not pay for instantiating wasm-tools.
  const { parse, componentEmbed, componentNew } = await import("@bytecodealliance/jco");
  const step = async <T>(what: string, run: () => Promise<T>): Promise<T> => {
    try {
      return await run();
    } catch (cause) {
      const detail = cause instanceof Error ? cause.message : String(cause);
      throw new GuestBuildError(
        "ERR_GUEST_BUILD_FAILED",
        `Fixture "${plan.name}": ${what} failed: ${detail.trim()}`,
        { cause },
      );
    }
  };
  const wat = await readFile(plan.source, "utf8");
  const core = await step("wasm-tools parse", () => parse(wat));
  if (recipe.output === "core-module") return core;
  const witPath = path.resolve(plan.root, recipe.wit);
  const embedded = await step(`embedding world "${recipe.world}" from ${recipe.wit}`, () =>
    componentEmbed({ binary: core, witPath, world: recipe.world }),
  );
  return step("wasm-tools component new", () => componentNew(embedded));
}

async function componentize(
  plan: Plan,
  recipe: Recipe & { tool: "componentize" },
  out: string,
  progress: (line: string) => void,
): Promise<void> {
  try {
    if (recipe.wit === DEFAULT_WIT_DIR) {
      const built = await buildEntry({
        entry: plan.source,
        out,
        fast: recipe.backend === "quickjs",
        world: recipe.world,
        displayRoot: plan.root,
      });
      for (const warning of built.warnings) progress(warning);
    } else {
      // `push` builds against the gateway's own WIT only; a guest with WIT of its own goes to the
      // same componentizer with that folder.
      const componentizer = createComponentizer();
      try {
        const built = await componentizer.build({
          entry: plan.source,
          wit: path.resolve(plan.root, recipe.wit),
          world: recipe.world,
          backend: recipe.backend,
          out,
          displayRoot: plan.root,
        });
        for (const warning of built.warnings) progress(warning);
      } finally {
        await componentizer.close();
      }
    }
  } catch (cause) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    throw new GuestBuildError(
      "ERR_GUEST_BUILD_FAILED",
      `jco componentize failed for example "${plan.name}":\n${detail}`,
      { cause },
    );
  }
}

/**
 * A guest built by its own package.json: its packages installed once per lockfile into the cache
 * (see DEPS_DIR), then `npm run build` in a throwaway copy of its folder inside that one (Node, npm
 * and the tools find the packages by walking up), and the output copied to `out`.
 */
async function npmBuild(
  plan: Plan,
  recipe: Recipe & { tool: "npm" },
  out: string,
  progress: (line: string) => void,
): Promise<void> {
  const dir = path.resolve(plan.root, recipe.dir);
  const deps = await installGuestDeps(plan, dir, progress);
  const work = path.join(deps, `build-${process.pid}-${randomUUID().slice(0, 8)}`);
  try {
    for (const file of await listFiles(dir)) {
      const rel = path.relative(dir, file);
      if (EXAMPLE_IGNORED_DIRS.has(rel.split(path.sep)[0]!)) continue;
      await mkdir(path.dirname(path.join(work, rel)), { recursive: true });
      await copyFile(file, path.join(work, rel));
    }
    await run("npm", ["run", "build", "--silent"], work, `npm run build for ${plan.kind} "${plan.name}"`);
    await copyFile(path.join(work, recipe.output), out);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** `npm ci` of a guest's own lockfile into `.cache/guest-deps/<hash>/`, once; returns the folder. */
async function installGuestDeps(plan: Plan, dir: string, progress: (line: string) => void): Promise<string> {
  const manifests = ["package.json", "package-lock.json"].map((f) => path.join(dir, f));
  for (const file of manifests) {
    if (!(await exists(file))) {
      throw new GuestBuildError(
        "ERR_GUEST_CONFIG_INVALID",
        `${plan.kind} "${plan.name}" is built by its own toolchain but has no ${path.basename(file)}; run \`npm install --package-lock-only\` in ${dir}.`,
      );
    }
  }
  const hash = await hashInputs(dir, { format: DEPS_FORMAT, node: process.version }, manifests);
  const deps = path.join(plan.root, DEPS_DIR, hash);
  if (await exists(path.join(deps, "node_modules"))) return deps;
  progress(`installing the packages of ${plan.kind} ${plan.name}…`);
  const tmp = `${deps}.${process.pid}-${randomUUID().slice(0, 8)}.tmp`;
  try {
    await mkdir(tmp, { recursive: true });
    for (const file of manifests) await copyFile(file, path.join(tmp, path.basename(file)));
    // No install scripts: the guest's tools run only in its own build step.
    await run(
      "npm",
      ["ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel", "error"],
      tmp,
      `npm ci for ${plan.kind} "${plan.name}"`,
    );
    try {
      await rename(tmp, deps);
    } catch (cause) {
      // Another builder installed the same lockfile meanwhile: use theirs.
      if (!(await exists(path.join(deps, "node_modules")))) throw cause;
    }
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
  return deps;
}

/** Runs a command to completion, or throws ERR_GUEST_BUILD_FAILED with what it printed. */
async function run(command: string, args: readonly string[], cwd: string, what: string): Promise<void> {
  const { spawn } = await import("node:child_process");
  const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.on("data", (d) => {
    output += d;
  });
  child.stderr.on("data", (d) => {
    output += d;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once("error", reject);
    child.once("close", resolve);
  }).catch((cause: unknown) => {
    throw new GuestBuildError("ERR_GUEST_BUILD_FAILED", `${what} could not start: ${String(cause)}`, {
      cause,
    });
  });
  if (code !== 0) {
    throw new GuestBuildError("ERR_GUEST_BUILD_FAILED", `${what} exited with ${code}:\n${output.trim()}`);
  }
}

let runningBuilds = 0;
const waitingBuilds: (() => void)[] = [];

async function withBuildSlot<T>(work: () => Promise<T>): Promise<T> {
  if (runningBuilds >= MAX_PARALLEL_BUILDS) await new Promise<void>((resolve) => waitingBuilds.push(resolve));
  runningBuilds++;
  try {
    return await work();
  } finally {
    runningBuilds--;
    waitingBuilds.shift()?.();
  }
}

/**
 * Takes the per-output lock file, or resolves to undefined if another process produced the output
 * while we waited. The lock is an optimisation (one build instead of several); correctness rests
 * on the atomic rename of the output.
 */
async function acquireLock(
  lockPath: string,
  plan: Plan,
  progress: (line: string) => void,
): Promise<(() => Promise<void>) | undefined> {
  let announced = false;
  for (;;) {
    try {
      const handle = await open(lockPath, "wx");
      try {
        await handle.writeFile(String(process.pid));
      } finally {
        await handle.close();
      }
      return () => rm(lockPath, { force: true });
    } catch (cause) {
      if (!isErrnoException(cause) || cause.code !== "EEXIST") throw cause;
    }
    if (await exists(plan.out)) return undefined;
    if (await isStaleLock(lockPath)) {
      await rm(lockPath, { force: true });
      continue;
    }
    if (!announced) {
      progress(`waiting for another process building ${plan.kind} ${plan.name}…`);
      announced = true;
    }
    await sleep(LOCK_POLL_MS);
  }
}

async function isStaleLock(lockPath: string): Promise<boolean> {
  try {
    const [content, info] = await Promise.all([readFile(lockPath, "utf8"), stat(lockPath)]);
    if (Date.now() - info.mtimeMs > LOCK_STALE_MS) return true;
    const pid = Number.parseInt(content, 10);
    // An empty lock is one whose owner has not written its pid yet.
    return Number.isInteger(pid) && !isProcessAlive(pid);
  } catch (cause) {
    if (isErrnoException(cause) && cause.code === "ENOENT") return false;
    throw cause;
  }
}

function isProcessAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (cause) {
    return isErrnoException(cause) && cause.code === "EPERM";
  }
}

/**
 * Drops this guest's outputs for older hashes, so the cache does not grow with every edit, and
 * the temporary files of builders that died before renaming theirs.
 */
async function pruneSiblings(plan: Plan): Promise<void> {
  const dir = path.dirname(plan.out);
  const mine = path.basename(plan.out);
  const output = new RegExp(`^${plan.name}-[0-9a-f]{${HASH_LENGTH}}\\.wasm$`);
  const temporary = new RegExp(`^${plan.name}-[0-9a-f]{${HASH_LENGTH}}\\.wasm\\.(\\d+)-[0-9a-f]+\\.tmp$`);
  for (const entry of await readdir(dir)) {
    const pid = temporary.exec(entry)?.[1];
    const orphan = pid !== undefined && !isProcessAlive(Number(pid));
    if ((entry !== mine && output.test(entry)) || orphan) await rm(path.join(dir, entry), { force: true });
  }
}

/**
 * Keeps `to` a copy of `from`. The copy gets `from`'s mtime, so "same size and same mtime" tells
 * an up-to-date copy apart from one of another build without reading either file.
 */
async function syncCopy(from: string, to: string): Promise<void> {
  const source = await stat(from);
  const target = await stat(to).catch(() => undefined);
  // utimes keeps whole milliseconds only, and may round rather than truncate: within 1 ms is equal.
  const sameTime = target !== undefined && Math.abs(target.mtimeMs - source.mtimeMs) < 1;
  if (target !== undefined && target.size === source.size && sameTime) return;
  await mkdir(path.dirname(to), { recursive: true });
  const tmp = `${to}.${process.pid}-${randomUUID().slice(0, 8)}.tmp`;
  try {
    await copyFile(from, tmp);
    await utimes(tmp, source.atime, source.mtime);
    await rename(tmp, to);
  } finally {
    await rm(tmp, { force: true });
  }
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

async function readdirIfExists(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    if (isErrnoException(cause) && cause.code === "ENOENT") return [];
    throw cause;
  }
}

async function exists(file: string): Promise<boolean> {
  try {
    await stat(file);
    return true;
  } catch (cause) {
    if (isErrnoException(cause) && cause.code === "ENOENT") return false;
    throw cause;
  }
}

function notFound(what: string, expected: string, cause?: unknown): GuestBuildError {
  return new GuestBuildError("ERR_GUEST_NOT_FOUND", `No ${what}: expected ${expected}.`, { cause });
}

function isErrnoException(value: unknown): value is NodeJS.ErrnoException {
  return value instanceof Error && "code" in value;
}

function formatSize(bytes: number): string {
  return bytes >= 1024 * 1024
    ? `${(bytes / 1024 / 1024).toFixed(1)} MiB`
    : `${(bytes / 1024).toFixed(1)} KiB`;
}

function writeStderr(line: string): void {
  process.stderr.write(`${line}\n`);
}
