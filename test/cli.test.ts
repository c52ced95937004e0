// deploy-cli as a user runs it: init, push of a project's TypeScript entry and of the fast world,
// login and profiles, apps list, help and JSON output for every command, and failures that say in
// one line what went wrong and what to do. Real gateway processes, real builds.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { type GatewayProcess, get, ROOT, runCli, startGateway, tempDir } from "./harness/gateway.ts";

const COMMANDS = [
  "init",
  "dev",
  "push",
  "login",
  "logout",
  "apps list",
  "apps delete",
  "deployments list",
  "rollback",
  "logs",
  "tenants",
  "tokens",
  "kv",
  "vars",
  "secrets",
  "completion",
];

let gw: GatewayProcess;
const work = tempDir("wasmgate-cli-");
const config = tempDir("wasmgate-cli-config-");
const project = join(work, "shop");

/** deploy-cli in `cwd` with this gateway's URL and token in the environment. */
function cli(args: string[], cwd = work, env: Record<string, string> = {}, input?: string) {
  return runCli(args, { WASMGATE_URL: gw.adminUrl, WASMGATE_TOKEN: gw.token, ...env }, input, cwd);
}

/** deploy-cli with only the saved profiles to go by. */
function withProfiles(args: string[], env: Record<string, string> = {}, input?: string) {
  return runCli(args, { XDG_CONFIG_HOME: config, ...env }, input, work);
}

/** The failure ends with one `deploy-cli: <cause>` line and one `hint: <what to do>` line. */
function assertOneLineFailure(stderr: string, cause: RegExp): void {
  const match = /deploy-cli: ([^\n]+)\nhint: ([^\n]+)\n$/.exec(stderr);
  assert.ok(match, `stderr ends with a cause and a hint:\n${stderr}`);
  assert.match(match[1]!, cause);
}

before(async () => {
  gw = await startGateway();
});

after(async () => {
  await gw?.dispose();
  rmSync(work, { recursive: true, force: true });
  rmSync(config, { recursive: true, force: true });
});

describe("deploy-cli", () => {
  it("init scaffolds a TypeScript project whose types check", async () => {
    const init = await cli(["init", "shop", "--json"]);
    assert.equal(init.code, 0, init.stderr);
    const result = JSON.parse(init.stdout);
    assert.equal(result.app, "shop");
    assert.deepEqual(result.files, [
      ".gitignore",
      "package.json",
      "src/index.ts",
      "test/app.test.ts",
      "tsconfig.json",
      "wasmgate.d.ts",
      "wasmgate.json",
    ]);
    const manifest = JSON.parse(readFileSync(join(project, "wasmgate.json"), "utf8"));
    assert.equal(manifest.name, "shop");
    assert.equal(manifest.main, "src/index.ts");
    assert.deepEqual(manifest.hostnames, ["shop.localhost"]);
    // The editor's view: the SDK's types resolve and the handler is typed against them.
    const tsc = spawnSync(join(ROOT, "node_modules", ".bin", "tsc"), ["-p", project], { encoding: "utf8" });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    // The project brings the compiler push and dev check with, and a script that runs that check.
    const pkg = JSON.parse(readFileSync(join(project, "package.json"), "utf8"));
    const bundled = JSON.parse(
      readFileSync(join(ROOT, "node_modules", "typescript", "package.json"), "utf8"),
    );
    assert.equal(pkg.devDependencies.typescript, `^${bundled.version}`);
    assert.equal(pkg.scripts.check, "tsc --noEmit");
    const [bin, ...args] = pkg.scripts.check.split(" ");
    const check = spawnSync(join(ROOT, "node_modules", ".bin", bin), args, {
      cwd: project,
      encoding: "utf8",
    });
    assert.equal(check.status, 0, check.stdout + check.stderr);

    const again = await cli(["init", "shop"]);
    assert.equal(again.code, 1);
    assertOneLineFailure(again.stderr, /shop already exists and is not empty/);
    const badName = await cli(["init", "other", "--name", "Bad_Name"]);
    assert.equal(badName.code, 1);
    assertOneLineFailure(badName.stderr, /is not an app name/);
  });

  it("push builds the project's TypeScript entry, deploys it and prints its URL", async () => {
    const started = performance.now();
    const push = await cli(["push"], project);
    const seconds = (performance.now() - started) / 1000;
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stderr, /^Building src\/index\.ts \(StarlingMonkey\)…$/m);
    assert.match(push.stderr, /^Built SDK guest in [\d.]+ s \(1\d\.\d MiB\)\.$/m);
    assert.match(push.stderr, /^Uploading 1\d\.\d MiB to http:\/\/127\.0\.0\.1:\d+ for app shop\.\.\.$/m);
    assert.match(push.stderr, /^Activating/m);
    assert.match(push.stderr, /^Live in \d+ ms\.$/m);
    assert.match(push.stdout, new RegExp(`^  url     http://shop\\.localhost:${gw.dataPort}/$`, "m"));
    const res = await get(gw, "shop.localhost", "/");
    assert.equal(res.status, 200);
    assert.equal(res.text, "Hello from shop! / has had 1 visit.\n");
    process.stderr.write(`# push of a .ts project (cold build included): ${seconds.toFixed(1)} s\n`);

    // Flags win over wasmgate.json, and --json gives the deployment and the build.
    const again = await cli(
      ["push", "src/index.ts", "--app", "shop", "--message", "second", "--json"],
      project,
    );
    assert.equal(again.code, 0, again.stderr);
    const result = JSON.parse(again.stdout);
    assert.equal(result.deployment.message, "second");
    assert.deepEqual(result.urls, [`http://shop.localhost:${gw.dataPort}/`]);
    assert.equal((await get(gw, "shop.localhost", "/")).text, "Hello from shop! / has had 2 visits.\n");
    // Nothing it is built from changed: the same component again, so the same digest.
    const firstDigest = /^ {2}digest {2}sha256:([0-9a-f]{64})$/m.exec(push.stdout)?.[1];
    assert.equal(result.deployment.digest, firstDigest);
    assert.match(again.stderr, /^Reusing the build of src\/index\.ts: nothing it is built from changed/m);
    assert.equal(result.build, undefined);

    // A changed source builds again, and --json then carries the build.
    const source = join(project, "src", "index.ts");
    writeFileSync(source, readFileSync(source, "utf8").replace("has had", "has seen"));
    const changed = JSON.parse((await cli(["push", "--json"], project)).stdout);
    assert.equal(changed.build.sdk, true);
    assert.equal(changed.build.world, "sdk-guest");
    assert.notEqual(changed.deployment.digest, firstDigest);
    assert.equal((await get(gw, "shop.localhost", "/")).text, "Hello from shop! / has seen 3 visits.\n");
  });

  it("push --fast builds for the QuickJS fast world, and refuses an SDK guest", async () => {
    const entry = join(ROOT, "examples", "hello-fast", "src", "index.js");
    const push = await cli(["push", entry, "--fast", "--app", "fast", "--host", "fast.localhost"]);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stderr, /\(QuickJS, fast world\)/);
    // Outside a project (no wasmgate.json) nothing is kept beside the entry.
    assert.equal(existsSync(join(ROOT, "examples", "hello-fast", "src", ".wasmgate")), false);
    const res = await get(gw, "fast.localhost", "/hi");
    assert.equal(res.text, "Hello from wasmgate (fast world)! You asked for /hi\n");

    const sdk = await cli(["push", "--fast"], project);
    assert.equal(sdk.code, 1);
    assertOneLineFailure(sdk.stderr, /cannot be built with --fast/);
  });

  describe("push failures exit non-zero with a one-line cause and a hint", () => {
    const broken = join(work, "broken");
    before(() => {
      mkdirSync(join(broken, "src"), { recursive: true });
      writeFileSync(
        join(broken, "src", "index.ts"),
        'export default {\n  fetch() {\n    return new Response("x"\n  },\n};\n',
      );
    });

    const cases: [string, () => Promise<Awaited<ReturnType<typeof cli>>>, number, RegExp][] = [
      [
        "a missing file",
        () => cli(["push", "nope.ts", "--app", "x", "--host", "x.localhost"]),
        1,
        /^no such file: nope\.ts$/,
      ],
      [
        "a directory",
        () => cli(["push", "shop", "--app", "x", "--host", "x.localhost"]),
        1,
        /^shop is a directory/,
      ],
      [
        "a file that fails to build",
        () => cli(["push", "src/index.ts", "--app", "x", "--host", "x.localhost"], broken),
        1,
        /^src\/index\.ts does not build: \[PARSE_ERROR\] .+ \(src\/index\.ts:4:3\)$/,
      ],
      [
        "an unreachable gateway",
        () => cli(["push", "--gateway", "http://127.0.0.1:9"], project),
        2,
        /^cannot reach the gateway at http:\/\/127\.0\.0\.1:9/,
      ],
      ["a bad token", () => cli(["push"], project, { WASMGATE_TOKEN: "not-a-token" }), 1, /ERR_AUTH_INVALID/],
      ["no entry and no wasmgate.json", () => cli(["push", "--app", "x"]), 1, /^push needs a component/],
    ];
    for (const [what, run, exitCode, cause] of cases) {
      it(what, async () => {
        const result = await run();
        assert.equal(result.code, exitCode, result.stderr);
        assertOneLineFailure(result.stderr, cause);
        assert.equal(result.stdout, "");
      });
    }

    it("a build failure shows the compiler's output, and --json carries it", async () => {
      const text = await cli(["push", "src/index.ts", "--app", "x", "--host", "x.localhost"], broken);
      assert.equal(text.code, 1);
      assert.match(text.stderr, /╭─\[ src\/index\.ts:4:3 \]/);
      const result = await cli(
        ["push", "src/index.ts", "--app", "x", "--host", "x.localhost", "--json"],
        broken,
      );
      assert.equal(result.code, 1);
      assert.doesNotMatch(result.stderr, /╭─\[/, "with --json the output is said once, in the JSON");
      const { error } = JSON.parse(result.stdout);
      assert.equal(error.code, "ERR_BUILD_FAILED");
      assert.match(error.detail, /Expected `,` or `\)` but found `}`/);
      assert.match(error.hint, /fix the error/);
      const apps = JSON.parse((await cli(["apps", "list", "--json"])).stdout);
      assert.equal(
        apps.apps.some((a: { name: string }) => a.name === "x"),
        false,
        "nothing was created",
      );
    });
  });

  describe("login and profiles", () => {
    const file = join(config, "wasmgate", "config.json");

    it("login checks the token, saves it with mode 0600, and later commands use it", async () => {
      const login = await withProfiles(["login", "--gateway", gw.adminUrl, "--json"], {}, `${gw.token}\n`);
      assert.equal(login.code, 0, login.stderr);
      assert.deepEqual(JSON.parse(login.stdout), {
        profile: "default",
        gateway: gw.adminUrl,
        configFile: file,
        apps: 2,
      });
      assert.equal(statSync(file).mode & 0o777, 0o600);
      assert.equal(statSync(join(config, "wasmgate")).mode & 0o777, 0o700);

      const apps = await withProfiles(["apps", "list"]);
      assert.equal(apps.code, 0, apps.stderr);
      assert.match(apps.stdout, /^NAME +DEPLOYMENT +UPDATED +HOSTNAMES$/m);
      assert.match(apps.stdout, /^shop +dep_\w+ +\S+ +shop\.localhost$/m);
    });

    it("a profile's token is never sent to another gateway", async () => {
      const other = await startGateway();
      try {
        const elsewhere = await withProfiles(["apps", "list", "--gateway", other.adminUrl]);
        assert.equal(elsewhere.code, 1);
        assertOneLineFailure(elsewhere.stderr, /ERR_AUTH_MISSING/);
      } finally {
        await other.dispose();
      }
    });

    it("a bad token is refused and not saved; named profiles are kept apart", async () => {
      const before = readFileSync(file, "utf8");
      const bad = await withProfiles(["login", "--gateway", gw.adminUrl, "--token", "nope"]);
      assert.equal(bad.code, 1);
      assertOneLineFailure(bad.stderr, /ERR_AUTH_INVALID/);
      assert.equal(readFileSync(file, "utf8"), before);

      const missing = await withProfiles(["apps", "list", "--profile", "staging"]);
      assert.equal(missing.code, 1);
      assertOneLineFailure(missing.stderr, /there is no profile named staging/);

      const staging = await withProfiles([
        "login",
        "--profile",
        "staging",
        "--gateway",
        gw.adminUrl,
        "--token",
        gw.token,
      ]);
      assert.equal(staging.code, 0, staging.stderr);
      assert.match(staging.stdout, /^Logged in to http:\/\/127\.0\.0\.1:\d+ as profile staging/);
      const viaEnv = await withProfiles(["apps", "list", "--json"], { WASMGATE_PROFILE: "staging" });
      assert.equal(viaEnv.code, 0, viaEnv.stderr);

      const logout = await withProfiles(["logout", "--json"]);
      assert.deepEqual(JSON.parse(logout.stdout), { profile: "default", removed: true });
      const gone = await withProfiles(["apps", "list", "--gateway", gw.adminUrl]);
      assert.equal(gone.code, 1);
      assertOneLineFailure(gone.stderr, /ERR_AUTH_MISSING/);
      assert.equal((await withProfiles(["apps", "list", "--profile", "staging"])).code, 0);
    });
  });

  it("every command has --help with usage and examples", async () => {
    const overview = await cli(["--help"]);
    assert.equal(overview.code, 0);
    for (const name of COMMANDS) {
      assert.match(overview.stdout, new RegExp(`^  ${name} `, "m"), `${name} is listed`);
      const help = await cli([...name.split(" "), "--help"]);
      assert.equal(help.code, 0, `${name} --help`);
      assert.match(help.stdout, new RegExp(`^Usage: deploy-cli ${name}`, "m"));
      assert.match(help.stdout, /^Examples:\n(?: {2}.*deploy-cli .*\n)+$/m);
    }
  });

  it("--json output of every command parses as JSON, errors included", async () => {
    const runs: [string[], string?][] = [
      [["apps", "list", "--json"]],
      [["deployments", "list", "--app", "shop", "--json"]],
      [["kv", "put", "note", "hi", "--app", "shop", "--json"]],
      [["kv", "get", "note", "--app", "shop", "--json"]],
      [["kv", "list", "--app", "shop", "--json"]],
      [["kv", "delete", "note", "--app", "shop", "--json"]],
      [["vars", "set", "GREETING", "Howdy", "--app", "shop", "--json"]],
      [["vars", "list", "--app", "shop", "--json"]],
      [["vars", "unset", "GREETING", "--app", "shop", "--json"]],
      [["secrets", "put", "key", "--app", "shop", "--json"], "s3cret"],
      [["secrets", "list", "--app", "shop", "--json"]],
      [["secrets", "delete", "key", "--app", "shop", "--json"]],
      [["init", "json-app", "--json"]],
      [["logout", "--profile", "nobody", "--json"]],
      [["nonsense", "--json"]],
      [["push", "--no-such-flag", "--json"]],
      [["kv", "get", "missing-key", "--app", "shop", "--json"]],
      [["rollback", "--app", "shop", "--json"]],
      [["tenants", "list", "--json"]],
      [["tokens", "list", "--json"]],
      [["tenants", "delete", "nobody", "--json"]],
      [["apps", "delete", "no-such-app", "--json"]],
    ];
    // logs --json prints one JSON object per record (NDJSON).
    const logs = await cli(["logs", "--app", "shop", "--json"], work, { XDG_CONFIG_HOME: config });
    assert.equal(logs.code, 0, logs.stderr);
    for (const line of logs.stdout.split("\n").filter(Boolean))
      assert.doesNotThrow(() => JSON.parse(line), line);
    for (const [args, input] of runs) {
      const result = await cli(args, work, { XDG_CONFIG_HOME: config }, input);
      let parsed: unknown;
      assert.doesNotThrow(
        () => {
          parsed = JSON.parse(result.stdout);
        },
        `deploy-cli ${args.join(" ")} printed: ${result.stdout}${result.stderr}`,
      );
      if (result.code === 0) assert.equal((parsed as { error?: unknown }).error, undefined);
      else {
        assert.match((parsed as { error: { code: string } }).error.code, /^ERR_|^HTTP_/);
        assert.doesNotMatch(result.stderr, /deploy-cli: /, `${args.join(" ")}: the error once, as JSON`);
      }
    }
  });
});
