// The registry itself: every capability is documented, named once, and offers what the preparer
// will accept; an interface two capabilities both claim would make one of them unreachable.

import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import path from "node:path";
import { it } from "node:test";
import { DEFAULT_LIMITS } from "../limits.ts";
import {
  asyncImports,
  beginStates,
  CAPABILITIES,
  endStates,
  forApps,
  type HostServices,
  IDLE_STATES,
  statesNeeded,
  supportedImports,
} from "./index.ts";
import { GuestOutput } from "./wasi/cli.ts";

const ROOT = path.resolve(import.meta.dirname, "../..");
const services = {} as HostServices;

it("each capability has a name of its own and a docs page that exists", () => {
  const names = CAPABILITIES.map((c) => c.name);
  assert.equal(new Set(names).size, names.length, names.join(", "));
  for (const c of CAPABILITIES) assert.ok(existsSync(path.join(ROOT, c.docs)), `${c.name}: ${c.docs}`);
});

it("no interface is offered by two capabilities, and every async import belongs to an offered one", () => {
  const owner = new Map<string, string>();
  for (const c of CAPABILITIES) {
    const imports = c.imports({ current: () => c.idle, services, output: new GuestOutput(0, () => {}) });
    for (const name of Object.keys(imports)) {
      assert.equal(owner.get(name), undefined, `${name} is offered by ${owner.get(name)} and ${c.name}`);
      owner.set(name, c.name);
    }
  }
  assert.deepEqual([...supportedImports()].sort(), [...owner.keys()].sort());
  for (const kv of ["sqlite", "redis", undefined] as const) {
    for (const name of asyncImports({ kv })) {
      assert.ok(owner.has(name.split("#")[0]!), `${name} is async but no capability offers its interface`);
    }
  }
});

it("the runtime's grants entry lists exactly the capabilities' grants, each field once", async () => {
  const { GRANTS } = await import("../grants.ts");
  const declared = CAPABILITIES.flatMap((c) => c.grants ?? []);
  assert.deepEqual(
    GRANTS.map((g) => g.field).sort(),
    declared.map((g) => g.field).sort(),
    "runtime/grants.ts and the capabilities name the same grants",
  );
  for (const g of declared) assert.ok(GRANTS.includes(g), `${g.field}: the same object in both lists`);
  const flags = GRANTS.map((g) => g.cli.flag);
  assert.equal(new Set(flags).size, flags.length, flags.join(", "));
});

/** Limits and each capability's view of an app shop of tenant acme, granted nothing. */
function shopApps() {
  const limits = { ...DEFAULT_LIMITS, maxInstances: 1, maxUses: 1, maxQueueMs: 10_000 };
  const access = {
    tenant: "acme",
    app: "shop",
    grants: {},
    network: { allowPrivateNetwork: [], trustAllowList: false },
    config: [],
  };
  return { limits, apps: forApps(access, limits) };
}

it("a capability that shares another's state sees the owner's request state and idle, never its own", () => {
  const sharing = CAPABILITIES.filter((c) => c.sharesStateOf);
  assert.ok(sharing.length > 0, "spin-key-value shares keyvalue's state");
  const { limits, apps } = shopApps();
  const states = beginStates(
    apps,
    limits,
    services,
    CAPABILITIES.map(() => true),
  );
  for (const c of sharing) {
    const i = CAPABILITIES.indexOf(c);
    const owner = CAPABILITIES.indexOf(c.sharesStateOf!);
    assert.ok(owner >= 0 && owner < i, `${c.name}: its owner is listed before it`);
    assert.equal(apps[i], undefined, `${c.name}: forApp is its owner's alone`);
    assert.equal(states[i], states[owner], `${c.name}: the same state object as ${c.sharesStateOf!.name}`);
    assert.equal(c.idle, c.sharesStateOf!.idle, `${c.name}: the owner's idle state`);
  }
  endStates(states, undefined);
});

it("a request begins only the states its component's imports need; the rest stay idle", () => {
  const { limits, apps } = shopApps();
  const kv = CAPABILITIES.findIndex((c) => c.name === "keyvalue");
  const outbound = CAPABILITIES.findIndex((c) => c.name === "outbound-http");
  // Nothing imported: the idle states themselves, and nothing to end.
  const none = beginStates(apps, limits, services, statesNeeded(["wasi:cli/stdout"]));
  assert.equal(none, IDLE_STATES);
  endStates(none, undefined);
  // Spin's key-value shares wasi:keyvalue's state: importing it begins that state.
  const spin = beginStates(apps, limits, services, statesNeeded(["fermyon:spin/key-value"]));
  assert.notEqual(spin[kv], IDLE_STATES[kv]);
  assert.equal((spin[kv] as { opsLeft: number }).opsLeft, limits.kvOps);
  assert.equal(spin[outbound], IDLE_STATES[outbound], "outbound HTTP, not imported, stays idle");
  endStates(spin, undefined);
});
