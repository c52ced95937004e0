// Forwards `GET /?url=<target>` to the target with the web `fetch()` and streams its answer back.
// StarlingMonkey's fetch runs on wasi:http/outgoing-handler, so the gateway's allow-list, address
// checks and limits apply: a refused call makes fetch reject, and this guest answers 502.

addEventListener("fetch", (event: any) => event.respondWith(forward(event.request)));

async function forward(request: Request): Promise<Response> {
  const target = new URL(request.url).searchParams.get("url");
  if (!target) return new Response("pass ?url=<target>\n", { status: 400 });
  try {
    const upstream = await fetch(target, { method: request.method === "POST" ? "POST" : "GET" });
    return new Response(upstream.body, {
      status: upstream.status,
      headers: { "x-upstream-status": String(upstream.status) },
    });
  } catch (err: any) {
    return new Response(`fetch failed: ${err?.message ?? err}\n`, { status: 502 });
  }
}
