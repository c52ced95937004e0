// A Spin JS hello as Spin's `http-js` template makes it: a fetch-event handler, built by Spin's own
// toolchain (esbuild with Spin's plugin, then `j2w` from @spinframework/build-tools).
function handle(_request) {
  return new Response("Hello, Spin!", { status: 200, headers: { "content-type": "text/plain" } });
}

addEventListener("fetch", (event) => {
  event.respondWith(handle(event.request));
});
