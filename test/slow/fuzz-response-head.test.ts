// Random response heads from guests, through a real gateway: statuses, header names and values
// (control bytes, CR/LF, text past Latin-1, framing and hop-by-hop fields, forged responses in the
// body) and content lengths that do and do not fit. Both guest worlds, both listener paths, on
// kept-alive pipelined connections parsed strictly by undici (llhttp), while a bystander app is
// asked on a connection of its own throughout. Properties: the gateway never exits; each answer is
// exactly what an independent model of the rules says (the guest's status, headers and body, or a
// 502 ERR_GUEST_BAD_RESPONSE); the bystander only ever gets its own answers.
//
// The seed is printed; WASMGATE_FUZZ_SEED=<seed> runs the same cases again.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { Client } from "undici";
import { buildGuest } from "../../scripts/guests.ts";
import { type GatewayProcess, get, push, startGateway, WARN_LEVEL } from "../harness/gateway.ts";
import { type HostileSpec, specHeader, streamedSpec } from "../harness/hostile.ts";

/** Batches of pipelined requests; RUNS × BATCH response heads in all. */
const RUNS = 700;
const BATCH = 8;
const SEED = Number(process.env.WASMGATE_FUZZ_SEED ?? Date.now() % 2 ** 31);

let gw: GatewayProcess;
/** These tests are about framing: a loaded machine must not turn them into tests of the watchdog. */
const GENEROUS = ["--cpu-ms", "2000"];

const WORLDS = {
  edge: { host: "edge.localhost", fixture: "hostile-edge" },
  std: { host: "std.localhost", fixture: "hostile-http" },
} as const;
type World = keyof typeof WORLDS;

before(async () => {
  gw = await startGateway();
  for (const [app, w] of Object.entries(WORLDS)) {
    await push(gw, await buildGuest("fixture", w.fixture), app, ["--host", w.host, ...GENEROUS]);
  }
  await push(gw, await buildGuest("example", "hello-fast"), "bystander", [
    "--host",
    "bystander.localhost",
    ...GENEROUS,
  ]);
  for (const host of ["edge.localhost", "std.localhost", "bystander.localhost"]) {
    assert.equal((await get(gw, host, "/")).status, 200);
  }
});
after(async () => {
  await gw?.dispose();
});

// --- The model: what the gateway must answer for a head, written from the rules, not the code. ---

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** Fields the gateway sets itself and never takes from a guest. */
const FRAMING = [
  "connection",
  "content-length",
  "keep-alive",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
];
const isFraming = (name: string) => FRAMING.includes(name) || name.startsWith("proxy-");
/** wasi:http's own refusals (Fields): hop-by-hop names, and CR, LF or NUL in a value. */
const WASI_FORBIDDEN = ["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade"];

/** Both guests turn each character into its low byte. */
const lowBytes = (text: string) => [...text].map((c) => (c.codePointAt(0)! & 0xff) as number);

interface Expected {
  status: number;
  /** Guest fields the answer must carry (lower-case name, Latin-1 value). */
  fields: [string, string][];
  body: Buffer;
}

function expected(world: World, spec: HostileSpec): Expected | "bad" {
  let status = spec.status;
  let headers = spec.headers;
  if (world === "std") {
    if (status < 100 || status > 999) status = 200; // wasi:http refuses it; the guest keeps 200
    headers = headers.filter(
      ([n, v]) =>
        TOKEN.test(n) &&
        !WASI_FORBIDDEN.includes(n.toLowerCase()) &&
        !lowBytes(v).some((b) => b === 0 || b === 10 || b === 13),
    );
  }
  if (status < 200 || status > 599) return "bad";
  const fields: [string, string][] = [];
  const lengths: string[] = [];
  for (const [name, value] of headers) {
    const bytes = lowBytes(value);
    if (!TOKEN.test(name)) return "bad";
    if (bytes.some((b) => (b < 0x20 && b !== 9) || b === 0x7f)) return "bad";
    const lower = name.toLowerCase();
    const latin1 = Buffer.from(bytes).toString("latin1");
    if (lower === "content-length") lengths.push(latin1.trim());
    else if (!isFraming(lower) && lower !== "x-request-id") fields.push([lower, latin1.trim()]);
  }
  const body = Buffer.from(lowBytes(spec.body));
  const bodyless = status === 204 || status === 205 || status === 304;
  const declared =
    lengths.length > 0 && lengths.every((l) => l === lengths[0]) && /^\d{1,15}$/.test(lengths[0]!)
      ? Number(lengths[0])
      : undefined;
  if (!bodyless && declared !== undefined && declared !== body.length) return "bad";
  return { status, fields, body: bodyless ? Buffer.alloc(0) : body };
}

// --- The generators. ---

const NAMES = [
  "content-length",
  "Content-Length",
  "transfer-encoding",
  "Transfer-Encoding",
  "trailer",
  "connection",
  "keep-alive",
  "upgrade",
  "te",
  "proxy-authenticate",
  "proxy-connection",
  "set-cookie",
  "content-type",
  "location",
  "date",
  "host",
  "x-request-id",
  "x-a",
  ":status",
  "",
  "x y",
  "x:y",
  "x\u0000",
  "é",
  "x\r\nInjected",
  "constructor",
  "__proto__",
  "toString",
  "hasOwnProperty",
];
const VALUES = [
  "",
  "ok",
  "chunked",
  "close",
  "0",
  "5",
  "-1",
  "1e3",
  " 12 ",
  "abc",
  "\r\n",
  "a\nb",
  "a\rb",
  "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nEVIL!",
  "\u0000",
  "\t tab",
  "\u00ff",
  "\u0100",
  "\u010a",
  "\u0141",
];
const FORGED = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Forged: 1\r\n\r\nEVIL!";

const latinChar = fc.integer({ min: 0, max: 0xff }).map((c) => String.fromCharCode(c));
const anyChar = fc.integer({ min: 0, max: 0x2ff }).map((c) => String.fromCharCode(c));
const tokenChar = fc.constantFrom(..."!#$%&'*+-.^_`|~abcdefghijklmnopqrstuvwxyzABCXYZ0123456789");
const name = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 3, arbitrary: fc.string({ unit: tokenChar, minLength: 1, maxLength: 16 }) },
  { weight: 1, arbitrary: fc.string({ unit: anyChar, maxLength: 8 }) },
);
const value = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...VALUES) },
  { weight: 3, arbitrary: fc.string({ unit: latinChar, maxLength: 24 }) },
  { weight: 1, arbitrary: fc.string({ unit: anyChar, maxLength: 24 }) },
  { weight: 1, arbitrary: fc.nat({ max: 400 }).map(String) },
);
const status = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 200, max: 599 }) },
  { weight: 1, arbitrary: fc.constantFrom(200, 204, 205, 304) },
  { weight: 2, arbitrary: fc.constantFrom(0, 1, 99, 100, 101, 103, 199, 600, 999, 1000, 65535) },
);
const body = fc.oneof(
  fc.string({ unit: latinChar, maxLength: 200 }),
  fc.string({ unit: latinChar, maxLength: 20 }).map((s) => `${s}${FORGED}`),
);

/** A head, often with a Content-Length near the body's real length. */
const spec: fc.Arbitrary<HostileSpec> = fc
  .record({
    status,
    headers: fc.array(fc.tuple(name, value), { maxLength: 10 }),
    body,
    lengthOff: fc.option(fc.integer({ min: -3, max: 3 }), { nil: undefined, freq: 2 }),
    lengthAt: fc.nat({ max: 10 }),
  })
  .map(({ lengthOff, lengthAt, ...s }) => {
    if (lengthOff === undefined) return s;
    const headers = [...s.headers];
    headers.splice(lengthAt, 0, ["content-length", String(Math.max(0, s.body.length + lengthOff))]);
    return { ...s, headers };
  });
const request = fc.record({
  world: fc.constantFrom<World>("edge", "std"),
  /** GET is answered by the data plane's own listener, POST (with a body) through Hono. */
  method: fc.constantFrom("GET", "POST"),
  spec,
});

type Answer = { status: number; headers: Record<string, string | string[] | undefined>; body: Buffer };

async function send(
  client: Client,
  host: string,
  method: string,
  headers: Record<string, string>,
): Promise<Answer> {
  const res = await client.request({
    path: "/",
    method: method as "GET",
    headers: { host, ...headers },
    ...(method === "POST" ? { body: "the request's own body" } : {}),
  });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body: bytes };
}

function check(world: World, s: HostileSpec, got: Answer): void {
  if (got.status === 503 && got.body.includes("ERR_RUNTIME_")) {
    const warnings = gw.logs.filter((l) => l.level === WARN_LEVEL);
    assert.fail(`${got.body.toString()} after ${JSON.stringify(warnings.slice(-3))}`);
  }
  const want = expected(world, s);
  const shown = `${world} ${JSON.stringify(s)} got ${got.status} ${got.body.toString("latin1").slice(0, 200)}`;
  if (want === "bad") {
    assert.equal(got.status, 502, shown);
    assert.equal(JSON.parse(got.body.toString()).error.code, "ERR_GUEST_BAD_RESPONSE", shown);
    return;
  }
  assert.equal(got.status, want.status, shown);
  assert.ok(got.body.equals(want.body), `the guest's own body, byte for byte: ${shown}`);
  for (const [field] of want.fields) assert.ok(got.headers[field] !== undefined, `${field} kept: ${shown}`);
  for (const field of ["trailer", "upgrade", "te", "proxy-authenticate", "proxy-connection"]) {
    assert.equal(got.headers[field], undefined, `${field} dropped: ${shown}`);
  }
}

describe("fuzzed response heads", () => {
  it(`${RUNS * BATCH} random heads leave the gateway up, every answer well-formed and its own (seed ${SEED})`, async () => {
    const fuzzed = new Client(gw.dataUrl, { pipelining: BATCH, keepAliveTimeout: 60_000 });
    const bystander = new Client(gw.dataUrl, { pipelining: 4, keepAliveTimeout: 60_000 });
    let done = false;
    let asked = 0;
    // The bystander is asked the whole time, on its own kept-alive connection.
    const watching = (async () => {
      while (!done) {
        const path = `/bystander/${asked++}`;
        const res = await bystander.request({
          path,
          method: "GET",
          headers: { host: "bystander.localhost" },
        });
        const text = await res.body.text();
        assert.equal(
          res.statusCode,
          200,
          `${text} after ${JSON.stringify(gw.logs.filter((l) => l.level === WARN_LEVEL || l.msg === "guest worker failed"))}`,
        );
        assert.equal(text, `Hello from wasmgate (fast world)! You asked for ${path}\n`);
      }
    })();
    try {
      await fc.assert(
        fc.asyncProperty(fc.array(request, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
          const answers = await Promise.all(
            batch.map((r) => send(fuzzed, WORLDS[r.world].host, r.method, { "x-spec": specHeader(r.spec) })),
          );
          for (const [i, r] of batch.entries()) check(r.world, r.spec, answers[i]!);
        }),
        { numRuns: RUNS, seed: SEED, endOnFailure: false },
      );
    } finally {
      done = true;
      await watching;
      await Promise.all([fuzzed.close(), bystander.close()]);
    }
    assert.ok(asked > 50, `the bystander was asked ${asked} times meanwhile`);
    const kills = gw.logs.filter((l) => l.msg === "guest CPU limit exceeded; restarting its worker");
    assert.deepEqual(kills, [], "no guest was stopped for CPU");
    assert.equal(gw.process.exitCode, null, "the gateway never exited");
    assert.equal((await fetch(`${gw.adminUrl}/healthz`)).status, 200);
  });

  it("streamed bodies that break their content-length are cut off, and the next connection is fine", async () => {
    const MiB = 1024 * 1024;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: MiB + 1, max: 3 * MiB }),
        fc.integer({ min: -MiB, max: MiB }),
        async (size, off) => {
          const declared = Math.max(0, size + off);
          const client = new Client(gw.dataUrl);
          try {
            const s = streamedSpec(declared, size);
            let outcome: string;
            try {
              const got = await send(client, "std.localhost", "GET", { "x-spec": specHeader(s) });
              outcome =
                got.status === 200
                  ? `200 with ${got.body.length} bytes`
                  : `${got.status} ${got.body.toString().slice(0, 300)}`;
              if (got.status !== 200) assert.equal(got.status, 502, outcome);
            } catch (err) {
              // undici read fewer bytes than promised before the connection ended.
              outcome = `cut off (${(err as Error).message})`;
            }
            if (declared === size) assert.equal(outcome, `200 with ${size} bytes`, `declared ${declared}`);
            else assert.doesNotMatch(outcome, /^200/, `declared ${declared}, wrote ${size}`);
          } finally {
            await client.close().catch(() => {});
          }
          const after = await get(gw, "bystander.localhost", "/after-stream");
          assert.equal(after.status, 200);
        },
      ),
      { numRuns: 12, seed: SEED },
    );
    assert.equal(gw.process.exitCode, null);
  });
});
