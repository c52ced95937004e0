// `deploy-cli dev` end to end, the way the tutorial (docs/tutorial.md) uses it: init a project, serve it,
// edit it, break it, and come back to it later. Real builds (StarlingMonkey), the real binary.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { request } from "undici";
import { startDev } from "../harness/dev.ts";
import { ROOT, runCli, tempDir } from "../harness/gateway.ts";

/**
 * A save whose answer takes longer than this is stuck, not slow: how fast a reload is (2 to 3 s
 * on a quiet machine) is printed, and told in the performance docs, not held to a bound here.
 */
const STUCK_MS = 30_000;

const work = tempDir("wasmgate-dev-");
const project = join(work, "blog");
const source = join(project, "src", "index.ts");
let original: string;
/** Visits of `/` so far, across sessions that keep their data. */
let visits = 0;

async function get(port: number, path = "/", host = "blog.localhost") {
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host } });
  return { status: res.statusCode, text: await res.body.text() };
}

/** The scaffolded handler with its greeting line changed. */
function edited(greeting: string, extra = ""): string {
  const changed = original.replace("from blog!", greeting);
  assert.notEqual(changed, original);
  return changed.replace(
    "const { pathname } = new URL(request.url);",
    `const { pathname } = new URL(request.url);${extra}`,
  );
}

before(async () => {
  const init = await runCli(["init", "blog"], {}, undefined, work);
  assert.equal(init.code, 0, init.stderr);
  original = readFileSync(source, "utf8");
});

after(() => rmSync(work, { recursive: true, force: true }));

describe("deploy-cli dev", () => {
  it("serves the new project, reloads on a save, and survives a syntax error", async () => {
    const dev = startDev(project, ["--json"]);
    try {
      const ready = await dev.waitForEvent((e) => e.event === "ready");
      assert.equal(ready.live, true, dev.stderr());
      assert.equal(ready.url, `http://blog.localhost:${ready.port}/`);
      // The first build says it started before it finishes.
      const order = dev.events.map((e) => e.event);
      assert.ok(
        order.indexOf("building") >= 0 && order.indexOf("building") < order.indexOf("build"),
        order.join(" "),
      );
      const port = ready.port as number;

      assert.deepEqual(await get(port), { status: 200, text: "Hello from blog! / has had 1 visit.\n" });
      // The app also answers on plain localhost, so a browser needs no *.localhost support.
      assert.equal((await get(port, "/", "localhost")).text, "Hello from blog! / has had 2 visits.\n");
      visits = 2;
      const line = await dev.waitForEvent((e) => e.event === "request" && e.path === "/");
      assert.equal(line.method, "GET");
      assert.equal(line.status, 200);
      assert.equal(typeof line.ms, "number");

      /** Saves `content` and asks until the answer includes `marker`: the seconds that took. */
      async function saveAndWait(content: string, marker: string): Promise<{ ms: number; text: string }> {
        const mark = dev.events.length;
        const saved = performance.now();
        writeFileSync(source, content);
        for (;;) {
          const res = await get(port);
          visits++;
          if (res.text.includes(marker)) {
            const ms = performance.now() - saved;
            const reload = dev.events.find((e) => e.event === "reload" && dev.events.indexOf(e) >= mark);
            process.stderr.write(
              `# dev: save → new answer in ${(ms / 1000).toFixed(2)} s (build ${(reload?.buildMs / 1000).toFixed(2)} s)\n`,
            );
            return { ms, text: res.text };
          }
          assert.ok(performance.now() - saved < 60_000, `no reload: ${dev.stderr()}`);
          await sleep(50);
        }
      }

      // Two edits, each answered with the new text; the console output is grouped under its
      // request. The bar is met by the faster one, so that one moment of contention on a shared
      // machine is not a failure (both are printed).
      const first = await saveAndWait(
        edited("from the new blog!", '\n    console.log("counting", pathname);'),
        "new blog",
      );
      assert.equal(first.text, `Hello from the new blog! / has had ${visits} visits.\n`);
      const logged = await dev.waitForEvent((e) => e.event === "request" && e.logs?.length > 0);
      assert.deepEqual(logged.logs, [{ stream: "stdout", line: "counting /" }]);
      const second = await saveAndWait(edited("from the newer blog!"), "newer blog");
      assert.equal(second.text, `Hello from the newer blog! / has had ${visits} visits.\n`);
      const fastest = Math.min(first.ms, second.ms);
      assert.ok(fastest < STUCK_MS, `the new answer came ${Math.round(fastest)} ms after the save`);

      // A syntax error, saved the way many editors save (a new file renamed over the old one):
      // reported with its place, and the last good version keeps serving.
      const mark = dev.events.length;
      writeFileSync(`${source}.tmp`, edited("from the broken blog!", "\n    const = 1;"));
      renameSync(`${source}.tmp`, source);
      const failed = await dev.waitForEvent((e) => e.event === "build" && dev.events.indexOf(e) >= mark);
      assert.equal(failed.ok, false);
      assert.match(failed.error, /\(src\/index\.ts:\d+:\d+\)$/);
      assert.match(failed.detail, /╭─\[ src\/index\.ts:\d+:\d+ \]/);
      visits++;
      assert.equal((await get(port)).text, `Hello from the newer blog! / has had ${visits} visits.\n`);

      // Ten saves in a row (after a rename, the file is a new one): one or two builds, never one
      // per save, and the last one wins.
      const burst = dev.events.length;
      for (let i = 0; i < 10; i++) {
        writeFileSync(source, edited(`from blog v${i}!`));
        await sleep(20);
      }
      await dev.waitForEvent((e) => e.event === "reload" && dev.events.indexOf(e) >= burst, 60_000);
      for (;;) {
        visits++;
        if ((await get(port)).text.includes("v9")) break;
        await sleep(100);
      }
      await sleep(1500);
      const builds = dev.events.slice(burst).filter((e) => e.event === "build");
      assert.ok(builds.length >= 1 && builds.length <= 2, `${builds.length} builds for 10 saves`);
      visits++;
      assert.equal((await get(port)).text, `Hello from blog v9! / has had ${visits} visits.\n`);
    } finally {
      assert.equal(await dev.stop(), 0, dev.stderr());
    }
    assert.equal(dev.events.at(-1)?.event, "stopped");
  });

  it("keeps key-value data in .wasmgate/ for the next session, unless --no-persist", async () => {
    const dev = startDev(project);
    try {
      const live = await dev.waitForLine((l) => l.includes("is live at"));
      const port = Number(/localhost:(\d+)\//.exec(live)![1]);
      visits++;
      assert.equal((await get(port)).text, `Hello from blog v9! / has had ${visits} visits.\n`);
      // A request line per request, as people read it.
      await dev.waitForLine((l) => /^GET \/ 200 \d+ ms$/.test(l));

      // The CLI finds the session from the project folder, with no flags and no token.
      const kv = await runCli(["kv", "get", "visits:/", "--app", "blog"], {}, undefined, project);
      assert.equal(kv.code, 0, kv.stderr);
      assert.equal(kv.stdout, String(visits));
    } finally {
      assert.equal(await dev.stop(), 0, dev.stderr());
    }

    const throwaway = startDev(project, ["--no-persist", "--no-watch", "--json"]);
    try {
      const ready = await throwaway.waitForEvent((e) => e.event === "ready");
      assert.equal(ready.kv, null);
      assert.equal((await get(ready.port)).text, "Hello from blog v9! / has had 1 visit.\n");
    } finally {
      assert.equal(await throwaway.stop(), 0, throwaway.stderr());
    }
  });

  it("the project's own test passes (it runs the app with deploy-cli dev)", async () => {
    writeFileSync(source, original);
    const bin = join(work, "bin");
    mkdirSync(bin);
    symlinkSync(join(ROOT, "bin", "deploy-cli.js"), join(bin, "deploy-cli"));
    // Not as a subtest of this run: the project's `node --test` is a run of its own.
    const { NODE_TEST_CONTEXT: _, ...env } = process.env;
    const child = spawn(process.execPath, ["--test"], {
      cwd: project,
      env: { ...env, PATH: `${bin}:${process.env.PATH}` },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d) => {
      output += d;
    });
    child.stderr.on("data", (d) => {
      output += d;
    });
    const code = await new Promise((resolve) => child.on("exit", resolve));
    assert.equal(code, 0, output);
    assert.match(output, /pass 1\n/);
  });
});
