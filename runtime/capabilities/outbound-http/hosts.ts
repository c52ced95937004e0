// Which destinations an app's guests may call: `scheme://host[:port]` patterns (Spin's
// `allowed_outbound_hosts` is the model) and the address rules applied after DNS resolution.
//
// - scheme: `http`, `https` or `*`;
// - host: a name (`api.example.com`), `*.` and a name (exactly one more label: `a.example.com`,
//   not `a.b.example.com`), `*` (any host), an IPv4 address or a bracketed IPv6 address;
// - port: a number, `*` (any), or left out (the scheme's default port only).
//
// Whatever the patterns say, a connection to a special address (loopback, private, link-local,
// CGNAT, unspecified, multicast, reserved, metadata, and the IPv6 forms that carry such an IPv4
// address) is refused unless the operator opened a range holding it for the app's tenant. Apps of
// the built-in default tenant (local development) may also reach a special address a matching
// pattern names literally (`http://127.0.0.1:8080`) or, for loopback, by `localhost`. No app
// reaches the gateway's admin port on an address of this machine, and only default-tenant apps
// its data port on a special address of this machine (a granted range does not open it; on a
// public address it is as public as any other site).

import { BlockList, isIP } from "node:net";
import { networkInterfaces } from "node:os";

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
// IPv6 forms that carry an IPv4 address (mapped, compatible, translated, NAT64, 6to4) are checked
// as that address too (see `parseAddress`), so 64:ff9b::/96 is not listed whole: NAT64 to a public
// address is an ordinary destination.
const SPECIAL_V6: [string, number][] = [
  ["::", 128],
  ["::1", 128],
  ["100::", 64], // discard
  ["2001::", 32], // Teredo: tunnels to an IPv4 address written in obfuscated form
  ["64:ff9b:1::", 48], // local-use NAT64: the IPv4 address may sit anywhere in it
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated, still routed by some stacks)
  ["ff00::", 8], // multicast
  ["fd00:ec2::254", 128], // the IPv6 metadata service (inside fc00::/7 already; named for clarity)
];
const specialV4 = new BlockList();
for (const [net, prefix] of SPECIAL_V4) specialV4.addSubnet(net, prefix, "ipv4");
const specialV6 = new BlockList();
for (const [net, prefix] of SPECIAL_V6) specialV6.addSubnet(net, prefix, "ipv6");
const loopbackV4 = new BlockList();
loopbackV4.addSubnet("127.0.0.0", 8, "ipv4");
/** Connecting to these reaches this machine (0.0.0.0 and :: do on Linux). */
const localV4 = new BlockList();
localV4.addSubnet("127.0.0.0", 8, "ipv4");
localV4.addSubnet("0.0.0.0", 8, "ipv4");

/** An IP address taken apart: its family, and the IPv4 address an IPv6 one carries. */
interface Address {
  /** Without an IPv6 zone (`%eth0`). */
  address: string;
  family: "ipv4" | "ipv6";
  /** Eight 16-bit groups (IPv6 only). */
  words?: number[];
  /** The same host as an IPv4 address: IPv4-mapped, -compatible or -translated. */
  sameAs?: string;
  /** The IPv4 address it leads to: `sameAs`, or through NAT64 (64:ff9b::/96) or 6to4 (2002::/16). */
  carried?: string;
}

/** The eight groups of a valid IPv6 address (an IPv4 tail becomes the last two). */
function ipv6Words(address: string): number[] {
  let head = address;
  const tail: number[] = [];
  const last = address.slice(address.lastIndexOf(":") + 1);
  if (last.includes(".")) {
    const [a = 0, b = 0, c = 0, d = 0] = last.split(".").map(Number);
    tail.push((a << 8) | b, (c << 8) | d);
    head = address.slice(0, address.length - last.length);
    if (!head.endsWith("::")) head = head.slice(0, -1);
  }
  const [left = "", right] = head.split("::");
  const groups = (text: string) => (text === "" ? [] : text.split(":").map((h) => Number.parseInt(h, 16)));
  const l = groups(left);
  const r = right === undefined ? [] : groups(right);
  const zeros = right === undefined ? [] : new Array<number>(8 - l.length - r.length - tail.length).fill(0);
  return [...l, ...zeros, ...r, ...tail];
}

const v4 = (hi: number, lo: number) => `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;

function parseAddress(input: string): Address {
  const address = input.replace(/%.*$/, "").toLowerCase();
  if (isIP(address) !== 6) return { address, family: "ipv4" };
  const w = ipv6Words(address);
  const zero = (from: number, to: number) => w.slice(from, to).every((x) => x === 0);
  const tail = v4(w[6]!, w[7]!);
  let sameAs: string | undefined;
  let carried: string | undefined;
  // ::ffff:a.b.c.d (mapped), ::ffff:0:a.b.c.d (translated), ::a.b.c.d (compatible; not :: or ::1)
  if (zero(0, 5) && w[5] === 0xffff) sameAs = tail;
  else if (zero(0, 4) && w[4] === 0xffff && w[5] === 0) sameAs = tail;
  else if (zero(0, 6) && (w[6] !== 0 || w[7]! > 1)) sameAs = tail;
  // 64:ff9b::a.b.c.d (NAT64) and 2002:aabb:ccdd:: (6to4) lead there through a translator or relay.
  else if (w[0] === 0x64 && w[1] === 0xff9b && zero(2, 6)) carried = tail;
  else if (w[0] === 0x2002) carried = v4(w[1]!, w[2]!);
  return { address, family: "ipv6", words: w, sameAs, carried: carried ?? sameAs };
}

/**
 * Whether `address` is special: loopback, private, link-local (metadata included), CGNAT,
 * unspecified, multicast, broadcast or reserved, or an IPv6 form carrying such an IPv4 address.
 */
export function isSpecialAddress(address: string): boolean {
  const a = parseAddress(address);
  if (a.family === "ipv4") return specialV4.check(a.address, "ipv4");
  return (
    specialV6.check(a.address, "ipv6") || (a.carried !== undefined && specialV4.check(a.carried, "ipv4"))
  );
}

function isLoopback(a: Address): boolean {
  if (a.family === "ipv4") return loopbackV4.check(a.address, "ipv4");
  if (a.sameAs !== undefined) return loopbackV4.check(a.sameAs, "ipv4");
  return a.words!.slice(0, 7).every((x) => x === 0) && a.words![7] === 1;
}

function sameIPv6(a: string, b: string): boolean {
  const list = new BlockList();
  list.addAddress(a, "ipv6");
  return list.check(b, "ipv6");
}

function sameAddress(a: Address, b: Address): boolean {
  const a4 = a.family === "ipv4" ? a.address : a.sameAs;
  const b4 = b.family === "ipv4" ? b.address : b.sameAs;
  if (a4 !== undefined || b4 !== undefined) return a4 === b4;
  return sameIPv6(a.address, b.address);
}

/**
 * Whether one of the matching patterns names `address` literally (or `localhost`, for loopback):
 * the default tenant's rule for local development.
 */
export function explicitlyAllowed(patterns: readonly OutboundPattern[], address: string): boolean {
  const a = parseAddress(address);
  return patterns.some((p) => {
    if (p.host === "localhost") return isLoopback(a);
    return isIP(p.host) !== 0 && sameAddress(parseAddress(p.host), a);
  });
}

/**
 * The special addresses a pattern names itself: its IP address when that is special, loopback for
 * `localhost` and names under it. Empty for other names and wildcards (those are checked after DNS).
 *
 * @example
 * namedSpecialAddresses(parseOutboundPattern("http://[::ffff:127.0.0.1]:80")) // ["::ffff:127.0.0.1"]
 */
export function namedSpecialAddresses(pattern: OutboundPattern): string[] {
  const { host } = pattern;
  if (host === "localhost" || host.endsWith(".localhost")) return ["127.0.0.1", "::1"];
  if (host === "*" || host.startsWith("*.")) return [];
  // A URL reads `127.1` or `0x7f000001` as 127.0.0.1: so does the check.
  let canonical = host;
  if (isIP(host) === 0) {
    try {
      canonical = new URL(`http://${host}/`).hostname;
    } catch {
      return [];
    }
  }
  if (isIP(canonical) === 0) return [];
  return isSpecialAddress(canonical) ? [canonical] : [];
}

/** A CIDR (`10.0.0.0/8`, `fd00::/8`) split into what a BlockList takes, or undefined when it is not one. */
function splitCidr(cidr: string): { address: string; prefix: number; family: "ipv4" | "ipv6" } | undefined {
  const m = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
  if (!m) return undefined;
  const family = isIP(m[1]!);
  const prefix = Number(m[2]);
  if (family === 0 || prefix > (family === 4 ? 32 : 128)) return undefined;
  return { address: m[1]!, prefix, family: family === 4 ? "ipv4" : "ipv6" };
}

/**
 * Address ranges the operator opened for a tenant. An address is in them when it is, or when the
 * IPv4 address it carries is; entries that are not CIDRs are left out (the admin API validated them).
 *
 * @example
 * new AddressRanges(["10.0.0.0/8"]).has("::ffff:10.1.2.3") // true
 */
export class AddressRanges {
  // One list per family: a BlockList also matches IPv4 addresses against IPv6 rules (::/0 would
  // cover every IPv4 address), and the carried IPv4 address is looked at here, explicitly.
  readonly #v4 = new BlockList();
  readonly #v6 = new BlockList();
  readonly size: number;
  constructor(cidrs: readonly string[]) {
    let size = 0;
    for (const cidr of cidrs) {
      const parts = splitCidr(cidr);
      if (!parts) continue;
      (parts.family === "ipv4" ? this.#v4 : this.#v6).addSubnet(parts.address, parts.prefix, parts.family);
      size++;
    }
    this.size = size;
  }
  has(address: string): boolean {
    if (this.size === 0) return false;
    const a = parseAddress(address);
    if (a.family === "ipv4") return this.#v4.check(a.address, "ipv4");
    if (this.#v6.check(a.address, "ipv6")) return true;
    return a.carried !== undefined && this.#v4.check(a.carried, "ipv4");
  }
}

/** The gateway's own listening ports, which its guests must not call back into. */
export interface GatewayListeners {
  dataPorts: readonly number[];
  adminPorts: readonly number[];
}

export const NO_LISTENERS: GatewayListeners = Object.freeze({ dataPorts: [], adminPorts: [] });

/** Whether connecting to `address` reaches this machine: loopback, unspecified, or an interface's. */
export function isLocalAddress(address: string): boolean {
  const a = parseAddress(address);
  const as4 = a.family === "ipv4" ? a.address : a.carried;
  if (as4 !== undefined && localV4.check(as4, "ipv4")) return true;
  if (a.family === "ipv6" && a.words!.slice(0, 7).every((x) => x === 0) && a.words![7]! <= 1) return true;
  for (const list of Object.values(networkInterfaces())) {
    for (const i of list ?? []) {
      const own = parseAddress(i.address);
      if (sameAddress(own, a) || (as4 !== undefined && own.family === "ipv4" && own.address === as4)) {
        return true;
      }
    }
  }
  return false;
}

/** What may be called beyond the public internet; see the top of this file. */
export interface NetworkPolicy {
  /** Special addresses the operator opened for the app's tenant. */
  readonly granted: AddressRanges;
  /**
   * The default tenant's rule (local development): a special address a matching pattern names
   * (see `explicitlyAllowed`) is allowed, and so is the gateway's data port on such an address.
   */
  readonly trustAllowList: boolean;
  readonly listeners: GatewayListeners;
}

/**
 * Whether a connection to `address`:`port`, resolved for a request that `patterns` matched, may be
 * made under `policy`.
 */
export function addressAllowed(
  policy: NetworkPolicy,
  patterns: readonly OutboundPattern[],
  address: string,
  port: number,
): boolean {
  const { listeners } = policy;
  const admin = listeners.adminPorts.includes(port);
  const data = listeners.dataPorts.includes(port);
  const local = (admin || data) && isLocalAddress(address);
  if (admin && local) return false;
  if (!isSpecialAddress(address)) return true;
  // Behind loopback or a private address the data plane may sit behind a proxy's checks: a
  // tenant's granted range does not lead around them.
  if (data && local && !policy.trustAllowList) return false;
  if (policy.granted.has(address)) return true;
  return policy.trustAllowList && explicitlyAllowed(patterns, address);
}
