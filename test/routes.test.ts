// Path routes against a real gateway: an app of several components deployed from spin.toml and
// from wasmgate.json "routes", Spin's routing headers as the component sees them, rollbacks that
// keep the routes, and uploads that are refused whole.

import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { buildGuest } from "../scripts/guests.ts";
import { adminCall, type GatewayProcess, get, runCli, startGateway, tempDir } from "./harness/gateway.ts";

let gw: GatewayProcess;
let echo: string;
let hello: string;
const dir = tempDir("wasmgate-spin-app-");

before(async () => {
  echo = await buildGuest("fixture", "request-echo");
  hello = await buildGuest("example", "hello-fast");
  mkdirSync(join(dir, "dist"));
  copyFileSync(echo, join(dir, "dist", "echo.wasm"));
  copyFileSync(hello, join(dir, "dist", "hello.wasm"));
  gw = await startGateway({ args: ["--workers", "1"] });
});
after(async () => {
  await gw?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

const SPIN_TOML = `
spin_manifest_version = 2

[application]
name = "Shop"

[variables]
greeting = { default = "hello" }
api_key = { required = true, secret = true }

[[trigger.http]]
route = "/echo/..."
component = "echo"

[[trigger.http]]
route = "/hello"
component = "hello"

[[trigger.http]]
route = "/users/:id"
component = "echo"

[[trigger.http]]
route = { private = true }
component = "hello"

[component.echo]
source = "dist/echo.wasm"
key_value_stores = ["default", "carts"]
sqlite_databases = ["notes"]
allowed_outbound_hosts = ["https://api.example.com"]
[component.echo.variables]
message = "{{ greeting }}, world"
token = "Bearer {{ api_key }}"

[component.hello]
source = "dist/hello.wasm"
key_value_stores = ["carts"]
`;

function cli(args: string[], env: Record<string, string> = {}) {
  return runCli([...args, "--gateway", gw.adminUrl], { WASMGATE_TOKEN: gw.token, ...env }, undefined, dir);
}

describe("path routes from spin.toml", () => {
  it("deploys every routed component as one deployment, with the manifest's grants, variables and secrets", async () => {
    writeFileSync(join(dir, "spin.toml"), SPIN_TOML);
    const missing = await cli(["push", "spin.toml", "--host", "shop.localhost"]);
    assert.equal(missing.code, 1, missing.stderr);
    assert.match(missing.stderr, /api_key is required/);
    assert.match(missing.stderr, /SPIN_VARIABLE_API_KEY/);

    const pushed = await cli(["push", "spin.toml", "--host", "shop.localhost"], {
      SPIN_VARIABLE_API_KEY: "s3cret",
    });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stdout, /route +\/echo\/\.\.\. → echo/);
    assert.match(pushed.stdout, /route +\/hello → hello/);
    assert.match(pushed.stderr, /private route is left out/);

    const app = (await adminCall(gw, "GET", "/v1/apps/shop")).body.app;
    assert.deepEqual(app.buckets, ["default", "carts"]);
    assert.deepEqual(app.sqliteDatabases, ["notes"]);
    assert.deepEqual(app.allowedOutboundHosts, ["https://api.example.com"]);
    const vars = (await adminCall(gw, "GET", "/v1/apps/shop/vars")).body;
    assert.deepEqual(JSON.stringify(vars).includes("hello, world"), true, JSON.stringify(vars));
    const secrets = (await adminCall(gw, "GET", "/v1/apps/shop/secrets")).body;
    assert.ok(JSON.stringify(secrets).includes("token"), JSON.stringify(secrets));
    assert.ok(!JSON.stringify(secrets).includes("s3cret"), "a secret's value never comes back");

    const listed = await cli(["deployments", "list", "--app", "shop"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /\/echo\/\.\.\. → echo \(sha256:[0-9a-f]{12}\)/);
    const list = (await adminCall(gw, "GET", "/v1/apps/shop/deployments")).body.deployments;
    assert.deepEqual(
      list[0].routes.map((r: { route: string; component: string }) => [r.route, r.component]),
      [
        ["/echo/...", "echo"],
        ["/hello", "hello"],
        ["/users/:id", "echo"],
      ],
    );
  });

  it("answers each path from its route's component, with Spin's routing headers and not the client's", async () => {
    const res = await get(gw, "shop.localhost", "/echo/a/b?x=1", {
      headers: { "spin-path-info": "/forged", "spin-client-addr": "10.0.0.1:1" },
    });
    assert.equal(res.status, 200, res.text);
    const seen = res.json();
    assert.equal(seen.path, "/echo/a/b?x=1");
    assert.equal(seen.headers["spin-path-info"], "/a/b");
    assert.equal(seen.headers["spin-matched-route"], "/echo/...");
    assert.equal(seen.headers["spin-raw-component-route"], "/echo/...");
    assert.equal(seen.headers["spin-component-route"], "/echo");
    assert.equal(seen.headers["spin-base-path"], "/");
    assert.equal(seen.headers["spin-full-url"], "http://shop.localhost/echo/a/b?x=1");
    assert.match(seen.headers["spin-client-addr"], /^127\.0\.0\.1:\d+$/);

    const named = (await get(gw, "shop.localhost", "/users/42")).json();
    assert.equal(named.headers["spin-path-match-id"], "42");
    assert.equal(named.headers["spin-path-info"], "");

    const greeting = await get(gw, "shop.localhost", "/hello");
    assert.equal(greeting.status, 200);
    assert.match(greeting.text, /^Hello from wasmgate \(fast world\)!/);

    const none = await get(gw, "shop.localhost", "/nowhere");
    assert.equal(none.status, 404);
    assert.equal(none.json().error.code, "ERR_PATH_NOT_ROUTED");
    assert.ok(none.json().error.requestId);
  });

  it("a rollback brings the earlier routes back with their components", async () => {
    const flat = SPIN_TOML.replace('route = "/hello"', 'route = "/..."');
    writeFileSync(join(dir, "spin.toml"), flat);
    const pushed = await cli(["push", "--host", "shop.localhost"], { SPIN_VARIABLE_API_KEY: "s3cret" });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match((await get(gw, "shop.localhost", "/nowhere")).text, /^Hello from wasmgate/);
    const back = await adminCall(gw, "POST", "/v1/apps/shop/rollback", { json: {} });
    assert.equal(back.status, 201, JSON.stringify(back.body));
    assert.equal(back.body.deployment.routes.length, 3);
    assert.equal((await get(gw, "shop.localhost", "/nowhere")).status, 404);
    assert.equal((await get(gw, "shop.localhost", "/echo/x")).json().headers["spin-path-info"], "/x");
  });
});

describe("push spin.toml --build", () => {
  it("runs each component's build command in its workdir before uploading, and stops on a failing one", async () => {
    const project = tempDir("wasmgate-spin-build-");
    try {
      mkdirSync(join(project, "src"));
      copyFileSync(echo, join(project, "src", "prebuilt.wasm"));
      const manifest = (command: string) => `spin_manifest_version = 2
[application]
name = "built"
[[trigger.http]]
route = "/..."
component = "web"
[component.web]
source = "out/web.wasm"
[component.web.build]
command = "${command}"
workdir = "src"
`;
      writeFileSync(
        join(project, "spin.toml"),
        manifest("mkdir -p ../out && cp prebuilt.wasm ../out/web.wasm"),
      );
      const unbuilt = await runCli(
        ["push", "--host", "built.localhost", "--gateway", gw.adminUrl],
        { WASMGATE_TOKEN: gw.token },
        undefined,
        project,
      );
      assert.equal(unbuilt.code, 1);
      assert.match(unbuilt.stderr, /no such file.*hint: build it first: deploy-cli push --build/s);
      const built = await runCli(
        ["push", "--build", "--host", "built.localhost", "--gateway", gw.adminUrl],
        { WASMGATE_TOKEN: gw.token },
        undefined,
        project,
      );
      assert.equal(built.code, 0, built.stderr);
      assert.match(built.stderr, /Building web: mkdir -p/);
      assert.equal((await get(gw, "built.localhost", "/x")).json().headers["spin-path-info"], "/x");
      writeFileSync(join(project, "spin.toml"), manifest("echo broken >&2; exit 3"));
      const failed = await runCli(
        ["push", "--build", "--host", "built.localhost", "--gateway", gw.adminUrl],
        { WASMGATE_TOKEN: gw.token },
        undefined,
        project,
      );
      assert.equal(failed.code, 1);
      assert.match(failed.stderr, /broken/);
      assert.match(failed.stderr, /component web: `echo broken >&2; exit 3` exited with 3/);
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});

describe("path routes: refused uploads change nothing", () => {
  async function upload(parts: { name: string; data: string | Uint8Array; file?: boolean }[]) {
    const form = new FormData();
    for (const p of parts) {
      if (p.file) form.append(p.name, new Blob([p.data as Uint8Array<ArrayBuffer>]), `${p.name}.wasm`);
      else form.append(p.name, p.data as string);
    }
    const res = await fetch(`${gw.adminUrl}/v1/apps/shop/deployments`, {
      method: "POST",
      headers: { authorization: `Bearer ${gw.token}` },
      body: form,
    });
    return { status: res.status, body: await res.json() };
  }

  it("refuses routes that clash, name a missing component, or leave one unrouted, and bad components", async () => {
    const bytes = new Uint8Array(readFileSync(echo));
    const before = (await adminCall(gw, "GET", "/v1/apps/shop")).body.app.activeDeployment;
    const cases: [Parameters<typeof upload>[0], string, RegExp][] = [
      [
        [
          {
            name: "routes",
            data: JSON.stringify([
              { route: "/a/:x", component: "e" },
              { route: "/a/:y", component: "e" },
            ]),
          },
          { name: "e", data: bytes, file: true },
        ],
        "ERR_VALIDATION",
        /same paths/,
      ],
      [
        [
          { name: "routes", data: JSON.stringify([{ route: "/...", component: "gone" }]) },
          { name: "e", data: bytes, file: true },
        ],
        "ERR_VALIDATION",
        /not uploaded/,
      ],
      [
        [
          { name: "routes", data: JSON.stringify([{ route: "/...", component: "e" }]) },
          { name: "e", data: bytes, file: true },
          { name: "f", data: bytes, file: true },
        ],
        "ERR_VALIDATION",
        /has no route/,
      ],
      [[{ name: "e", data: bytes, file: true }], "ERR_VALIDATION", /"routes" part/],
      [
        [
          { name: "routes", data: "not json" },
          { name: "e", data: bytes, file: true },
        ],
        "ERR_BAD_REQUEST",
        /JSON/,
      ],
      [
        [
          { name: "routes", data: JSON.stringify([{ route: "/...", component: "e" }]) },
          { name: "e", data: new Uint8Array([1, 2, 3, 4]), file: true },
        ],
        "ERR_COMPONENT_NOT_WASM",
        /component e/,
      ],
    ];
    for (const [parts, code, message] of cases) {
      const res = await upload(parts);
      assert.ok(res.status >= 400 && res.status < 500, JSON.stringify(res.body));
      assert.equal(res.body.error.code, code, JSON.stringify(res.body));
      assert.match(res.body.error.message, message);
    }
    assert.equal((await adminCall(gw, "GET", "/v1/apps/shop")).body.app.activeDeployment, before);
  });
});

describe("path routes from wasmgate.json", () => {
  it("builds or reads each entry once and serves it on its routes", async () => {
    const project = tempDir("wasmgate-routes-project-");
    try {
      copyFileSync(echo, join(project, "echo.wasm"));
      copyFileSync(hello, join(project, "hello.wasm"));
      writeFileSync(
        join(project, "wasmgate.json"),
        JSON.stringify({
          name: "routed",
          hostnames: ["routed.localhost"],
          routes: { "/api/...": "echo.wasm", "/": "hello.wasm", "/about": "hello.wasm" },
        }),
      );
      const pushed = await runCli(
        ["push", "--gateway", gw.adminUrl],
        { WASMGATE_TOKEN: gw.token },
        undefined,
        project,
      );
      assert.equal(pushed.code, 0, pushed.stderr);
      assert.equal((await get(gw, "routed.localhost", "/api/v1")).json().headers["spin-path-info"], "/v1");
      assert.match((await get(gw, "routed.localhost", "/about")).text, /^Hello from wasmgate/);
      assert.match((await get(gw, "routed.localhost", "/")).text, /^Hello from wasmgate/);
      const routes = (await adminCall(gw, "GET", "/v1/apps/routed/deployments")).body.deployments[0].routes;
      assert.equal(
        new Set(routes.map((r: { digest: string }) => r.digest)).size,
        2,
        "one component per entry",
      );
    } finally {
      rmSync(project, { recursive: true, force: true });
    }
  });
});
