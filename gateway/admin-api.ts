// The admin listener: apps, hostnames and deployments under /v1, every call authenticated.

import { createHash, randomBytes } from "node:crypto";
import { Hono } from "hono";
import { type KvStore, MAX_VALUE_BYTES } from "../kv/index.ts";
import type { Runtime } from "../runtime/index.ts";
import { parseOutboundPattern, RuntimeError } from "../runtime/index.ts";
import type { AppConfig } from "./app-config.ts";
import { type Auth, bearerAuth, type Principal } from "./auth.ts";
import type { Components } from "./components.ts";
import { mountConfigApi } from "./config-api.ts";
import { GatewayError } from "./errors.ts";
import { normalizePattern } from "./hostnames.ts";
import { type Env, onError, readBody, requestId } from "./http.ts";
import { mountKvApi } from "./kv-api.ts";
import { effectiveLimits, type LimitDefaults } from "./limits.ts";
import type { Logger } from "./logger.ts";
import { mountLogsApi } from "./logs-api.ts";
import type { Ops } from "./ops.ts";
import { mountOpsApi } from "./ops-api.ts";
import type { Router } from "./router.ts";
import {
  AppName,
  type AppView,
  DEPLOY_MESSAGE_MAX,
  type DeploymentView,
  type DeployResponse,
  PutAppBody,
} from "./schemas.ts";
import type { SecretBox } from "./secrets.ts";
import type { AppRecord, DeploymentRecord, StateStore } from "./state/store.ts";

export interface AdminApiDeps {
  state: StateStore;
  kv: KvStore;
  runtime: Runtime;
  components: Components;
  router: Router;
  auth: Auth;
  logger: Logger;
  limits: LimitDefaults;
  box: SecretBox;
  config: AppConfig;
  /** The data plane's URL for a hostname, shown after a deploy. */
  publicUrl(hostname: string): string;
  /** Readiness, metrics and log streams (without it, only /healthz). */
  ops?: Ops;
}

type AdminEnv = { Variables: Env["Variables"] & { principal: Principal } };

const DEPLOYMENTS_DEFAULT = 20;
const DEPLOYMENTS_MAX = 100;

export function createAdminApi(deps: AdminApiDeps): Hono<AdminEnv> {
  const { state, runtime, components, router, auth, logger } = deps;
  const app = new Hono<AdminEnv>();
  app.use(requestId());
  app.onError(onError(logger));
  app.notFound(() => {
    throw new GatewayError("ERR_ROUTE_NOT_FOUND", "no such admin API route; the API lives under /v1");
  });

  app.get("/healthz", (c) => c.json({ ok: true }));
  if (deps.ops) mountOpsApi(app, deps.ops);
  app.use("/v1/*", bearerAuth(auth));

  app.get("/v1/apps", async (c) => c.json({ apps: (await state.listApps()).map(appView) }));

  app.get("/v1/apps/:app", async (c) =>
    c.json({ app: appView(await mustGetApp(state, appName(c.req.param("app")))) }),
  );

  app.put("/v1/apps/:app", async (c) => {
    const name = appName(c.req.param("app"));
    const body = PutAppBody.safeParse(await jsonBody(c.req.raw));
    if (!body.success)
      throw new GatewayError("ERR_VALIDATION", body.error.issues.map((i) => i.message).join("; "));
    const hostnames = body.data.hostnames && [...new Set(body.data.hostnames.map(checkHostname))];
    const { app: record, created } = await state.putApp(name, {
      hostnames,
      limits: body.data.limits,
      buckets: body.data.buckets && [...new Set(body.data.buckets)],
      allowedOutboundHosts: body.data.allowedOutboundHosts && [
        ...new Set(body.data.allowedOutboundHosts.map(checkOutboundHost)),
      ],
    });
    router.invalidate();
    logger.info(
      {
        requestId: c.get("requestId"),
        app: name,
        hostnames: record.hostnames,
        limits: record.limits,
        allowedOutboundHosts: record.allowedOutboundHosts,
      },
      created ? "app created" : "app updated",
    );
    return c.json({ app: appView(record) }, created ? 201 : 200);
  });

  app.post("/v1/apps/:app/deployments", async (c) => {
    const name = appName(c.req.param("app"));
    const record = await mustGetApp(state, name);
    const type = c.req.header("content-type") ?? "";
    if (!/^application\/(wasm|octet-stream)\b/.test(type)) {
      throw new GatewayError(
        "ERR_UNSUPPORTED_MEDIA_TYPE",
        "upload the component as the request body with Content-Type: application/wasm",
      );
    }
    const message = c.req.query("message");
    if (message !== undefined && message.length > DEPLOY_MESSAGE_MAX) {
      throw new GatewayError(
        "ERR_VALIDATION",
        `a deployment message is at most ${DEPLOY_MESSAGE_MAX} characters`,
      );
    }
    const bytes =
      (await readBody(
        c.req.raw,
        runtime.maxComponentBytes,
        (limit) =>
          new RuntimeError(
            "ERR_COMPONENT_TOO_LARGE",
            `the component is larger than the limit of ${limit} bytes`,
          ),
      )) ?? new Uint8Array(0);
    const digest = createHash("sha256").update(bytes).digest("hex");
    // Nothing is stored or activated unless the component prepared successfully.
    const reused = (await runtime.prepared(digest)) !== undefined && (await state.hasArtifact(digest));
    const { memoryBytes } = effectiveLimits(record.limits, deps.limits).guest;
    const info = reused ? await components.ensure(digest) : await runtime.prepare(digest, bytes, memoryBytes);
    await state.putArtifact(digest, bytes);
    const deployment: DeploymentRecord = {
      id: deploymentId(),
      app: name,
      digest,
      size: bytes.byteLength,
      createdAt: new Date().toISOString(),
      createdBy: c.get("principal").subject,
      message,
      info,
    };
    await state.addDeployment(deployment);
    router.invalidate();
    runtime.warm({ digest, info }, effectiveLimits(record.limits, deps.limits).guest);
    logger.info({ requestId: c.get("requestId"), app: name, deployment: deployment.id, digest }, "deployed");
    const body: DeployResponse = {
      deployment: deploymentView(deployment, deployment.id),
      urls: record.hostnames.filter((h) => !h.startsWith("*.")).map(deps.publicUrl),
      reused,
    };
    return c.json(body, 201);
  });

  mountKvApi(app, { state, kv: deps.kv, maxValueBytes: MAX_VALUE_BYTES });
  mountConfigApi(app, { state, box: deps.box, config: deps.config, logger });
  if (deps.ops) {
    mountLogsApi(app, {
      bus: deps.ops.bus,
      authorizeApp: async (_c, name) => mustGetApp(state, appName(name)),
    });
  }

  app.get("/v1/apps/:app/deployments", async (c) => {
    const record = await mustGetApp(state, appName(c.req.param("app")));
    const limit = Math.min(
      Number(c.req.query("limit") ?? DEPLOYMENTS_DEFAULT) || DEPLOYMENTS_DEFAULT,
      DEPLOYMENTS_MAX,
    );
    const list = await state.listDeployments(record.name, limit);
    return c.json({ deployments: list.map((d) => deploymentView(d, record.activeDeployment)) });
  });

  return app;
}

function appName(raw: string): string {
  const parsed = AppName.safeParse(raw);
  if (!parsed.success) throw new GatewayError("ERR_VALIDATION", parsed.error.issues[0]!.message);
  return parsed.data;
}

function checkHostname(raw: string): string {
  const pattern = normalizePattern(raw);
  if (!pattern) {
    throw new GatewayError(
      "ERR_HOSTNAME_INVALID",
      `"${raw}" is not a hostname; use a name like app.example.com or *.example.com, without scheme or port`,
    );
  }
  return pattern;
}

function checkOutboundHost(raw: string): string {
  const pattern = parseOutboundPattern(raw);
  if (typeof pattern === "string") throw new GatewayError("ERR_OUTBOUND_HOST_INVALID", pattern);
  return pattern.raw;
}

async function mustGetApp(state: StateStore, name: string): Promise<AppRecord> {
  const app = await state.getApp(name);
  if (!app) throw new GatewayError("ERR_APP_NOT_FOUND", `there is no app named ${name}`);
  return app;
}

async function jsonBody(req: Request): Promise<unknown> {
  try {
    return await req.json();
  } catch {
    throw new GatewayError("ERR_BAD_REQUEST", "the request body must be JSON");
  }
}

function deploymentId(): string {
  // Time-ordered, so ids sort like the deployments they name.
  return `dep_${Date.now().toString(36).padStart(9, "0")}${randomBytes(5).toString("hex")}`;
}

function appView(app: AppRecord): AppView {
  return {
    name: app.name,
    tenant: app.tenant,
    hostnames: app.hostnames,
    buckets: app.buckets,
    allowedOutboundHosts: app.allowedOutboundHosts,
    limits: app.limits,
    activeDeployment: app.activeDeployment ?? null,
    createdAt: app.createdAt,
    updatedAt: app.updatedAt,
  };
}

function deploymentView(d: DeploymentRecord, active: string | undefined): DeploymentView {
  return {
    id: d.id,
    app: d.app,
    digest: d.digest,
    size: d.size,
    createdAt: d.createdAt,
    createdBy: d.createdBy,
    message: d.message ?? null,
    active: d.id === active,
  };
}
