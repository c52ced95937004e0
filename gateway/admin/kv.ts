// Admin API routes for an app's key-value data: the same namespace its guests see (the app's own
// bucket, or the tenant-level one it shares), so an operator can seed data locally and inspect it
// in production.

import { Hono } from "hono";
import { type KvNamespace, type KvStore, MAX_LIST_LIMIT } from "../../kv/index.ts";
import { type BucketScope, bucketNamespace, bucketScope } from "../../runtime/grants.ts";
import { GatewayError } from "../errors.ts";
import { readBody } from "../http.ts";
import { BucketName } from "../schemas.ts";
import type { AppRecord, StateStore } from "../state/store.ts";
import { type AdminEnv, type AppTarget, mustGetApp } from "./params.ts";

export const METADATA_HEADER = "x-wasmgate-metadata";

/** The buckets an app may open, as its guests' key-value host reads them. */
export function appBuckets(record: AppRecord): BucketScope {
  return bucketScope(record.tenant, record.name, record.grants);
}

/** Mounted on the admin app, whatever its env type. */
export function kvRoutes(deps: { state: StateStore; kv: KvStore; maxValueBytes: number }): Hono<AdminEnv> {
  const app = new Hono<AdminEnv>();
  const { state, kv } = deps;

  async function namespace(target: AppTarget, bucketRaw: string): Promise<KvNamespace> {
    const record = await mustGetApp(state, target);
    const bucket = BucketName.safeParse(bucketRaw);
    if (!bucket.success) throw new GatewayError("ERR_VALIDATION", bucket.error.issues[0]!.message);
    const scope = appBuckets(record);
    const ns = bucketNamespace(scope, bucket.data);
    if (!ns) {
      const all = [...scope.buckets, ...scope.sharedBuckets.map((b) => `${b} (shared)`)];
      throw new GatewayError(
        "ERR_BUCKET_NOT_GRANTED",
        `app ${record.name} is not granted the bucket "${bucket.data}" (it has: ${all.join(", ") || "none"})`,
      );
    }
    return ns;
  }

  function keyOf(raw: string | undefined): string {
    if (raw === undefined) throw new GatewayError("ERR_VALIDATION", "name the key with ?key=");
    return raw;
  }

  app.get("/v1/apps/:app/kv/:bucket/keys", async (c) => {
    const ns = await namespace(c.get("appTarget"), c.req.param("bucket"));
    const limit = c.req.query("limit");
    const page = await kv.listKeys(ns, {
      ...(c.req.query("prefix") !== undefined ? { prefix: c.req.query("prefix")! } : {}),
      ...(c.req.query("cursor") !== undefined ? { cursor: c.req.query("cursor")! } : {}),
      limit: limit === undefined ? MAX_LIST_LIMIT : Number(limit),
    });
    return c.json({ keys: page.keys, cursor: page.cursor ?? null });
  });

  app.get("/v1/apps/:app/kv/:bucket/value", async (c) => {
    const ns = await namespace(c.get("appTarget"), c.req.param("bucket"));
    const key = keyOf(c.req.query("key"));
    const entry = await kv.getWithMetadata(ns, key);
    if (!entry) throw new GatewayError("ERR_KV_KEY_NOT_FOUND", `there is no key "${key}" in ${ns.bucket}`);
    const headers: Record<string, string> = { "content-type": "application/octet-stream" };
    if (entry.metadata !== undefined) headers[METADATA_HEADER] = encodeURIComponent(entry.metadata);
    return new Response(entry.value as Uint8Array<ArrayBuffer>, { headers });
  });

  app.put("/v1/apps/:app/kv/:bucket/value", async (c) => {
    const ns = await namespace(c.get("appTarget"), c.req.param("bucket"));
    const key = keyOf(c.req.query("key"));
    const ttl = c.req.query("ttl");
    const metadata = c.req.header(METADATA_HEADER);
    const value =
      (await readBody(
        c.req.raw,
        deps.maxValueBytes,
        (limit) => new GatewayError("ERR_BODY_TOO_LARGE", `a value is at most ${limit} bytes`),
      )) ?? new Uint8Array(0);
    await kv.set(ns, key, value, {
      ...(ttl !== undefined ? { ttlSeconds: Number(ttl) } : {}),
      ...(metadata !== undefined ? { metadata: decodeURIComponent(metadata) } : {}),
    });
    return c.body(null, 204);
  });

  app.delete("/v1/apps/:app/kv/:bucket/value", async (c) => {
    const ns = await namespace(c.get("appTarget"), c.req.param("bucket"));
    await kv.delete(ns, keyOf(c.req.query("key")));
    return c.body(null, 204);
  });
  return app;
}
