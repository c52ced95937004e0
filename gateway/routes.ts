// Path routes inside an app: which of a deployment's components answers a path, by Spin's rules,
// and the routing headers Spin gives the component. The admin API checks routes with `parseRoute`
// at deploy; the data plane matches with `compileRoutes`.
//
// A route is exact (`/hello`), ends in a trailing wildcard (`/api/...`, which also matches `/api`
// itself), and may name segments (`/users/:id`). The most specific route wins, segment by
// segment: a literal segment beats a named one, which beats the wildcard; then the longer route
// wins. Two routes that match the same paths are refused, as Spin refuses them.

/** One route of a deployment, as stored: the pattern and the component that answers it. */
export interface RouteSpec {
  route: string;
  component: string;
}

type Segment = { literal: string } | { name: string };

interface ParsedRoute {
  raw: string;
  segments: Segment[];
  wildcard: boolean;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MAX_ROUTE_LENGTH = 512;

/** The route parsed, or why it is not one. */
export function parseRoute(raw: string): ParsedRoute | string {
  if (typeof raw !== "string" || raw.length === 0 || raw.length > MAX_ROUTE_LENGTH) {
    return `a route is 1-${MAX_ROUTE_LENGTH} characters`;
  }
  if (/[?#\s]/.test(raw)) return `the route "${raw}" has a query, a fragment or a space`;
  let path = raw.startsWith("/") ? raw : `/${raw}`;
  let wildcard = false;
  if (path === "/..." || path.endsWith("/...")) {
    wildcard = true;
    path = path.slice(0, -4);
  }
  // One trailing slash is dropped, as Spin does (`/foo/` is `/foo`).
  if (path.endsWith("/")) path = path.slice(0, -1);
  const segments: Segment[] = [];
  for (const part of path === "" ? [] : path.slice(1).split("/")) {
    if (part === "" || part === "..." || part === "*") {
      return `the route "${raw}" has an empty segment or a wildcard before its end`;
    }
    if (part.startsWith(":")) {
      if (!NAME.test(part.slice(1)))
        return `the route "${raw}" names a segment "${part}" that is not an identifier`;
      segments.push({ name: part.slice(1) });
    } else segments.push({ literal: part });
  }
  return { raw, segments, wildcard };
}

/** What a path matched: the route, what the wildcard took, the named segments. */
export interface RouteMatch<T> {
  target: T;
  /** The route as written. */
  route: string;
  /** The route without its trailing `/...`. */
  prefix: string;
  /** What the trailing wildcard matched (`/bar` of `/foo/bar` on `/foo/...`), else "". */
  pathInfo: string;
  named: Record<string, string>;
}

export interface CompiledRoutes<T> {
  match(path: string): RouteMatch<T> | undefined;
}

/** Literal 3, named 2, wildcard 1, per segment: compared left to right, then longer first. */
function rank(r: ParsedRoute): number[] {
  return [...r.segments.map((s) => ("literal" in s ? 3 : 2)), ...(r.wildcard ? [1] : [4])];
}

function compareRanks(a: number[], b: number[]): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const d = (b[i] ?? 0) - (a[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** The shape of the paths a route matches, for finding two routes that match the same ones. */
function shape(r: ParsedRoute): string {
  return `${r.segments.map((s) => ("literal" in s ? `/${s.literal}` : "/:")).join("")}${r.wildcard ? "/..." : ""}`;
}

/**
 * The matcher of `routes`, or the first problem with them (a route that is not one, two routes
 * that match the same paths).
 */
export function compileRoutes<T>(
  routes: readonly { route: string; target: T }[],
): CompiledRoutes<T> | string {
  const parsed: { p: ParsedRoute; target: T; rank: number[] }[] = [];
  const shapes = new Map<string, string>();
  for (const { route, target } of routes) {
    const p = parseRoute(route);
    if (typeof p === "string") return p;
    const s = shape(p);
    const other = shapes.get(s);
    if (other !== undefined) return `the routes "${other}" and "${route}" match the same paths`;
    shapes.set(s, route);
    parsed.push({ p, target, rank: rank(p) });
  }
  parsed.sort((a, b) => compareRanks(a.rank, b.rank));
  return {
    match(path: string) {
      const clean = path.split("?")[0]!;
      const parts = clean === "/" || clean === "" ? [] : clean.slice(1).split("/");
      // Spin keeps a trailing slash in the wildcard's part (`/foo/` on `/foo/...` gives `/`).
      const trailingSlash = parts.length > 0 && parts[parts.length - 1] === "";
      const segments = trailingSlash ? parts.slice(0, -1) : parts;
      for (const { p, target } of parsed) {
        if (segments.length < p.segments.length) continue;
        if (
          !p.wildcard &&
          (segments.length !== p.segments.length || (trailingSlash && segments.length === 0))
        )
          continue;
        const named: Record<string, string> = {};
        let ok = true;
        for (let i = 0; i < p.segments.length; i++) {
          const s = p.segments[i]!;
          const part = segments[i]!;
          if ("literal" in s) {
            if (s.literal !== part) {
              ok = false;
              break;
            }
          } else named[s.name] = part;
        }
        if (!ok) continue;
        const rest = segments.slice(p.segments.length);
        const pathInfo = !p.wildcard
          ? ""
          : rest.length === 0
            ? trailingSlash
              ? "/"
              : ""
            : `/${rest.join("/")}${trailingSlash ? "/" : ""}`;
        const prefix = p.raw.endsWith("/...") ? p.raw.slice(0, -4) : p.raw;
        return { target, route: p.raw, prefix, pathInfo, named };
      }
      return undefined;
    },
  };
}

/**
 * The headers Spin gives a component about its route (crates/trigger-http/src/headers.rs in
 * spinframework/spin): lower case, with the base path `/`.
 */
export function spinRouteHeaders(
  m: RouteMatch<unknown>,
  full: { scheme: string; host: string; pathWithQuery: string },
  clientAddr: string,
): [string, string][] {
  const headers: [string, string][] = [
    ["spin-path-info", m.pathInfo],
    ["spin-full-url", `${full.scheme}://${full.host}${full.pathWithQuery}`],
    ["spin-matched-route", m.route],
    ["spin-base-path", "/"],
    ["spin-raw-component-route", m.route],
    ["spin-component-route", m.prefix],
    ["spin-client-addr", clientAddr],
  ];
  for (const [name, value] of Object.entries(m.named)) {
    headers.push([`spin-path-match-${name.toLowerCase()}`, value]);
  }
  return headers;
}

/** Names of the headers `spinRouteHeaders` sets: a client's own values for them are dropped. */
export function isSpinRouteHeader(name: string): boolean {
  return name.startsWith("spin-");
}
