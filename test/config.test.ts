// Variables and secrets end to end: set with the CLI, read by guests through wasi:config/store,
// scoped to their app, encrypted at rest, and never shown again by the API or the log.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { request } from "undici";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push, runCli, startGateway } from "./harness/gateway.ts";

let gw: GatewayProcess;
let stateDir: string;
// Values no other part of the system would produce, to search for.
const SECRET_A = `alpha-${randomBytes(12).toString("hex")}`;
const SECRET_A2 = `alpha2-${randomBytes(12).toString("hex")}`;
const SECRET_B = `beta-${randomBytes(12).toString("hex")}`;

function cli(args: string[], input?: string) {
  return runCli([...args, "--gateway", gw.adminUrl], { WASMGATE_TOKEN: gw.token }, input);
}

async function admin(path: string) {
  const res = await request(`${gw.adminUrl}${path}`, { headers: { authorization: `Bearer ${gw.token}` } });
  return { status: res.statusCode, text: await res.body.text() };
}

before(async () => {
  const outbound = await buildGuest("example", "outbound");
  gw = await startGateway();
  stateDir = gw.stateDir;
  // StarlingMonkey's first call after a restart can pass the default 50 ms of CPU on a busy machine.
  await push(gw, outbound, "alpha", ["--host", "alpha.localhost", "--cpu-ms", "500"]);
  await push(gw, outbound, "beta", ["--host", "beta.localhost", "--cpu-ms", "500"]);
});
after(async () => {
  await gw?.dispose();
  if (stateDir) rmSync(stateDir, { recursive: true, force: true });
});

describe("variables and secrets", () => {
  it("serves an app's variables and secrets to its own guests only", async () => {
    assert.equal((await cli(["vars", "set", "region", "eu-west", "--app", "alpha"])).code, 0);
    const put = await cli(["secrets", "put", "api_token", SECRET_A, "--app", "alpha"]);
    assert.equal(put.code, 0, put.stderr);
    assert.ok(!put.stdout.includes(SECRET_A), "the CLI does not echo the secret");
    assert.equal((await cli(["secrets", "put", "api_token", SECRET_B, "--app", "beta"])).code, 0);

    assert.equal((await get(gw, "alpha.localhost", "/config?key=region")).text, "eu-west");
    assert.equal((await get(gw, "alpha.localhost", "/config?key=api_token")).text, SECRET_A);
    assert.equal((await get(gw, "alpha.localhost", "/config-names")).text, "api_token\nregion");
    const beta = await get(gw, "beta.localhost", "/config?key=region");
    assert.equal(beta.status, 404, "beta does not see alpha's variable");
    assert.equal((await get(gw, "beta.localhost", "/config?key=api_token")).text, SECRET_B);
    assert.equal((await get(gw, "beta.localhost", "/config-names")).text, "api_token");
  });

  it("applies a change made with the CLI to the very next request, without a redeploy", async () => {
    assert.equal((await cli(["secrets", "put", "api_token", SECRET_A2, "--app", "alpha"])).code, 0);
    assert.equal((await get(gw, "alpha.localhost", "/config?key=api_token")).text, SECRET_A2);
    assert.equal((await cli(["vars", "set", "region", "us-east", "--app", "alpha"])).code, 0);
    assert.equal((await get(gw, "alpha.localhost", "/config?key=region")).text, "us-east");
    assert.equal((await cli(["vars", "unset", "region", "--app", "alpha"])).code, 0);
    assert.equal((await get(gw, "alpha.localhost", "/config?key=region")).status, 404);
    assert.equal((await cli(["vars", "set", "region", "eu-west", "--app", "alpha"])).code, 0);
  });

  it("never shows a secret's value: CLI and API list names, the log and the state file lack it", async () => {
    const listed = await cli(["secrets", "list", "--app", "alpha", "--json"]);
    assert.equal(listed.code, 0);
    assert.deepEqual(
      JSON.parse(listed.stdout).secrets.map((s: { name: string }) => s.name),
      ["api_token"],
    );
    const vars = await cli(["vars", "list", "--app", "alpha"]);
    assert.equal(vars.stdout, "region=eu-west\n");
    // The text listing: names and dates in aligned columns, never a value.
    assert.equal((await cli(["secrets", "put", "db_password_long", SECRET_A2, "--app", "alpha"])).code, 0);
    const text = (await cli(["secrets", "list", "--app", "alpha"])).stdout.split("\n").filter(Boolean);
    assert.deepEqual(
      text.map((line) => line.indexOf("updated")),
      [18, 18],
      text.join("\n"),
    );
    assert.equal((await cli(["secrets", "delete", "db_password_long", "--app", "alpha"])).code, 0);
    const seen = [
      listed.stdout,
      vars.stdout,
      (await admin("/v1/apps/alpha/secrets")).text,
      (await admin("/v1/apps/alpha/vars")).text,
      (await admin("/v1/apps/alpha")).text,
      (await admin("/v1/apps")).text,
      JSON.stringify(gw.logs),
    ];
    for (const value of [SECRET_A, SECRET_A2, SECRET_B]) {
      for (const text of seen) assert.ok(!text.includes(value), "a secret value was shown");
    }
    // Encrypted at rest: the plaintext is in no state file, and the key is private to the gateway.
    for (const file of ["state.db", "state.db-wal"]) {
      let bytes: Buffer;
      try {
        bytes = readFileSync(join(gw.stateDir, file));
      } catch {
        continue;
      }
      assert.ok(!bytes.includes(SECRET_A2) && !bytes.includes(SECRET_B), `${file} holds a plaintext secret`);
    }
    assert.equal(statSync(join(gw.stateDir, "secrets.key")).mode & 0o777, 0o600);
  });

  it("reads a secret from stdin, refuses a name used by a variable, and deletes", async () => {
    const taken = await cli(["secrets", "put", "region", "x", "--app", "alpha"]);
    assert.equal(taken.code, 1);
    assert.match(taken.stderr, /ERR_CONFIG_NAME_TAKEN/);
    const missing = await cli(["secrets", "delete", "nope", "--app", "alpha"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ERR_SECRET_NOT_FOUND/);
    const bad = await cli(["vars", "set", "bad name", "x", "--app", "alpha"]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /ERR_VALIDATION/);
    const empty = await cli(["secrets", "put", "piped", "--app", "alpha"]);
    assert.equal(empty.code, 1, "no value and nothing piped is a mistake, not an empty secret");
    const piped = await cli(["secrets", "put", "piped", "--app", "alpha"], `${SECRET_A}-piped\n`);
    assert.equal(piped.code, 0, piped.stderr);
    assert.equal((await get(gw, "alpha.localhost", "/config?key=piped")).text, `${SECRET_A}-piped`);
    assert.equal((await cli(["secrets", "delete", "api_token", "--app", "alpha"])).code, 0);
    assert.equal((await get(gw, "alpha.localhost", "/config?key=api_token")).status, 404);
  });

  it("keeps secrets across a restart (the key stays in the state directory)", async () => {
    assert.equal(await gw.stop(), 0);
    gw = await startGateway({ stateDir });
    assert.equal((await get(gw, "beta.localhost", "/config?key=api_token")).text, SECRET_B);
  });
});
