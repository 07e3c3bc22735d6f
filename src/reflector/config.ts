// The reflector's YAML configuration (docs/reflector.md): parsed, validated and
// defaulted here. Every problem is collected and reported with its key path and
// line through the shared ConfigError (src/config/common.ts), e.g.
// `rr.yaml:4: listenRanges[0]: host bits set (did you mean 192.168.1.0/24?)`.
import { isIP, isIPv4 } from 'node:net';
import { isMap, isScalar, isSeq, LineCounter, type Document } from 'yaml';
import {
  ConfigError, SESSION_DEFAULTS as DEFAULTS, TCP_AO_MISSING, TCP_MD5_MISSING, parseYaml, pathText, readConfigFile, securityChecks,
  type ConfigIssue, type KernelTcpAuth, type KeyPath as Path, type LogLevel, type TcpAoConfig,
} from '../config/common.js';
import { ipv4ToUint } from '../bgp/negotiate.js';
import { parseIpv6 } from '../wire/addr.js';
import { formatIp } from '../wire/addr.js';

export { ConfigError } from '../config/common.js';

/** A `bgp listen range`: connections from inside it become clients of AS `asn`. */
export interface ListenRange {
  /** Network address in canonical text. */
  network: string;
  length: number;
  family: 'ipv4' | 'ipv6';
  /** Peer AS of clients from this range (default: ours, iBGP route-reflector clients). */
  asn: number;
  /** RFC 2385 TCP-MD5 password of every client in the range (a secret); null: none. */
  password: string | null;
  /** RFC 5925 TCP-AO master key tuple of every client in the range; null: none. */
  tcpAo: TcpAoConfig | null;
}

export interface NeighborConfig {
  address: string;
  /** Default: ours. */
  asn: number;
  /** TCP port we connect to (default 179). */
  port: number;
  password: string | null;
  tcpAo: TcpAoConfig | null;
}

export interface ReflectorBfdConfig {
  minTx: number;
  minRx: number;
  multiplier: number;
}

export interface ReflectorConfig {
  source: string;
  routerId: string;
  asn: number;
  /** RFC 4456 §7 CLUSTER_ID as a dotted quad (default routerId). */
  clusterId: string;
  listen: { address: string; port: number };
  listenRanges: ListenRange[];
  /** Seconds: 0 or 3..65535 (default 9). */
  holdTime: number;
  /** Seconds (default holdTime / 3). */
  keepalive: number;
  /** null: no BFD. */
  bfd: ReflectorBfdConfig | null;
  neighbors: NeighborConfig[];
  logLevel: LogLevel;
}

export const REFLECTOR_DEFAULTS = {
  port: 179,
  listenAddress: '0.0.0.0',
  holdTime: DEFAULTS.holdTime,
  bfd: DEFAULTS.bfd,
  logLevel: 'info' as LogLevel,
} as const;

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
const TOP_KEYS = ['routerId', 'asn', 'clusterId', 'listen', 'listenRanges', 'holdTime', 'keepalive', 'bfd', 'neighbors', 'logLevel'] as const;

/** Read, parse, validate; `kernel` as for the agent's loadConfig. */
export function loadReflectorConfig(path: string, kernel?: () => KernelTcpAuth): ReflectorConfig {
  return parseReflectorConfig(readConfigFile(path), path, kernel ? { kernel } : {});
}

/** Parse and validate; throws ConfigError listing every issue. */
export function parseReflectorConfig(text: string, source = '<string>', opts: { kernel?: () => KernelTcpAuth } = {}): ReflectorConfig {
  const { doc, lc, issues } = parseYaml(text, source);
  const v = new Check(doc, lc, issues);
  const cfg = v.config(source);
  if (opts.kernel) {
    const need = [
      ...cfg.listenRanges.map((r, i) => ({ p: ['listenRanges', i], r })),
      ...cfg.neighbors.map((r, i) => ({ p: ['neighbors', i], r })),
    ].filter((n) => n.r.password !== null || n.r.tcpAo !== null);
    if (need.length) {
      const k = opts.kernel();
      for (const { p, r } of need) {
        if (r.tcpAo && !k.ao) v.err([...p, 'tcpAo'], TCP_AO_MISSING);
        if (r.password !== null && !k.md5) v.err([...p, 'password'], TCP_MD5_MISSING);
      }
    }
  }
  if (issues.length) throw new ConfigError(source, issues);
  return cfg;
}

class Check {
  constructor(private readonly doc: Document, private readonly lc: LineCounter, private readonly issues: ConfigIssue[]) {}

  err(p: Path, message: string): void {
    let line: number | undefined;
    for (let n = p.length; n >= 0 && line === undefined; n--) {
      const node: unknown = n === 0 ? this.doc.contents : this.doc.getIn(p.slice(0, n), true);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range) line = this.lc.linePos(range[0]).line;
    }
    this.issues.push({ path: pathText(p), message, ...(line !== undefined ? { line } : {}) });
  }

  /** The plain value at p: a scalar's value, the node for a map/sequence, undefined if absent. */
  value(p: Path): unknown {
    const n: unknown = p.length === 0 ? this.doc.contents : this.doc.getIn(p, true);
    if (n === undefined || n === null) return undefined;
    if (isScalar(n)) return n.value ?? undefined;
    return n;
  }

  keys(p: Path, allowed: readonly string[]): boolean {
    const n = this.value(p);
    if (n === undefined) return false;
    if (!isMap(n)) {
      this.err(p, 'must be a mapping');
      return false;
    }
    for (const pair of n.items) {
      const k = isScalar(pair.key) ? pair.key.value : pair.key;
      if (typeof k !== 'string' || !allowed.includes(k)) this.err([...p, String(k)], `unknown key (known: ${allowed.join(', ')})`);
    }
    return true;
  }

  int(p: Path, min: number, max: number, def?: number): number {
    const v = this.value(p);
    if (v === undefined) {
      if (def === undefined) this.err(p, `is required (an integer ${min}..${max})`);
      return def ?? min;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.err(p, `must be an integer ${min}..${max}, got ${show(v)}`);
      return def ?? min;
    }
    return v;
  }

  str(p: Path): string | undefined {
    const v = this.value(p);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') {
      this.err(p, `must be a string, got ${show(v)}`);
      return undefined;
    }
    return v;
  }

  ip(p: Path, def?: string): string {
    const v = this.str(p);
    if (v === undefined) {
      if (def === undefined && this.value(p) === undefined) this.err(p, 'is required (an IP address)');
      return def ?? '';
    }
    if (isIP(v) === 0) {
      this.err(p, `must be an IP address, got "${v}"`);
      return def ?? '';
    }
    return v;
  }

  bgpId(p: Path, def?: string): string {
    const v = this.value(p);
    if (v === undefined && def !== undefined) return def;
    // RFC 4456 §7: CLUSTER_ID is 4 octets; FRR takes it as a dotted quad or a number.
    if (typeof v === 'number' && Number.isInteger(v) && v >= 1 && v <= 0xffffffff) {
      return [24, 16, 8, 0].map((s) => (v >>> s) & 0xff).join('.');
    }
    if (typeof v === 'string' && isIPv4(v) && v !== '0.0.0.0') return v;
    this.err(p, v === undefined ? 'is required (a non-zero IPv4 address)' : `must be a non-zero IPv4 address, got ${show(v)}`);
    return def ?? '0.0.0.1';
  }

  seq(p: Path): number {
    const v = this.value(p);
    if (v === undefined) return 0;
    if (!isSeq(v)) {
      this.err(p, 'must be a list');
      return 0;
    }
    return v.items.length;
  }

  /** `password` and `tcpAo` of a listen range or neighbor at p (a mapping). */
  security(p: Path): { password: string | null; tcpAo: TcpAoConfig | null } {
    const { password, tcpAo } = securityChecks({
      value: (q) => this.value([...p, ...q]),
      isMapping: (q) => isMap(this.value([...p, ...q])),
      mapKeys: (q, allowed) => this.keys([...p, ...q], allowed),
      err: (q, m) => this.err([...p, ...q], m),
    });
    return { password, tcpAo };
  }

  range(p: Path, ourAs: number): ListenRange | null {
    let text: string | undefined;
    let asn = ourAs;
    let sec: { password: string | null; tcpAo: TcpAoConfig | null } = { password: null, tcpAo: null };
    if (isMap(this.value(p))) {
      this.keys(p, ['range', 'asn', 'password', 'tcpAo']);
      text = this.str([...p, 'range']);
      if (text === undefined) this.err([...p, 'range'], 'is required (a prefix such as 192.168.1.0/24)');
      asn = this.int([...p, 'asn'], 1, 0xffffffff, ourAs);
      sec = this.security(p);
      if (text === undefined) return null;
      p = [...p, 'range'];
    } else {
      text = this.str(p);
      if (text === undefined) return null;
    }
    const r = parsePrefix(text);
    if (typeof r === 'string') {
      this.err(p, r);
      return null;
    }
    return { ...r, asn, ...sec };
  }

  config(source: string): ReflectorConfig {
    if (this.value([]) === undefined) {
      this.err([], 'empty configuration (routerId and asn are required)');
    } else {
      this.keys([], TOP_KEYS);
    }
    const routerId = this.bgpId(['routerId']);
    const asn = this.int(['asn'], 1, 0xffffffff);
    const clusterId = this.bgpId(['clusterId'], routerId);

    const listen = { address: REFLECTOR_DEFAULTS.listenAddress as string, port: REFLECTOR_DEFAULTS.port as number };
    if (this.keys(['listen'], ['address', 'port'])) {
      listen.address = this.ip(['listen', 'address'], REFLECTOR_DEFAULTS.listenAddress);
      listen.port = this.int(['listen', 'port'], 0, 65535, REFLECTOR_DEFAULTS.port);
    }

    const listenRanges: ListenRange[] = [];
    for (let i = 0, n = this.seq(['listenRanges']); i < n; i++) {
      const r = this.range(['listenRanges', i], asn);
      if (r) listenRanges.push(r);
    }

    const holdTime = this.int(['holdTime'], 0, 65535, REFLECTOR_DEFAULTS.holdTime);
    if (holdTime === 1 || holdTime === 2) this.err(['holdTime'], 'must be 0 or 3..65535 seconds (RFC 4271 §4.2)');
    const maxKeepalive = Math.floor(holdTime / 3);
    const keepalive = holdTime === 0 ? this.int(['keepalive'], 0, 0, 0) : this.int(['keepalive'], 1, Math.max(1, maxKeepalive), maxKeepalive);

    let bfd: ReflectorBfdConfig | null = null;
    const b = this.value(['bfd']);
    if (b === true) bfd = { ...REFLECTOR_DEFAULTS.bfd };
    else if (b !== undefined && b !== false && this.keys(['bfd'], ['minTx', 'minRx', 'multiplier'])) {
      bfd = {
        minTx: this.int(['bfd', 'minTx'], 1, 4_294_967, REFLECTOR_DEFAULTS.bfd.minTx),
        minRx: this.int(['bfd', 'minRx'], 1, 4_294_967, REFLECTOR_DEFAULTS.bfd.minRx),
        multiplier: this.int(['bfd', 'multiplier'], 1, 255, REFLECTOR_DEFAULTS.bfd.multiplier),
      };
    }

    const neighbors: NeighborConfig[] = [];
    const seen = new Set<string>();
    for (let i = 0, n = this.seq(['neighbors']); i < n; i++) {
      const p = ['neighbors', i];
      if (!this.keys(p, ['address', 'asn', 'port', 'password', 'tcpAo'])) continue;
      const address = this.ip([...p, 'address']);
      const nb: NeighborConfig = {
        address, asn: this.int([...p, 'asn'], 1, 0xffffffff, asn), port: this.int([...p, 'port'], 1, 65535, 179), ...this.security(p),
      };
      if (address && seen.has(address)) this.err([...p, 'address'], `neighbor ${address} is listed twice`);
      seen.add(address);
      if (address) neighbors.push(nb);
    }
    if (this.value(['listenRanges']) === undefined && this.value(['neighbors']) === undefined) {
      this.err([], 'neither listenRanges nor neighbors: no peer could ever connect');
    }

    let logLevel = REFLECTOR_DEFAULTS.logLevel;
    const ll = this.str(['logLevel']);
    if (ll !== undefined) {
      if ((LOG_LEVELS as readonly string[]).includes(ll)) logLevel = ll as LogLevel;
      else this.err(['logLevel'], `must be one of ${LOG_LEVELS.join(', ')}, got "${ll}"`);
    }
    return { source, routerId, asn, clusterId, listen, listenRanges, holdTime, keepalive, bfd, neighbors, logLevel };
  }
}

function show(v: unknown): string {
  if (typeof v === 'string') return `"${v}"`;
  if (isMap(v)) return 'a mapping';
  if (isSeq(v)) return 'a list';
  return String(v);
}

/** "192.168.1.0/24" → its parts, or the reason it is not a prefix. Host bits must be zero. */
export function parsePrefix(text: string): Omit<ListenRange, 'asn' | 'password' | 'tcpAo'> | string {
  const m = /^([^/\s]+)\/(\d{1,3})$/.exec(text.trim());
  if (!m) return `must be a prefix such as 192.168.1.0/24, got "${text}"`;
  const addr = m[1]!;
  const length = Number(m[2]);
  const fam = isIP(addr);
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
export function inRange(r: Omit<ListenRange, 'asn' | 'password' | 'tcpAo'>, address: string): boolean {
  const fam = isIP(address);
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
