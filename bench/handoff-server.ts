// The architecture's ceiling: a Hono app on @hono/node-server that hands each request to a worker
// thread and answers with what the worker sends back (no guest, no routing). Prints its port as JSON.

import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Worker } from "node:worker_threads";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";

interface Answer {
  id: number;
  status: number;
  headers: Record<string, string>;
  body: Uint8Array<ArrayBuffer>;
}

const worker = new Worker(
  `const { parentPort } = require("node:worker_threads");
   const body = new TextEncoder().encode("Hello from a worker!\\n");
   parentPort.on("message", (m) =>
     parentPort.postMessage({ id: m.id, status: 200, headers: { "content-type": "text/plain; charset=utf-8" }, body }));`,
  { eval: true },
);
const waiting = new Map<number, (answer: Answer) => void>();
let nextId = 1;
worker.on("message", (answer: Answer) => {
  waiting.get(answer.id)?.(answer);
  waiting.delete(answer.id);
});

const app = new Hono().all("*", async (c) => {
  const id = nextId++;
  const answer = await new Promise<Answer>((resolve) => {
    waiting.set(id, resolve);
    worker.postMessage({ id, method: c.req.method, path: c.req.path, host: c.req.header("host") });
  });
  return new Response(answer.body, { status: answer.status, headers: answer.headers });
});
const server = createAdaptorServer({ fetch: app.fetch }) as Server;
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
});
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  void worker.terminate();
});
