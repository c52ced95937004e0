// Many apps on one gateway with a small memory budget. The apps are copies of one component that
// differ only in a custom section, so they share its glue and core modules, and the budget counts
// those once: sixteen fast-world copies fit in 64 MiB with an instance each. Copies of a larger
// component then take the worker over the budget: it unloads the least recently used idle apps
// and loads them again when asked, and every request is answered correctly.

import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../../scripts/guests.ts";
import { type GatewayProcess, get, push, startGateway, tempDir } from "../harness/gateway.ts";
import { metric, scrape, waitFor } from "../harness/ops.ts";

const FAST_APPS = 16;
/** StarlingMonkey copies: each instance's 9 MiB memory, besides their shared 14 MB of code. */
const LARGE_APPS = 3;
const BUDGET_MIB = 64;
const FAST_ANSWER = (path: string) => `Hello from wasmgate (fast world)! You asked for ${path}\n`;

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

async function pushCopies(example: string, prefix: string, count: number): Promise<void> {
  const bytes = new Uint8Array(readFileSync(await buildGuest("example", example)));
  for (let i = 0; i < count; i++) {
    const file = join(dir, `${prefix}-${i}.wasm`);
    writeFileSync(file, distinct(bytes, `${prefix} ${i}`));
    await push(gw, file, `${prefix}-${i}`, ["--host", `${prefix}-${i}.localhost`]);
  }
}

const isBudgetUnload = (l: Record<string, unknown>) =>
  l.msg === "unloaded an idle app to stay within the memory budget";

before(async () => {
  // One worker, so the whole budget is its own.
  gw = await startGateway({ args: ["--memory-budget-mb", String(BUDGET_MIB), "--workers", "1"] });
  await pushCopies("hello-fast", "fast", FAST_APPS);
});
after(async () => {
  await gw?.dispose();
});

describe("many apps", () => {
  it("keeps copies that share their code loaded together within the budget", async () => {
    for (let i = 0; i < FAST_APPS; i++) {
      const res = await get(gw, `fast-${i}.localhost`, "/a");
      assert.equal(res.status, 200);
      assert.equal(res.text, FAST_ANSWER("/a"));
    }
    assert.equal(metric(await scrape(gw), "wasmgate_instances_live"), FAST_APPS);
    assert.equal(gw.logs.filter(isBudgetUnload).length, 0);
  });

  it("unloads the least recently used idle apps past the budget and loads them again on demand", async () => {
    await pushCopies("hello", "large", LARGE_APPS);
    await waitFor(
      () => gw.logs.some(isBudgetUnload),
      5000,
      `apps were unloaded to stay within ${BUDGET_MIB} MiB`,
    );
    for (let round = 0; round < 2; round++) {
      for (let i = 0; i < FAST_APPS; i++) {
        const res = await get(gw, `fast-${i}.localhost`, `/r${round}`);
        assert.equal(res.status, 200);
        assert.equal(res.text, FAST_ANSWER(`/r${round}`));
      }
      for (let i = 0; i < LARGE_APPS; i++) {
        const res = await get(gw, `large-${i}.localhost`, `/r${round}`);
        assert.equal(res.status, 200, res.text);
      }
    }
  });
});
