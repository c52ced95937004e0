// The architecture's ceiling: a Hono app on @hono/node-server that hands each request to a worker
// thread and answers with what the worker sends back (no guest, no routing), both ways in batches
// as the gateway sends them (runtime/outbox.ts). Prints its port as JSON.

import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { Worker } from "node:worker_threads";
import { createAdaptorServer } from "@hono/node-server";
import { Hono } from "hono";
import { Outbox } from "../runtime/index.ts";

export interface Question {
  id: number;
  method: string;
  path: string;
  host: string | undefined;
}

export interface Answer {
  id: number;
  status: number;
  headers: Record<string, string>;
  body: Uint8Array<ArrayBuffer>;
}

const worker = new Worker(new URL("./handoff.worker.ts", import.meta.url));
const outbox = new Outbox<Question>((batch, transfer) => worker.postMessage(batch, transfer));
const waiting = new Map<number, (answer: Answer) => void>();
let nextId = 1;
worker.on("message", (answers: Answer[]) => {
  for (const answer of answers) {
    waiting.get(answer.id)?.(answer);
    waiting.delete(answer.id);
  }
});

const app = new Hono().all("*", async (c) => {
  const id = nextId++;
  const answer = await new Promise<Answer>((resolve) => {
    waiting.set(id, resolve);
    outbox.post({ id, method: c.req.method, path: c.req.path, host: c.req.header("host") });
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
