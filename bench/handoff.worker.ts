// The worker of bench/handoff-server.ts: answers every request with the same hello, in batches.

import { parentPort } from "node:worker_threads";
import { Outbox } from "../runtime/index.ts";
import type { Answer, Question } from "./handoff-server.ts";

const port = parentPort!;
const body = new TextEncoder().encode("Hello from a worker!\n");
const outbox = new Outbox<Answer>((batch, transfer) => port.postMessage(batch, transfer));
port.on("message", (questions: Question[]) => {
  for (const q of questions) {
    outbox.post({ id: q.id, status: 200, headers: { "content-type": "text/plain; charset=utf-8" }, body });
  }
});
