// The guest SDK end to end: examples/notes (a Hono app, the module's default export) built as an
// SDK guest and served by a real gateway. Key-value data with metadata, expiry and paging,
// variables and secrets, streamed bodies both ways, work after the response, errors, and instances
// that are reused rather than made per request.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push, ROOT, runCli, startGateway } from "./harness/gateway.ts";

const HOST = "notes.localhost";
let gw: GatewayProcess;

/** The gateway's log line `test` accepts; guest output reaches the log just after the response. */
async function logLine(test: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>> {
  for (let waited = 0; waited < 5000; waited += 20) {
    const found = gw.logs.find(test);
    if (found) return found;
    await sleep(20);
  }
  assert.fail("no such line in the gateway's log");
}

function cli(args: string[], input?: string) {
  return runCli([...args, "--gateway", gw.adminUrl], { WASMGATE_TOKEN: gw.token }, input);
}

before(async () => {
  gw = await startGateway();
  // Megabytes streamed through an interpreted JS engine on a test machine that may be busy: more
  // than the default 50 ms of guest CPU, so that a slow moment is not a CPU-limit failure.
  await push(gw, await buildGuest("example", "notes"), "notes", ["--host", HOST, "--cpu-ms", "1000"]);
});

after(async () => {
  await gw?.dispose();
});

describe("guest SDK (examples/notes)", () => {
  it("exports incomingHandler itself, so the gateway reuses its instances", async () => {
    // The log is written in batches: the line may come a moment after the push.
    const deployed = await logLine((l) => l.msg === "deployed");
    const info = JSON.parse(
      readFileSync(join(gw.stateDir, "compiled", String(deployed?.digest), "info.json"), "utf8"),
    );
    assert.equal(info.singleUse, false);
    assert.equal(info.handlerExport, "wasi:http/incoming-handler@0.2.10");
    const first = Number((await get(gw, HOST, "/instance")).text);
    const second = Number((await get(gw, HOST, "/instance")).text);
    assert.equal(second, first + 1, "the second request ran in the same instance");
  });

  it("stores, reads, lists and deletes notes with metadata, as the CLI sees them too", async () => {
    for (const id of ["a1", "a2", "a3", "b1"]) {
      const put = await get(gw, HOST, `/notes/${id}`, {
        method: "PUT",
        body: `note ${id}`,
        headers: { "x-tag": `tag-${id}` },
      });
      assert.equal(put.status, 201);
    }
    const read = await get(gw, HOST, "/notes/a2");
    assert.equal(read.status, 200);
    assert.equal(read.text, "note a2");
    assert.equal(read.headers.get("x-tag"), "tag-a2");
    assert.equal((await get(gw, HOST, "/notes/zz")).status, 404);

    // Paging: a cursor until the listing is complete.
    const ids: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?prefix=a&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`;
      const page = (await get(gw, HOST, `/notes${query}`)).json();
      ids.push(...page.ids);
      cursor = page.complete ? null : page.cursor;
      pages++;
    } while (cursor);
    assert.deepEqual(ids, ["a1", "a2", "a3"]);
    assert.equal(pages, 2);

    const fromCli = await cli(["kv", "get", "note:a1", "--app", "notes", "--json"]);
    const entry = JSON.parse(fromCli.stdout);
    assert.deepEqual(entry, {
      key: "note:a1",
      value: "note a1",
      encoding: "utf-8",
      metadata: { tag: "tag-a1" },
    });

    assert.equal((await get(gw, HOST, "/notes/a1", { method: "DELETE" })).status, 204);
    assert.equal((await get(gw, HOST, "/notes/a1")).status, 404);
  });

  it("lets a note expire after its TTL", async () => {
    assert.equal(
      (await get(gw, HOST, "/notes/brief?ttl=1", { method: "PUT", body: "soon gone" })).status,
      201,
    );
    assert.equal((await get(gw, HOST, "/notes/brief")).text, "soon gone");
    await sleep(2100);
    assert.equal((await get(gw, HOST, "/notes/brief")).status, 404);
  });

  it("reads variables and secrets through env, changed without a redeploy", async () => {
    assert.equal((await get(gw, HOST, "/config/REGION")).status, 404);
    assert.equal((await cli(["vars", "set", "REGION", "eu-west", "--app", "notes"])).code, 0);
    assert.equal((await cli(["secrets", "put", "API_KEY", "--app", "notes"], "k-123")).code, 0);
    assert.equal((await get(gw, HOST, "/config/REGION")).text, "eu-west");
    assert.equal((await get(gw, HOST, "/config/API_KEY")).text, "k-123");
  });

  it("streams a request body through and a response body out", async () => {
    const body = randomBytes(1024 * 1024);
    const echo = await (await import("undici")).request(`${gw.dataUrl}/echo`, {
      method: "POST",
      headers: { host: HOST },
      body,
    });
    assert.equal(echo.statusCode, 200);
    assert.equal(echo.headers["x-method"], "POST");
    assert.ok(Buffer.from(await echo.body.arrayBuffer()).equals(body), "the echo is byte-identical");
    await logLine((l) => l.msg === "guest output" && l.line === `echo: ${body.length} bytes`);

    const stream = await get(gw, HOST, "/stream?n=4");
    assert.equal(stream.text, "chunk 0\nchunk 1\nchunk 2\nchunk 3\n");
  });

  it("runs ctx.waitUntil work after the response", async () => {
    assert.equal((await get(gw, HOST, "/later/job")).text, "answered\n");
    let res = await get(gw, HOST, "/notes/later:job");
    for (let i = 0; res.status === 404 && i < 50; i++) {
      await sleep(20);
      res = await get(gw, HOST, "/notes/later:job");
    }
    assert.equal(res.text, "written after the response");
  });

  it("checks the app's bucket grants on every request, though env.KV lives as long as the instance", async () => {
    assert.equal((await get(gw, HOST, "/notes/a2")).text, "note a2");
    await push(gw, await buildGuest("example", "notes"), "notes", ["--bucket", "other"]);
    const denied = await get(gw, HOST, "/notes/a2");
    assert.equal(denied.status, 500);
    await logLine(
      (l) =>
        l.msg === "uncaught error in the guest" &&
        l.name === "KVError" &&
        /KV open failed: access-denied/.test(String(l.message)),
    );
    await push(gw, await buildGuest("example", "notes"), "notes", ["--bucket", "default"]);
    assert.equal((await get(gw, HOST, "/notes/a2")).text, "note a2");
  });

  it("answers a throwing handler with 500 and logs the error; the next request is fine", async () => {
    const boom = await get(gw, HOST, "/boom");
    assert.equal(boom.status, 500);
    assert.doesNotMatch(boom.text, /boom/);
    // Hono's default onError would print `(new Error("boom", "entry.js", …))`; the SDK reports it.
    const id = boom.headers.get("x-request-id");
    const record = await logLine((l) => l.msg === "uncaught error in the guest" && l.requestId === id);
    assert.equal(record.app, "notes");
    assert.equal(record.name, "Error");
    assert.equal(record.message, "boom");
    const throwLine = readFileSync(join(ROOT, "examples", "notes", "src", "index.ts"), "utf8")
      .split("\n")
      .findIndex((l) => l.includes('throw new Error("boom")'));
    assert.match(
      String((record.stack as string[])[0]),
      new RegExp(`[( ]examples/notes/src/index\\.ts:${throwLine + 1}:\\d+\\)?$`),
    );
    assert.equal((await get(gw, HOST, "/notes/a2")).text, "note a2");
  });
});
