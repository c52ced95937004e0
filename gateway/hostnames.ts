// Hostname rules shared by routing and the admin API: lower case, no port, no trailing dot; a
// pattern is an exact host or `*.` followed by one (subdomains only, like Cloudflare routes).

const LABEL = "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?";
const HOST = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);

/** The host a request names, from its Host header: case and port dropped. */
export function hostOf(header: string | undefined): string {
  if (!header) return "";
  let host = header.trim().toLowerCase();
  if (host.startsWith("[")) host = host.slice(0, host.indexOf("]") + 1);
  else host = host.replace(/:\d*$/, "");
  return host.endsWith(".") ? host.slice(0, -1) : host;
}

/** Normalizes a hostname pattern an app asks for, or returns undefined when it is not valid. */
export function normalizePattern(input: string): string | undefined {
  const pattern = input.trim().toLowerCase().replace(/\.$/, "");
  if (pattern.length === 0 || pattern.length > 253) return undefined;
  const exact = pattern.startsWith("*.") ? pattern.slice(2) : pattern;
  return HOST.test(exact) ? pattern : undefined;
}

/**
 * Patterns that could serve `host`, most specific first: the host itself, then `*.` + each parent
 * (so `a.b.c` tries `a.b.c`, `*.b.c`, `*.c`).
 */
export function candidatePatterns(host: string): string[] {
  const out = [host];
  let rest = host;
  for (let dot = rest.indexOf("."); dot !== -1; dot = rest.indexOf(".")) {
    rest = rest.slice(dot + 1);
    out.push(`*.${rest}`);
  }
  return out;
}

/**
 * Whether a tenant granted `grant` may bind `pattern`: an exact grant covers only itself, a
 * wildcard grant `*.d` covers itself and every host or wildcard below `d` (not `d` itself).
 */
export function patternCovers(grant: string, pattern: string): boolean {
  if (grant === pattern) return true;
  return grant.startsWith("*.") && pattern.endsWith(grant.slice(1));
}
