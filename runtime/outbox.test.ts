import assert from "node:assert/strict";
import { once } from "node:events";
import { test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { MessageChannel, type MessagePort } from "node:worker_threads";
import { Outbox } from "./outbox.ts";

interface Msg {
  n: number;
  data?: Uint8Array;
}

function channel(): { outbox: Outbox<Msg>; receiver: MessagePort; close(): void } {
  const { port1, port2 } = new MessageChannel();
  return {
    outbox: new Outbox<Msg>((batch, transfer) => port1.postMessage(batch, transfer)),
    receiver: port2,
    close() {
      port1.close();
      port2.close();
    },
  };
}

test("messages posted in one turn arrive as one batch, in order", async () => {
  const { outbox, receiver, close } = channel();
  try {
    const received: Msg[][] = [];
    receiver.on("message", (batch: Msg[]) => received.push(batch));
    for (let n = 0; n < 5; n++) outbox.post({ n });
    await sleep(20);
    outbox.post({ n: 5 });
    await sleep(20);
    assert.deepEqual(
      received.map((batch) => batch.map((m) => m.n)),
      [[0, 1, 2, 3, 4], [5]],
    );
  } finally {
    close();
  }
});

test("transferred buffers arrive whole, even when one is listed twice", async () => {
  const { outbox, receiver, close } = channel();
  try {
    const data = Uint8Array.from([1, 2, 3]);
    outbox.post({ n: 0, data }, [data.buffer]);
    outbox.post({ n: 1 }, [data.buffer]);
    const [batch] = (await once(receiver, "message")) as [Msg[]];
    assert.deepEqual([...batch[0]!.data!], [1, 2, 3]);
    assert.equal(data.byteLength, 0, "the sender's buffer is detached once the batch went");
  } finally {
    close();
  }
});

test("flushOlderThan sends only a batch that has waited long enough", async () => {
  const { outbox, receiver, close } = channel();
  try {
    const received: number[][] = [];
    receiver.on("message", (batch: Msg[]) => received.push(batch.map((m) => m.n)));
    outbox.post({ n: 0 });
    outbox.flushOlderThan(1_000);
    // Busy-wait so that no turn of the event loop passes: only an explicit flush can send.
    const until = performance.now() + 5;
    while (performance.now() < until);
    outbox.flushOlderThan(2);
    outbox.post({ n: 1 });
    await sleep(20);
    assert.deepEqual(received, [[0], [1]]);
  } finally {
    close();
  }
});

test("after close nothing is sent", async () => {
  const { outbox, receiver, close } = channel();
  try {
    let batches = 0;
    receiver.on("message", () => batches++);
    outbox.post({ n: 0 });
    outbox.close();
    outbox.post({ n: 1 });
    await sleep(20);
    assert.equal(batches, 0);
  } finally {
    close();
  }
});
