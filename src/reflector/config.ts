// The reflector's YAML configuration (docs/reflector.md) as one valibot schema:
// parsed, validated and defaulted here. Every problem is collected and reported
// with its key path and line, e.g.
// `rr.yaml:4: listenRanges[0]: host bits set (did you mean 192.168.1.0/24?)`.
// Adding a key is one entry in the mapping it belongs to (and, when it has a
// default that depends on other keys, one line in `resolve`).
import * as v from 'valibot';
import { ConfigError, type KeyPath } from '../config/issues.js';
import { Issues, isMapping, list, mapping, value } from '../config/schema.js';
import { authEntries, checkAuth, checkKernelAuth, type KernelTcpAuth } from '../config/security.js';
import { loadYaml, readConfigFile } from '../config/yaml.js';
import { LOG_LEVELS, SESSION_DEFAULTS as DEFAULTS, type LogLevel } from '../config/common-defaults.js';
import { ipv4ToUint } from '../bgp/negotiate.js';
import { parseIpv6, formatIp, ipVersion, isIpv4 } from '../wire/addr.js';

export { ConfigError } from '../config/issues.js';

export const REFLECTOR_DEFAULTS = {
  port: 179,
  listenAddress: '0.0.0.0',
  holdTime: DEFAULTS.holdTime,
  bfd: DEFAULTS.bfd,
  logLevel: 'info' as LogLevel,
} as const;

// --- one key's value, in the reflector's words ----------------------------------------

function show(x: unknown): string {
  if (typeof x === 'string') return `"${x}"`;
  if (isMapping(x)) return 'a mapping';
  if (Array.isArray(x)) return 'a list';
  return String(x);
}

const isInt = (min: number, max: number) => (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;
const int = (min: number, max: number) =>
  value<number>(isInt(min, max), (x) => `must be an integer ${min}..${max}, got ${show(x)}`, `is required (an integer ${min}..${max})`);
const str = () => value<string>((x) => typeof x === 'string', (x) => `must be a string, got ${show(x)}`);
const ip = () => v.pipe(
  value<string>((x) => typeof x === 'string', (x) => `must be a string, got ${show(x)}`, 'is required (an IP address)'),
  v.check((s) => ipVersion(s) !== 0, (i) => `must be an IP address, got "${i.input as string}"`),
);
/** RFC 4456 §7: CLUSTER_ID is 4 octets; FRR takes it as a dotted quad or a number. */
const bgpId = () => v.pipe(
  value<string | number>(
    (x) => isInt(1, 0xffffffff)(x) || (typeof x === 'string' && isIpv4(x) && x !== '0.0.0.0'),
    (x) => `must be a non-zero IPv4 address, got ${show(x)}`, 'is required (a non-zero IPv4 address)',
  ),
  v.transform((x) => (typeof x === 'number' ? [24, 16, 8, 0].map((s) => (x >>> s) & 0xff).join('.') : x)),
);

const BFD = mapping({
  minTx: v.optional(int(1, 4_294_967), REFLECTOR_DEFAULTS.bfd.minTx),
  minRx: v.optional(int(1, 4_294_967), REFLECTOR_DEFAULTS.bfd.minRx),
  multiplier: v.optional(int(1, 255), REFLECTOR_DEFAULTS.bfd.multiplier),
});

/** A `bgp listen range`: `10.0.0.0/8` or a mapping; connections from inside it become clients of AS `asn`. */
const LISTEN_RANGE = v.pipe(
  value<string | Record<string, unknown>>((x) => typeof x === 'string' || isMapping(x), (x) => `must be a string, got ${show(x)}`),
  v.transform((x) => (typeof x === 'string' ? { range: x } : x)),
  mapping({
    range: v.optional(str()),
    /** Peer AS of clients from this range (default: ours, iBGP route-reflector clients). */
    asn: v.optional(int(1, 0xffffffff)),
    ...authEntries,
  }),
);

const NEIGHBOR = mapping({
  address: ip(),
  /** Default: ours. */
  asn: v.optional(int(1, 0xffffffff)),
  /** TCP port we connect to. */
  port: v.optional(int(1, 65535), 179),
  ...authEntries,
});

/** `~` items of the two lists are skipped. */
const skipNull = <S extends v.GenericSchema>(s: S) => v.nullable(s);

export const REFLECTOR_SCHEMA = v.pipe(mapping({
  routerId: bgpId(),
  asn: int(1, 0xffffffff),
  /** RFC 4456 §7 CLUSTER_ID as a dotted quad (default routerId). */
  clusterId: v.optional(bgpId()),
  listen: v.optional(mapping({
    address: v.optional(ip(), REFLECTOR_DEFAULTS.listenAddress),
    port: v.optional(int(0, 65535), REFLECTOR_DEFAULTS.port),
  }), () => ({})),
  listenRanges: v.optional(list(skipNull(LISTEN_RANGE)), () => []),
  /** Seconds: 0 or 3..65535. */
  holdTime: v.optional(int(0, 65535), REFLECTOR_DEFAULTS.holdTime),
  /** Seconds (default holdTime / 3); its range depends on holdTime (checked in checkReflector). */
  keepalive: v.optional(v.unknown()),
  /** null: no BFD. */
  bfd: v.optional(v.pipe(
    v.unknown(),
    v.transform((x) => (x === false ? null : x === true ? {} : x)),
    v.nullable(BFD),
  ), false),
  neighbors: v.optional(list(skipNull(NEIGHBOR)), () => []),
  logLevel: v.optional(v.pipe(str(), v.check(
    (s) => (LOG_LEVELS as readonly string[]).includes(s), (i) => `must be one of ${LOG_LEVELS.join(', ')}, got "${i.input as string}"`,
  ), v.transform((s) => s as LogLevel)), REFLECTOR_DEFAULTS.logLevel),
}), v.transform(resolve));

/** The defaults that depend on other keys, and the listen ranges' prefixes. */
function resolve(c: {
  routerId: string; asn: number; clusterId?: string | undefined; listen: { address: string; port: number };
  listenRanges: Array<{ range?: string | undefined; asn?: number | undefined; password: string | null; tcpAo: TcpAo | null } | null>;
  holdTime: number; keepalive?: unknown; bfd: { minTx: number; minRx: number; multiplier: number } | null;
  neighbors: Array<{ address: string; asn?: number | undefined; port: number; password: string | null; tcpAo: TcpAo | null } | null>;
  logLevel: LogLevel;
}) {
  const max = Math.floor(c.holdTime / 3);
  return {
    routerId: c.routerId,
    asn: c.asn,
    clusterId: c.clusterId ?? c.routerId,
    listen: { address: c.listen.address, port: c.listen.port },
    listenRanges: c.listenRanges.flatMap((r) => {
      const prefix = r?.range === undefined ? null : parsePrefix(r.range);
      return r && prefix !== null && typeof prefix !== 'string' ? [{ ...prefix, asn: r.asn ?? c.asn, password: r.password, tcpAo: r.tcpAo }] : [];
    }),
    holdTime: c.holdTime,
    keepalive: typeof c.keepalive === 'number' ? c.keepalive : max,
    bfd: c.bfd,
    neighbors: c.neighbors.flatMap((n) => (n ? [{ address: n.address, asn: n.asn ?? c.asn, port: n.port, password: n.password, tcpAo: n.tcpAo }] : [])),
    logLevel: c.logLevel,
  };
}

type TcpAo = NonNullable<v.InferOutput<typeof authEntries.tcpAo>>;

export type ReflectorConfig = v.InferOutput<typeof REFLECTOR_SCHEMA> & { source: string };
export type ListenRange = ReflectorConfig['listenRanges'][number];
export type NeighborConfig = ReflectorConfig['neighbors'][number];
export type ReflectorBfdConfig = NonNullable<ReflectorConfig['bfd']>;

// --- rules across keys ----------------------------------------------------------------

function checkReflector(root: Record<string, unknown>, issues: Issues): void {
  const good = <T>(p: KeyPath, x: unknown, fallback: T): T => (x === undefined || issues.invalid(p) ? fallback : (x as T));
  const ranges = Array.isArray(root['listenRanges']) ? (root['listenRanges'] as unknown[]) : [];
  ranges.forEach((r, i) => {
    const p: KeyPath = ['listenRanges', i];
    if (typeof r === 'string') {
      const prefix = parsePrefix(r);
      if (typeof prefix === 'string') issues.add(p, prefix);
    } else if (isMapping(r)) {
      const text = r['range'];
      if (typeof text !== 'string') issues.add([...p, 'range'], 'is required (a prefix such as 192.168.1.0/24)');
      checkAuth(r, p, issues);
      const prefix = typeof text === 'string' ? parsePrefix(text) : null;
      if (typeof prefix === 'string') issues.add([...p, 'range'], prefix, p);
    }
  });

  const holdTime = good(['holdTime'], root['holdTime'], REFLECTOR_DEFAULTS.holdTime as number);
  if (holdTime === 1 || holdTime === 2) issues.add(['holdTime'], 'must be 0 or 3..65535 seconds (RFC 4271 §4.2)');
  const k = root['keepalive'];
  const [min, max] = holdTime === 0 ? [0, 0] : [1, Math.max(1, Math.floor(holdTime / 3))];
  if (k !== undefined && !isInt(min, max)(k)) issues.add(['keepalive'], `must be an integer ${min}..${max}, got ${show(k)}`);

  const neighbors = Array.isArray(root['neighbors']) ? (root['neighbors'] as unknown[]) : [];
  const seen = new Set<string>();
  neighbors.forEach((n, i) => {
    if (!isMapping(n)) return;
    const p: KeyPath = ['neighbors', i];
    checkAuth(n, p, issues);
    const address = n['address'];
    if (typeof address !== 'string' || ipVersion(address) === 0) return;
    if (seen.has(address)) issues.add([...p, 'address'], `neighbor ${address} is listed twice`, p);
    seen.add(address);
  });
  if (root['listenRanges'] === undefined && root['neighbors'] === undefined) {
    issues.add([], 'neither listenRanges nor neighbors: no peer could ever connect', ['neighbors']);
  }
}

/** How the reflector's file words the keys it does not know. */
const KEY_WORDS = {
  unknown: (_key: string, allowed: readonly string[]) => `unknown key (known: ${allowed.join(', ')})`,
  odd: (p: KeyPath, key: unknown, allowed: readonly string[]) => ({ path: [...p, String(key)], message: `unknown key (known: ${allowed.join(', ')})` }),
};

/** Read, parse, validate; `kernel` as for the agent's loadConfig. */
export function loadReflectorConfig(path: string, kernel?: () => KernelTcpAuth): ReflectorConfig {
  return parseReflectorConfig(readConfigFile(path), path, kernel ? { kernel } : {});
}

/** Parse and validate; throws ConfigError listing every issue. */
export function parseReflectorConfig(text: string, source = '<string>', opts: { kernel?: () => KernelTcpAuth } = {}): ReflectorConfig {
  const src = loadYaml(text, source);
  const issues = new Issues(REFLECTOR_SCHEMA, src, KEY_WORDS);
  let root = src.value;
  if (root === undefined) issues.add([], 'empty configuration (routerId and asn are required)', [], -1);
  else if (!isMapping(root)) issues.add([], 'must be a mapping', [], -1);
  if (!isMapping(root)) root = {};
  const raw = root as Record<string, unknown>;
  const r = issues.run(REFLECTOR_SCHEMA, raw);
  checkReflector(raw, issues);
  if (opts.kernel) {
    const sessions = (['listenRanges', 'neighbors'] as const).flatMap((list) => {
      const items = Array.isArray(raw[list]) ? (raw[list] as unknown[]) : [];
      return items.flatMap((it, i) => (isMapping(it) && usable(list, it) ? [{ p: [list, i], raw: it }] : []));
    });
    checkKernelAuth(sessions, opts.kernel, issues);
  }
  if (issues.count || !r.success) throw new ConfigError(source, issues.done());
  return { source, ...r.output };
}

/** A listen range or neighbor the reflector will use (the kernel's abilities matter only for those). */
function usable(list: 'listenRanges' | 'neighbors', it: Record<string, unknown>): boolean {
  if (list === 'neighbors') return typeof it['address'] === 'string' && ipVersion(it['address']) !== 0;
  return typeof it['range'] === 'string' && typeof parsePrefix(it['range']) !== 'string';
}

/** A prefix: the network address in canonical text, its length and family. */
export interface Prefix {
  network: string;
  length: number;
  family: 'ipv4' | 'ipv6';
}

/** "192.168.1.0/24" → its parts, or the reason it is not a prefix. Host bits must be zero. */
export function parsePrefix(text: string): Prefix | string {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return `must be a prefix such as 192.168.1.0/24, got "${text}"`;
  const addr = m[1]!;
  const length = Number(m[2]);
  const fam = ipVersion(addr);
  if (fam === 0) return `"${addr}" is not an IP address`;
  const bits = fam === 4 ? 32 : 128;
  if (length > bits) return `prefix length ${length} is longer than ${bits}`;
  const bytes = fam === 4 ? Uint8Array.from(addr.split('.').map(Number)) : parseIpv6(addr);
  const masked = maskBytes(bytes, length);
  const network = formatIp(masked);
  if (!masked.every((b, i) => b === bytes[i])) return `host bits set (did you mean ${network}/${length}?)`;
  return { network, length, family: fam === 4 ? 'ipv4' : 'ipv6' };
}

function maskBytes(b: Uint8Array, length: number): Uint8Array {
  const out = Uint8Array.from(b);
  for (let i = 0; i < out.length; i++) {
    const keep = Math.max(0, Math.min(8, length - i * 8));
    out[i]! &= (0xff00 >> keep) & 0xff;
  }
  return out;
}

/** Whether `address` (plain text, no ::ffff: prefix for IPv4) lies in `r`. */
export function inRange(r: Prefix, address: string): boolean {
  const fam = ipVersion(address);
  if ((fam === 4) !== (r.family === 'ipv4') || fam === 0) return false;
  if (fam === 4) {
    if (r.length === 0) return true;
    const shift = 32 - r.length;
    return ipv4ToUint(address) >>> shift === ipv4ToUint(r.network) >>> shift;
  }
  const a = maskBytes(parseIpv6(address), r.length);
  const n = parseIpv6(r.network);
  return a.every((x, i) => x === n[i]);
}
