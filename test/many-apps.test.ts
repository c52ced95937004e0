// Many apps on one gateway with a small memory budget: workers unload the least recently used idle
// apps and load them again when asked, and every request is answered correctly.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push, startGateway, tempDir } from "./harness/gateway.ts";
import { waitFor } from "./harness/ops.ts";

const APPS = 16;
let gw: GatewayProcess;
const dir = tempDir("wasmgate-apps-");

/** A copy of a component made distinct by a custom section (id 0) appended at the end. */
function distinct(component: Uint8Array, tag: string): Uint8Array {
  const name = new TextEncoder().encode("wasmgate-test");
  const payload = new TextEncoder().encode(tag);
  const content = [name.length, ...name, ...payload];
  assert.ok(content.length < 128, "one-byte LEB128 size");
  return new Uint8Array([...component, 0, content.length, ...content]);
}

before(async () => {
  gw = await startGateway({ args: ["--memory-budget-mb", "64"] });
  const fast = new Uint8Array(readFileSync(await buildGuest("example", "hello-fast")));
  for (let i = 0; i < APPS; i++) {
    const file = join(dir, `app-${i}.wasm`);
    writeFileSync(file, distinct(fast, `app ${i}`));
    await push(gw, file, `app-${i}`, ["--host", `app-${i}.localhost`]);
  }
});
after(async () => {
  await gw?.dispose();
});

describe("many apps", () => {
  it("serves every app correctly while unloading idle ones to stay within the memory budget", async () => {
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < APPS; i++) {
        const res = await get(gw, `app-${i}.localhost`, `/r${round}`);
        assert.equal(res.status, 200);
        assert.equal(res.text, `Hello from wasmgate (fast world)! You asked for /r${round}\n`);
      }
    }
    const isUnload = (l: Record<string, unknown>) =>
      typeof l.msg === "string" && l.msg.startsWith("unloaded an idle app");
    await waitFor(() => gw.logs.some(isUnload), 5000, "apps were unloaded to stay within 64 MiB");
  });
});
