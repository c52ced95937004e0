// A Spin app, unchanged, against real gateways: examples/spin-kv (Spin's JS SDK, built with Spin's
// toolchain) deployed from its spin.toml by deploy-cli, counting in Spin's key-value store, reading
// a variable and a secret, on two routes with Spin's routing headers, on the embedded store and on
// a Redis-backed gateway. Then Spin's other interfaces through test/fixtures/spin-platform (built
// with jco): SQLite per app and label, the unbacked ones answering their own error, and the Redis
// gateway refusing a component that needs SQLite.

import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { adminCall, type GatewayProcess, get, ROOT, runCli, startGateway } from "./harness/gateway.ts";
import { type RedisServer, startRedisServer } from "./harness/redis-server.ts";

const EXAMPLE = join(ROOT, "examples", "spin-kv");
const HOST = "spin-kv.localhost";
const TOKEN = "s3cret-token";

let embedded: GatewayProcess;
let fleet: GatewayProcess;
let redis: RedisServer;
let platform: Uint8Array;

before(async () => {
  // Writes examples/spin-kv/dist/spin-kv.wasm, the source spin.toml names.
  await buildGuest("example", "spin-kv");
  platform = new Uint8Array(readFileSync(await buildGuest("fixture", "spin-platform")));
  redis = await startRedisServer();
  embedded = await startGateway({ args: ["--workers", "1"] });
  fleet = await startGateway({ args: ["--workers", "1"], env: { REDIS_URL: redis.url } });
});
after(async () => {
  await Promise.all([embedded?.dispose(), fleet?.dispose()]);
  await redis?.destroy();
});

/** `deploy-cli push spin.toml` in the example's folder, as its README says. */
function pushSpinToml(gw: GatewayProcess, env: Record<string, string> = {}) {
  return runCli(
    ["push", "spin.toml", "--host", HOST, "--gateway", gw.adminUrl],
    { WASMGATE_TOKEN: gw.token, ...env },
    undefined,
    EXAMPLE,
  );
}

const visit = async (gw: GatewayProcess, path: string) => {
  const res = await get(gw, HOST, path);
  assert.equal(res.status, 200, res.text);
  return res.json();
};

/** The counter's behaviour, the same whichever store backs the gateway. */
async function assertCounts(gw: GatewayProcess) {
  assert.equal((await visit(gw, "/count/home")).visits, 1);
  assert.equal((await visit(gw, "/count/home")).visits, 2);
  assert.equal((await visit(gw, "/count/home")).visits, 3);
  assert.equal((await visit(gw, "/count/about")).visits, 1, "another path counts apart");
  // The store is the app's bucket `default`, which the admin API reads too.
  const stored = await adminCall(
    gw,
    "GET",
    `/v1/apps/spin-kv/kv/default/value?key=${encodeURIComponent("visits:/home")}`,
  );
  assert.equal(stored.status, 200, JSON.stringify(stored.body));
  assert.equal(String(stored.body), "3");
  const denied = await get(gw, HOST, "/count/home?store=archive");
  assert.equal(denied.status, 403, denied.text);
  assert.deepEqual(denied.json().error, { tag: "access-denied" });
}

describe("examples/spin-kv on the embedded store", () => {
  it("deploys from spin.toml with deploy-cli, its secret variable from SPIN_VARIABLE_*", async () => {
    const missing = await pushSpinToml(embedded);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /SPIN_VARIABLE_API_TOKEN/);

    const pushed = await pushSpinToml(embedded, { SPIN_VARIABLE_API_TOKEN: TOKEN });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stdout, /route +\/count\/\.\.\. → spin-kv/);
    assert.match(pushed.stdout, /route +\/greet\/:name → spin-kv/);
    const app = (await adminCall(embedded, "GET", "/v1/apps/spin-kv")).body.app;
    assert.deepEqual(app.buckets, ["default"]);
    const secrets = JSON.stringify((await adminCall(embedded, "GET", "/v1/apps/spin-kv/secrets")).body);
    assert.ok(secrets.includes("api_token") && !secrets.includes(TOKEN), secrets);
  });

  it("counts in Spin's key-value store, and refuses a store it is not granted with Spin's error", async () => {
    await assertCounts(embedded);
  });

  it("sees Spin's routing headers on both routes", async () => {
    const counted = (await visit(embedded, "/count/a/b?x=1")).routing;
    assert.equal(counted["spin-path-info"], "/a/b");
    assert.equal(counted["spin-matched-route"], "/count/...");
    assert.equal(counted["spin-raw-component-route"], "/count/...");
    assert.equal(counted["spin-component-route"], "/count");
    assert.equal(counted["spin-base-path"], "/");
    assert.equal(counted["spin-full-url"], `http://${HOST}/count/a/b?x=1`);
    assert.match(counted["spin-client-addr"], /^127\.0\.0\.1:\d+$/);

    const greeted = await get(embedded, HOST, "/greet/ada", {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(greeted.status, 200, greeted.text);
    const routing = greeted.json().routing;
    assert.equal(routing["spin-matched-route"], "/greet/:name");
    assert.equal(routing["spin-path-match-name"], "ada");
    assert.equal(routing["spin-path-info"], "");
  });

  it("reads a variable, and checks callers against a secret variable it never shows", async () => {
    const greeted = await get(embedded, HOST, "/greet/ada", {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(greeted.json().message, "Hello, ada!");
    assert.ok(!greeted.text.includes(TOKEN));
    for (const authorization of [undefined, "Bearer wrong"]) {
      const refused = await get(
        embedded,
        HOST,
        "/greet/ada",
        authorization ? { headers: { authorization } } : {},
      );
      assert.equal(refused.status, 401, refused.text);
    }
    const set = await adminCall(embedded, "PUT", "/v1/apps/spin-kv/vars/greeting", {
      json: { value: "Howdy" },
    });
    assert.equal(set.status, 200, JSON.stringify(set.body));
    const changed = await get(embedded, HOST, "/greet/bob", {
      headers: { authorization: `Bearer ${TOKEN}` },
    });
    assert.equal(changed.json().message, "Howdy, bob!", "a changed variable needs no redeploy");
  });
});

describe("Spin's other interfaces (test/fixtures/spin-platform)", () => {
  const SITE = "spin-platform.localhost";
  const sql = async (label: string, statement: string) => {
    const res = await get(embedded, SITE, `/sqlite/${label}`, { method: "POST", body: statement });
    assert.equal(res.status, 200, res.text);
    return res.json();
  };

  before(async () => {
    const app = await adminCall(embedded, "PUT", "/v1/apps/spin-platform", { json: { hostnames: [SITE] } });
    assert.equal(app.status, 201, JSON.stringify(app.body));
    assert.deepEqual(app.body.app.sqliteDatabases, ["default"], "a new app has Spin's default database");
    const deployed = await adminCall(embedded, "POST", "/v1/apps/spin-platform/deployments", {
      body: platform,
    });
    assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
  });

  it("answers each unbacked interface with its own error variant, never a trap", async () => {
    for (const [name, tag] of [
      ["llm", "runtime-error"],
      ["redis", "other"],
      ["mqtt", "other"],
      ["postgres", "other"],
      ["mysql", "other"],
    ]) {
      const res = await get(embedded, SITE, `/unsupported/${name}`);
      assert.equal(res.status, 200, `${name}: ${res.text}`);
      assert.deepEqual(res.json().error, {
        tag,
        val: `fermyon:spin/${name} is not supported on this gateway`,
      });
    }
  });

  it("runs SQL on the app's own database file, and only on labels it is granted", async () => {
    assert.deepEqual(await sql("default", "CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT)"), {
      columns: [],
      rows: [],
    });
    await sql("default", "INSERT INTO notes (body) VALUES ('first'), ('second')");
    assert.deepEqual(await sql("default", "SELECT id, body FROM notes ORDER BY id"), {
      columns: ["id", "body"],
      rows: [
        ["1", "first"],
        ["2", "second"],
      ],
    });
    assert.ok(existsSync(join(embedded.stateDir, "spin-sqlite", "default", "spin-platform", "default.db")));

    assert.deepEqual((await sql("drafts", "SELECT 1")).error, { tag: "access-denied" });
    const granted = await adminCall(embedded, "PUT", "/v1/apps/spin-platform", {
      json: { sqliteDatabases: ["default", "drafts"] },
    });
    assert.equal(granted.status, 200, JSON.stringify(granted.body));
    assert.deepEqual((await sql("drafts", "SELECT 41 + 1 AS answer")).rows, [["42"]]);
    assert.equal((await sql("default", "SELECT nope FROM notes")).error.tag, "io");
    assert.equal((await sql("default", "SELECT count(*) FROM notes")).rows[0][0], "2", "still serving");
  });
});

describe("on a Redis-backed gateway", () => {
  it("deploys the same spin.toml and counts the same way, in Redis", async () => {
    const pushed = await pushSpinToml(fleet, { SPIN_VARIABLE_API_TOKEN: TOKEN });
    assert.equal(pushed.code, 0, pushed.stderr);
    await assertCounts(fleet);
    const greeted = await get(fleet, HOST, "/greet/ada", { headers: { authorization: `Bearer ${TOKEN}` } });
    assert.equal(greeted.json().message, "Hello, ada!");
  });

  it("refuses a component importing Spin's SQLite at deploy, naming the interface", async () => {
    const app = await adminCall(fleet, "PUT", "/v1/apps/spin-platform", {
      json: { hostnames: ["spin-platform.localhost"] },
    });
    assert.equal(app.status, 201, JSON.stringify(app.body));
    const refused = await adminCall(fleet, "POST", "/v1/apps/spin-platform/deployments", { body: platform });
    assert.equal(refused.status, 400, JSON.stringify(refused.body));
    assert.equal(refused.body.error.code, "ERR_COMPONENT_IMPORT_UNAVAILABLE");
    assert.match(refused.body.error.message, /fermyon:spin\/sqlite/);
    assert.match(refused.body.error.message, /Redis/);
    const none = await adminCall(fleet, "GET", "/v1/apps/spin-platform/deployments");
    assert.deepEqual(none.body.deployments, [], "a refused upload deploys nothing");
  });
});
