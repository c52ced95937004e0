// Admin API routes for an app's variables and secrets, served to its guests by wasi:config/store.
// A secret's value goes in and never comes out: listings show names and update times only, and
// nothing here logs a value.

import { Hono } from "hono";
import type { AppConfig } from "../app-config.ts";
import type { SecretBox } from "../auth/secrets.ts";
import { GatewayError } from "../errors.ts";
import type { Logger } from "../logger.ts";
import { ConfigName, ConfigValueBody, MAX_SECRETS, MAX_VARS, type SecretView } from "../schemas.ts";
import type { AppRecord, StateStore } from "../state/store.ts";
import { type AdminEnv, mustGetApp } from "./params.ts";

export interface ConfigApiDeps {
  state: StateStore;
  box: SecretBox;
  config: AppConfig;
  logger: Logger;
}

export function configRoutes(deps: ConfigApiDeps): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const { state, box, config, logger } = deps;

  const appOf = (target: AdminEnv["Variables"]["appTarget"]): Promise<AppRecord> => mustGetApp(state, target);
  function nameOf(raw: string): string {
    const parsed = ConfigName.safeParse(raw);
    if (!parsed.success) throw new GatewayError("ERR_VALIDATION", parsed.error.issues[0]!.message);
    return parsed.data;
  }
  async function readValue(req: Request): Promise<string> {
    let json: unknown;
    try {
      json = await req.json();
    } catch {
      throw new GatewayError("ERR_BAD_REQUEST", 'the request body must be JSON: {"value": "…"}');
    }
    const parsed = ConfigValueBody.safeParse(json);
    // zod's messages name the rule, never the input, so a secret cannot leak through them.
    if (!parsed.success) {
      throw new GatewayError("ERR_VALIDATION", parsed.error.issues.map((i) => i.message).join("; "));
    }
    return parsed.data.value;
  }
  const log = (requestId: string, app: AppRecord, name: string, msg: string) =>
    logger.info({ requestId, tenant: app.tenant, app: app.name, name }, msg);

  app.get("/v1/apps/:app/vars", async (c) => {
    const app = await appOf(c.get("appTarget"));
    return c.json({ vars: Object.fromEntries(await state.listVars(app)) });
  });

  app.put("/v1/apps/:app/vars/:name", async (c) => {
    const app = await appOf(c.get("appTarget"));
    const name = nameOf(c.req.param("name"));
    const value = await readValue(c.req.raw);
    await state.setVar(app, name, value, MAX_VARS);
    config.invalidate(app);
    log(c.get("requestId"), app, name, "variable set");
    return c.json({ name, value });
  });

  app.delete("/v1/apps/:app/vars/:name", async (c) => {
    const app = await appOf(c.get("appTarget"));
    const name = nameOf(c.req.param("name"));
    if (!(await state.deleteVar(app, name))) {
      throw new GatewayError("ERR_VAR_NOT_FOUND", `app ${app.name} has no variable named ${name}`);
    }
    config.invalidate(app);
    log(c.get("requestId"), app, name, "variable unset");
    return c.body(null, 204);
  });

  app.get("/v1/apps/:app/secrets", async (c) => {
    const app = await appOf(c.get("appTarget"));
    const secrets: SecretView[] = (await state.listSecrets(app)).map((s) => ({
      name: s.name,
      updatedAt: s.updatedAt,
    }));
    return c.json({ secrets });
  });

  app.put("/v1/apps/:app/secrets/:name", async (c) => {
    const app = await appOf(c.get("appTarget"));
    const name = nameOf(c.req.param("name"));
    const value = await readValue(c.req.raw);
    const stored = await state.putSecret(app, name, box.seal(app, name, value), MAX_SECRETS);
    config.invalidate(app);
    log(c.get("requestId"), app, name, "secret set");
    const view: SecretView = stored;
    return c.json({ secret: view });
  });

  app.delete("/v1/apps/:app/secrets/:name", async (c) => {
    const app = await appOf(c.get("appTarget"));
    const name = nameOf(c.req.param("name"));
    if (!(await state.deleteSecret(app, name))) {
      throw new GatewayError("ERR_SECRET_NOT_FOUND", `app ${app.name} has no secret named ${name}`);
    }
    config.invalidate(app);
    log(c.get("requestId"), app, name, "secret deleted");
    return c.body(null, 204);
  });
  return app;
}
