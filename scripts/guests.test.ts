import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFile, cp, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { pathToFileURL } from "node:url";
import { buildAll, ensureGuest, GuestBuildError, type GuestBuildOptions } from "./guests.ts";

const REPO = path.resolve(import.meta.dirname, "..");
const COMPONENT_HEADER = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x0d, 0x00, 0x01, 0x00]);
const CORE_HEADER = Buffer.from([0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00]);

/** The standard streams and terminals jco's componentize imports for either JS engine. */
const CLI_STREAMS = [
  "wasi:cli/stdin@0.2.12",
  "wasi:cli/stdout@0.2.12",
  "wasi:cli/stderr@0.2.12",
  "wasi:cli/terminal-input@0.2.12",
  "wasi:cli/terminal-output@0.2.12",
  "wasi:cli/terminal-stdin@0.2.12",
  "wasi:cli/terminal-stdout@0.2.12",
  "wasi:cli/terminal-stderr@0.2.12",
];

/** What a fast-world (QuickJS) guest exports besides its world, from jco's componentize. */
const QUICKJS_EXPORTS = [
  "init: func(shim: string, script: string, entry-path: option<string>, disable-gc: bool) -> result<_, string>",
  "wasmgate:edge/handler@0.1.0",
];

/** What QuickJS's runtime imports, whatever the guest. */
const QUICKJS_IMPORTS = [
  "wasi:cli/environment@0.2.12",
  "wasi:cli/exit@0.2.12",
  "wasi:io/error@0.2.12",
  "wasi:io/poll@0.2.12",
  "wasi:io/streams@0.2.12",
  ...CLI_STREAMS,
  "wasi:clocks/monotonic-clock@0.2.12",
  "wasi:clocks/wall-clock@0.2.12",
  "wasi:filesystem/types@0.2.12",
  "wasi:filesystem/preopens@0.2.12",
  "wasi:random/insecure-seed@0.2.12",
];

/** wasi:keyvalue 0.2.0-draft2, as the edge-kv world imports it. */
const KV_DRAFT2_IMPORTS = [
  "wasi:keyvalue/store@0.2.0-draft2",
  "wasi:keyvalue/atomics@0.2.0-draft2",
  "wasi:keyvalue/batch@0.2.0-draft2",
];

/** What `jco wit` must show for each fixture; null for the one that is not a component. */
const FIXTURE_WIT: Readonly<Record<string, { exports: string[]; imports: string[] } | null>> = {
  chatty: {
    exports: ["wasi:http/incoming-handler@0.2.10"],
    imports: [
      "wasi:io/error@0.2.10",
      "wasi:io/streams@0.2.10",
      "wasi:cli/stdout@0.2.10",
      "wasi:cli/stderr@0.2.10",
      "wasi:http/types@0.2.10",
    ],
  },
  "core-module": null,
  echo: {
    exports: ["wasi:http/incoming-handler@0.2.10"],
    imports: [
      "wasi:io/poll@0.2.10",
      "wasi:io/error@0.2.10",
      "wasi:io/streams@0.2.10",
      "wasi:http/types@0.2.10",
    ],
  },
  "giant-response": {
    exports: ["wasi:http/incoming-handler@0.2.10"],
    imports: [
      "wasi:io/poll@0.2.10",
      "wasi:io/error@0.2.10",
      "wasi:io/streams@0.2.10",
      "wasi:http/types@0.2.10",
    ],
  },
  "hello-p020": {
    exports: ["wasi:http/incoming-handler@0.2.0"],
    imports: ["wasi:io/error@0.2.0", "wasi:io/streams@0.2.0", "wasi:http/types@0.2.0"],
  },
  // The JS fixtures: jco componentize's own imports (QuickJS's, StarlingMonkey's) besides ours.
  "deep-calls": {
    exports: QUICKJS_EXPORTS,
    imports: [...QUICKJS_IMPORTS, ...KV_DRAFT2_IMPORTS, "wasmgate:kv/ext@0.1.0", "wasmgate:edge/types@0.1.0"],
  },
  "hostile-edge": { exports: QUICKJS_EXPORTS, imports: [...QUICKJS_IMPORTS, "wasmgate:edge/types@0.1.0"] },
  "request-echo": { exports: QUICKJS_EXPORTS, imports: [...QUICKJS_IMPORTS, "wasmgate:edge/types@0.1.0"] },
  "hostile-http": {
    exports: ["wasi:http/incoming-handler@0.2.10"],
    imports: [
      "wasi:io/poll@0.2.12",
      "wasi:clocks/monotonic-clock@0.2.12",
      "wasi:io/error@0.2.12",
      "wasi:io/streams@0.2.12",
      "wasi:http/types@0.2.10",
      "wasi:http/outgoing-handler@0.2.10",
      ...CLI_STREAMS,
      "wasi:clocks/wall-clock@0.2.12",
      "wasi:filesystem/types@0.2.12",
      "wasi:filesystem/preopens@0.2.12",
      "wasi:random/random@0.2.12",
    ],
  },
  // Built against their own WIT (guest.json "wit"): wasi:keyvalue as others publish it.
  "kv-draft": {
    exports: QUICKJS_EXPORTS,
    imports: [
      ...QUICKJS_IMPORTS,
      "wasi:keyvalue/store@0.2.0-draft",
      "wasi:keyvalue/atomics@0.2.0-draft",
      "wasi:keyvalue/batch@0.2.0-draft",
      "wasmgate:edge/types@0.1.0",
    ],
  },
  "kv-draft2-early": {
    exports: QUICKJS_EXPORTS,
    imports: [
      ...QUICKJS_IMPORTS,
      "wasi:keyvalue/store@0.2.0-draft2",
      "wasi:keyvalue/atomics@0.2.0-draft2",
      "wasi:keyvalue/batch@0.2.0-draft2",
      "wasmgate:edge/types@0.1.0",
    ],
  },
  "kv-draft2-made-up": {
    exports: ["wasmgate:edge/handler@0.1.0"],
    imports: [
      "wasi:keyvalue/store@0.2.0-draft2",
      "wasi:keyvalue/batch@0.2.0-draft2",
      "wasmgate:edge/types@0.1.0",
    ],
  },
  "kv-store-0-3-0": {
    exports: ["wasmgate:edge/handler@0.1.0"],
    imports: ["wasi:keyvalue/store@0.3.0", "wasmgate:edge/types@0.1.0"],
  },
  // Every interface of Spin's platform, as StarlingMonkey's build of the spin-http-guest world has it.
  "spin-platform": {
    exports: ["wasi:http/incoming-handler@0.2.10"],
    imports: [
      "wasi:io/poll@0.2.12",
      "wasi:clocks/monotonic-clock@0.2.12",
      "wasi:io/error@0.2.12",
      "wasi:io/streams@0.2.12",
      "wasi:http/types@0.2.10",
      "wasi:http/outgoing-handler@0.2.10",
      "fermyon:spin/key-value@2.0.0",
      "fermyon:spin/sqlite@2.0.0",
      "fermyon:spin/variables@2.0.0",
      "fermyon:spin/llm@2.0.0",
      "fermyon:spin/redis@2.0.0",
      "fermyon:spin/mqtt@2.0.0",
      "fermyon:spin/rdbms-types@2.0.0",
      "fermyon:spin/postgres@2.0.0",
      "fermyon:spin/mysql@2.0.0",
      ...CLI_STREAMS,
      "wasi:clocks/wall-clock@0.2.12",
      "wasi:filesystem/types@0.2.12",
      "wasi:filesystem/preopens@0.2.12",
      "wasi:random/random@0.2.12",
    ],
  },
  "infinite-loop": { exports: ["wasi:http/incoming-handler@0.2.10"], imports: ["wasi:http/types@0.2.10"] },
  leak: {
    exports: ["wasi:http/incoming-handler@0.2.0"],
    imports: ["wasi:io/error@0.2.0", "wasi:io/streams@0.2.0", "wasi:http/types@0.2.0"],
  },
  "memory-bomb": { exports: ["wasi:http/incoming-handler@0.2.10"], imports: ["wasi:http/types@0.2.10"] },
  "no-handler": { exports: ["run: func() -> u32"], imports: [] },
  slow: {
    exports: ["wasi:http/incoming-handler@0.2.10"],
    imports: [
      "wasi:io/poll@0.2.10",
      "wasi:clocks/monotonic-clock@0.2.10",
      "wasi:io/error@0.2.10",
      "wasi:io/streams@0.2.10",
      "wasi:http/types@0.2.10",
    ],
  },
  "stack-overflow": { exports: ["wasi:http/incoming-handler@0.2.10"], imports: ["wasi:http/types@0.2.10"] },
  trap: { exports: ["wasi:http/incoming-handler@0.2.10"], imports: ["wasi:http/types@0.2.10"] },
  "two-parts": {
    exports: ["wasi:http/incoming-handler@0.2.10"],
    imports: [
      "wasi:io/poll@0.2.10",
      "wasi:clocks/monotonic-clock@0.2.10",
      "wasi:io/error@0.2.10",
      "wasi:io/streams@0.2.10",
      "wasi:http/types@0.2.10",
    ],
  },
};

async function header(file: string): Promise<Buffer> {
  return (await readFile(file)).subarray(0, 8);
}

function witItems(wit: string, keyword: "import" | "export"): string[] {
  return [...wit.matchAll(new RegExp(`^\\s*${keyword} (.+);$`, "gm"))].map((m) => m[1]!);
}

describe("fixtures in test/fixtures", () => {
  test("each builds to the component (or core module) it is meant to be", async () => {
    const builds = await buildAll("fixture");
    // A new fixture must be described above, so its shape is checked too.
    assert.deepEqual(builds.map((b) => b.name).sort(), Object.keys(FIXTURE_WIT).sort());
    const { componentWit } = await import("@bytecodealliance/jco");
    for (const build of builds) {
      const expected = FIXTURE_WIT[build.name];
      const bytes = await readFile(build.path);
      if (expected === null || expected === undefined) {
        assert.deepEqual(bytes.subarray(0, 8), CORE_HEADER, build.name);
        continue;
      }
      assert.deepEqual(bytes.subarray(0, 8), COMPONENT_HEADER, build.name);
      const wit = await componentWit(bytes);
      assert.deepEqual(witItems(wit, "export"), expected.exports, `${build.name} exports`);
      assert.deepEqual(witItems(wit, "import"), expected.imports, `${build.name} imports`);
    }
  });

  test("memory-bomb's memory has no maximum, so only the host's rewrite can cap it", async () => {
    const { print } = await import("@bytecodealliance/jco");
    const { path: file } = await ensureGuest("fixture", "memory-bomb");
    const memories = [...(await print(await readFile(file))).matchAll(/\(memory \(;\d+;\) ([^)]*)\)/g)];
    assert.equal(memories.length, 1);
    assert.equal(memories[0]![1]!.trim(), "1");
  });

  test("a second build is a cache hit and leaves the output alone", async () => {
    const first = await ensureGuest("fixture", "trap");
    const before = await stat(first.path);
    const second = await ensureGuest("fixture", "trap");
    assert.equal(second.cached, true);
    assert.equal(second.path, first.path);
    assert.equal((await stat(second.path)).mtimeMs, before.mtimeMs);
  });
});

describe("the cache, in a scratch copy of the sources", () => {
  let root: string;
  let progress: string[];
  let options: GuestBuildOptions;

  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), "wasmgate-guests-"));
    await mkdir(path.join(root, "test", "fixtures"), { recursive: true });
    await cp(path.join(REPO, "wit"), path.join(root, "wit"), { recursive: true });
    await cp(
      path.join(REPO, "test", "fixtures", "trap.wat"),
      path.join(root, "test", "fixtures", "trap.wat"),
    );
  });
  after(() => rm(root, { recursive: true, force: true }));

  function fresh(): GuestBuildOptions {
    progress = [];
    options = { root, onProgress: (line) => progress.push(line) };
    return options;
  }

  test("changing a fixture's source changes its output path and drops the old output", async () => {
    const first = await ensureGuest("fixture", "trap", fresh());
    assert.equal(first.cached, false);
    await appendFile(path.join(root, "test", "fixtures", "trap.wat"), ";; edited\n");
    const second = await ensureGuest("fixture", "trap", options);
    assert.equal(second.cached, false);
    assert.notEqual(second.hash, first.hash);
    assert.notEqual(second.path, first.path);
    assert.deepEqual(await header(second.path), COMPONENT_HEADER);
    await assert.rejects(stat(first.path), { code: "ENOENT" });
  });

  test("changing the WIT it is built against changes the output path", async () => {
    const before = await ensureGuest("fixture", "trap", fresh());
    await appendFile(path.join(root, "wit", "guest.wit"), "// edited\n");
    const after = await ensureGuest("fixture", "trap", options);
    assert.notEqual(after.path, before.path);
    assert.equal(after.cached, false);
  });

  test("concurrent calls in one process build once", async () => {
    await appendFile(path.join(root, "test", "fixtures", "trap.wat"), ";; concurrent\n");
    const shared = fresh();
    const builds = await Promise.all([1, 2, 3].map(() => ensureGuest("fixture", "trap", shared)));
    assert.equal(new Set(builds.map((b) => b.path)).size, 1);
    assert.equal(progress.filter((line) => line.startsWith("building ")).length, 1);
  });

  test("concurrent processes build once and leave no temporary or lock files", async () => {
    await appendFile(path.join(root, "test", "fixtures", "trap.wat"), ";; two processes\n");
    const results = await Promise.all([buildInChild(root), buildInChild(root)]);
    assert.equal(results[0]!.path, results[1]!.path);
    assert.deepEqual(results.map((r) => r.cached).sort(), [false, true]);
    assert.deepEqual(await header(results[0]!.path), COMPONENT_HEADER);
    const left = await readdir(path.dirname(results[0]!.path));
    assert.deepEqual(left, [path.basename(results[0]!.path)]);
  });

  test("a build removes temporary files left by a builder that died", async () => {
    const fixtures = path.join(root, ".cache", "guests", "fixtures");
    await mkdir(fixtures, { recursive: true });
    // No process has this pid: Linux caps pids at 2^22.
    const orphan = path.join(fixtures, "trap-0123456789abcdef.wasm.999999999-0a1b2c3d.tmp");
    await writeFile(orphan, "partial");
    await appendFile(path.join(root, "test", "fixtures", "trap.wat"), ";; after a crash\n");
    const build = await ensureGuest("fixture", "trap", fresh());
    assert.equal(build.cached, false);
    await assert.rejects(stat(orphan), { code: "ENOENT" });
  });

  test("a fixture that does not parse fails with ERR_GUEST_BUILD_FAILED and writes nothing", async () => {
    await writeFile(
      path.join(root, "test", "fixtures", "broken.wat"),
      '(module (func (export "x") (i32.bogus)))\n',
    );
    await assert.rejects(ensureGuest("fixture", "broken", fresh()), (error: unknown) => {
      assert.ok(error instanceof GuestBuildError);
      assert.equal(error.code, "ERR_GUEST_BUILD_FAILED");
      return true;
    });
    const files = await readdir(path.join(root, ".cache", "guests", "fixtures"));
    assert.deepEqual(
      files.filter((f) => f.startsWith("broken")),
      [],
    );
  });

  test('a guest.json "wit" builds against the guest\'s own folder, which is part of its hash', async () => {
    const dir = path.join(root, "test", "fixtures", "kv-draft");
    await cp(path.join(REPO, "test", "fixtures", "kv-draft"), dir, { recursive: true });
    const first = await ensureGuest("fixture", "kv-draft", fresh());
    assert.equal(first.cached, false);
    const { componentWit } = await import("@bytecodealliance/jco");
    assert.ok(
      witItems(await componentWit(await readFile(first.path)), "import").includes(
        "wasi:keyvalue/store@0.2.0-draft",
      ),
    );
    await appendFile(path.join(dir, "wit", "world.wit"), "// edited\n");
    const second = await ensureGuest("fixture", "kv-draft", options);
    assert.notEqual(second.hash, first.hash);
    // An SDK guest is built against the SDK's world: a WIT folder of its own is refused.
    const sdk = path.join(root, "test", "fixtures", "sdk-own-wit");
    await mkdir(path.join(sdk, "src"), { recursive: true });
    await writeFile(path.join(sdk, "src", "index.js"), "export default { fetch() {} };\n");
    await writeFile(path.join(sdk, "guest.json"), JSON.stringify({ wit: "wit" }));
    await assert.rejects(ensureGuest("fixture", "sdk-own-wit", options), {
      code: "ERR_GUEST_CONFIG_INVALID",
    });
    await rm(sdk, { recursive: true });
  });

  test("an unknown directive, a missing guest and a bad guest.json are user errors", async () => {
    await writeFile(path.join(root, "test", "fixtures", "typo.wat"), ";; @wrold runner\n(module)\n");
    await assert.rejects(ensureGuest("fixture", "typo", fresh()), { code: "ERR_GUEST_CONFIG_INVALID" });
    await assert.rejects(ensureGuest("fixture", "absent", options), { code: "ERR_GUEST_NOT_FOUND" });
    const example = path.join(root, "examples", "bad-manifest");
    await mkdir(path.join(example, "src"), { recursive: true });
    await writeFile(path.join(example, "src", "index.js"), "export const x = 1;\n");
    await writeFile(path.join(example, "guest.json"), JSON.stringify({ backend: "v8" }));
    await assert.rejects(ensureGuest("example", "bad-manifest", options), {
      code: "ERR_GUEST_CONFIG_INVALID",
    });
    // Its own toolchain, but no output named, or one outside its folder.
    for (const manifest of [{ toolchain: "npm" }, { toolchain: "npm", output: "../elsewhere.wasm" }]) {
      await writeFile(path.join(example, "guest.json"), JSON.stringify(manifest));
      await assert.rejects(ensureGuest("example", "bad-manifest", options), {
        code: "ERR_GUEST_CONFIG_INVALID",
      });
    }
  });
});

describe("examples", () => {
  // StarlingMonkey builds take seconds; `npm test` builds them before the tests run, so this is
  // normally a cache hit.
  test("hello builds to a component, copied to dist, and is then a cache hit", {
    timeout: 180_000,
  }, async () => {
    const build = await ensureGuest("example", "hello");
    assert.deepEqual(await header(build.path), COMPONENT_HEADER);
    assert.ok(build.distPath !== undefined);
    assert.ok((await readFile(build.distPath)).equals(await readFile(build.path)));
    const distBefore = await stat(build.distPath);
    const again = await ensureGuest("example", "hello");
    assert.equal(again.cached, true);
    assert.equal(again.path, build.path);
    // An up-to-date copy is left alone, not copied again on every call.
    const distAfter = await stat(build.distPath);
    assert.equal(distAfter.mtimeMs, distBefore.mtimeMs);
    assert.equal(distAfter.ino, distBefore.ino);
  });

  test("build:examples names each example by its dist/ copy, the path the docs push", async () => {
    const child = spawn(
      process.execPath,
      [path.join(REPO, "scripts", "build-guests.ts"), "examples", "hello"],
      {
        cwd: REPO,
        stdio: ["ignore", "pipe", "ignore"],
      },
    );
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => {
      out += chunk;
    });
    const code = await new Promise((resolve) => child.on("close", resolve));
    assert.equal(code, 0);
    assert.match(out, /^example hello (built|cached) examples\/hello\/dist\/hello\.wasm\n$/);
  });

  test("spin-hello is built by Spin's own toolchain, installed apart from the repository's packages", {
    timeout: 300_000,
  }, async () => {
    const build = await ensureGuest("example", "spin-hello");
    assert.deepEqual(await header(build.path), COMPONENT_HEADER);
    // The toolchain's packages live in the cache, never in the repository's own node_modules.
    await assert.rejects(stat(path.join(REPO, "node_modules", "@spinframework")), { code: "ENOENT" });
    const deps = await readdir(path.join(REPO, ".cache", "guest-deps"));
    assert.ok(deps.length > 0);
    const again = await ensureGuest("example", "spin-hello");
    assert.equal(again.cached, true);
  });
});

describe("Spin-SDK examples", () => {
  // Built by its own toolchain (guest.json "toolchain": "npm"); `npm test` builds it first.
  test("spin-kv builds with Spin's JS SDK 2.0 to a component importing Spin's key-value and variables", {
    timeout: 300_000,
  }, async () => {
    const build = await ensureGuest("example", "spin-kv");
    assert.deepEqual(await header(build.path), COMPONENT_HEADER);
    // Where spin.toml's `source` says it is, for deploy-cli push spin.toml.
    assert.equal(build.distPath, path.join(REPO, "examples", "spin-kv", "dist", "spin-kv.wasm"));
    assert.ok((await readFile(build.distPath)).equals(await readFile(build.path)));
    await assert.rejects(stat(path.join(REPO, "node_modules", "@fermyon")), { code: "ENOENT" });
    const { componentWit } = await import("@bytecodealliance/jco");
    const wit = await componentWit(await readFile(build.path));
    const imports = witItems(wit, "import");
    assert.ok(imports.includes("fermyon:spin/key-value@2.0.0"), imports.join(", "));
    assert.ok(imports.includes("fermyon:spin/variables@2.0.0"), imports.join(", "));
    assert.deepEqual(witItems(wit, "export"), ["wasi:http/incoming-handler@0.2.0"]);
  });
});

/** Runs ensureGuest in a separate Node process, as parallel test files do. */
function buildInChild(root: string): Promise<{ path: string; cached: boolean }> {
  const module = pathToFileURL(path.join(import.meta.dirname, "guests.ts")).href;
  const code = `
    import { ensureGuest } from ${JSON.stringify(module)};
    const build = await ensureGuest("fixture", "trap", { root: process.argv[1], onProgress() {} });
    process.stdout.write(JSON.stringify({ path: build.path, cached: build.cached }));
  `;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "--eval", code, root], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let stdout = "";
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      stdout += chunk;
    });
    child.on("error", reject);
    child.on("close", (code) => {
      if (code === 0) resolve(JSON.parse(stdout));
      else reject(new Error(`child build exited with ${code}: ${stdout}`));
    });
  });
}
