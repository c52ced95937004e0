// wasi:keyvalue revisions end to end, on both backends (embedded SQLite and a real redis-server):
// components built against WIT as others publish it (wasmCloud's 0.2.0-draft, draft2 as Spin
// first vendored it) are served in their own shapes from one store, and components importing a
// revision no one serves are refused at deploy instead of trapping at run time.

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { adminCall, type GatewayProcess, get, push, startGateway } from "./harness/gateway.ts";
import { type RedisServer, startRedisServer } from "./harness/redis-server.ts";

const KEYS = 5000;
const ALL = Array.from({ length: KEYS }, (_, i) => `k${String(i).padStart(5, "0")}`);
/** Seeding 5,000 keys is 5,000 operations and some CPU for a QuickJS guest on a busy machine. */
// Both apps name the tenant-level bucket "default", so they read and write the same keys.
const LIMITS = ["--kv-ops", "20000", "--cpu-ms", "2000", "--shared-bucket", "default"];

let draft: string;
let early: string;
before(async () => {
  draft = await buildGuest("fixture", "kv-draft");
  early = await buildGuest("fixture", "kv-draft2-early");
});

for (const backend of ["sqlite", "redis"] as const) {
  describe(`wasi:keyvalue revisions on ${backend}`, () => {
    let redis: RedisServer | undefined;
    let gw: GatewayProcess;

    before(async () => {
      if (backend === "redis") redis = await startRedisServer();
      gw = await startGateway({ env: redis ? { REDIS_URL: redis.url } : {} });
      await push(gw, draft, "draft", ["--host", "draft.localhost", ...LIMITS]);
      await push(gw, early, "early", ["--host", "early.localhost", ...LIMITS]);
      const seeded = await get(gw, "draft.localhost", `/seed?count=${KEYS}`, { method: "POST" });
      assert.equal(seeded.status, 200, seeded.text);
    });
    after(async () => {
      await gw?.dispose();
      await redis?.destroy();
    });

    it("records each component's revision at deploy, read from its own types", async () => {
      for (const [app, revision] of [
        ["draft", "0.2.0-draft"],
        ["early", "0.2.0-draft2-early"],
      ] as const) {
        const listed = await adminCall(gw, "GET", `/v1/apps/${app}/deployments`);
        const digest = listed.body.deployments[0].digest as string;
        const info = JSON.parse(
          await readFile(path.join(gw.stateDir, "compiled", digest, "info.json"), "utf8"),
        );
        assert.deepEqual(info.revisions, { keyvalue: revision }, app);
      }
    });

    it("0.2.0-draft: pages through 5,000 keys with u64 cursors, none missing or repeated", async () => {
      const res = await get(gw, "draft.localhost", "/list");
      assert.equal(res.status, 200, res.text);
      const { keys, cursors } = res.json() as { keys: string[]; cursors: string[] };
      assert.equal(new Set(keys).size, keys.length, "no key twice");
      assert.deepEqual([...keys].sort(), ALL, "every key");
      assert.ok(cursors.length >= 4, `${cursors.length} pages after the first`);
      for (const c of cursors) assert.ok(/^\d+$/.test(c) && BigInt(c) < 2n ** 53n, c);
    });

    it("0.2.0-draft: a cursor handed out in one request pages on in the next", async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let requests = 0;
      do {
        const res = await get(gw, "draft.localhost", cursor === null ? "/page" : `/page?cursor=${cursor}`);
        assert.equal(res.status, 200, res.text);
        const page = res.json() as { keys: string[]; cursor: string | null };
        seen.push(...page.keys);
        cursor = page.cursor;
        requests++;
        assert.ok(requests <= KEYS, "the listing ends");
      } while (cursor !== null);
      assert.equal(new Set(seen).size, seen.length, "no key twice");
      assert.deepEqual([...seen].sort(), ALL, "every key");
      const unknown = await get(gw, "draft.localhost", "/page?cursor=12345");
      assert.equal(unknown.status, 409);
      assert.match(unknown.json().error, /^other: ERR_KV_CURSOR_INVALID: /);
    });

    it("0.2.0-draft2 (early get-many): lists the same bucket with its string cursors", async () => {
      const res = await get(gw, "early.localhost", "/list");
      assert.equal(res.status, 200, res.text);
      const { keys } = res.json() as { keys: string[] };
      assert.equal(new Set(keys).size, keys.length);
      // The apps are one tenant's, both granted `default`: one bucket, whatever the revision.
      assert.deepEqual([...keys].filter((k) => /^k\d{5}$/.test(k)).sort(), ALL);
    });

    it("get-many answers none for a missing key in both revisions that say so, never a trap", async () => {
      for (const host of ["draft.localhost", "early.localhost"]) {
        const res = await get(gw, host, "/get-many?keys=k00007,missing,k04999,also-missing");
        assert.equal(res.status, 200, `${host}: ${res.text}`);
        assert.deepEqual(res.json(), [["k00007", "7"], null, ["k04999", "4999"], null], host);
      }
    });

    it("increment: u64 in the draft, s64 in draft2, on one counter", async () => {
      const incr = async (host: string, delta: string) => {
        const res = await get(gw, host, `/incr?key=counter&delta=${delta}`);
        return { status: res.status, body: res.json() };
      };
      assert.deepEqual(await incr("draft.localhost", "5"), { status: 200, body: { value: "5" } });
      assert.deepEqual(await incr("draft.localhost", "37"), { status: 200, body: { value: "42" } });
      assert.deepEqual(await incr("early.localhost", "-40"), { status: 200, body: { value: "2" } });
      assert.deepEqual(await incr("draft.localhost", "1"), { status: 200, body: { value: "3" } });
      const over = await incr("draft.localhost", String(2 ** 63));
      assert.equal(over.status, 409);
      assert.match(over.body.error, /^other: ERR_KV_INTEGER_OVERFLOW: /);
    });
  });
}

describe("wasi:keyvalue revisions the gateway does not serve", () => {
  let gw: GatewayProcess;
  before(async () => {
    gw = await startGateway();
  });
  after(async () => {
    await gw?.dispose();
  });

  async function deploy(fixture: string, app: string) {
    const created = await adminCall(gw, "PUT", `/v1/apps/${app}`, {
      json: { hostnames: [`${app}.localhost`] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return adminCall(gw, "POST", `/v1/apps/${app}/deployments`, {
      body: new Uint8Array(await readFile(await buildGuest("fixture", fixture))),
    });
  }

  it("refuses wasi:keyvalue/store@0.3.0 at deploy, naming it", async () => {
    const res = await deploy("kv-store-0-3-0", "future");
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "ERR_COMPONENT_UNSUPPORTED_IMPORTS");
    assert.match(res.body.error.message, /wasi:keyvalue\/store@0\.3\.0/);
    assert.match(
      res.body.error.message,
      /serves wasi:keyvalue@0\.2\.0-draft2 and wasi:keyvalue@0\.2\.0-draft/,
    );
    // Nothing was activated: the app has no deployment to serve.
    assert.equal(
      (await adminCall(gw, "GET", "/v1/apps/future/deployments")).body.deployments?.length ?? 0,
      0,
    );
  });

  it("refuses a made-up draft2 get-many at deploy, naming the interface, version and function", async () => {
    const res = await deploy("kv-draft2-made-up", "made-up");
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, "ERR_COMPONENT_UNSUPPORTED_IMPORTS");
    assert.match(res.body.error.message, /wasi:keyvalue\/batch@0\.2\.0-draft2 `get-many: func\(/);
    assert.match(res.body.error.message, /result<list<list<u8>>/);
  });
});
