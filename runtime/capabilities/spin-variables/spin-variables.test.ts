// Spin's variables interface through a real gateway: a component that imports
// fermyon:spin/variables@2.0.0 (guest.wat, built here with wasm-tools against Spin's WIT in
// wit/deps/spin@2.0.0)
// reads its app's variables and secrets by Spin's names, and gets Spin's error cases.

import assert from "node:assert/strict";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { adminCall, type GatewayProcess, get, ROOT, startGateway } from "../../../test/harness/gateway.ts";

const HERE = import.meta.dirname;
let gw: GatewayProcess;

/** The guest, embedded in a world of its own: Spin's variables in, the fast world's handler out. */
async function buildGuest(): Promise<Uint8Array> {
  const { parse, componentEmbed, componentNew } = await import("@bytecodealliance/jco");
  const wit = await mkdtemp(path.join(tmpdir(), "wasmgate-spin-variables-"));
  try {
    await mkdir(path.join(wit, "deps", "spin"), { recursive: true });
    await mkdir(path.join(wit, "deps", "edge"), { recursive: true });
    for (const file of ["package.wit", "variables.wit"]) {
      await copyFile(
        path.join(ROOT, "wit", "deps", "spin@2.0.0", file),
        path.join(wit, "deps", "spin", file),
      );
    }
    await copyFile(
      path.join(ROOT, "wit", "deps", "edge", "package.wit"),
      path.join(wit, "deps", "edge", "package.wit"),
    );
    await writeFile(
      path.join(wit, "world.wit"),
      "package wasmgate:spin-variables-test;\n\nworld guest {\n  import fermyon:spin/variables@2.0.0;\n  export wasmgate:edge/handler@0.1.0;\n}\n",
    );
    const core = await parse(await readFile(path.join(HERE, "guest.wat"), "utf8"));
    return await componentNew(await componentEmbed({ binary: core, witPath: wit, world: "guest" }));
  } finally {
    await rm(wit, { recursive: true, force: true });
  }
}

before(async () => {
  gw = await startGateway();
  const app = await adminCall(gw, "PUT", "/v1/apps/spin-vars", {
    json: { hostnames: ["spin-vars.localhost"] },
  });
  assert.equal(app.status, 201, JSON.stringify(app.body));
  for (const [kind, name, value] of [
    ["vars", "greeting", "hello from a variable"],
    ["vars", "API_URL", "https://api.example.com"],
    ["secrets", "api_key", "s3cret"],
  ] as const) {
    const set = await adminCall(gw, "PUT", `/v1/apps/spin-vars/${kind}/${name}`, { json: { value } });
    assert.equal(set.status, 200, JSON.stringify(set.body));
  }
  const deployed = await adminCall(gw, "POST", "/v1/apps/spin-vars/deployments", {
    body: await buildGuest(),
  });
  assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
});
after(async () => {
  await gw?.dispose();
});

const ask = async (name: string) => (await get(gw, "spin-vars.localhost", `/${name}`)).text;

describe("fermyon:spin/variables@2.0.0", () => {
  it("reads a variable and a secret by their Spin names", async () => {
    assert.equal(await ask("greeting"), "hello from a variable");
    assert.equal(await ask("api_key"), "s3cret");
  });

  it("finds an environment-style name in upper case", async () => {
    assert.equal(await ask("api_url"), "https://api.example.com");
  });

  it("answers undefined for a name the app does not have", async () => {
    assert.match(await ask("missing"), /^undefined: the app has no variable or secret named missing$/);
  });

  it("answers invalid-name for names Spin refuses, never a trap", async () => {
    for (const name of ["Greeting", "invalid-name", "4name", "double__under", "trailing_", "_lead"]) {
      assert.match(await ask(name), /^invalid-name: /, name);
    }
  });

  it("sees a changed value on the next request, without a redeploy", async () => {
    const set = await adminCall(gw, "PUT", "/v1/apps/spin-vars/vars/greeting", {
      json: { value: "changed" },
    });
    assert.equal(set.status, 200);
    assert.equal(await ask("greeting"), "changed");
  });
});
