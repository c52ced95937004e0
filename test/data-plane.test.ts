// The data plane's HTTP listener against a real gateway: a request with no body to an app already
// cached is answered without Hono, and every such answer must be the one Hono would give (errors,
// HEAD, counting and logging included). Anything else falls back to Hono.

import assert from "node:assert/strict";
import { connect } from "node:net";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push, startGateway } from "./harness/gateway.ts";
import { follow, metric, requestsOf, type Sample, scrape } from "./harness/ops.ts";

let gw: GatewayProcess;

before(async () => {
  gw = await startGateway();
  await push(gw, await buildGuest("example", "hello-fast"), "fast", ["--host", "fast.localhost"]);
  await push(gw, await buildGuest("fixture", "trap"), "trap", ["--host", "trap.localhost"]);
  // The first request to an app fills the caches the listener answers from.
  assert.equal((await get(gw, "fast.localhost", "/")).status, 200);
});
after(async () => {
  await gw?.dispose();
});

/** The fast app's 200 answers in a /metrics scrape, whatever its tenant label. */
function okCount(samples: Sample[]): number {
  const [sample] = samples.filter(
    (s) => s.name === "wasmgate_requests_total" && s.labels.app === "fast" && s.labels.status === "200",
  );
  return sample?.value ?? 0;
}

/** Sends `head` as written (no client rewrites it) and returns the raw response. */
function rawRequest(head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(gw.dataPort, "127.0.0.1", () => socket.end(head));
    let text = "";
    socket.on("data", (d) => {
      text += d;
    });
    socket.on("end", () => resolve(text));
    socket.on("error", reject);
  });
}

describe("data plane listener", () => {
  it("answers HEAD with the headers a GET gets and no body", async () => {
    const got = await get(gw, "fast.localhost", "/hello");
    const head = await get(gw, "fast.localhost", "/hello", { method: "HEAD" });
    assert.equal(head.status, 200);
    assert.equal(head.text, "");
    assert.equal(head.headers.get("content-length"), String(Buffer.byteLength(got.text)));
    assert.equal(head.headers.get("content-type"), got.headers.get("content-type"));
    assert.match(head.headers.get("x-request-id") ?? "", /^[\w-]{12,}$/);
    assert.notEqual(head.headers.get("x-request-id"), got.headers.get("x-request-id"));
  });

  it("refuses two Host headers with 400 and a JSON error, even for a cached app", async () => {
    const res = await rawRequest(
      "GET / HTTP/1.1\r\nHost: fast.localhost\r\nHost: other.localhost\r\nConnection: close\r\n\r\n",
    );
    assert.match(res, /^HTTP\/1\.1 400 /);
    const body = JSON.parse(res.slice(res.indexOf("\r\n\r\n") + 4));
    assert.equal(body.error.code, "ERR_BAD_REQUEST");
    assert.match(body.error.requestId, /^[\w-]{12,}$/);
  });

  it("answers a guest's trap with the JSON error Hono gives, the request id in body and header", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await get(gw, "trap.localhost", "/");
      assert.equal(res.status, 500);
      assert.equal(res.headers.get("content-type"), "application/json; charset=utf-8");
      const { error } = res.json();
      assert.equal(error.code, "ERR_RUNTIME_TRAP");
      assert.equal(error.requestId, res.headers.get("x-request-id"));
    }
  });

  it("counts and logs every request it answers", async () => {
    const logs = await follow(gw, "fast");
    try {
      const before = await scrape(gw);
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const res = await get(gw, "fast.localhost", `/counted?i=${i}`);
        assert.equal(res.status, 200);
        ids.push(res.headers.get("x-request-id")!);
      }
      const after = await scrape(gw);
      assert.equal(okCount(after) - okCount(before), 5);
      assert.equal(metric(after, "wasmgate_requests_in_flight"), 0);
      await logs.until((events) => ids.every((id) => requestsOf(events, id).length === 1));
      const [first] = requestsOf(logs.events, ids[0]);
      assert.equal(first!.data.method, "GET");
      assert.equal(first!.data.path, "/counted");
      assert.equal(first!.data.status, 200);
    } finally {
      logs.close();
    }
  });

  it("passes a request with a body to Hono, which streams it to the guest", async () => {
    await push(gw, await buildGuest("fixture", "echo"), "echo", ["--host", "echo.localhost"]);
    assert.equal((await get(gw, "echo.localhost", "/")).status, 200);
    const res = await get(gw, "echo.localhost", "/", { method: "POST", body: "ping" });
    assert.equal(res.status, 200);
    assert.equal(res.text, "ping");
  });
});
