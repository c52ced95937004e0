// A Spin app written with Spin's JS SDK (@fermyon/spin-sdk 2.0.0), as it would run on Spin:
//
// - `/count/...` counts its visits in Spin's key-value store `default`, one counter per path under
//   the route (`/count/a` and `/count/b` count apart). `?store=<label>` opens another store: one
//   the app is not granted answers 403 with Spin's error.
// - `/greet/:name` greets with the variable `greeting`, to callers that send the secret variable
//   `api_token` as `Authorization: Bearer <token>` (the token itself never leaves the app).
//
// Both answer JSON that also shows the routing headers the app saw.

import { Kv, Variables } from "@fermyon/spin-sdk";

const decoder = new TextDecoder();

/** What Spin tells a component about its route, from the headers of the request. */
function routing(request) {
  const names = [
    "spin-full-url",
    "spin-path-info",
    "spin-matched-route",
    "spin-component-route",
    "spin-raw-component-route",
    "spin-base-path",
    "spin-path-match-name",
    "spin-client-addr",
  ];
  return Object.fromEntries(names.map((name) => [name, request.headers.get(name)]));
}

function json(body, status = 200) {
  return new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });
}

function count(request) {
  const label = new URL(request.url).searchParams.get("store") ?? "default";
  let store;
  try {
    store = Kv.open(label);
  } catch (err) {
    return json({ error: err.payload ?? String(err), store: label }, 403);
  }
  const key = `visits:${request.headers.get("spin-path-info") || "/"}`;
  const previous = store.get(key);
  const visits = (previous ? Number(decoder.decode(previous)) : 0) + 1;
  store.set(key, String(visits));
  return json({ key, visits, routing: routing(request) });
}

function greet(request) {
  const token = Variables.get("api_token");
  if (!token || request.headers.get("authorization") !== `Bearer ${token}`) {
    return json({ error: "send the app's api_token as a bearer token" }, 401);
  }
  const name = request.headers.get("spin-path-match-name");
  return json({ message: `${Variables.get("greeting")}, ${name}!`, routing: routing(request) });
}

function handle(request) {
  switch (request.headers.get("spin-raw-component-route")) {
    case "/count/...":
      return count(request);
    case "/greet/:name":
      return greet(request);
    default:
      return json({ error: "no such route" }, 404);
  }
}

addEventListener("fetch", (event) => {
  event.respondWith(handle(event.request));
});
