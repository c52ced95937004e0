import assert from "node:assert/strict";
import { test } from "node:test";
import type { GuestLimits } from "../limits.ts";
import type { ToWorker } from "../protocol.ts";
import { WorkerContexts } from "./contexts.ts";

function limits(cpuMs = 50): GuestLimits {
  return {
    cpuMs,
    deadlineMs: 30_000,
    memoryBytes: 128 * 1024 * 1024,
    maxResponseBytes: 1024,
    kvOps: 1000,
    outboundRequests: 50,
    outboundConnectTimeoutMs: 10_000,
    outboundTimeoutMs: 30_000,
    outboundMaxResponseBytes: 1024,
    instances: "reuse",
  };
}

function registry(max?: number): { contexts: WorkerContexts; sent: ToWorker[] } {
  const sent: ToWorker[] = [];
  const contexts = new WorkerContexts(
    (msg) => sent.push(msg),
    (l) => ({ ...l, maxInstances: 4, maxUses: 100, maxQueueMs: 10_000 }),
    max,
  );
  return { contexts, sent };
}

test("an app's context is sent once, with the worker's instance limits", () => {
  const { contexts, sent } = registry();
  const appLimits = limits();
  const access = {
    tenant: "acme",
    app: "hello",
    grants: { buckets: ["default"], allowedOutboundHosts: ["https://api.example"] },
  };
  const first = contexts.idFor(appLimits, access);
  assert.equal(contexts.idFor(appLimits, access), first);
  assert.equal(contexts.idFor(appLimits, { ...access }), first, "the same grants, in a new request object");
  assert.deepEqual(sent, [
    {
      type: "context",
      id: first,
      replaces: undefined,
      limits: { ...appLimits, maxInstances: 4, maxUses: 100, maxQueueMs: 10_000 },
      access: {
        tenant: "acme",
        app: "hello",
        grants: { buckets: ["default"], allowedOutboundHosts: ["https://api.example"] },
        network: { allowPrivateNetwork: [], trustAllowList: false },
        config: [],
      },
    },
  ]);
});

test("a change of access or limits sends a new context; a changed one replaces the old", () => {
  const { contexts, sent } = registry();
  const appLimits = limits();
  const grants = { buckets: ["default"] };
  const first = contexts.idFor(appLimits, { tenant: "acme", app: "hello", grants });
  const config = [["GREETING", "hi"]] as const;
  const second = contexts.idFor(appLimits, { tenant: "acme", app: "hello", grants, config: [config[0]] });
  assert.notEqual(second, first);
  assert.equal(sent.length, 2);
  assert.deepEqual(sent[1], {
    type: "context",
    id: second,
    replaces: first,
    limits: { ...appLimits, maxInstances: 4, maxUses: 100, maxQueueMs: 10_000 },
    access: {
      tenant: "acme",
      app: "hello",
      grants,
      network: { allowPrivateNetwork: [], trustAllowList: false },
      config: [["GREETING", "hi"]],
    },
  });
  const other = contexts.idFor(limits(10), { tenant: "acme", app: "hello", grants });
  assert.ok(other !== first && other !== second, "another app's limits get their own context");
  assert.equal((sent[2] as { replaces?: number }).replaces, undefined);
});

test("a new network grant (the operator opened a range) sends a new context", () => {
  const { contexts, sent } = registry();
  const appLimits = limits();
  const grants = { buckets: ["default"] };
  const closed = { allowPrivateNetwork: [], trustAllowList: false };
  const first = contexts.idFor(appLimits, { tenant: "acme", app: "hello", grants, network: closed });
  assert.equal(contexts.idFor(appLimits, { tenant: "acme", app: "hello", grants, network: closed }), first);
  const opened = { allowPrivateNetwork: ["10.0.0.0/8"], trustAllowList: false };
  const second = contexts.idFor(appLimits, { tenant: "acme", app: "hello", grants, network: opened });
  assert.notEqual(second, first);
  assert.deepEqual((sent[1] as Extract<ToWorker, { type: "context" }>).access.network, opened);
});

test("past the maximum the worker is told to forget every context, then gets them anew", () => {
  const { contexts, sent } = registry(2);
  const grants = { buckets: ["default"] };
  const a = limits(1);
  const idA = contexts.idFor(a, { tenant: "t", app: "a", grants });
  contexts.idFor(limits(2), { tenant: "t", app: "a", grants });
  assert.deepEqual(
    sent.map((m) => m.type),
    ["context", "context"],
  );
  contexts.idFor(limits(3), { tenant: "t", app: "a", grants });
  assert.deepEqual(
    sent.map((m) => m.type),
    ["context", "context", "contexts-reset", "context"],
  );
  const againA = contexts.idFor(a, { tenant: "t", app: "a", grants });
  assert.notEqual(againA, idA, "a context sent before the reset is sent again under a new id");
  assert.equal(sent.at(-1)!.type, "context");
});

test("two apps never share a context, even with the same limits object and grants", () => {
  const { contexts, sent } = registry();
  const shared = limits();
  const grants = { buckets: ["default"] };
  const a = contexts.idFor(shared, { tenant: "acme", app: "one", grants });
  const b = contexts.idFor(shared, { tenant: "globex", app: "one", grants });
  const c = contexts.idFor(shared, { tenant: "globex", app: "two", grants });
  assert.equal(new Set([a, b, c]).size, 3);
  assert.deepEqual(
    sent.map((m) => (m.type === "context" ? `${m.access.tenant}/${m.access.app}` : m.type)),
    ["acme/one", "globex/one", "globex/two"],
  );
});
