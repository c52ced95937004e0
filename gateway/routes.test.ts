// Spin's routing rules, case by case (the cases of spinframework/spin's crates/http routes tests),
// and a property: whatever the routes, a path gets the most specific route that matches it.

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { compileRoutes, parseRoute, spinRouteHeaders } from "./routes.ts";

function router(routes: Record<string, string>) {
  const compiled = compileRoutes(Object.entries(routes).map(([route, target]) => ({ route, target })));
  assert.ok(typeof compiled !== "string", String(compiled));
  return (path: string) => compiled.match(path)?.target;
}

describe("path routes", () => {
  it("exact routes match their path only", () => {
    const r = router({ "/foo": "foo", "/foo/bar": "foobar" });
    assert.equal(r("/foo"), "foo");
    assert.equal(r("/foo/bar"), "foobar");
    assert.equal(r("/foo/baz"), undefined);
    assert.equal(r("/"), undefined);
  });

  it("a trailing wildcard matches its prefix and everything below it", () => {
    const r = router({ "/...": "all" });
    for (const path of ["/", "/foo/bar", "/abc/", "/this/should/be/captured?abc=def"])
      assert.equal(r(path), "all");
    const api = router({ "/api/...": "api" });
    assert.equal(api("/api"), "api");
    assert.equal(api("/api/v1/x"), "api");
    assert.equal(api("/apix"), undefined);
  });

  it("the longest wildcard wins, in any order, and an exact route beats a wildcard", () => {
    const routes = { "/one/...": "one", "/one/two/...": "two", "/one/two/three/...": "three" };
    assert.equal(router(routes)("/one/two/three/four"), "three");
    const reversed = Object.fromEntries(Object.entries(routes).reverse());
    assert.equal(router(reversed)("/one/two/three/four"), "three");
    assert.equal(router(routes)("/one/x"), "one");
    assert.equal(router({ "/...": "wild", "/one": "exact" })("/one"), "exact");
  });

  it("a literal segment beats a named one, and named segments are captured", () => {
    const r = compileRoutes([
      { route: "/users/:id", target: "user" },
      { route: "/users/me", target: "me" },
      { route: "/users/:id/...", target: "below" },
    ]);
    assert.ok(typeof r !== "string");
    assert.equal(r.match("/users/me")?.target, "me");
    assert.deepEqual(r.match("/users/42")?.named, { id: "42" });
    assert.equal(r.match("/users/42/posts")?.target, "below");
  });

  it("refuses what is not a route, and two routes for the same paths", () => {
    for (const bad of ["", "/a/.../b", "/a//b", "/a?x=1", "/:1x", "/a b"]) {
      assert.equal(typeof parseRoute(bad), "string", bad);
    }
    assert.match(
      String(
        compileRoutes([
          { route: "/a/:x", target: 1 },
          { route: "/a/:y", target: 2 },
        ]),
      ),
      /same paths/,
    );
    assert.match(
      String(
        compileRoutes([
          { route: "/a/", target: 1 },
          { route: "/a", target: 2 },
        ]),
      ),
      /same paths/,
    );
  });

  it("gives Spin's headers, with what the wildcard matched as the path info", () => {
    const r = compileRoutes([{ route: "/foo/...", target: "c" }]);
    assert.ok(typeof r !== "string");
    const cases: [string, string][] = [
      ["/foo", ""],
      ["/foo/", "/"],
      ["/foo/bar", "/bar"],
      ["/foo/bar/", "/bar/"],
    ];
    for (const [path, info] of cases) assert.equal(r.match(path)?.pathInfo, info, path);
    const headers = Object.fromEntries(
      spinRouteHeaders(
        r.match("/foo/bar")!,
        { scheme: "https", host: "fermyon.dev", pathWithQuery: "/foo/bar?k=v" },
        "127.0.0.1:8777",
      ),
    );
    assert.deepEqual(headers, {
      "spin-path-info": "/bar",
      "spin-full-url": "https://fermyon.dev/foo/bar?k=v",
      "spin-matched-route": "/foo/...",
      "spin-base-path": "/",
      "spin-raw-component-route": "/foo/...",
      "spin-component-route": "/foo",
      "spin-client-addr": "127.0.0.1:8777",
    });
    const named = compileRoutes([{ route: "/foo/:userid/...", target: "c" }]);
    assert.ok(typeof named !== "string");
    const m = named.match("/foo/42/bar")!;
    assert.equal(m.prefix, "/foo/:userid");
    assert.deepEqual(
      spinRouteHeaders(m, { scheme: "http", host: "h", pathWithQuery: "/foo/42/bar" }, "c").at(-1),
      ["spin-path-match-userid", "42"],
    );
  });

  it("property: a matched route matches the path, and no other route that matches is more specific", () => {
    const segment = fc.constantFrom("a", "b", "c");
    const route = fc
      .tuple(fc.array(fc.oneof(segment, fc.constant(":p")), { maxLength: 3 }), fc.boolean())
      .map(
        ([parts, wild]) =>
          `/${parts.map((p, i) => (p === ":p" ? `:p${i}` : p)).join("/")}${wild ? (parts.length ? "/..." : "...") : ""}`,
      );
    fc.assert(
      fc.property(
        fc.uniqueArray(route, { maxLength: 8 }),
        fc.array(segment, { maxLength: 4 }),
        (routes, path) => {
          const compiled = compileRoutes(routes.map((r) => ({ route: r, target: r })));
          if (typeof compiled === "string") return; // two routes for the same paths
          const p = `/${path.join("/")}`;
          const matches = (r: string) => {
            const single = compileRoutes([{ route: r, target: r }]);
            return typeof single !== "string" && single.match(p) !== undefined;
          };
          const got = compiled.match(p)?.target;
          const candidates = routes.filter(matches);
          if (got === undefined) return assert.deepEqual(candidates, []);
          assert.ok(candidates.includes(got));
          // Every other candidate is less specific: at the first segment where they differ in kind,
          // the chosen one has the more specific kind.
          for (const other of candidates) {
            if (other === got) continue;
            const a: string[] = got.replace(/\/\.\.\.$|^\/\.\.\.$/, "/…").split("/");
            const b: string[] = other.replace(/\/\.\.\.$|^\/\.\.\.$/, "/…").split("/");
            // The end of an exact route beats the wildcard, a literal beats a name beats the wildcard.
            const kind = (s: string | undefined) =>
              s === undefined ? 4 : s === "…" ? 1 : s.startsWith(":") ? 2 : 3;
            let i = 0;
            while (i < Math.max(a.length, b.length) && kind(a[i]) === kind(b[i])) i++;
            assert.ok(kind(a[i]) >= kind(b[i]), `${got} chosen over ${other} for ${p}`);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});
