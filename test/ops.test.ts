// Operations end to end: readiness against a real Redis going away and coming back, /metrics parsed
// strictly and checked against the traffic sent, and the per-app log stream (SSE and deploy-cli).

import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push, ROOT, runCli, startGateway } from "./harness/gateway.ts";
import { follow, linesOf, metric, requestsOf, type Sample, scrape, waitFor } from "./harness/ops.ts";
import { type RedisServer, startRedisServer } from "./harness/redis-server.ts";

let gw: GatewayProcess;

before(async () => {
  gw = await startGateway();
  // A flood request writes 1,000 lines: room for that on a loaded machine.
  await push(gw, await buildGuest("fixture", "chatty"), "chatty", [
    "--host",
    "chatty.localhost",
    "--cpu-ms",
    "500",
  ]);
  await push(gw, await buildGuest("example", "counter"), "counter", ["--host", "counter.localhost"]);
  await waitFor(async () => (await fetch(`${gw.adminUrl}/readyz`)).status === 200, 15_000, "ready");
});
after(async () => {
  await gw?.dispose();
});

describe("readiness", () => {
  it("answers /healthz, and /readyz with every check passing", async () => {
    assert.deepEqual(await (await fetch(`${gw.adminUrl}/healthz`)).json(), { ok: true });
    const res = await fetch(`${gw.adminUrl}/readyz`);
    assert.equal(res.status, 200);
    const body = await res.json();
    // The route table in memory says where it came from and when.
    assert.equal(body.checks.routes.ok, true);
    assert.equal(body.checks.routes.from, "state");
    assert.ok(!Number.isNaN(Date.parse(body.checks.routes.loadedAt)));
    delete body.checks.routes;
    assert.deepEqual(body, {
      ready: true,
      checks: {
        state: { ok: true, backend: "sqlite" },
        kv: { ok: true, backend: "sqlite" },
        workers: { ok: true, ready: 2, total: 2 },
      },
    });
  });

  it("is not ready while Redis is down (within 2 s), and ready again once it is back", async () => {
    const redis: RedisServer = await startRedisServer();
    const own = await startGateway({ env: { REDIS_URL: redis.url } });
    try {
      await push(own, await buildGuest("example", "counter"), "counter", ["--host", "counter.localhost"]);
      await waitFor(async () => (await fetch(`${own.adminUrl}/readyz`)).status === 200, 15_000, "ready");
      const { checks } = await (await fetch(`${own.adminUrl}/readyz`)).json();
      for (const name of ["state", "kv"]) {
        assert.deepEqual(checks[name], { ok: true, backend: "redis", topology: "standalone" }, name);
      }
      assert.equal((await get(own, "counter.localhost", "/up")).status, 200);
      const before = await scrape(own);

      await redis.stop();
      const stopped = performance.now();
      let body: any;
      await waitFor(
        async () => {
          const res = await fetch(`${own.adminUrl}/readyz`);
          body = await res.json();
          return res.status === 503;
        },
        5000,
        "not ready",
      );
      const ms = performance.now() - stopped;
      assert.ok(ms < 2000, `not ready after ${ms.toFixed(0)} ms`);
      assert.equal(body.ready, false);
      assert.equal(body.checks.kv.ok, false);
      assert.match(body.checks.kv.error, /redis/);
      // Apps and deployments live in the same Redis: the state check fails too.
      assert.equal(body.checks.state.ok, false);
      assert.equal(body.checks.workers.ok, true);
      assert.equal(body.error.code, "ERR_NOT_READY");
      assert.match(body.error.message, /kv: /);

      // Guests' store calls fail meanwhile, and each failure is counted by its code.
      const down = 4;
      for (let i = 0; i < down; i++) assert.equal((await get(own, "counter.localhost", "/down")).status, 503);
      const during = await scrape(own);
      const failed = (s: Sample[]) =>
        metric(s, "wasmgate_kv_errors_total", { code: "ERR_KV_UNAVAILABLE" }) +
        metric(s, "wasmgate_kv_errors_total", { code: "ERR_KV_TIMEOUT" });
      assert.equal(failed(during) - failed(before), down);
      assert.equal(
        metric(during, "wasmgate_kv_operations_total", { op: "increment" }) -
          metric(before, "wasmgate_kv_operations_total", { op: "increment" }),
        down,
      );

      await redis.restart();
      const back = await waitFor(
        async () => (await fetch(`${own.adminUrl}/readyz`)).status === 200,
        10_000,
        "ready again",
      );
      assert.ok(back < 5000, `ready again after ${back.toFixed(0)} ms`);
    } finally {
      await own.dispose();
      await redis.destroy();
    }
  });
});

describe("metrics", () => {
  it("parses as Prometheus text, and its counters move with exactly the traffic sent", async () => {
    // One request each first, so both apps have an instance and their series exist.
    assert.equal((await get(gw, "chatty.localhost", "/warm")).status, 200);
    assert.equal((await get(gw, "counter.localhost", "/warm")).status, 200);
    const before = await scrape(gw);
    const n = 25;
    for (let i = 0; i < n; i++) {
      assert.equal((await get(gw, "chatty.localhost", `/m${i}`)).status, 200);
      assert.equal((await get(gw, "counter.localhost", `/m${i % 3}`)).status, 200);
    }
    for (let i = 0; i < 3; i++) assert.equal((await get(gw, "nobody.localhost", "/")).status, 404);
    const after = await scrape(gw);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      metric(after, name, labels) - metric(before, name, labels);

    const chatty = { tenant: "default", app: "chatty" };
    const counter = { tenant: "default", app: "counter" };
    assert.equal(delta("wasmgate_requests_total", { ...chatty, status: "200" }), n);
    assert.equal(delta("wasmgate_requests_total", { ...counter, status: "200" }), n);
    assert.equal(delta("wasmgate_requests_total", { tenant: "", app: "", status: "404" }), 3);
    assert.equal(delta("wasmgate_kv_operations_total", { op: "increment" }), n);
    for (const s of after.filter((s) => s.name === "wasmgate_kv_errors_total")) {
      assert.equal(delta(s.name, s.labels), 0, `no ${s.labels.code}`);
    }

    for (const labels of [chatty, counter]) {
      assert.equal(delta("wasmgate_request_duration_seconds_count", labels), n);
      assert.ok(delta("wasmgate_request_duration_seconds_sum", labels) > 0);
      const buckets = after.filter(
        (s) =>
          s.name === "wasmgate_request_duration_seconds_bucket" &&
          s.labels.tenant === labels.tenant &&
          s.labels.app === labels.app,
      );
      assert.ok(buckets.length > 5);
      assert.equal(buckets.at(-1)!.labels.le, "+Inf");
      assert.equal(buckets.at(-1)!.value, metric(after, "wasmgate_request_duration_seconds_count", labels));
      for (let i = 1; i < buckets.length; i++) {
        const le = (j: number) =>
          buckets[j]!.labels.le === "+Inf" ? Infinity : Number(buckets[j]!.labels.le);
        assert.ok(le(i) > le(i - 1), "buckets ascend");
        assert.ok(buckets[i]!.value >= buckets[i - 1]!.value, "buckets are cumulative");
      }
    }

    // One request at a time reuses the instance each app has: no cold start.
    assert.equal(delta("wasmgate_cold_starts_total"), 0);
    assert.ok(metric(after, "wasmgate_instances_live") >= 2);
    assert.equal(metric(after, "wasmgate_requests_in_flight"), 0);
    assert.equal(metric(after, "wasmgate_workers_ready"), 2);
    assert.ok(metric(after, "process_resident_memory_bytes") > 10 * 1024 * 1024);
  });

  it("counts store calls refused for the request's budget as ERR_KV_OP_LIMIT errors, not as operations", async () => {
    await push(gw, await buildGuest("example", "counter"), "counter-limited", [
      "--host",
      "counter-limited.localhost",
      "--kv-ops",
      "0",
    ]);
    const before = await scrape(gw);
    for (let i = 0; i < 3; i++) {
      const res = await get(gw, "counter-limited.localhost", "/");
      assert.equal(res.status, 503);
      assert.match(res.text, /ERR_KV_OP_LIMIT/);
    }
    const after = await scrape(gw);
    const delta = (name: string, labels: Record<string, string>) =>
      metric(after, name, labels) - metric(before, name, labels);
    assert.equal(delta("wasmgate_kv_errors_total", { code: "ERR_KV_OP_LIMIT" }), 3);
    assert.equal(delta("wasmgate_kv_operations_total", { op: "increment" }), 0);
    assert.equal(
      delta("wasmgate_requests_total", { tenant: "default", app: "counter-limited", status: "503" }),
      3,
    );
  });

  it("counts instances created for concurrent requests as cold starts", async () => {
    const slow = await buildGuest("fixture", "slow");
    await push(gw, slow, "slow-metrics", ["--host", "slow-metrics.localhost"]);
    assert.equal((await get(gw, "slow-metrics.localhost", "/")).status, 200);
    const before = await scrape(gw);
    const results = await Promise.all(
      Array.from({ length: 3 }, () => get(gw, "slow-metrics.localhost", "/")),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      [200, 200, 200],
    );
    const after = await scrape(gw);
    const created =
      metric(after, "wasmgate_cold_starts_total") - metric(before, "wasmgate_cold_starts_total");
    assert.ok(created >= 1 && created <= 2, `${created} instances created for 3 requests on 1 idle one`);
    assert.ok(metric(after, "wasmgate_instances_live") >= metric(before, "wasmgate_instances_live") + 1);
  });

  it("serves concurrent requests of a guest that never waits on I/O with one instance per worker", async () => {
    // Every host call of a StarlingMonkey guest yields through JSPI, but nothing makes it wait:
    // a second instance would only interleave with the first on the same thread.
    await push(gw, await buildGuest("example", "hello"), "hello-burst", ["--host", "hello-burst.localhost"]);
    assert.equal((await get(gw, "hello-burst.localhost", "/")).status, 200);
    const before = await scrape(gw);
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) => get(gw, "hello-burst.localhost", `/${i}`)),
    );
    assert.deepEqual(
      results.map((r) => r.status),
      Array(40).fill(200),
    );
    const after = await scrape(gw);
    const created =
      metric(after, "wasmgate_cold_starts_total") - metric(before, "wasmgate_cold_starts_total");
    // The first request warmed one worker; the other may start one instance of its own.
    assert.ok(created <= 1, `${created} instances created for 40 concurrent requests`);
  });

  it("keeps a guest that waits briefly on Redis to few instances under a burst", async () => {
    // Each counter request waits on two Redis round trips. Those waits are short next to making a
    // StarlingMonkey instance, and the worker has other requests' guest code to run meanwhile.
    const redis: RedisServer = await startRedisServer();
    const own = await startGateway({ env: { REDIS_URL: redis.url } });
    try {
      await push(own, await buildGuest("example", "counter"), "counter", ["--host", "counter.localhost"]);
      assert.equal((await get(own, "counter.localhost", "/")).status, 200);
      const before = await scrape(own);
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => get(own, "counter.localhost", `/${i}`)),
      );
      assert.deepEqual(
        results.map((r) => r.status),
        Array(60).fill(200),
      );
      const after = await scrape(own);
      const created =
        metric(after, "wasmgate_cold_starts_total") - metric(before, "wasmgate_cold_starts_total");
      assert.ok(created <= 2, `${created} instances created for 60 concurrent counter requests`);
    } finally {
      await own.dispose();
      await redis.destroy();
    }
  });

  it("gives a guest that waits long more instances, so concurrent requests wait side by side", async () => {
    // The slow fixture waits 2 s on a timer: the worker sits idle, and each instance it makes
    // takes one more request off the queue.
    await push(gw, await buildGuest("fixture", "slow"), "slow-burst", ["--host", "slow-burst.localhost"]);
    const started = performance.now();
    const results = await Promise.all(Array.from({ length: 8 }, () => get(gw, "slow-burst.localhost", "/")));
    const ms = performance.now() - started;
    assert.deepEqual(
      results.map((r) => r.status),
      Array(8).fill(200),
    );
    // One instance per worker would take four waits in a row (8 s).
    assert.ok(ms < 3500, `8 concurrent requests of 2 s each took ${ms.toFixed(0)} ms`);
  });

  it("counts CPU-limit kills and worker restarts, keeps killed workers' counts, and is ready again", async () => {
    await push(gw, await buildGuest("fixture", "infinite-loop"), "loop", ["--host", "loop.localhost"]);
    const before = await scrape(gw);
    for (let i = 0; i < 2; i++) {
      const res = await get(gw, "loop.localhost", "/");
      assert.equal(res.status, 503);
      assert.equal(res.json().error.code, "ERR_RUNTIME_CPU_LIMIT");
    }
    await waitFor(async () => (await fetch(`${gw.adminUrl}/readyz`)).status === 200, 5000, "ready");
    const after = await scrape(gw);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      metric(after, name, labels) - metric(before, name, labels);
    assert.equal(delta("wasmgate_cpu_limit_kills_total"), 2);
    assert.equal(delta("wasmgate_worker_restarts_total"), 2);
    assert.equal(delta("wasmgate_requests_total", { tenant: "default", app: "loop", status: "503" }), 2);
    // Counters of the terminated workers carry over: none goes backwards.
    for (const s of before.filter((s) => s.name.endsWith("_total"))) {
      assert.ok(metric(after, s.name, s.labels) >= s.value, `${s.name} ${JSON.stringify(s.labels)}`);
    }
    assert.equal(metric(after, "wasmgate_workers_ready"), 2);
  });
});

describe("log stream", () => {
  it("follows an app over SSE: request summaries and guest output, nothing of other apps", async () => {
    const follower = await follow(gw, "chatty");
    try {
      await waitFor(
        async () => metric(await scrape(gw), "wasmgate_log_subscribers") === 1,
        5000,
        "subscribed",
      );
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) {
        const res = await get(gw, "chatty.localhost", `/follow/${i}?q=1`);
        assert.equal(res.status, 200);
        ids.push(res.headers.get("x-request-id")!);
        await get(gw, "counter.localhost", "/not-this-app");
      }
      await follower.until((events) => requestsOf(events).length >= 3);
      assert.deepEqual(
        requestsOf(follower.events).map((e) => e.data.requestId),
        ids,
        "exactly the chatty requests, in order",
      );
      for (const [i, id] of ids.entries()) {
        const summary = requestsOf(follower.events, id)[0]!.data;
        assert.equal(summary.app, "chatty");
        assert.equal(summary.tenant, "default");
        assert.equal(summary.method, "GET");
        assert.equal(summary.path, `/follow/${i}`);
        assert.equal(summary.status, 200);
        assert.equal(typeof summary.ms, "number");
        assert.ok(Math.abs(Date.parse(summary.time) - Date.now()) < 60_000);
        assert.deepEqual(linesOf(follower.events, id), [
          "stdout: chatty: hello on stdout",
          "stderr: chatty: hello on stderr",
        ]);
      }
    } finally {
      follower.close();
    }
    await waitFor(
      async () => metric(await scrape(gw), "wasmgate_log_subscribers") === 0,
      5000,
      "unsubscribed",
    );
  });

  it("answers recent records as JSON, 404 for an unknown app and 401 without a token", async () => {
    const res = await get(gw, "chatty.localhost", "/recent");
    const id = res.headers.get("x-request-id");
    const recent = await fetch(`${gw.adminUrl}/v1/apps/chatty/logs`, {
      headers: { authorization: `Bearer ${gw.token}` },
    });
    assert.equal(recent.status, 200);
    const { records } = (await recent.json()) as { records: any[] };
    assert.ok(records.length <= 100);
    assert.deepEqual(
      records.filter((r) => r.requestId === id).map((r) => r.type),
      ["log", "log", "request"],
    );

    const missing = await fetch(`${gw.adminUrl}/v1/apps/nope/logs?follow`, {
      headers: { authorization: `Bearer ${gw.token}` },
    });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as any).error.code, "ERR_APP_NOT_FOUND");
    const anonymous = await fetch(`${gw.adminUrl}/v1/apps/chatty/logs?follow`);
    assert.equal(anonymous.status, 401);
    assert.equal(((await anonymous.json()) as any).error.code, "ERR_AUTH_MISSING");
  });

  it("drops what a reader too slow to keep up cannot hold, says so, and accounts for every record", async () => {
    const before = await scrape(gw);
    const follower = await follow(gw, "chatty", { paused: true });
    try {
      await waitFor(
        async () => metric(await scrape(gw), "wasmgate_log_subscribers") === 1,
        5000,
        "subscribed",
      );
      // 300 requests of 1,000 lines (60 KB) each: far more than socket buffers and the queue hold.
      const floods = 300;
      let next = 0;
      await Promise.all(
        Array.from({ length: 4 }, async () => {
          while (next < floods) {
            next++;
            assert.equal((await get(gw, "chatty.localhost", "/flood")).status, 200);
          }
        }),
      );
      const dropped = metric(await scrape(gw), "wasmgate_log_records_dropped_total");
      assert.ok(dropped - metric(before, "wasmgate_log_records_dropped_total") > 0, "records were dropped");

      follower.resume();
      await follower.until((events) => events.some((e) => e.event === "dropped"), 30_000);
      const last = await get(gw, "chatty.localhost", "/after");
      const lastId = last.headers.get("x-request-id")!;
      await follower.until((events) => requestsOf(events, lastId).length === 1, 30_000);

      const notices = follower.events.filter((e) => e.event === "dropped").map((e) => e.data.count as number);
      const delivered = follower.events.filter((e) => e.event !== "dropped").length;
      const lost = notices.reduce((a, b) => a + b, 0);
      assert.equal(delivered + lost, floods * 1001 + 3, "every record was delivered or counted as dropped");
      assert.equal(
        metric(await scrape(gw), "wasmgate_log_records_dropped_total") -
          metric(before, "wasmgate_log_records_dropped_total"),
        lost,
      );
      assert.deepEqual(linesOf(follower.events, lastId), [
        "stdout: chatty: hello on stdout",
        "stderr: chatty: hello on stderr",
      ]);
    } finally {
      follower.close();
    }
  });
});

describe("deploy-cli logs", () => {
  const cli = (args: string[]) => runCli([...args, "--gateway", gw.adminUrl], { WASMGATE_TOKEN: gw.token });

  it("prints recent requests with their guest output under them, or NDJSON with --json", async () => {
    const res = await get(gw, "chatty.localhost", "/cli?x=1");
    const id = res.headers.get("x-request-id")!;
    const text = await cli(["logs", "--app", "chatty"]);
    assert.equal(text.code, 0, text.stderr);
    const lines = text.stdout.split("\n");
    const at = lines.findIndex((l) => l.endsWith(` ${id}`));
    assert.match(lines[at]!, new RegExp(`^\\d{4}-\\d\\d-\\d\\dT[\\d:.]+Z GET /cli 200 [\\d.]+ms ${id}$`));
    assert.deepEqual(lines.slice(at + 1, at + 3), [
      "  stdout: chatty: hello on stdout",
      "  stderr: chatty: hello on stderr",
    ]);

    const json = await cli(["logs", "--app", "chatty", "--json"]);
    assert.equal(json.code, 0, json.stderr);
    const records = json.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.deepEqual(
      records.filter((r) => r.requestId === id).map((r) => [r.type, r.stream ?? r.path]),
      [
        ["log", "stdout"],
        ["log", "stderr"],
        ["request", "/cli"],
      ],
    );

    const missing = await cli(["logs", "--app", "nope", "--follow"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /ERR_APP_NOT_FOUND/);
  });

  it("--follow prints new requests as they come, and exits 0 on Ctrl-C", async () => {
    const child = spawnCli(["logs", "--app", "chatty", "--follow", "--gateway", gw.adminUrl], {
      WASMGATE_TOKEN: gw.token,
    });
    const exited = new Promise<number | null>((r) => child.process.once("exit", (code) => r(code)));
    try {
      await waitFor(
        async () => metric(await scrape(gw), "wasmgate_log_subscribers") === 1,
        10_000,
        "following",
      );
      const res = await get(gw, "chatty.localhost", "/live");
      const id = res.headers.get("x-request-id")!;
      await waitFor(
        () => child.stdout().includes(`chatty: hello on stderr`) && child.stdout().includes(id),
        10_000,
        "printed",
      );
      const lines = child.stdout().split("\n");
      const at = lines.findIndex((l) => l.endsWith(` ${id}`));
      assert.match(lines[at]!, / GET \/live 200 /);
      assert.deepEqual(lines.slice(at + 1, at + 3), [
        "  stdout: chatty: hello on stdout",
        "  stderr: chatty: hello on stderr",
      ]);
      child.process.kill("SIGINT");
      assert.equal(await exited, 0);
    } finally {
      child.process.kill("SIGKILL");
    }
  });

  it("--follow exits 2 with a message when the gateway ends the stream", async () => {
    const own = await startGateway();
    try {
      await push(own, await buildGuest("fixture", "chatty"), "chatty", ["--host", "chatty.localhost"]);
      const child = spawnCli(["logs", "--app", "chatty", "--follow", "--gateway", own.adminUrl], {
        WASMGATE_TOKEN: own.token,
      });
      const exited = new Promise<number | null>((r) => child.process.once("exit", (code) => r(code)));
      await waitFor(
        async () => metric(await scrape(own), "wasmgate_log_subscribers") === 1,
        10_000,
        "following",
      );
      const started = performance.now();
      assert.equal(await own.stop(), 0);
      assert.ok(performance.now() - started < 5000, "the log stream did not hold the shutdown");
      assert.equal(await exited, 2);
      assert.match(child.stderr(), /the gateway ended the log stream of chatty/);
      assert.match(child.stderr(), /hint: /);
    } finally {
      await own.dispose();
    }
  });
});

function spawnCli(args: string[], env: Record<string, string>) {
  const child: ChildProcess = spawn(process.execPath, [join(ROOT, "bin", "deploy-cli.js"), ...args], {
    env: { ...process.env, WASMGATE_URL: "", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => {
    stdout += d;
  });
  child.stderr!.on("data", (d) => {
    stderr += d;
  });
  return { process: child, stdout: () => stdout, stderr: () => stderr };
}
