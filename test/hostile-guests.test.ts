// Guests as attackers: response heads no server should write, framing fields that would forge or
// swallow responses on a kept-alive connection, and two tenants running identical bytes. Real
// gateway processes, the hostile fixtures in both guest worlds, both listener paths (a request
// without a body is answered by the data plane's own listener, one with a body through Hono).

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { adminCall, type GatewayProcess, get, push, startGateway } from "./harness/gateway.ts";
import { type HostileSpec, specHeader, streamedSpec } from "./harness/hostile.ts";
import { exchange, parseResponses, rawRequest, WireParseError } from "./harness/http-wire.ts";
import { waitFor } from "./harness/ops.ts";
import { type RedisServer, startRedisServer } from "./harness/redis-server.ts";

let gw: GatewayProcess;
/** These tests are about framing: a loaded machine must not turn them into tests of the watchdog. */
const GENEROUS = ["--cpu-ms", "2000"];

const WORLDS = [
  { app: "edge", host: "edge.localhost", fixture: "hostile-edge" },
  { app: "std", host: "std.localhost", fixture: "hostile-http" },
] as const;
/** The direct listener path (no body) and the Hono path (a body). */
const PATHS = [
  { name: "listener", method: "GET", body: undefined },
  { name: "hono", method: "POST", body: "a request body" },
] as const;
/** More than the 1 MiB the worker buffers before a body streams. */
const STREAMED = 3 * 1024 * 1024;

before(async () => {
  gw = await startGateway();
  for (const w of WORLDS)
    await push(gw, await buildGuest("fixture", w.fixture), w.app, ["--host", w.host, ...GENEROUS]);
  await push(gw, await buildGuest("example", "hello-fast"), "bystander", [
    "--host",
    "bystander.localhost",
    ...GENEROUS,
  ]);
  for (const host of [...WORLDS.map((w) => w.host), "bystander.localhost"]) {
    assert.equal((await get(gw, host, "/")).status, 200);
  }
});
after(async () => {
  await gw?.dispose();
});

function ask(host: string, spec: HostileSpec, path: (typeof PATHS)[number]) {
  return get(gw, host, "/", {
    method: path.method,
    headers: { "x-spec": specHeader(spec) },
    ...(path.body === undefined ? {} : { body: path.body }),
  });
}

async function assertAlive(): Promise<void> {
  assert.equal(gw.process.exitCode, null, "the gateway process is still running");
  const health = await fetch(`${gw.adminUrl}/healthz`);
  assert.equal(health.status, 200);
  const other = await get(gw, "bystander.localhost", "/still-here");
  assert.equal(other.status, 200);
  assert.match(other.text, /You asked for \/still-here/);
}

describe("a hostile response head", () => {
  for (const w of WORLDS) {
    for (const path of PATHS) {
      it(`${w.app} world, ${path.name} path: a control byte in a value is a 502 and the gateway stays up`, async () => {
        for (const value of ["a\u0001b", "del\u007f", "esc\u001b[31m"]) {
          const res = await ask(w.host, { status: 200, headers: [["x-evil", value]], body: "hi" }, path);
          assert.equal(res.status, 502, `${JSON.stringify(value)}: ${res.text}`);
          const { error } = res.json();
          assert.equal(error.code, "ERR_GUEST_BAD_RESPONSE");
          assert.equal(error.requestId, res.headers.get("x-request-id"));
          const isRecord = (l: Record<string, unknown>) =>
            l.requestId === error.requestId && l.code === "ERR_GUEST_BAD_RESPONSE";
          await waitFor(() => gw.logs.some(isRecord), 5000, "the error's log record");
          assert.match(String(gw.logs.find(isRecord)!.msg), /"x-evil"/, "the log record names the header");
          await assertAlive();
        }
      });

      it(`${w.app} world, ${path.name} path: framing and hop-by-hop fields are the gateway's`, async () => {
        const res = await ask(
          w.host,
          {
            status: 200,
            headers: [
              ["Trailer", "x-checksum"],
              ["Transfer-Encoding", "chunked"],
              ["Connection", "close"],
              ["Keep-Alive", "timeout=1"],
              ["Upgrade", "h2c"],
              ["TE", "trailers"],
              ["Proxy-Authenticate", "Basic"],
              ["Content-Length", "abc"],
              ["x-kept", "yes"],
            ],
            body: "framed by the gateway",
          },
          path,
        );
        assert.equal(res.status, 200, res.text);
        assert.equal(res.text, "framed by the gateway");
        assert.equal(res.headers.get("content-length"), String("framed by the gateway".length));
        for (const name of ["trailer", "transfer-encoding", "upgrade", "te", "proxy-authenticate"]) {
          assert.equal(res.headers.get(name), null, name);
        }
        assert.notEqual(res.headers.get("keep-alive"), "timeout=1", "Keep-Alive is the gateway's own");
        assert.equal(res.headers.get("x-kept"), "yes");
        await assertAlive();
      });

      it(`${w.app} world, ${path.name} path: header names that are properties of every object are headers`, async () => {
        const names = ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"];
        const res = await ask(
          w.host,
          { status: 200, headers: names.map((n) => [n, `is-${n}`] as [string, string]), body: "plain" },
          path,
        );
        assert.equal(res.status, 200, res.text);
        for (const n of names) assert.equal(res.headers.get(n), `is-${n}`, n);
        await assertAlive();
      });

      it(`${w.app} world, ${path.name} path: statuses outside 200-599 are a 502`, async () => {
        // The standard world cannot even set what wasi:http refuses (below 100, above 999).
        for (const status of w.app === "edge"
          ? [0, 101, 103, 199, 600, 999, 65535]
          : [101, 103, 199, 600, 999]) {
          const res = await ask(w.host, { status, headers: [], body: "x" }, path);
          assert.equal(res.status, 502, `status ${status}: ${res.text}`);
          assert.equal(res.json().error.code, "ERR_GUEST_BAD_RESPONSE");
        }
        await assertAlive();
      });

      it(`${w.app} world, ${path.name} path: a pipelined request gets exactly its own answer`, async () => {
        const forged = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!";
        for (const declared of ["2", "999", "0"]) {
          const spec: HostileSpec = {
            status: 200,
            headers: [["content-length", declared]],
            body: `xx${forged}`,
          };
          const first = rawRequest(path.method, w.host, "/", { "x-spec": specHeader(spec) }, path.body);
          const second = rawRequest("GET", "bystander.localhost", "/second");
          const answers = parseResponses(await exchange(gw.dataPort, [first, second]), [path.method, "GET"]);
          assert.equal(answers.length, 2, `content-length ${declared}: two requests, two answers`);
          assert.equal(answers[0]!.status, 502, `content-length ${declared} does not fit the body`);
          assert.equal(JSON.parse(answers[0]!.body.toString()).error.code, "ERR_GUEST_BAD_RESPONSE");
          assert.equal(answers[1]!.status, 200);
          assert.match(answers[1]!.body.toString(), /You asked for \/second/);
        }
      });
    }
  }

  it("a streamed body longer or shorter than its content-length is cut off: the connection ends", async () => {
    for (const [declared, size] of [
      [2 * 1024 * 1024, STREAMED],
      [STREAMED, 2 * 1024 * 1024],
    ] as const) {
      const first = rawRequest("GET", "std.localhost", "/", {
        "x-spec": specHeader(streamedSpec(declared, size)),
      });
      const second = rawRequest("GET", "bystander.localhost", "/never");
      const bytes = await exchange(gw.dataPort, [first, second]);
      // The head promised `declared` bytes; fewer arrived and then the connection closed.
      const headEnd = bytes.indexOf("\r\n\r\n");
      const head = bytes.subarray(0, headEnd).toString("latin1");
      assert.match(head, /^HTTP\/1\.1 200 /);
      assert.match(head, new RegExp(`\r\ncontent-length: ${declared}\r\n`, "i"));
      const body = bytes.subarray(headEnd + 4);
      assert.ok(body.length < declared, `${body.length} body bytes for a promise of ${declared}`);
      assert.ok(/^\.*$/.test(body.toString("latin1")), "nothing but the guest's own body bytes");
      assert.throws(() => parseResponses(bytes, ["GET", "GET"]), WireParseError);
    }
    await assertAlive();
  });

  it("a streamed body that keeps its content-length is served whole", async () => {
    const first = rawRequest("GET", "std.localhost", "/", {
      "x-spec": specHeader(streamedSpec(STREAMED, STREAMED)),
    });
    const second = rawRequest("GET", "bystander.localhost", "/after");
    const answers = parseResponses(await exchange(gw.dataPort, [first, second]), ["GET", "GET"]);
    assert.equal(answers.length, 2);
    assert.equal(answers[0]!.header("content-length"), String(STREAMED));
    assert.equal(answers[0]!.body.length, STREAMED);
    assert.match(answers[1]!.body.toString(), /You asked for \/after/);
  });
});

describe("absolute-form request targets", () => {
  it("route by the target's authority, not by Host (RFC 9112 §3.2.2)", async () => {
    const request = "GET http://edge.localhost/absolute?q=1 HTTP/1.1\r\nHost: bystander.localhost\r\n\r\n";
    const [answer] = parseResponses(await exchange(gw.dataPort, [request]), ["GET"]);
    assert.equal(answer!.status, 200);
    assert.equal(answer!.body.toString(), "GET /absolute ok");
    const body = "GET http://nobody.localhost/ HTTP/1.1\r\nHost: edge.localhost\r\n\r\n";
    const [missing] = parseResponses(await exchange(gw.dataPort, [body]), ["GET"]);
    assert.equal(missing!.status, 404);
    assert.equal(JSON.parse(missing!.body.toString()).error.code, "ERR_HOST_NOT_FOUND");
  });
});

/** Two tenants push the same bytes; each must only ever see its own module-level state. */
async function tenantsDoNotShareInstances(target: GatewayProcess): Promise<void> {
  const bytes = new Uint8Array(
    await (await import("node:fs/promises")).readFile(await buildGuest("fixture", "hostile-edge")),
  );
  const tokens: Record<string, string> = {};
  for (const tenant of ["acme", "globex"]) {
    const created = await adminCall(target, "PUT", `/v1/tenants/${tenant}`, {
      json: { hostnames: [`*.${tenant}.localhost`] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const token = await adminCall(target, "POST", "/v1/tokens", { json: { tenant, scopes: ["apps:write"] } });
    assert.equal(token.status, 201, JSON.stringify(token.body));
    tokens[tenant] = token.body.token;
    const app = await adminCall(target, "PUT", `/v1/apps/box-${tenant}`, {
      token: tokens[tenant],
      json: { hostnames: [`box.${tenant}.localhost`] },
    });
    assert.equal(app.status, 201, JSON.stringify(app.body));
  }
  const first = await adminCall(target, "POST", "/v1/apps/box-acme/deployments", {
    token: tokens.acme,
    body: bytes,
  });
  assert.equal(first.status, 201, JSON.stringify(first.body));
  assert.equal(first.body.reused, false);
  const second = await adminCall(target, "POST", "/v1/apps/box-globex/deployments", {
    token: tokens.globex,
    body: bytes,
  });
  assert.equal(second.status, 201);
  assert.equal(second.body.reused, false, "another tenant's upload of the same bytes is not told");
  assert.equal(second.body.deployment.digest, first.body.deployment.digest);
  const again = await adminCall(target, "POST", "/v1/apps/box-acme/deployments", {
    token: tokens.acme,
    body: bytes,
  });
  assert.equal(again.body.reused, true, "the tenant's own earlier upload is");

  const box = (tenant: string, query = "") =>
    get(target, `box.${tenant}.localhost`, `/box${query}`).then((r) => r.text);
  assert.equal(await box("acme", "?set=A-only"), "box:A-only");
  // Many requests, so that every instance either app has is asked.
  for (let i = 0; i < 20; i++) assert.equal(await box("globex"), "box:", "B never reads A's state");
  assert.equal(await box("globex", "?set=B-planted"), "box:B-planted");
  for (let i = 0; i < 20; i++) assert.equal(await box("acme"), "box:A-only", "A never reads B's state");
}

describe("two tenants deploying identical bytes", () => {
  it("never share an instance (embedded state)", async () => {
    const own = await startGateway({ args: ["--workers", "1"] });
    try {
      await tenantsDoNotShareInstances(own);
    } finally {
      await own.dispose();
    }
  });

  it("never share an instance (Redis state)", async () => {
    let redis: RedisServer | undefined;
    let own: GatewayProcess | undefined;
    try {
      redis = await startRedisServer();
      own = await startGateway({ args: ["--workers", "1"], env: { REDIS_URL: redis.url } });
      await tenantsDoNotShareInstances(own);
    } finally {
      await own?.dispose();
      await redis?.destroy();
    }
  });
});
