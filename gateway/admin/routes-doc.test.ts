import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { scopeFor } from "../auth/access.ts";
import { createAdminApi } from "./index.ts";
import { ADMIN_ROUTES } from "./routes-doc.ts";

/** Stands in for every dependency: registering routes calls none of them. */
const stub = new Proxy({}, { get: () => () => {} }) as never;

function registeredRoutes(): string[] {
  const app = createAdminApi({
    state: stub,
    kv: stub,
    runtime: stub,
    components: stub,
    invalidate: () => {},
    auth: stub,
    logger: stub,
    limits: { maxBodyBytes: 1 },
    box: stub,
    config: stub,
    publicUrl: (hostname) => hostname,
    ops: stub,
  });
  // Middleware (app.use) registers as ALL; the admin API has no ALL handler of its own.
  return app.routes.filter((r) => r.method !== "ALL").map((r) => `${r.method} ${r.path}`);
}

describe("ADMIN_ROUTES", () => {
  it("lists exactly the routes the admin app registers, each once", () => {
    const documented = ADMIN_ROUTES.map((r) => `${r.method} ${r.path}`);
    assert.equal(new Set(documented).size, documented.length, "a route is listed twice");
    assert.deepEqual([...documented].sort(), [...new Set(registeredRoutes())].sort());
  });

  it("gives each route the scope the access middleware asks for", () => {
    for (const route of ADMIN_ROUTES) {
      const where = `${route.method} ${route.path}`;
      if (!route.path.startsWith("/v1/")) assert.equal(route.scope, "none", where);
      else if (/^\/v1\/(tenants|tokens)/.test(route.path)) assert.equal(route.scope, "operator", where);
      else {
        const section = /^\/v1\/apps\/[^/]+\/([^/]*)/.exec(route.path)?.[1];
        assert.equal(route.scope, scopeFor(route.method, section), where);
      }
      assert.ok(route.purpose.length > 0, `${where} says what it does`);
    }
  });
});
