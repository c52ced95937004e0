// The walking skeleton end to end: a real gateway process, components built from examples/ and
// test/fixtures/, pushed with the deploy-cli binary.

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { type GatewayProcess, get, runCli, startGateway, tempDir } from "./harness/gateway.ts";

const MAX_COMPONENT = 20 * 1024 * 1024;

let gw: GatewayProcess;
let hello: string;
const scratch = tempDir("wasmgate-uploads-");
const stateDir = tempDir();

function cli(gateway: GatewayProcess, args: string[], env: Record<string, string> = {}) {
  return runCli([...args, "--gateway", gateway.adminUrl], { WASMGATE_TOKEN: gateway.token, ...env });
}

function scratchFile(name: string, bytes: Uint8Array): string {
  const path = join(scratch, name);
  writeFileSync(path, bytes);
  return path;
}

before(async () => {
  hello = await buildGuest("example", "hello");
  gw = await startGateway({ stateDir, args: ["--max-component-bytes", String(MAX_COMPONENT)] });
});

after(async () => {
  await gw?.dispose();
});

describe("walking skeleton", () => {
  it("pushes examples/hello with the CLI and serves it by hostname", async () => {
    const push = await cli(gw, ["push", hello, "--app", "hello", "--host", "hello.localhost"]);
    assert.equal(push.code, 0, push.stderr);
    assert.match(push.stdout, /^Deployed hello: dep_\w+/m);
    assert.match(push.stdout, /digest {2}sha256:[0-9a-f]{64}/);
    assert.match(push.stdout, new RegExp(`url {5}http://hello\\.localhost:${gw.dataPort}/`));

    const res = await get(gw, "hello.localhost", "/greet?x=1");
    assert.equal(res.status, 200);
    assert.equal(res.text, "Hello from wasmgate! You asked for /greet?x=1\n");
    assert.match(res.headers.get("x-request-id") ?? "", /^[\w-]{16}$/);
  });

  it("matches the Host header case-insensitively and ignores its port", async () => {
    const res = await get(gw, "HELLO.LOCALHOST:8787", "/");
    assert.equal(res.status, 200);
    assert.equal(res.text, "Hello from wasmgate! You asked for /\n");
  });

  it("refuses a request with two Host headers", async () => {
    // Clients refuse to send this, so write the request by hand.
    const { connect } = await import("node:net");
    const socket = connect(gw.dataPort, "127.0.0.1");
    socket.write("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: hello.localhost\r\nConnection: close\r\n\r\n");
    let raw = "";
    for await (const chunk of socket) raw += chunk;
    assert.match(raw, /^HTTP\/1\.1 400 /);
    assert.match(raw, /"code":"ERR_BAD_REQUEST"/);
  });

  it("answers an unknown host with 404 JSON carrying a code and the request id", async () => {
    const res = await get(gw, "nobody.localhost", "/");
    assert.equal(res.status, 404);
    const body = res.json();
    assert.equal(body.error.code, "ERR_HOST_NOT_FOUND");
    assert.equal(body.error.requestId, res.headers.get("x-request-id"));
    assert.match(body.error.message, /nobody\.localhost/);
  });

  describe("bad uploads are refused and the active deployment keeps serving", () => {
    const helloBytes = () => new Uint8Array(readFileSync(hello));
    const cases: [string, () => Promise<string>, string][] = [
      ["an empty file", async () => scratchFile("empty.wasm", new Uint8Array(0)), "ERR_COMPONENT_EMPTY"],
      ["random bytes", async () => scratchFile("random.wasm", randomBytes(4096)), "ERR_COMPONENT_NOT_WASM"],
      ["a core module", () => buildGuest("fixture", "core-module"), "ERR_COMPONENT_CORE_MODULE"],
      [
        "a component without an HTTP handler",
        () => buildGuest("fixture", "no-handler"),
        "ERR_COMPONENT_NO_HANDLER",
      ],
      [
        "a truncated component",
        async () => scratchFile("truncated.wasm", helloBytes().subarray(0, 1_000_000)),
        "ERR_COMPONENT_INVALID",
      ],
      [
        "a component over the size limit",
        async () => scratchFile("huge.wasm", new Uint8Array(MAX_COMPONENT + 1)),
        "ERR_COMPONENT_TOO_LARGE",
      ],
    ];
    for (const [what, file, code] of cases) {
      it(`${what} → ${code}`, async () => {
        const before = await cli(gw, ["deployments", "list", "--app", "hello", "--json"]);
        const push = await cli(gw, ["push", await file(), "--app", "hello", "--json"]);
        assert.equal(push.code, 1, push.stderr);
        assert.equal(JSON.parse(push.stdout).error.code, code);
        assert.doesNotMatch(push.stderr, new RegExp(code), "with --json the error is the JSON alone");
        const after = await cli(gw, ["deployments", "list", "--app", "hello", "--json"]);
        assert.deepEqual(JSON.parse(after.stdout), JSON.parse(before.stdout), "no deployment was added");
        const res = await get(gw, "hello.localhost", "/still");
        assert.equal(res.status, 200);
        assert.equal(res.text, "Hello from wasmgate! You asked for /still\n");
      });
    }

    it("a missing token → 401 ERR_AUTH_MISSING", async () => {
      const push = await runCli([
        "push",
        hello,
        "--app",
        "hello",
        "--gateway",
        gw.adminUrl,
        "--state-dir",
        scratch,
      ]);
      assert.equal(push.code, 1);
      assert.match(push.stderr, /ERR_AUTH_MISSING/);
      assert.match(push.stderr, /hint: /);
    });

    it("an invalid token → 401 ERR_AUTH_INVALID, and one from another gateway → ERR_AUTH_BAD_SIGNATURE", async () => {
      const bad = await cli(gw, ["push", hello, "--app", "hello"], { WASMGATE_TOKEN: "garbage" });
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /ERR_AUTH_INVALID/);
      const other = await startGateway();
      try {
        const foreign = await cli(gw, ["push", hello, "--app", "hello"], { WASMGATE_TOKEN: other.token });
        assert.equal(foreign.code, 1);
        assert.match(foreign.stderr, /ERR_AUTH_BAD_SIGNATURE/);
      } finally {
        await other.dispose();
      }
    });

    it("admin calls without a token get 401 JSON", async () => {
      const res = await fetch(`${gw.adminUrl}/v1/apps`);
      assert.equal(res.status, 401);
      const body = (await res.json()) as { error: { code: string; requestId: string } };
      assert.equal(body.error.code, "ERR_AUTH_MISSING");
      assert.equal(body.error.requestId, res.headers.get("x-request-id"));
    });
  });

  it("answers a trapping guest with 500 JSON, discards the instance and serves the next requests", async () => {
    const trap = await buildGuest("fixture", "trap");
    const push = await cli(gw, ["push", trap, "--app", "trap", "--host", "trap.localhost"]);
    assert.equal(push.code, 0, push.stderr);
    for (let i = 0; i < 3; i++) {
      const res = await get(gw, "trap.localhost", "/");
      assert.equal(res.status, 500);
      const body = res.json();
      assert.equal(body.error.code, "ERR_RUNTIME_TRAP");
      assert.equal(body.error.requestId, res.headers.get("x-request-id"));
      const ok = await get(gw, "hello.localhost", `/after-trap-${i}`);
      assert.equal(ok.status, 200);
      assert.equal(ok.text, `Hello from wasmgate! You asked for /after-trap-${i}\n`);
    }
  });

  it("serves 200 concurrent requests, each with its own correct body", async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, (_, i) => get(gw, "hello.localhost", `/concurrent/${i}`)),
    );
    for (const [i, res] of results.entries()) {
      assert.equal(res.status, 200, res.text);
      assert.equal(res.text, `Hello from wasmgate! You asked for /concurrent/${i}\n`);
    }
  });

  it("serves the app again after a restart on the same state directory, without a new push", async () => {
    const code = await gw.stop();
    assert.equal(code, 0, "SIGTERM ends the gateway cleanly");
    gw = await startGateway({ stateDir, args: ["--max-component-bytes", String(MAX_COMPONENT)] });
    const res = await get(gw, "hello.localhost", "/again");
    assert.equal(res.status, 200);
    assert.equal(res.text, "Hello from wasmgate! You asked for /again\n");
    assert.equal(
      gw.logs.some((l) => l.msg === "deployed"),
      false,
      "nothing was pushed to the restarted gateway",
    );
  });
});

after(() => {
  for (const dir of [scratch, stateDir]) rmSync(dir, { recursive: true, force: true });
});
