// Outbound HTTP end to end: guests built from examples/ call real HTTP servers on 127.0.0.1
// through the gateway's wasi:http/outgoing-handler, with the allow-list, address checks and limits
// in the way.

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { request } from "undici";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, push, startGateway } from "./harness/gateway.ts";
import { bigBody, startSilentServer, startUpstream, type Upstream } from "./harness/upstream.ts";

const MIB = 1024 * 1024;
let gw: GatewayProcess;
let upstream: Upstream;
let forbidden: Upstream;
let silent: Upstream;
let outbound: string;

/** GET through the gateway, keeping the body as bytes. */
async function fetchBytes(host: string, path: string) {
  const res = await request(`${gw.dataUrl}${path}`, { headers: { host } });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, bytes, text: bytes.toString("utf8") };
}

const q = (url: string) => encodeURIComponent(url);

before(async () => {
  [upstream, forbidden, silent] = await Promise.all([startUpstream(), startUpstream(), startSilentServer()]);
  outbound = await buildGuest("example", "outbound");
  gw = await startGateway();
  // Loopback servers must be allowed by address: names that merely resolve there are refused.
  await push(gw, outbound, "out", [
    "--host",
    "out.localhost",
    "--allow-outbound",
    `http://127.0.0.1:${upstream.port}`,
    "--cpu-ms",
    "500",
  ]);
});
after(async () => {
  await gw?.dispose();
  await Promise.all([upstream?.close(), forbidden?.close(), silent?.close()]);
});

describe("outbound HTTP", () => {
  it("reaches an allowed server and streams a 10 MiB body through the guest intact", async (t) => {
    const hello = await get(gw, "out.localhost", `/fetch?url=${q(`${upstream.url}/hello`)}`);
    assert.equal(hello.status, 200, hello.text);
    assert.equal(hello.headers.get("x-upstream-status"), "200");
    assert.equal(hello.text, "hello from upstream\n");

    const size = 10 * MIB;
    const started = performance.now();
    const big = await fetchBytes("out.localhost", `/fetch?url=${q(`${upstream.url}/big?size=${size}`)}`);
    const ms = performance.now() - started;
    assert.equal(big.status, 200);
    assert.equal(big.bytes.byteLength, size);
    assert.equal(createHash("sha256").update(big.bytes).digest("hex"), bigBody(size).sha256);
    t.diagnostic(`10 MiB through an outbound call and back in ${ms.toFixed(0)} ms`);
  });

  it("streams a request body out: 3 MiB posted to the guest reach the upstream intact", async () => {
    const body = bigBody(3 * MIB);
    const payload = body.chunk(0, 3 * MIB);
    const res = await get(gw, "out.localhost", `/fetch?url=${q(`${upstream.url}/echo`)}`, {
      method: "POST",
      body: payload,
    });
    assert.equal(res.status, 200, res.text);
    assert.equal(res.text, `${3 * MIB} ${body.sha256}`);
  });

  it("answers HTTP-request-denied for a host not on the list, without touching it", async () => {
    const before = forbidden.connections;
    const res = await get(gw, "out.localhost", `/fetch?url=${q(`${forbidden.url}/hello`)}`);
    assert.equal(res.status, 502);
    assert.equal(res.text, "error: HTTP-request-denied\n");
    const other = await get(gw, "out.localhost", `/fetch?url=${q("http://example.com/")}`);
    assert.equal(other.text, "error: HTTP-request-denied\n");
    assert.equal(forbidden.connections, before, "the server that is not allowed saw no connection");
  });

  it("denies an allowed server's redirect to a host not on the list, and follows allowed ones", async () => {
    const before = forbidden.connections;
    const away = await get(
      gw,
      "out.localhost",
      `/fetch?url=${q(`${upstream.url}/redirect?to=${q(`${forbidden.url}/hello`)}`)}`,
    );
    assert.equal(away.text, "error: HTTP-request-denied\n");
    assert.equal(forbidden.connections, before);
    const home = await get(gw, "out.localhost", `/fetch?url=${q(`${upstream.url}/redirect?to=/hello`)}`);
    assert.equal(home.text, "hello from upstream\n");
  });

  it("refuses loopback addresses unless a pattern names them", async () => {
    // Any host on the upstream's port: names pass the list, but every address is loopback.
    await push(gw, outbound, "any", [
      "--host",
      "any.localhost",
      "--allow-outbound",
      `http://*:${upstream.port}`,
      "--allow-outbound",
      "https://*.example.com",
    ]);
    const before = upstream.connections;
    for (const host of ["localhost", "127.0.0.1", "[::1]", "127.1.2.3"]) {
      const res = await get(gw, "any.localhost", `/fetch?url=${q(`http://${host}:${upstream.port}/hello`)}`);
      assert.equal(res.text, "error: destination-IP-prohibited\n", host);
    }
    assert.equal(upstream.connections, before, "no connection was made to a refused address");
    // Naming `localhost` explicitly allows its loopback addresses.
    await push(gw, outbound, "any", ["--allow-outbound", `http://localhost:${upstream.port}`]);
    const named = await get(
      gw,
      "any.localhost",
      `/fetch?url=${q(`http://localhost:${upstream.port}/hello`)}`,
    );
    assert.equal(named.text, "hello from upstream\n");
  });

  it("stops at the subrequest limit with connection-limit-reached and keeps serving", async () => {
    await push(gw, outbound, "few", [
      "--host",
      "few.localhost",
      "--allow-outbound",
      `http://127.0.0.1:${upstream.port}`,
      "--outbound-requests",
      "3",
    ]);
    const ok = await get(gw, "few.localhost", `/fetch?n=3&url=${q(`${upstream.url}/hello`)}`);
    assert.equal(ok.text, "hello from upstream\n");
    const over = await get(gw, "few.localhost", `/fetch?n=4&url=${q(`${upstream.url}/hello`)}`);
    assert.equal(
      over.status,
      502,
      `${over.status} ${JSON.stringify(Object.fromEntries(over.headers))} ${over.text}`,
    );
    assert.equal(over.text, "error: connection-limit-reached\n");
    // Redirect hops count too: one call plus its redirect is two.
    const again = await get(gw, "few.localhost", `/fetch?n=2&url=${q(`${upstream.url}/redirect?to=/hello`)}`);
    assert.equal(again.text, "error: connection-limit-reached\n");
    const next = await get(gw, "few.localhost", `/fetch?url=${q(`${upstream.url}/hello`)}`);
    assert.equal(next.text, "hello from upstream\n", "the budget is per request");
  });

  it("maps timeouts, refused connections and oversized bodies to their error codes", async () => {
    await push(gw, outbound, "tight", [
      "--host",
      "tight.localhost",
      "--allow-outbound",
      `http://127.0.0.1:*`,
      "--allow-outbound",
      `https://127.0.0.1:${silent.port}`,
      // undici checks connect timeouts on a coarse timer (~1 s): keep the total well above it.
      "--outbound-timeout-ms",
      "2500",
      "--outbound-connect-timeout-ms",
      "200",
      "--outbound-max-response-bytes",
      String(MIB),
    ]);
    let started = performance.now();
    const slow = await get(gw, "tight.localhost", `/fetch?url=${q(`${upstream.url}/slow?ms=5000`)}`);
    const slowMs = performance.now() - started;
    assert.equal(slow.text, "error: HTTP-response-timeout\n");
    assert.ok(slowMs >= 2400 && slowMs < 4500, `answered after ${slowMs.toFixed(0)} ms`);

    started = performance.now();
    const hang = await get(gw, "tight.localhost", `/fetch?url=${q(`${silent.url}/`)}`);
    assert.equal(hang.text, "error: connection-timeout\n");
    assert.ok(performance.now() - started < 2400, "the connect timeout fired before the total one");
    assert.ok(silent.connections > 0, "the TCP connection was made; the handshake timed out");

    const closed = await startUpstream();
    const closedUrl = closed.url;
    await closed.close();
    const refused = await get(gw, "tight.localhost", `/fetch?url=${q(`${closedUrl}/hello`)}`);
    assert.equal(refused.text, "error: connection-refused\n");

    const big = await fetchBytes("tight.localhost", `/fetch?url=${q(`${upstream.url}/big?size=${4 * MIB}`)}`);
    assert.equal(big.status, 200);
    assert.match(big.text, /\nerror: HTTP-response-body-size 1048576\n$/);
    assert.ok(big.bytes.byteLength <= MIB + 100, `${big.bytes.byteLength} bytes reached the guest`);

    // Nothing above hurt the gateway or the other apps.
    const fine = await get(gw, "out.localhost", `/fetch?url=${q(`${upstream.url}/hello`)}`);
    assert.equal(fine.text, "hello from upstream\n");
  });

  it("lets a StarlingMonkey guest use fetch() through the same rules", async () => {
    const proxy = await buildGuest("example", "fetch-proxy");
    await push(gw, proxy, "proxy", [
      "--host",
      "proxy.localhost",
      "--allow-outbound",
      `http://127.0.0.1:${upstream.port}`,
      "--cpu-ms",
      "1000",
    ]);
    const size = 10 * MIB;
    const big = await fetchBytes("proxy.localhost", `/?url=${q(`${upstream.url}/big?size=${size}`)}`);
    assert.equal(big.status, 200, big.text.slice(0, 200));
    assert.equal(big.bytes.byteLength, size);
    assert.equal(createHash("sha256").update(big.bytes).digest("hex"), bigBody(size).sha256);
    const before = forbidden.connections;
    const denied = await get(gw, "proxy.localhost", `/?url=${q(`${forbidden.url}/hello`)}`);
    assert.equal(denied.status, 502);
    assert.match(denied.text, /^fetch failed/);
    assert.equal(forbidden.connections, before);
  });
});
