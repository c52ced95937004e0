// Prepared files are made for one key-value store (ComponentInfo.preparedFor): on the embedded
// store a store call is transpiled as a plain call, which a Redis call's promise would break. So a
// runtime takes prepared files, its own from disk or another gateway's, only when they were made
// for its store; any others it prepares again. (test/kv-embedded.test.ts shows the same on disk
// across gateway restarts.)

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { tempDir } from "../test/harness/gateway.ts";
import { createRuntime, type KvBackendConfig, type Runtime } from "./index.ts";

const silent = { info() {}, warn() {}, error() {} };
const runtimes: Runtime[] = [];
after(async () => {
  await Promise.all(runtimes.map((r) => r.close()));
});

function runtimeOn(kv: KvBackendConfig): Runtime {
  const runtime = createRuntime({ compiledDir: join(tempDir(), "compiled"), logger: silent, workers: 1, kv });
  runtimes.push(runtime);
  return runtime;
}

it("takes another gateway's prepared files only when they were made for its own store", async () => {
  const bytes = new Uint8Array(await readFile(await buildGuest("example", "counter-fast")));
  const digest = createHash("sha256").update(bytes).digest("hex");
  const embedded = runtimeOn({ kind: "sqlite", path: join(tempDir(), "kv.db") });
  // Never connected: preparing and importing files does not touch the store.
  const redis = runtimeOn({ kind: "redis", topology: { kind: "standalone", url: "redis://127.0.0.1:1" } });
  const memory = 64 * 1024 * 1024;

  assert.equal((await embedded.prepare(digest, bytes, memory)).preparedFor, "sqlite");
  const fromEmbedded = (await embedded.exportPrepared(digest))!;
  assert.equal(await redis.importPrepared(digest, fromEmbedded), undefined);
  assert.equal(await redis.prepared(digest), undefined, "nothing was installed");

  assert.equal((await redis.prepare(digest, bytes, memory)).preparedFor, "redis");
  const fromRedis = (await redis.exportPrepared(digest))!;
  assert.equal(await embedded.importPrepared(digest, fromRedis), undefined);
  assert.equal(
    (await embedded.prepared(digest))?.preparedFor,
    "sqlite",
    "its own files are left as they were",
  );

  const another = runtimeOn({ kind: "redis", topology: { kind: "standalone", url: "redis://127.0.0.1:1" } });
  assert.equal((await another.importPrepared(digest, fromRedis))?.preparedFor, "redis");
  assert.equal((await another.prepared(digest))?.preparedFor, "redis");
});
