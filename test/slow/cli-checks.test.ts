// The mistakes deploy-cli catches before a build that takes seconds: type errors in a TypeScript
// project (push, deploy and dev, with --no-check to skip), a variable that is already a secret, a
// hostname another app holds and routes that are not valid; and the shell completion scripts,
// run in real shells. Real gateway processes, real builds, the real binary.

import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { request } from "undici";
import { startDev } from "../harness/dev.ts";
import { adminCall, type GatewayProcess, get, runCli, startGateway, tempDir } from "../harness/gateway.ts";

let gw: GatewayProcess;
const work = tempDir("wasmgate-cli-checks-");
const project = join(work, "shop");
const source = join(project, "src", "index.ts");
let original: string;

/** deploy-cli in `cwd` with this gateway's URL and token in the environment. */
function cli(args: string[], cwd = project) {
  return runCli(args, { WASMGATE_URL: gw.adminUrl, WASMGATE_TOKEN: gw.token }, undefined, cwd);
}

/** The source with a type error on a line of its own: the line's number, counted from 1. */
function withTypeError(): { text: string; line: number } {
  const marker = "export default {";
  const at = original.indexOf(marker);
  assert.ok(at > 0);
  const text = `${original.slice(0, at)}const bad: number = "oops";\n${original.slice(at)}`;
  return { text, line: text.slice(0, at).split("\n").length };
}

/** A build started: push says so on stderr before it builds anything. */
const BUILD_STARTED = /^Building /m;

/** deploy-cli `args`, which must fail before it builds anything; what it printed. */
async function refusedBeforeBuilding(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const run = await cli(args);
  assert.equal(run.code, 1, run.stderr);
  assert.doesNotMatch(run.stderr, BUILD_STARTED);
  return run;
}

before(async () => {
  gw = await startGateway();
  const init = await runCli(["init", "shop"], {}, undefined, work);
  assert.equal(init.code, 0, init.stderr);
  original = readFileSync(source, "utf8");
});

after(async () => {
  await gw?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe("deploy-cli checks before building", () => {
  it("push and deploy refuse a type error with its place, before building; --no-check builds it", async () => {
    const { text, line } = withTypeError();
    writeFileSync(source, text);
    try {
      const push = await refusedBeforeBuilding(["push"]);
      assert.match(
        push.stderr,
        new RegExp(
          `^src/index\\.ts:${line}:7 - error TS2322: Type 'string' is not assignable to type 'number'\\.$`,
          "m",
        ),
      );
      assert.match(
        push.stderr,
        /deploy-cli: src\/index\.ts does not type-check \(1 error, tsconfig\.json\): error TS2322: .* \(src\/index\.ts:\d+:7\)\nhint: .*--no-check.*\n$/,
      );

      const deploy = await refusedBeforeBuilding(["deploy", "--json"]);
      const { error } = JSON.parse(deploy.stdout);
      assert.equal(error.code, "ERR_TYPE_CHECK_FAILED");
      assert.match(error.detail, new RegExp(`^src/index\\.ts:${line}:7 - error TS2322: `));
      assert.match(error.hint, /--no-check/);

      // Not deployed by the refusals: the app does not exist yet.
      assert.equal((await adminCall(gw, "GET", "/v1/apps/shop")).status, 404);

      const skipped = await cli(["push", "--no-check"]);
      assert.equal(skipped.code, 0, skipped.stderr);
      assert.match(skipped.stderr, BUILD_STARTED);
      assert.equal((await get(gw, "shop.localhost", "/")).status, 200);
    } finally {
      writeFileSync(source, original);
    }
    // A project whose types are fine says it checked them, then builds.
    const fine = await cli(["push", "--message", "typed"]);
    assert.equal(fine.code, 0, fine.stderr);
    assert.match(fine.stderr, /^Types checked \(tsconfig\.json, [\d.]+ s\)\.\nBuilding /m);
  });

  it("push refuses a variable that is already one of the app's secrets, before building", async () => {
    // GREETING moves from a variable to a secret; wasmgate.json still sets it as a variable.
    assert.equal((await cli(["vars", "unset", "GREETING", "--app", "shop"])).code, 0);
    const secret = await runCli(
      ["secrets", "put", "GREETING", "--app", "shop"],
      { WASMGATE_URL: gw.adminUrl, WASMGATE_TOKEN: gw.token },
      "s3cret",
      project,
    );
    assert.equal(secret.code, 0, secret.stderr);
    try {
      const push = await refusedBeforeBuilding(["push"]);
      assert.match(
        push.stderr,
        /deploy-cli: wasmgate\.json sets the variable GREETING, but app shop already has a secret named GREETING; a name is either a variable or a secret\nhint: .*unset or delete the other first\n$/,
      );
      const json = await cli(["push", "--json"]);
      assert.equal(JSON.parse(json.stdout).error.code, "ERR_CONFIG_NAME_TAKEN");
    } finally {
      assert.equal((await cli(["secrets", "delete", "GREETING", "--app", "shop"])).code, 0);
    }
  });

  it("push refuses a hostname another app holds, before building", async () => {
    const other = await adminCall(gw, "PUT", "/v1/apps/other", { json: { hostnames: ["taken.localhost"] } });
    assert.equal(other.status, 201, JSON.stringify(other.body));
    const push = await refusedBeforeBuilding([
      "push",
      "--host",
      "shop.localhost",
      "--host",
      "Taken.localhost",
      "--json",
    ]);
    const { error } = JSON.parse(push.stdout);
    assert.equal(error.code, "ERR_HOSTNAME_TAKEN");
    assert.match(error.message, /hostname Taken\.localhost is already bound to another app \(other\)/);
    assert.match(error.hint, /pick another hostname/);
    // The app keeps the hostnames it had.
    const shop = await adminCall(gw, "GET", "/v1/apps/shop");
    assert.deepEqual(shop.body.app.hostnames, ["shop.localhost"]);
  });

  it("push refuses routes the gateway would refuse, in the gateway's words, before building", async () => {
    const manifest = JSON.parse(readFileSync(join(project, "wasmgate.json"), "utf8"));
    const file = join(project, "routed.json");
    writeFileSync(
      file,
      JSON.stringify({ ...manifest, routes: { "/api/...": "src/index.ts", "api/...": "src/index.ts" } }),
    );
    const push = await refusedBeforeBuilding(["push", "--manifest", file]);
    assert.match(
      push.stderr,
      /deploy-cli: routed\.json: "routes": the routes "\/api\/\.\.\." and "api\/\.\.\." match the same paths\n/,
    );
    // The gateway refuses the same routes with the same words.
    const body = `--b\r\ncontent-disposition: form-data; name="routes"\r\n\r\n${JSON.stringify([
      { route: "/api/...", component: "index" },
      { route: "api/...", component: "index" },
    ])}\r\n--b--\r\n`;
    const refused = await adminCall(gw, "POST", "/v1/apps/shop/deployments", {
      body: new TextEncoder().encode(body),
      contentType: "multipart/form-data; boundary=b",
    });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, "ERR_VALIDATION");
    assert.equal(refused.body.error.message, 'the routes "/api/..." and "api/..." match the same paths');
  });

  it("dev reports a type error as a failed build and keeps serving; --no-check serves it", async () => {
    const dev = startDev(project, ["--json", "--no-persist"]);
    try {
      const ready = await dev.waitForEvent((e) => e.event === "ready");
      assert.equal(ready.live, true, dev.stderr());
      const port = ready.port as number;
      const answer = async () => {
        const res = await request(`http://127.0.0.1:${port}/`, { headers: { host: "shop.localhost" } });
        return { status: res.statusCode, text: await res.body.text() };
      };
      assert.equal((await answer()).status, 200);

      const mark = dev.events.length;
      const { text, line } = withTypeError();
      writeFileSync(source, text.replace("from shop!", "from the typo!"));
      const failed = await dev.waitForEvent((e) => e.event === "build" && dev.events.indexOf(e) >= mark);
      assert.equal(failed.ok, false);
      assert.equal(failed.code, "ERR_TYPE_CHECK_FAILED");
      assert.match(failed.error, new RegExp(`^error TS2322: .* \\(src/index\\.ts:${line}:7\\)$`));
      assert.deepEqual(failed.diagnostics, [
        `src/index.ts:${line}:7 - error TS2322: Type 'string' is not assignable to type 'number'.`,
      ]);
      assert.ok(!dev.events.slice(mark).some((e) => e.event === "reload"), "nothing reloaded");
      const still = await answer();
      assert.equal(still.status, 200);
      assert.match(still.text, /from shop!/);
    } finally {
      assert.equal(await dev.stop(), 0, dev.stderr());
    }

    const unchecked = startDev(project, ["--json", "--no-persist", "--no-check", "--no-watch"]);
    try {
      const ready = await unchecked.waitForEvent((e) => e.event === "ready");
      assert.equal(ready.live, true, unchecked.stderr());
      const res = await request(`http://127.0.0.1:${ready.port}/`, { headers: { host: "shop.localhost" } });
      assert.match(await res.body.text(), /from the typo!/);
    } finally {
      assert.equal(await unchecked.stop(), 0, unchecked.stderr());
      writeFileSync(source, original);
    }
  });
});

/** Whether `shell` can be run here. */
function has(shell: string): boolean {
  return spawnSync(shell, ["-c", "exit 0"]).status === 0;
}

describe("deploy-cli completion", () => {
  const commandWords = [
    "init",
    "dev",
    "push",
    "login",
    "logout",
    "apps",
    "deployments",
    "rollback",
    "logs",
    "kv",
    "vars",
    "secrets",
    "tenants",
    "tokens",
    "completion",
  ];

  it("bash completes commands, subcommands and each command's flags", async () => {
    const script = await runCli(["completion", "bash"]);
    assert.equal(script.code, 0, script.stderr);
    const file = join(work, "deploy-cli.bash");
    writeFileSync(file, script.stdout);
    /** What the completion function offers for the words typed so far (the last one at the cursor). */
    const complete = (...words: string[]): string[] => {
      const array = words.map((w) => `'${w}'`).join(" ");
      const run = spawnSync(
        "bash",
        [
          "--norc",
          "--noprofile",
          "-c",
          `source ${file}; COMP_WORDS=(deploy-cli ${array}); COMP_CWORD=${words.length}; _deploy_cli; printf '%s\\n' "\${COMPREPLY[@]}"`,
        ],
        { encoding: "utf8", cwd: project },
      );
      assert.equal(run.status, 0, run.stderr);
      return run.stdout.split("\n").filter((l) => l !== "");
    };
    assert.deepEqual(complete("pu"), ["push"]);
    assert.deepEqual(complete(""), commandWords);
    assert.deepEqual(complete("apps", ""), ["list", "delete"]);
    assert.deepEqual(complete("kv", "--app", "shop", ""), ["get", "put", "delete", "list"]);
    const pushFlags = complete("push", "--");
    for (const flag of [
      "--app",
      "--host",
      "--no-check",
      "--fast",
      "--bucket",
      "--cpu-ms",
      "--json",
      "--gateway",
    ]) {
      assert.ok(pushFlags.includes(flag), `${flag} in ${pushFlags.join(" ")}`);
    }
    assert.deepEqual(complete("push", "--app", "shop", "--no-c"), ["--no-check"]);
    assert.deepEqual(complete("apps", "delete", "--p"), ["--profile", "--purge"]);
    assert.deepEqual(complete("dev", "src/"), ["src/index.ts"]);
    const completion = await runCli(["completion", "tcsh"]);
    assert.equal(completion.code, 1);
    assert.match(completion.stderr, /no completion for "tcsh"\nhint: deploy-cli completion bash\|zsh\|fish/);
  });

  for (const shell of ["zsh", "fish"]) {
    it(`the ${shell} script parses and names every command`, {
      skip: !has(shell) && `${shell} is not installed here`,
    }, async () => {
      const script = await runCli(["completion", shell]);
      assert.equal(script.code, 0, script.stderr);
      for (const word of commandWords) assert.match(script.stdout, new RegExp(`\\b${word}\\b`), word);
      const file = join(work, `deploy-cli.${shell}`);
      writeFileSync(file, script.stdout);
      const parsed = spawnSync(shell, ["-n", file], { encoding: "utf8" });
      assert.equal(parsed.status, 0, parsed.stderr);
    });
  }
});
