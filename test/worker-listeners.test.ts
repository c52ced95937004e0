// --listen-in-workers on: every guest worker listens on the data port itself (SO_REUSEPORT).
// Real gateway processes, real components; the request id's prefix tells which thread answered
// (each thread numbers its requests under a random prefix of its own).

import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push, startGateway } from "./harness/gateway.ts";

const HELLO = "hello.localhost";
/** The part of a request id that names the thread that gave it (runtime/request-line.ts). */
const prefixOf = (requestId: string | null) => (requestId ?? "").slice(0, 8);

/** One request on a connection of its own, so the kernel picks a listener for it afresh. */
function fresh(gw: GatewayProcess, host: string): Promise<{ status: number; requestId: string | null }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: "127.0.0.1", port: gw.dataPort, path: "/", headers: { host }, agent: false },
      (res) => {
        res.resume();
        res.on("end", () => {
          const id = res.headers["x-request-id"];
          resolve({ status: res.statusCode ?? 0, requestId: typeof id === "string" ? id : null });
        });
      },
    );
    req.on("error", reject);
    req.end();
  });
}

let hello: string;
before(async () => {
  hello = await buildGuest("example", "hello-fast");
});

describe("guest workers listening on the data port", () => {
  let gw: GatewayProcess;
  after(() => gw?.dispose());

  it("spreads new connections over both workers' listeners, which answer without the main thread", async () => {
    gw = await startGateway({ args: ["--workers", "2", "--listen-in-workers", "on"] });
    await push(gw, hello, "hello", ["--host", HELLO]);
    // The first request of a host goes to the main thread, which offers the host to the workers.
    const first = await get(gw, HELLO, "/");
    assert.equal(first.status, 200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const prefixes = new Set<string>();
    for (let i = 0; i < 40; i++) {
      const res = await fresh(gw, HELLO);
      assert.equal(res.status, 200);
      prefixes.add(prefixOf(res.requestId));
    }
    prefixes.delete(prefixOf(first.headers.get("x-request-id")));
    assert.equal(prefixes.size, 2, `answered under ${[...prefixes].join(", ")}`);
    // Every answer is counted and logged, wherever it was given.
    await new Promise((resolve) => setTimeout(resolve, 100));
    const lines = gw.logs.filter((l) => l.msg === "request" && l.app === "hello");
    assert.ok(lines.length >= 41, `${lines.length} request lines`);
  });
});

describe("a CPU-limit kill with the workers listening", () => {
  let gw: GatewayProcess;
  after(() => gw?.dispose());

  it("answers the killed worker's other requests 503, keeps other apps served, and the replacement takes its port share", async (t) => {
    gw = await startGateway({ args: ["--workers", "1", "--listen-in-workers", "on"] });
    await push(gw, hello, "hello", ["--host", HELLO]);
    await push(gw, await buildGuest("fixture", "infinite-loop"), "loop", [
      "--host",
      "loop.localhost",
      "--cpu-ms",
      "50",
    ]);
    assert.equal((await get(gw, HELLO, "/")).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = prefixOf((await fresh(gw, HELLO)).requestId);

    // The lanes stop when the incident is over, or after 10 s whatever happens (a failed
    // assertion must not leave them looping).
    let running = true;
    const stopBy = Date.now() + 10_000;
    const outcomes: { status: number; code?: string; retryAfter?: string | null }[] = [];
    const thrown: string[] = [];
    const lanes = Array.from({ length: 4 }, async () => {
      while (running && Date.now() < stopBy) {
        try {
          const res = await get(gw, HELLO, "/during");
          outcomes.push(
            res.status === 200
              ? { status: 200 }
              : {
                  status: res.status,
                  code: res.json().error.code,
                  retryAfter: res.headers.get("retry-after"),
                },
          );
        } catch (err) {
          thrown.push((err as Error).message);
        }
      }
    });
    let loop: Awaited<ReturnType<typeof get>>;
    try {
      await new Promise((resolve) => setTimeout(resolve, 100));
      // The loop host's first request: the worker passes it on, the main thread runs it in that
      // same worker, and the kill answers the worker's socket with the culprit's own error.
      loop = await get(gw, "loop.localhost", "/");
      await new Promise((resolve) => setTimeout(resolve, 300));
    } finally {
      running = false;
      await Promise.all(lanes);
    }
    assert.equal(loop.status, 503);
    assert.equal(loop.json().error.code, "ERR_RUNTIME_CPU_LIMIT");

    const failed = outcomes.filter((o) => o.status !== 200);
    t.diagnostic(
      `other app: ${outcomes.length} answers, ${failed.length} 503 from the killed worker, ${thrown.length} connections closed under a request`,
    );
    assert.ok(
      outcomes.filter((o) => o.status === 200).length > 10,
      "the other app was served during the incident",
    );
    for (const o of failed) {
      assert.equal(o.code, "ERR_RUNTIME_WORKER_RESTARTED");
      assert.equal(o.retryAfter, "1");
    }

    // With one worker, its replacement is the only listener: new connections reach it.
    const afterKill = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const res = await fresh(gw, HELLO);
      assert.equal(res.status, 200);
      afterKill.add(prefixOf(res.requestId));
    }
    assert.ok(!afterKill.has(before), "the killed worker no longer answers");
    assert.equal(afterKill.size, 1);
  });
});
