// Habits users bring from wrangler and spin: --version, `help <command>`, `deploy` for push, a
// did-you-mean for a mistyped command, and a refused first push that leaves nothing behind.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import {
  adminCall,
  type GatewayProcess,
  get,
  ROOT,
  runCli,
  startGateway,
  tempDir,
} from "./harness/gateway.ts";

it("--version prints the package's version and exits 0", async () => {
  const { version } = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
  const res = await runCli(["--version"]);
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.stdout, `deploy-cli ${version} (wasmgate)\n`);
});

it("init quotes a folder name the shell would split in the cd it suggests", async () => {
  const dir = tempDir("wasmgate-init-");
  try {
    for (const [name, cd] of [
      ["My App", "cd 'My App' && deploy-cli dev"],
      ["it's", "cd 'it'\\''s' && deploy-cli dev"],
      ["shop", "cd shop && deploy-cli dev"],
    ]) {
      const res = await runCli(["init", name!], {}, undefined, dir);
      assert.equal(res.code, 0, res.stderr);
      assert.ok(res.stdout.includes(`  ${cd}  # serves`), res.stdout);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it("a mistyped option is named in our words with the option it was likely meant as", async () => {
  const typo = await runCli(["kv", "list", "--prefx", "a"]);
  assert.equal(typo.code, 1);
  assert.equal(
    typo.stderr,
    "deploy-cli: deploy-cli kv has no option --prefx\nhint: did you mean --prefix? (deploy-cli kv --help lists them)\n",
  );
  const missing = await runCli(["kv", "list", "--app"]);
  assert.equal(missing.stderr, "deploy-cli: --app needs a value\nhint: deploy-cli kv --help\n");
});

it("`apps --help` prints the help of each apps command", async () => {
  const res = await runCli(["apps", "--help"]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^Usage: deploy-cli apps list/m);
  assert.match(res.stdout, /^Usage: deploy-cli apps delete/m);
});

it("`help push` and `deploy --help` print what `push --help` prints", async () => {
  const push = await runCli(["push", "--help"]);
  assert.equal(push.code, 0);
  assert.match(push.stdout, /^Usage: deploy-cli push/);
  for (const args of [
    ["help", "push"],
    ["deploy", "--help"],
  ]) {
    const res = await runCli(args);
    assert.equal(res.code, 0, `${args.join(" ")}: ${res.stderr}`);
    assert.equal(res.stdout, push.stdout, args.join(" "));
  }
});

it("a mistyped command exits 1 and suggests the one meant", async () => {
  const res = await runCli(["pussh", "app.wasm"]);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /unknown command "pussh/);
  assert.match(res.stderr, /did you mean `deploy-cli push`\?/);
  const far = await runCli(["zzzzzzzz"]);
  assert.equal(far.code, 1);
  assert.doesNotMatch(far.stderr, /did you mean/);
});

describe("a refused first push", () => {
  let gw: GatewayProcess;
  before(async () => {
    gw = await startGateway({ args: ["--workers", "1"] });
  });
  after(() => gw?.dispose());

  it("leaves no app behind, and its hostname free; a refused push to an existing app keeps it", async () => {
    const dir = tempDir("wasmgate-refused-");
    try {
      const fake = join(dir, "fake.wasm");
      writeFileSync(fake, randomBytes(256));
      const args = ["--gateway", gw.adminUrl];
      const env = { WASMGATE_TOKEN: gw.token };
      const refused = await runCli(["push", fake, "--app", "x1", "--host", "x1.localhost", ...args], env);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /ERR_COMPONENT_NOT_WASM/);
      assert.match(refused.stderr, /^hint: push a WebAssembly component/m);
      assert.equal((await adminCall(gw, "GET", "/v1/apps/x1")).status, 404, "no app x1");
      assert.equal((await get(gw, "x1.localhost", "/")).json().error.code, "ERR_HOST_NOT_FOUND");

      const good = await buildGuest("example", "hello-fast");
      assert.equal(
        (await runCli(["push", good, "--app", "x1", "--host", "x1.localhost", ...args], env)).code,
        0,
      );
      const again = await runCli(["push", fake, "--app", "x1", ...args], env);
      assert.equal(again.code, 1);
      assert.equal((await get(gw, "x1.localhost", "/")).status, 200, "the app and its deployment stay");

      // An app made through the admin API before its first deployment lists none, and says so.
      assert.equal(
        (await adminCall(gw, "PUT", "/v1/apps/x2", { json: { hostnames: ["x2.localhost"] } })).status,
        201,
      );
      const none = await runCli(["deployments", "list", "--app", "x2", ...args], env);
      assert.equal(none.code, 0, none.stderr);
      assert.equal(none.stdout, "x2 has no deployments yet: deploy it with `deploy-cli push`.\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("where the gateway is", () => {
  let gw: GatewayProcess;
  before(async () => {
    gw = await startGateway({ args: ["--workers", "1"] });
  });
  after(() => gw?.dispose());

  it("takes host:port without a scheme, refuses what is no URL, and tells the data plane apart", async () => {
    const env = { WASMGATE_TOKEN: gw.token };
    const bare = await runCli(["apps", "list", "--gateway", `127.0.0.1:${gw.adminPort}`], env);
    assert.equal(bare.code, 0, bare.stderr);
    const junk = await runCli(["apps", "list", "--gateway", "http://exa mple:1"], env);
    assert.equal(junk.code, 1);
    assert.match(junk.stderr, /--gateway http:\/\/exa mple:1 is not a URL\nhint: give the admin API's URL/);
    const data = await runCli(["apps", "list", "--gateway", gw.dataUrl], env);
    assert.equal(data.code, 1);
    assert.match(
      data.stderr,
      /ERR_HOST_NOT_FOUND[^\n]*\nhint: that answer came from the data plane: point --gateway at the admin API/,
    );
    const wasm = await buildGuest("example", "hello-fast");
    const badName = await runCli(
      ["push", wasm, "--app", "Bad_Name", "--host", "x.localhost", "--gateway", gw.adminUrl],
      env,
    );
    assert.equal(badName.code, 1);
    assert.match(badName.stderr, /ERR_VALIDATION[^\n]*\nhint: name it like my-app/);
  });

  it("apps delete asks on a terminal, and deletes only on yes", async () => {
    const wasm = await buildGuest("example", "hello-fast");
    const env = { WASMGATE_TOKEN: gw.token };
    assert.equal(
      (
        await runCli(
          ["push", wasm, "--app", "asked", "--host", "asked.localhost", "--gateway", gw.adminUrl],
          env,
        )
      ).code,
      0,
    );
    // `script` gives the command a terminal; the answer comes on its stdin.
    const onTerminal = (answer: string, extra: Record<string, string> = {}) => {
      const command = [
        process.execPath,
        join(ROOT, "bin", "deploy-cli.js"),
        "apps",
        "delete",
        "asked",
        "--gateway",
        gw.adminUrl,
      ];
      return spawnSync("script", ["-qec", command.map((w) => `'${w}'`).join(" "), "/dev/null"], {
        input: `${answer}\n`,
        encoding: "utf8",
        env: { ...process.env, ...env, ...extra },
      });
    };
    const no = onTerminal("n");
    assert.match(no.stdout, /Delete the app asked, free its hostnames\? \[y\/N\]/);
    // On a terminal the error is coloured; NO_COLOR turns that off.
    assert.ok(no.stdout.includes("\x1b[31mdeploy-cli:\x1b[39m kept asked: nothing was deleted"), no.stdout);
    assert.equal(no.status, 1);
    const plain = onTerminal("n", { NO_COLOR: "1" });
    assert.ok(plain.stdout.includes("\ndeploy-cli: kept asked"), plain.stdout);
    assert.equal((await adminCall(gw, "GET", "/v1/apps/asked")).status, 200, "kept");
    const yes = onTerminal("y");
    assert.equal(yes.status, 0, yes.stdout);
    assert.match(yes.stdout, /Deleted asked; its hostnames are free/);
    assert.equal((await adminCall(gw, "GET", "/v1/apps/asked")).status, 404, "deleted");
  });
});

describe("app commands inside a project", () => {
  let gw: GatewayProcess;
  before(async () => {
    gw = await startGateway({ args: ["--workers", "1"] });
  });
  after(() => gw?.dispose());

  it("take --app from the nearest wasmgate.json, here or in a parent folder", async () => {
    const project = tempDir("wasmgate-project-");
    try {
      writeFileSync(
        join(project, "wasmgate.json"),
        JSON.stringify({ name: "proj", hostnames: ["proj.localhost"] }),
      );
      mkdirSync(join(project, "src", "deep"), { recursive: true });
      const good = await buildGuest("example", "hello-fast");
      const env = { WASMGATE_TOKEN: gw.token };
      const gateway = ["--gateway", gw.adminUrl];
      assert.equal((await runCli(["push", good, ...gateway], env, undefined, project)).code, 0);
      const deep = join(project, "src", "deep");
      const listed = await runCli(["deployments", "list", ...gateway], env, undefined, deep);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^\* dep_/);
      const set = await runCli(["vars", "set", "GREETING", "hi", ...gateway], env, undefined, deep);
      assert.equal(set.code, 0, set.stderr);
      assert.equal((await adminCall(gw, "GET", "/v1/apps/proj/vars")).status, 200);
      const elsewhere = await runCli(
        ["deployments", "list", ...gateway],
        env,
        undefined,
        tempDir("wasmgate-empty-"),
      );
      assert.equal(elsewhere.code, 1);
      assert.match(elsewhere.stderr, /needs --app <name> \(or a wasmgate\.json here or above\)/);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
