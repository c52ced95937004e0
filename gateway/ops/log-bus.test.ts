import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_LOG_BUS_LIMITS, LogBus, type LogRecord } from "./log-bus.ts";

let counter = 0;
function line(app: string, text: string, tenant = "t"): LogRecord {
  counter++;
  return {
    type: "log",
    time: counter,
    requestId: `r${counter}`,
    app,
    tenant,
    stream: "stdout",
    line: text,
  };
}

const texts = (records: (LogRecord | { type: "dropped"; count: number } | undefined)[]) =>
  records.map((r) =>
    r === undefined
      ? "end"
      : r.type === "dropped"
        ? `dropped ${r.count}`
        : r.type === "log"
          ? r.line
          : r.path,
  );

describe("log bus", () => {
  it("delivers an app's records to its subscribers only, in order", async () => {
    const bus = new LogBus();
    const a = bus.subscribe("a", "t");
    const b = bus.subscribe("b", "t");
    bus.publish(line("a", "1"));
    bus.publish(line("b", "x"));
    bus.publish(line("a", "2"));
    bus.publish(line("a", "other tenant", "u"));
    assert.deepEqual(texts([await a.next(), await a.next()]), ["1", "2"]);
    assert.deepEqual(texts([await b.next()]), ["x"]);
    const waiting = a.next();
    bus.publish(line("a", "3"));
    assert.deepEqual(texts([await waiting]), ["3"]);
    assert.equal(bus.subscribers, 2);
    a.close();
    assert.equal(await a.next(), undefined);
    assert.equal(bus.subscribers, 1);
  });

  it("drops what a slow subscriber cannot hold, and says how much where the gap is", async () => {
    const bus = new LogBus({ ...DEFAULT_LOG_BUS_LIMITS, queueRecords: 3 });
    const sub = bus.subscribe("a", "t");
    for (let i = 1; i <= 10; i++) bus.publish(line("a", String(i)));
    // Still dropping until the reader has caught up with what it was given.
    assert.deepEqual(texts([await sub.next()]), ["1"]);
    bus.publish(line("a", "11"));
    assert.deepEqual(texts([await sub.next(), await sub.next(), await sub.next()]), ["2", "3", "dropped 8"]);
    bus.publish(line("a", "12"));
    assert.deepEqual(texts([await sub.next()]), ["12"]);
    assert.equal(bus.dropped, 8);
  });

  it("bounds a subscriber's queue by characters too", async () => {
    const bus = new LogBus({ ...DEFAULT_LOG_BUS_LIMITS, queueChars: 1000 });
    const sub = bus.subscribe("a", "t");
    bus.publish(line("a", "x".repeat(600)));
    bus.publish(line("a", "y".repeat(600)));
    assert.equal((await sub.next())?.type, "log");
    assert.deepEqual(await sub.next(), { type: "dropped", count: 1 });
  });

  it("keeps the last records per app within its limits, and a bounded number of apps", () => {
    const bus = new LogBus({ ...DEFAULT_LOG_BUS_LIMITS, recentRecords: 3, recentChars: 2000, recentApps: 2 });
    for (let i = 1; i <= 5; i++) bus.publish(line("a", String(i)));
    assert.deepEqual(texts(bus.recent("a", "t")), ["3", "4", "5"]);
    assert.deepEqual(bus.recent("a", "u"), [], "another tenant's view of the name sees nothing");
    bus.publish(line("a", "z".repeat(5000)));
    const [last] = bus.recent("a", "t").slice(-1);
    assert.equal(last?.type === "log" && last.line, `${"z".repeat(200)} [cut]`);
    bus.publish(line("b", "b1"));
    bus.publish(line("c", "c1"));
    assert.deepEqual(bus.recent("a", "t"), [], "the oldest app's records went");
    assert.deepEqual(texts(bus.recent("c", "t")), ["c1"]);
  });

  it("ends every subscription on close once its reader has what was queued, and any made after", async () => {
    const bus = new LogBus();
    const idle = bus.subscribe("a", "t");
    const waiting = idle.next();
    const busy = bus.subscribe("a", "t");
    bus.publish(line("a", "last"));
    assert.deepEqual(texts([await waiting]), ["last"]);
    bus.close();
    bus.publish(line("a", "too late"));
    assert.deepEqual(texts([await idle.next(), await busy.next(), await busy.next()]), [
      "end",
      "last",
      "end",
    ]);
    assert.equal(await bus.subscribe("a", "t").next(), undefined);
    assert.equal(bus.subscribers, 0);
  });
});
