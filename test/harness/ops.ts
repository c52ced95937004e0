// Operations helpers for tests: polling, a strict parser of the Prometheus text format, and a
// client of the admin API's log stream (Server-Sent Events).

import assert from "node:assert/strict";
import { request } from "undici";
import type { GatewayProcess } from "./gateway.ts";

/** Polls `condition` every 50 ms; resolves with the milliseconds it took, throws past `timeoutMs`. */
export async function waitFor(
  condition: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<number> {
  const started = performance.now();
  while (!(await condition())) {
    if (performance.now() - started > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return performance.now() - started;
}

// --- Prometheus text format, parsed strictly: every line is a comment or `name{labels} value`. ---

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = "[a-zA-Z_:][a-zA-Z0-9_:]*";
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/;

function parseLabels(text: string, line: string): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = text;
  while (rest.length > 0) {
    const m = LABEL.exec(rest);
    assert.ok(m, `bad labels in: ${line}`);
    assert.ok(!(m[1]! in labels), `repeated label in: ${line}`);
    labels[m[1]!] = m[2]!.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c));
    rest = rest.slice(m[0].length);
    if (m[3] === "") assert.equal(rest, "", `junk after labels in: ${line}`);
  }
  return labels;
}

export function parseExposition(text: string): Sample[] {
  assert.ok(text.endsWith("\n"), "the exposition ends with a newline");
  const types = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.slice(0, -1).split("\n")) {
    if (line.startsWith("#")) {
      const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
      if (type) {
        assert.ok(!types.has(type[1]!), `${type[1]} declared twice`);
        types.set(type[1]!, type[2]!);
      } else assert.match(line, new RegExp(`^# (HELP ${NAME} .*|[^TH].*)?$`), `bad comment: ${line}`);
      continue;
    }
    const m = SAMPLE.exec(line);
    assert.ok(m, `not a sample line: ${JSON.stringify(line)}`);
    const value = m[3] === "+Inf" ? Infinity : m[3] === "-Inf" ? -Infinity : Number(m[3]);
    assert.ok(m[3] === "NaN" || !Number.isNaN(value), `bad value in: ${line}`);
    const name = m[1]!;
    const family = types.has(name) ? name : name.replace(/_(bucket|sum|count)$/, "");
    assert.ok(types.has(family), `${name} has no TYPE line before it`);
    if (family !== name) assert.equal(types.get(family), "histogram", `${name} of a non-histogram`);
    samples.push({ name, labels: parseLabels(m[2] ?? "", line), value });
  }
  return samples;
}

/** GET /metrics, checked for its content type and parsed strictly. */
export async function scrape(target: GatewayProcess): Promise<Sample[]> {
  const res = await fetch(`${target.adminUrl}/metrics`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get("content-type"), "text/plain; version=0.0.4; charset=utf-8");
  return parseExposition(await res.text());
}

/** The value of the one sample with exactly these labels; 0 when the series does not exist yet. */
export function metric(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter(
    (s) =>
      s.name === name &&
      Object.keys(s.labels).length === Object.keys(labels).length &&
      Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  );
  assert.ok(found.length <= 1, `${name} ${JSON.stringify(labels)} appears ${found.length} times`);
  return found[0]?.value ?? 0;
}

// --- Server-Sent Events from the admin API. ---

export interface SseEvent {
  event: string;
  data: any;
}

export interface Follower {
  events: SseEvent[];
  /** Starts reading (a follower opened with `paused` reads nothing until then). */
  resume(): void;
  until(predicate: (events: SseEvent[]) => boolean, timeoutMs?: number): Promise<void>;
  ended: Promise<void>;
  close(): void;
}

/** Follows an app's log stream (GET /v1/apps/:app/logs?follow), collecting its events. */
export async function follow(
  target: GatewayProcess,
  app: string,
  options: { paused?: boolean } = {},
): Promise<Follower> {
  const stop = new AbortController();
  const res = await request(`${target.adminUrl}/v1/apps/${app}/logs?follow`, {
    headers: { authorization: `Bearer ${target.token}` },
    signal: stop.signal,
  });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers["content-type"], "text/event-stream");
  const events: SseEvent[] = [];
  let buffer = "";
  let started = false;
  let startReading: () => void = () => {};
  const go = new Promise<void>((r) => {
    startReading = r;
  });
  const ended = (async () => {
    if (options.paused) await go;
    try {
      for await (const chunk of res.body) {
        buffer += chunk.toString();
        for (let end = buffer.indexOf("\n\n"); end !== -1; end = buffer.indexOf("\n\n")) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const lines = block.split("\n").filter((l) => !l.startsWith(":"));
          if (lines.length === 0) continue;
          const event = lines.find((l) => l.startsWith("event: "))?.slice(7) ?? "message";
          const data = lines
            .filter((l) => l.startsWith("data: "))
            .map((l) => l.slice(6))
            .join("\n");
          events.push({ event, data: JSON.parse(data) });
        }
      }
    } catch (err) {
      if (!stop.signal.aborted) throw err;
    }
  })();
  ended.catch(() => {});
  const follower: Follower = {
    events,
    resume() {
      if (!started) startReading();
      started = true;
    },
    async until(predicate, timeoutMs = 10_000) {
      await waitFor(() => predicate(events), timeoutMs, "log events");
    },
    ended,
    close: () => stop.abort(),
  };
  return follower;
}

export const requestsOf = (events: SseEvent[], id?: string) =>
  events.filter((e) => e.event === "request" && (id === undefined || e.data.requestId === id));
export const linesOf = (events: SseEvent[], id: string) =>
  events
    .filter((e) => e.event === "log" && e.data.requestId === id)
    .map((e) => `${e.data.stream}: ${e.data.line}`);
