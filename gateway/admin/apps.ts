// Admin API routes for apps: create and change them (hostnames, limits, grants), deploy and roll
// back their components, list their deployments, delete them (and, with ?purge, their buckets).

import { createHash, randomBytes } from "node:crypto";
import { Hono } from "hono";
import { type KvNamespace, type KvStore, MAX_LIST_LIMIT } from "../../kv/index.ts";
import { bucketNamespace, grantOf, outboundHostsGrant } from "../../runtime/grants.ts";
import { type Runtime, RuntimeError } from "../../runtime/index.ts";
import type { AppConfig } from "../app-config.ts";
import type { Auth } from "../auth/index.ts";
import type { SecretBox } from "../auth/secrets.ts";
import type { Components } from "../components.ts";
import { GatewayError } from "../errors.ts";
import { acceptGrants } from "../grants.ts";
import { patternCovers } from "../hostnames.ts";
import { readBody } from "../http.ts";
import { effectiveLimits, type LimitDefaults } from "../limits.ts";
import type { Logger } from "../logger.ts";
import type { Ops } from "../ops/index.ts";
import {
  type AppView,
  DEPLOY_MESSAGE_MAX,
  type DeleteAppResponse,
  type DeploymentView,
  type DeployResponse,
  DeployRoutes,
  MAX_COMPONENTS,
  PutAppBody,
  RollbackBody,
  routesProblem,
} from "../schemas.ts";
import {
  type AppRecord,
  componentsOf,
  DEFAULT_TENANT,
  DEPLOYMENTS_RETAINED,
  type DeploymentRecord,
  type DeploymentRoute,
  type StateStore,
} from "../state/store.ts";
import { appBuckets } from "./kv.ts";
import {
  type AdminEnv,
  appNotFound,
  hostnamePattern,
  jsonBody,
  mustGetApp,
  mustGetTenant,
  tenantName,
  validation,
} from "./params.ts";

export interface AdminApiDeps {
  state: StateStore;
  kv: KvStore;
  runtime: Runtime;
  components: Components;
  /** Drops what this process cached from the state store, after a change. */
  invalidate(): void;
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

const DEPLOYMENTS_DEFAULT = 20;
const DEPLOYMENTS_MAX = 100;

export function appsRoutes(deps: AdminApiDeps): Hono<AdminEnv> {
  const { state, runtime, components, logger, invalidate } = deps;
  const app = new Hono<AdminEnv>();

  app.get("/v1/apps", async (c) => {
    const principal = c.get("principal");
    // A tenant's token has checked ?tenant= against its own (auth/access.ts).
    const tenant = principal.role === "tenant" ? principal.tenant : c.req.query("tenant");
    const apps = await state.listApps(tenant === undefined ? undefined : tenantName(tenant));
    return c.json({ apps: apps.map(appView) });
  });

  app.get("/v1/apps/:app", async (c) =>
    c.json({ app: appView(await mustGetApp(state, c.get("appTarget"))) }),
  );

  app.put("/v1/apps/:app", async (c) => {
    const target = c.get("appTarget");
    const { name } = target;
    const parsed = PutAppBody.safeParse(await jsonBody(c.req.raw));
    if (!parsed.success) throw validation(parsed.error.issues);
    const body = { data: parsed.data as PutAppBody };
    const hostnames = body.data.hostnames && [...new Set(body.data.hostnames.map(hostnamePattern))];
    const principal = c.get("principal");
    if (principal.role === "tenant" && body.data.tenant && body.data.tenant !== principal.tenant) {
      throw new GatewayError("ERR_FORBIDDEN", "a tenant's token creates apps in its own tenant only");
    }
    const queried = c.req.query("tenant");
    if (queried !== undefined && body.data.tenant && body.data.tenant !== target.tenant) {
      throw new GatewayError(
        "ERR_VALIDATION",
        `?tenant= names ${target.tenant} but the body's tenant is ${body.data.tenant}; name one tenant`,
      );
    }
    // The operator's body may name the tenant of a new app; otherwise the app found, else default.
    const owner = (queried === undefined ? body.data.tenant : undefined) ?? target.tenant ?? DEFAULT_TENANT;
    let maxApps: number | undefined;
    const tenant = owner === DEFAULT_TENANT ? undefined : await mustGetTenant(state, owner);
    const grants = acceptGrants(body.data, { role: principal.role, tenant });
    if (tenant) {
      maxApps = tenant.quotas.apps;
      for (const pattern of hostnames ?? []) {
        if (!tenant.hostnames.some((grant) => patternCovers(grant, pattern))) {
          throw new GatewayError(
            "ERR_HOSTNAME_NOT_GRANTED",
            `tenant ${owner} may not bind ${pattern}; its hostnames are ${tenant.hostnames.join(", ") || "none"}`,
          );
        }
      }
    }
    const { app: record, created } = await state.putApp(
      { tenant: owner, name },
      {
        maxApps,
        hostnames,
        limits: body.data.limits,
        grants,
      },
    );
    invalidate();
    logger.info(
      {
        requestId: c.get("requestId"),
        app: name,
        tenant: record.tenant,
        hostnames: record.hostnames,
        limits: record.limits,
        allowedOutboundHosts: grantOf(outboundHostsGrant, record.grants),
      },
      created ? "app created" : "app updated",
    );
    return c.json({ app: appView(record) }, created ? 201 : 200);
  });

  /** Checks and stores one uploaded component; nothing is stored unless it prepares. */
  async function acceptComponent(record: AppRecord, bytes: Uint8Array) {
    const digest = createHash("sha256").update(bytes).digest("hex");
    const known = (await runtime.prepared(digest)) !== undefined && (await state.hasArtifact(digest));
    const { memoryBytes } = effectiveLimits(record.limits, deps.limits).guest;
    const info = known ? await components.ensure(digest) : await runtime.prepare(digest, bytes, memoryBytes);
    // Whether another tenant runs the same bytes is none of this one's business.
    const reused = known && (await tenantDeployed(record.tenant, digest));
    return { digest, size: bytes.byteLength, info, reused };
  }

  const tooLarge = (limit: number) =>
    new RuntimeError("ERR_COMPONENT_TOO_LARGE", `the component is larger than the limit of ${limit} bytes`);

  /**
   * Several components and their path routes, as one multipart/form-data upload: a `routes` part
   * (JSON, DeployRoutes) and one file part per component, named as the routes name it.
   */
  async function acceptRoutedUpload(record: AppRecord, req: Request, type: string) {
    const limit = runtime.maxComponentBytes * 4;
    const raw = await readBody(req, limit, (l) => tooLarge(l));
    let form: FormData;
    try {
      form = await new Response((raw ?? new Uint8Array(0)) as Uint8Array<ArrayBuffer>, {
        headers: { "content-type": type },
      }).formData();
    } catch {
      throw new GatewayError("ERR_BAD_REQUEST", "the multipart/form-data body could not be read");
    }
    const routesPart = form.get("routes");
    if (typeof routesPart !== "string") {
      throw new GatewayError(
        "ERR_VALIDATION",
        'a multipart deployment needs a "routes" part: [{"route", "component"}]',
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(routesPart);
    } catch {
      throw new GatewayError("ERR_BAD_REQUEST", 'the "routes" part must be JSON');
    }
    const problem = routesProblem(json);
    if (problem !== undefined) throw new GatewayError("ERR_VALIDATION", problem);
    const routes = DeployRoutes.parse(json);
    const files = new Map<string, Uint8Array>();
    for (const [field, value] of form) {
      if (field === "routes") continue;
      if (typeof value === "string") {
        throw new GatewayError("ERR_VALIDATION", `the part "${field}" must be a component file`);
      }
      if (files.has(field)) throw new GatewayError("ERR_VALIDATION", `two parts are named "${field}"`);
      if (value.size > runtime.maxComponentBytes) throw tooLarge(runtime.maxComponentBytes);
      files.set(field, new Uint8Array(await value.arrayBuffer()));
    }
    if (files.size > MAX_COMPONENTS) {
      throw new GatewayError("ERR_VALIDATION", `a deployment has at most ${MAX_COMPONENTS} components`);
    }
    const routed = new Set(routes.map((r) => r.component));
    for (const name of routed) {
      if (!files.has(name))
        throw new GatewayError(
          "ERR_VALIDATION",
          `the routes name a component "${name}" that was not uploaded`,
        );
    }
    for (const name of files.keys()) {
      if (!routed.has(name)) throw new GatewayError("ERR_VALIDATION", `the component "${name}" has no route`);
    }
    const accepted = new Map<string, Awaited<ReturnType<typeof acceptComponent>>>();
    for (const [name, bytes] of files) {
      try {
        accepted.set(name, await acceptComponent(record, bytes));
      } catch (err) {
        if (err instanceof RuntimeError) {
          throw new RuntimeError(err.code, `component ${name}: ${err.message}`, { cause: err });
        }
        throw err;
      }
    }
    for (const [name, bytes] of files) {
      const { digest } = accepted.get(name)!;
      await state.putArtifact(digest, bytes);
      await components.share(digest);
    }
    const deploymentRoutes: DeploymentRoute[] = routes.map((r) => {
      const { digest, size, info } = accepted.get(r.component)!;
      return { route: r.route, component: r.component, digest, size, info };
    });
    return { routes: deploymentRoutes, reused: [...accepted.values()].every((a) => a.reused) };
  }

  app.post("/v1/apps/:app/deployments", async (c) => {
    const record = await mustGetApp(state, c.get("appTarget"));
    const type = c.req.header("content-type") ?? "";
    const routed = /^multipart\/form-data\b/.test(type);
    if (!routed && !/^application\/(wasm|octet-stream)\b/.test(type)) {
      throw new GatewayError(
        "ERR_UNSUPPORTED_MEDIA_TYPE",
        "upload the component as the request body with Content-Type: application/wasm (or several, with their routes, as multipart/form-data)",
      );
    }
    const message = c.req.query("message");
    if (message !== undefined && message.length > DEPLOY_MESSAGE_MAX) {
      throw new GatewayError(
        "ERR_VALIDATION",
        `a deployment message is at most ${DEPLOY_MESSAGE_MAX} characters`,
      );
    }
    const made = {
      id: deploymentId(),
      tenant: record.tenant,
      app: record.name,
      createdAt: new Date().toISOString(),
      createdBy: c.get("principal").subject,
      message,
      rollbackOf: undefined,
    };
    if (routed) {
      const { routes, reused } = await acceptRoutedUpload(record, c.req.raw, type);
      const first = routes[0]!;
      const deployment: DeploymentRecord = {
        ...made,
        digest: first.digest,
        size: first.size,
        info: first.info,
        routes,
      };
      return c.json(await activate(record, deployment, c.get("requestId"), reused), 201);
    }
    const bytes = (await readBody(c.req.raw, runtime.maxComponentBytes, tooLarge)) ?? new Uint8Array(0);
    // Nothing is stored or activated unless the component prepared successfully.
    const { digest, size, info, reused } = await acceptComponent(record, bytes);
    await state.putArtifact(digest, bytes);
    await components.share(digest);
    const deployment: DeploymentRecord = { ...made, digest, size, info };
    return c.json(await activate(record, deployment, c.get("requestId"), reused), 201);
  });

  /** Whether an app of the tenant has (or had, among those kept) a deployment of these bytes. */
  async function tenantDeployed(tenant: string, digest: string): Promise<boolean> {
    for (const app of await state.listApps(tenant)) {
      const deployments = await state.listDeployments(app, DEPLOYMENTS_RETAINED);
      if (deployments.some((d) => componentsOf(d).some((c) => c.digest === digest))) return true;
    }
    return false;
  }

  /** Records the deployment as the app's active one and starts warming it. */
  async function activate(
    record: AppRecord,
    deployment: DeploymentRecord,
    requestId: string,
    reused: boolean,
  ): Promise<DeployResponse> {
    await state.addDeployment(deployment);
    invalidate();
    // Answered once the app is warm, so the first request after a push finds an instance ready
    // rather than waiting for the worker to load the code and start one (about 25 ms for a fast-world app).
    const limits = effectiveLimits(record.limits, deps.limits).guest;
    await Promise.all(
      componentsOf(deployment).map((component) =>
        runtime.warm(component, limits, { tenant: record.tenant, app: record.name }),
      ),
    );
    logger.info(
      {
        requestId,
        app: record.name,
        deployment: deployment.id,
        digest: deployment.digest,
        rollbackOf: deployment.rollbackOf,
      },
      deployment.rollbackOf ? "rolled back" : "deployed",
    );
    return {
      deployment: deploymentView(deployment, deployment.id),
      urls: record.hostnames.filter((h) => !h.startsWith("*.")).map(deps.publicUrl),
      reused,
    };
  }

  app.post("/v1/apps/:app/rollback", async (c) => {
    const record = await mustGetApp(state, c.get("appTarget"));
    // The body is optional: no body rolls back to the previous deployment.
    const body = RollbackBody.safeParse(await jsonBody(c.req.raw, { empty: {} }));
    if (!body.success) throw validation(body.error.issues);
    let target: DeploymentRecord | undefined;
    if (body.data.deployment) {
      target = await state.getDeployment(record, body.data.deployment);
      if (!target) {
        throw new GatewayError(
          "ERR_DEPLOYMENT_NOT_FOUND",
          `app ${record.name} has no retained deployment ${body.data.deployment}; see deploy-cli deployments list --app ${record.name}`,
        );
      }
    } else {
      const recent = await state.listDeployments(record, 2);
      target = recent.find((d) => d.id !== record.activeDeployment);
      if (!target) {
        throw new GatewayError(
          "ERR_DEPLOYMENT_NOT_FOUND",
          `app ${record.name} has no earlier deployment to roll back to`,
        );
      }
    }
    // Prepared before the switch, so the rollback serves at once.
    for (const { digest } of componentsOf(target)) await components.ensure(digest);
    const info = await components.ensure(target.digest);
    const deployment: DeploymentRecord = {
      id: deploymentId(),
      tenant: record.tenant,
      app: record.name,
      digest: target.digest,
      size: target.size,
      createdAt: new Date().toISOString(),
      createdBy: c.get("principal").subject,
      message: body.data.message ?? `rollback to ${target.id}`,
      rollbackOf: target.id,
      info,
      ...(target.routes ? { routes: target.routes } : {}),
    };
    return c.json(await activate(record, deployment, c.get("requestId"), true), 201);
  });

  app.delete("/v1/apps/:app", async (c) => {
    const target = c.get("appTarget");
    const { name } = target;
    const purge = c.req.query("purge") === "true" || c.req.query("purge") === "1";
    const removed =
      target.tenant === undefined ? undefined : await state.deleteApp({ tenant: target.tenant, name });
    if (!removed) throw appNotFound(target);
    invalidate();
    const response: DeleteAppResponse = { deleted: name, purgedBuckets: [], purgedKeys: 0 };
    if (purge) {
      // The app's own buckets go; a shared one only when no other app of the tenant names it.
      const scope = appBuckets(removed);
      const others = (await state.listApps(removed.tenant)).map(appBuckets);
      const gone = [
        ...scope.buckets.filter((b) => !scope.sharedBuckets.includes(b)),
        ...scope.sharedBuckets.filter((b) => !others.some((o) => o.sharedBuckets.includes(b))),
      ];
      for (const bucket of gone) {
        response.purgedKeys += await purgeBucket(deps.kv, bucketNamespace(scope, bucket)!);
        response.purgedBuckets.push(bucket);
      }
    }
    logger.info(
      { requestId: c.get("requestId"), app: name, tenant: removed.tenant, ...response },
      "app deleted",
    );
    return c.json(response);
  });

  app.get("/v1/apps/:app/deployments", async (c) => {
    const record = await mustGetApp(state, c.get("appTarget"));
    const limit = Math.min(
      Number(c.req.query("limit") ?? DEPLOYMENTS_DEFAULT) || DEPLOYMENTS_DEFAULT,
      DEPLOYMENTS_MAX,
    );
    const list = await state.listDeployments(record, limit);
    return c.json({ deployments: list.map((d) => deploymentView(d, record.activeDeployment)) });
  });

  return app;
}

/** Removes every key of the namespace; returns how many there were. */
async function purgeBucket(kv: KvStore, ns: KvNamespace): Promise<number> {
  const seen = new Set<string>();
  let cursor: string | undefined;
  do {
    const page = await kv.listKeys(ns, {
      ...(cursor !== undefined ? { cursor } : {}),
      limit: MAX_LIST_LIMIT,
    });
    for (const key of page.keys) {
      if (seen.has(key)) continue;
      seen.add(key);
      await kv.delete(ns, key);
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  return seen.size;
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
    ...app.grants,
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
    rollbackOf: d.rollbackOf ?? null,
    active: d.id === active,
    ...(d.routes
      ? { routes: d.routes.map(({ route, component, digest, size }) => ({ route, component, digest, size })) }
      : {}),
  };
}
