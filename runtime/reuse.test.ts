// When the runtime replaces an instance instead of reusing it: after a set number of requests when
// told to, and once its memory has grown past three quarters of its cap. Real workers, real
// components.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { tempDir } from "../test/harness/gateway.ts";
import { createRuntime, DEFAULT_LIMITS, type GuestLimits, type Runtime } from "./index.ts";

const MIB = 1024 * 1024;
const silent = { info() {}, warn() {}, error() {} };
const runtimes: Runtime[] = [];

after(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
});

async function setUp(fixture: string, maxUsesPerInstance?: number) {
  const runtime = createRuntime({
    compiledDir: join(tempDir(), "compiled"),
    logger: silent,
    workers: 1,
    maxUsesPerInstance,
  });
  runtimes.push(runtime);
  const bytes = new Uint8Array(await readFile(await buildGuest("fixture", fixture)));
  const digest = createHash("sha256").update(bytes).digest("hex");
  const limits: GuestLimits = { ...DEFAULT_LIMITS, memoryBytes: 4 * MIB };
  const info = await runtime.prepare(digest, bytes, limits.memoryBytes);
  const ctx = { requestId: "r", app: "app", tenant: "t", grants: { buckets: [] } };
  async function call(): Promise<number> {
    const res = await runtime.invoke(
      { digest, info },
      {
        method: "GET",
        pathWithQuery: "/",
        scheme: "http",
        authority: "app.localhost",
        headers: [],
        body: undefined,
        maxBodyBytes: MIB,
      },
      limits,
      ctx,
    );
    return res.status;
  }
  return { runtime, call };
}

describe("instance reuse", () => {
  it("reuses one instance for every request by default", async () => {
    const { runtime, call } = await setUp("hello-p020");
    for (let i = 0; i < 20; i++) assert.equal(await call(), 200);
    assert.equal(runtime.stats().instancesCreated, 1);
  });

  it("replaces an instance after maxUsesPerInstance requests when that is set", async () => {
    const { runtime, call } = await setUp("hello-p020", 3);
    for (let i = 0; i < 9; i++) assert.equal(await call(), 200);
    assert.equal(runtime.stats().instancesCreated, 3);
  });

  it("replaces an instance whose memory grew past three quarters of its cap before it runs out", async () => {
    // 1 MiB more per request under a 4 MiB cap: the third request takes it past 3 MiB.
    const { runtime, call } = await setUp("leak");
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) statuses.push(await call());
    assert.deepEqual(statuses, Array(9).fill(200), "no request hits the cap");
    assert.equal(runtime.stats().instancesCreated, 3);
  });
});
