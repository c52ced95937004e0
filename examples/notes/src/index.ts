// A small notes API: a Hono app on the wasmgate SDK. A Hono app has the same
// `fetch(request, env, ctx)` as a Workers handler, so it is the module's default export as it is.
//   PUT    /notes/:id[?ttl=<s>]   stores the body (x-tag header kept as metadata)
//   GET    /notes/:id             the note, its tag in x-tag; 404 when missing
//   DELETE /notes/:id
//   GET    /notes[?prefix=&cursor=&limit=]   one page of note ids
//   GET    /config/:name          an app variable or secret (env.<name>); 404 when not set
//   POST   /echo                  streams the request body back
//   GET    /stream?n=<chunks>     a body written in chunks over time
//   GET    /instance              how many requests this instance has served
//   GET    /later/:id             answers, then writes the note `later:<id>` (ctx.waitUntil)
//   GET    /boom                  throws (the SDK answers 500 and logs the error)

import { Hono } from "hono";
import type { KVNamespace } from "wasmgate";

type Bindings = { KV: KVNamespace } & Record<string, unknown>;

const app = new Hono<{ Bindings: Bindings }>();
let served = 0;

app.use(async (_c, next) => {
  served++;
  await next();
});

app.put("/notes/:id", async (c) => {
  const ttl = c.req.query("ttl");
  const tag = c.req.header("x-tag");
  await c.env.KV.put(`note:${c.req.param("id")}`, await c.req.text(), {
    ...(ttl ? { expirationTtl: Number(ttl) } : {}),
    ...(tag ? { metadata: { tag } } : {}),
  });
  return c.body(null, 201);
});

app.get("/notes/:id", async (c) => {
  const { value, metadata } = await c.env.KV.getWithMetadata<{ tag: string }>(`note:${c.req.param("id")}`);
  if (value === null) return c.text("no such note\n", 404);
  if (metadata) c.header("x-tag", metadata.tag);
  return c.text(value);
});

app.delete("/notes/:id", async (c) => {
  await c.env.KV.delete(`note:${c.req.param("id")}`);
  return c.body(null, 204);
});

app.get("/notes", async (c) => {
  const page = await c.env.KV.list({
    prefix: `note:${c.req.query("prefix") ?? ""}`,
    cursor: c.req.query("cursor") ?? null,
    ...(c.req.query("limit") ? { limit: Number(c.req.query("limit")) } : {}),
  });
  return c.json({
    ids: page.keys.map((k) => k.name.slice("note:".length)),
    complete: page.list_complete,
    cursor: page.cursor ?? null,
  });
});

app.get("/config/:name", (c) => {
  const value = c.env[c.req.param("name")];
  return typeof value === "string" ? c.text(value) : c.text("not set\n", 404);
});

app.post("/echo", (c) => {
  console.log(`echo: ${c.req.header("content-length") ?? "streamed"} bytes`);
  return new Response(c.req.raw.body, { headers: { "x-method": c.req.method } });
});

app.get("/stream", (c) => {
  const n = Number(c.req.query("n") ?? "3");
  const encoder = new TextEncoder();
  let i = 0;
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (i === n) return controller.close();
      await new Promise((resolve) => setTimeout(resolve, 20));
      controller.enqueue(encoder.encode(`chunk ${i++}\n`));
    },
  });
  return new Response(body, { headers: { "content-type": "text/plain" } });
});

app.get("/instance", (c) => c.text(String(served)));

app.get("/later/:id", (c) => {
  const id = c.req.param("id");
  c.executionCtx.waitUntil(
    (async () => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      await c.env.KV.put(`note:later:${id}`, "written after the response");
    })(),
  );
  return c.text("answered\n");
});

app.get("/boom", () => {
  throw new Error("boom");
});

export default app;
