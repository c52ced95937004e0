// Which destinations an app's guests may call: `scheme://host[:port]` patterns (Spin's
// `allowed_outbound_hosts` is the model) and the address rules applied after DNS resolution.
//
// - scheme: `http`, `https` or `*`;
// - host: a name (`api.example.com`), `*.` and a name (exactly one more label: `a.example.com`,
//   not `a.b.example.com`), `*` (any host), an IPv4 address or a bracketed IPv6 address;
// - port: a number, `*` (any), or left out (the scheme's default port only).
//
// Whatever the patterns say, a connection to a loopback, private, link-local, CGNAT, unspecified,
// multicast or metadata address is refused unless a pattern that matches the request names that
// address literally (`http://127.0.0.1:8080`) or names `localhost` (loopback addresses only).

import { BlockList, isIP } from "node:net";

export interface OutboundPattern {
  readonly raw: string;
  readonly scheme: "http" | "https" | "*";
  /** Lower case; `*`, `*.suffix`, a name, an IPv4 address or an IPv6 address without brackets. */
  readonly host: string;
  readonly port: number | "*" | undefined;
}

export interface OutboundTarget {
  scheme: "http" | "https";
  /** Lower case, no trailing dot, IPv6 without brackets. */
  host: string;
  port: number;
}

const LABEL = "[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?";
const NAME = new RegExp(`^${LABEL}(?:\\.${LABEL})*$`);
const PATTERN = /^(\*|https?):\/\/(\[[0-9a-f:.]+\]|[^:/[\]]+)(?::(\*|\d{1,5}))?\/?$/;

export const DEFAULT_PORTS = { http: 80, https: 443 } as const;

/** Parses one allow-list entry; returns a message saying what is wrong when it is not valid. */
export function parseOutboundPattern(input: string): OutboundPattern | string {
  const raw = input.trim().toLowerCase();
  const m = PATTERN.exec(raw);
  if (!m) {
    return `"${input}" is not an outbound host pattern; use scheme://host[:port], e.g. https://api.example.com, https://*.example.com or http://127.0.0.1:*`;
  }
  const scheme = m[1] as OutboundPattern["scheme"];
  let host = m[2]!.replace(/\.$/, "");
  let port: OutboundPattern["port"];
  if (m[3] === "*") port = "*";
  else if (m[3] !== undefined) {
    port = Number(m[3]);
    if (port < 1 || port > 65535) return `"${input}" has a port outside 1-65535`;
  }
  if (host.startsWith("[")) {
    host = host.slice(1, -1);
    if (isIP(host) !== 6) return `"${input}" has an invalid IPv6 address`;
  } else if (host !== "*" && isIP(host) === 0) {
    const name = host.startsWith("*.") ? host.slice(2) : host;
    if (!NAME.test(name) || name.length > 253) return `"${input}" has an invalid host name`;
  }
  return Object.freeze({ raw, scheme, host, port });
}

/** The target of a URL, or undefined when its scheme is neither http nor https. */
export function targetOf(url: URL): OutboundTarget | undefined {
  const scheme = url.protocol === "https:" ? "https" : url.protocol === "http:" ? "http" : undefined;
  if (!scheme) return undefined;
  let host = url.hostname.toLowerCase().replace(/\.$/, "");
  if (host.startsWith("[")) host = host.slice(1, -1);
  return { scheme, host, port: url.port === "" ? DEFAULT_PORTS[scheme] : Number(url.port) };
}

export function patternMatches(p: OutboundPattern, t: OutboundTarget): boolean {
  if (p.scheme !== "*" && p.scheme !== t.scheme) return false;
  if (p.port === undefined ? t.port !== DEFAULT_PORTS[t.scheme] : p.port !== "*" && p.port !== t.port) {
    return false;
  }
  if (p.host === "*") return true;
  if (p.host.startsWith("*.")) {
    const suffix = p.host.slice(1);
    if (!t.host.endsWith(suffix)) return false;
    const label = t.host.slice(0, -suffix.length);
    return label.length > 0 && !label.includes(".");
  }
  return isIP(p.host) === 6 && isIP(t.host) === 6 ? sameIPv6(p.host, t.host) : p.host === t.host;
}

/** The patterns that allow `target` (empty: the request is denied). */
export function matchingPatterns(
  patterns: readonly OutboundPattern[],
  target: OutboundTarget,
): OutboundPattern[] {
  return patterns.filter((p) => patternMatches(p, target));
}

const SPECIAL_V4: [string, number][] = [
  ["0.0.0.0", 8], // "this network", includes 0.0.0.0
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, includes the 169.254.169.254 metadata service
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, includes 255.255.255.255
];
const SPECIAL_V6: [string, number][] = [
  ["::", 128],
  ["::1", 128],
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["ff00::", 8], // multicast
  ["64:ff9b::", 96], // NAT64: may reach anything behind the translator
  ["fd00:ec2::254", 128], // the IPv6 metadata service (inside fc00::/7 already; named for clarity)
];
const special = new BlockList();
for (const [net, prefix] of SPECIAL_V4) special.addSubnet(net, prefix, "ipv4");
for (const [net, prefix] of SPECIAL_V6) special.addSubnet(net, prefix, "ipv6");
const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

/** IPv4-mapped and -compatible IPv6 addresses are checked as the IPv4 address they carry. */
function unmap(address: string): { address: string; family: "ipv4" | "ipv6" } {
  const m = /^::(?:ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m) return { address: m[1]!, family: "ipv4" };
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (hex) {
    const hi = Number.parseInt(hex[1]!, 16);
    const lo = Number.parseInt(hex[2]!, 16);
    return { address: `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`, family: "ipv4" };
  }
  return { address, family: isIP(address) === 4 ? "ipv4" : "ipv6" };
}

/** Whether `address` is loopback, private, link-local, CGNAT, unspecified, multicast or reserved. */
export function isSpecialAddress(address: string): boolean {
  const a = unmap(address);
  return special.check(a.address, a.family);
}

function sameIPv6(a: string, b: string): boolean {
  const list = new BlockList();
  list.addAddress(a, "ipv6");
  return list.check(b, "ipv6");
}

/** Whether one of the matching patterns names `address` literally (or `localhost`, for loopback). */
export function explicitlyAllowed(patterns: readonly OutboundPattern[], address: string): boolean {
  const a = unmap(address);
  return patterns.some((p) => {
    if (p.host === "localhost") return loopback.check(a.address, a.family);
    const family = isIP(p.host);
    if (family === 0) return false;
    const named = unmap(p.host);
    if (named.family !== a.family) return false;
    return a.family === "ipv4" ? named.address === a.address : sameIPv6(named.address, a.address);
  });
}
