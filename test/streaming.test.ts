// Bodies stream through the gateway in both directions without being held whole.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { request } from "undici";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, memoryOf, push, startGateway } from "./harness/gateway.ts";

const MIB = 1024 * 1024;
let gw: GatewayProcess;

before(async () => {
  gw = await startGateway({ args: ["--max-body-bytes", String(200 * MIB)] });
  // Copying 100 MiB through guest memory is CPU the guest is charged for: give it room.
  await push(gw, await buildGuest("fixture", "echo"), "echo", [
    "--host",
    "echo.localhost",
    "--cpu-ms",
    "10000",
  ]);
  await push(gw, await buildGuest("fixture", "two-parts"), "two-parts", ["--host", "two-parts.localhost"]);
});
after(async () => {
  await gw?.dispose();
});

/** `total` bytes of deterministic noise in 1 MiB chunks, hashed as they are produced. */
function* noise(total: number, hash: ReturnType<typeof createHash>): Generator<Uint8Array> {
  const block = new Uint8Array(MIB);
  let state = 0x9e3779b9;
  for (let sent = 0; sent < total; sent += MIB) {
    for (let i = 0; i < block.length; i += 4) {
      state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
      block[i] = state;
      block[i + 1] = state >>> 8;
      block[i + 2] = state >>> 16;
      block[i + 3] = state >>> 24;
    }
    const chunk = block.slice(0, Math.min(MIB, total - sent));
    hash.update(chunk);
    yield chunk;
  }
}

describe("streaming", () => {
  it("echoes two 100 MiB bodies byte-identical while the gateway's peak RSS grows by under 64 MiB", async (t) => {
    async function echo(mib: number): Promise<void> {
      const sent = createHash("sha256");
      const received = createHash("sha256");
      const res = await request(`${gw.dataUrl}/`, {
        method: "POST",
        headers: { host: "echo.localhost", "content-type": "application/octet-stream" },
        body: Readable.from(noise(mib * MIB, sent)),
      });
      assert.equal(res.statusCode, 200);
      let size = 0;
      for await (const chunk of res.body) {
        size += chunk.byteLength;
        received.update(chunk);
      }
      assert.equal(size, mib * MIB);
      assert.equal(received.digest("hex"), sent.digest("hex"));
    }
    // A first small request starts the worker's instance; growth is measured from there.
    await echo(1);
    const warm = memoryOf(gw.process.pid!).rss;
    await echo(100);
    const first = memoryOf(gw.process.pid!).peak - warm;
    await echo(100);
    const total = memoryOf(gw.process.pid!).peak - warm;
    t.diagnostic(
      `peak RSS: +${(first / MIB).toFixed(1)} MiB after the first 100 MiB, +${(total / MIB).toFixed(1)} MiB after both`,
    );
    // 200 MiB moved, and the peak grew by well under one body: nothing is held whole or per stream.
    // What growth there is, is chunks not yet collected and the heaps' high-water mark (measured
    // +22 to +43 MiB; +80 to +100 MiB before the main thread collected young garbage as bodies pass).
    assert.ok(total < 64 * MIB, `two 100 MiB streams raised peak RSS by ${(total / MIB).toFixed(1)} MiB`);
  });

  it("echoes an empty body", async () => {
    const res = await request(`${gw.dataUrl}/`, {
      method: "POST",
      headers: { host: "echo.localhost" },
      body: "",
    });
    assert.equal(res.statusCode, 200);
    assert.equal((await res.body.arrayBuffer()).byteLength, 0);
  });

  it("passes on what a guest writes before it finishes", async () => {
    const started = performance.now();
    const res = await request(`${gw.dataUrl}/`, { headers: { host: "two-parts.localhost" } });
    assert.equal(res.statusCode, 200);
    const parts: [string, number][] = [];
    for await (const chunk of res.body) parts.push([chunk.toString(), performance.now() - started]);
    assert.equal(parts.map(([text]) => text).join(""), "first\nsecond\n");
    const first = parts.find(([text]) => text.includes("first"))!;
    const second = parts.find(([text]) => text.includes("second"))!;
    assert.notEqual(first, second, "the two writes arrive separately");
    assert.ok(
      second[1] - first[1] >= 400,
      `second part ${(second[1] - first[1]).toFixed(0)} ms after the first`,
    );
  });
});
