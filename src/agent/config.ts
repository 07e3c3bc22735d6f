// The agent's YAML configuration: parsed, validated and given its defaults here,
// so that everything downstream works with a complete, typed Config. Every
// problem is collected (not just the first) and reported with its key path and
// line, e.g. `agent.yaml:14: uplinks[1].localAs: must be an integer 1..4294967295`.
// docs/configuration.md documents every key.
import { isIPv4, isIPv6 } from 'node:net';
import { normalizeIp } from '../wire/addr.js';
import { isMap, isScalar, isSeq, LineCounter, type Node as YamlNode } from 'yaml';
import { parseRouteTarget } from '../bgp/extcommunity.js';
import { parseRd } from '../bgp/rd.js';
import type { RouteDistinguisher, RouteTarget } from '../bgp/types.js';
import { EVPN_HA_PROTOCOL } from '../kernel/port.js';
import { DEFAULT_PROBE_PORT } from '../probe/packet.js';
import { DEFAULT_PROBER_TIMERS } from '../probe/prober.js';
import {
  ConfigError, SESSION_DEFAULTS, TCP_AO_MISSING, TCP_MD5_MISSING, parseYaml, pathText, readConfigFile, securityChecks, show,
  type ConfigIssue, type KernelTcpAuth, type KeyPath, type LogLevel, type TcpAoConfig,
} from '../config/common.js';

// The shared configuration helpers moved to src/config/common.ts; re-exported for the agent's users.
export {
  ConfigError, TCP_AO_MISSING, TCP_MD5_MISSING, parseYaml, pathText, readConfigFile, securityChecks, uplinkAuth,
  type ConfigIssue, type KernelTcpAuth, type KeyPath, type LogLevel, type SecurityCheckContext, type TcpAoConfig,
} from '../config/common.js';

export interface VniConfig {
  /** VXLAN network identifier, 1..16777215 (RFC 7348 §5); label1 of our routes (RFC 8365 §5.1.3). */
  vni: number;
  /** Bridge whose MAC and addresses are announced and where neighbour entries are written. */
  bridge: string;
  /** VXLAN device where FDB entries are written. */
  vxlan: string;
  /**
   * neigh_suppress on the vxlan device's bridge port while the agent runs: the
   * bridge answers ARP requests and neighbour solicitations for remote endpoints
   * from the neighbour entries we write, instead of flooding them. Default false.
   */
  arpSuppress: boolean;
}

export interface BfdConfig {
  /** Desired Min TX Interval, ms (RFC 5880 §6.8.1 bfd.DesiredMinTxInterval). */
  minTx: number;
  /** Required Min RX Interval, ms. */
  minRx: number;
  /** Detect Mult. */
  multiplier: number;
}

/**
 * A route target pattern for import: each side is `*` (anything), `{vni}` (the
 * route's VNI; local side only) or a literal. `*:{vni}` is the default.
 */
export interface RouteTargetPattern {
  text: string;
  global: { kind: 'any' } | { kind: 'asn'; asn: number } | { kind: 'ip'; ip: string };
  local: { kind: 'any' } | { kind: 'vni' } | { kind: 'value'; value: number };
}

export interface UplinkConfig {
  /** Name of the session and of its underlay network (in logs, the RIB and the CLI). */
  name: string;
  /**
   * Device whose first address of the uplink's family is the session source and
   * announced next hop (IPv6: a global one that is not temporary, deprecated or
   * tentative).
   */
  interface: string | null;
  /** Fixed local address, instead of `interface`. */
  address: string | null;
  peer: string;
  /** The underlay's address family: the peer's (and so the session's and the next hop's). */
  family: 4 | 6;
  peerPort: number;
  /** Wait for the peer to connect instead of connecting (RFC 4271 §8.1.1 PassiveTcpEstablishment). */
  passive: boolean;
  localAs: number;
  peerAs: number;
  /** LOCAL_PREF given to every route learned over this session (the received one is ignored). */
  localPref: number;
  /** Seconds (RFC 4271 §4.2); 0 or 3..65535. */
  holdTime: number;
  /** Seconds; 0 when holdTime is 0, otherwise 1..holdTime/3. */
  keepalive: number;
  /** ConnectRetryTimer, seconds (RFC 4271 §8.2.2). */
  connectRetry: number;
  /**
   * RD template: `{address}`, `{routerId}`, `{vni}`, `{localAs}` are substituted per
   * VNI. Default `{address}:{vni}`, or `{routerId}:{vni}` on an IPv6 uplink.
   */
  rd: string;
  /** Exported route target template, same placeholders. */
  routeTarget: string;
  /** Accepted route targets; a route is imported when one of its RTs matches one pattern. */
  importRouteTargets: RouteTargetPattern[];
  /** null: no BFD on this session. */
  bfd: BfdConfig | null;
  /**
   * The RFC 4724 graceful restart capability we advertise:
   * - 'end-of-rib' (default): the capability with restart time 0 and no AFI/SAFI.
   *   Peers then send End-of-RIB (FRR 8.4 sends it only to peers that advertise the
   *   capability) but, per RFC 4724 §4.2, remove our routes at once when the
   *   session goes: a helper does not keep them as stale, so the other servers fail
   *   over immediately;
   * - a restart time (s): real graceful restart for l2vpn evpn (peers keep our
   *   routes as stale for that long when the session drops without a NOTIFICATION);
   * - null (`false` in the file): no capability at all.
   */
  gracefulRestart: number | 'end-of-rib' | null;
  /**
   * Announce the type-3 Inclusive Multicast Ethernet Tag route (RFC 7432 §7.3, with
   * PMSI_TUNNEL ingress replication) per VNI. Default: on for IPv4 uplinks, off for
   * IPv6 ones, because FRR before 10.7 resets the session on its 16-byte PMSI
   * endpoint (and before 10.6 on its 128-bit originator IP): docs/interop.md.
   * evpn-ha agents do not use received type-3 routes; FRR VTEPs do (flood list).
   */
  inclusiveMulticastRoute: boolean;
  /** RFC 2385 TCP-MD5 password; null: none. A secret: never logged or shown. */
  password: string | null;
  /** RFC 5925 TCP-AO master key tuple; null: none. Exclusive with password. */
  tcpAo: TcpAoConfig | null;
  /** RFC 5082 GTSM: the peer is at most this many hops away (`true` = 1); null: off. */
  ttlSecurity: number | null;
}

export interface VtepProbeConfig {
  /** Probe interval, ms. */
  interval: number;
  /** Probes lost in a row before a VTEP is declared unreachable. */
  multiplier: number;
  /** Time a recovered VTEP must stay reachable before its paths are eligible again, ms. */
  holdDown: number;
  /** Inner UDP port of the probe socket (on the bridge's service address), the same on all servers. */
  port: number;
}

export interface KernelConfig {
  /** NDA_PROTOCOL stamped on, and identifying, every entry the agent writes. */
  protocol: number;
  /** Delay before a foreign change to one of our entries is undone, ms. */
  restoreDelay: number;
  /** Longest wait at start for End-of-RIB from every peer before stale entries are removed, ms. */
  startupGrace: number;
  /** Remove the agent's kernel entries on shutdown (false keeps forwarding across a restart). */
  flushOnShutdown: boolean;
  /** Keep an entry this long after its last route went away, ms (rides out a neighbour agent's restart). */
  withdrawDelay: number;
  /**
   * Program remote MACs through FDB nexthop groups (failover = one group replace per
   * remote VTEP): 'auto' when the kernel can (Linux >= 5.8), true = required (start
   * fails without), false = per-entry `dst` (docs/kernel.md).
   */
  nexthopGroups: 'auto' | boolean;
}

export interface Config {
  /** Where it came from (a path or '<string>'), for messages. */
  source: string;
  /** BGP identifier; null: the first uplink's address. */
  routerId: string | null;
  vnis: VniConfig[];
  uplinks: UplinkConfig[];
  /** null (`vtepProbe: false`): no data-path probing, every path is eligible. On by default. */
  vtepProbe: VtepProbeConfig | null;
  control: { socket: string };
  stateDir: string;
  /** null: no metrics endpoint. */
  metrics: { listen: string } | null;
  kernel: KernelConfig;
  logLevel: LogLevel;
}

export const DEFAULTS = {
  peerPort: 179,
  localPref: 100,
  holdTime: SESSION_DEFAULTS.holdTime,
  connectRetry: 1,
  gracefulRestart: 'end-of-rib' as const,
  rd: '{address}:{vni}',
  /** The default RD of an IPv6 uplink (RFC 4364 §4.2 has no IPv6 administrator field). */
  rdIpv6: '{routerId}:{vni}',
  routeTarget: '{localAs}:{vni}',
  importRouteTarget: '*:{vni}',
  bfd: SESSION_DEFAULTS.bfd,
  vtepProbe: { ...DEFAULT_PROBER_TIMERS, port: DEFAULT_PROBE_PORT },
  controlSocket: '/run/evpn-ha/evpn-ha.sock',
  stateDir: '/var/lib/evpn-ha',
  kernel: { protocol: EVPN_HA_PROTOCOL, restoreDelay: 50, startupGrace: 30_000, flushOnShutdown: true, withdrawDelay: 10_000, nexthopGroups: 'auto' as 'auto' | boolean },
  logLevel: 'info' as LogLevel,
} as const;

/**
 * Read, parse and validate a file. `kernel` (called only when a key needs it)
 * says whether this kernel has TCP-MD5 / TCP-AO; a key it lacks is a config error.
 */
export function loadConfig(path: string, kernel?: () => KernelTcpAuth): Config {
  return parseConfig(readConfigFile(path), path, kernel ? { kernel } : {});
}

/** Parse and validate; throws ConfigError with every issue found. */
export function parseConfig(text: string, source = '<string>', opts: { kernel?: () => KernelTcpAuth } = {}): Config {
  const { doc, lc, issues } = parseYaml(text, source);
  const v = new Validator(doc.contents, lc, issues);
  const cfg = v.config(source);
  if (opts.kernel) {
    const need = cfg.uplinks.map((u, i) => ({ i, md5: u.password !== null, ao: u.tcpAo !== null })).filter((n) => n.md5 || n.ao);
    if (need.length) {
      const k = opts.kernel();
      for (const n of need) {
        if (n.ao && !k.ao) v.err(['uplinks', n.i, 'tcpAo'], TCP_AO_MISSING);
        if (n.md5 && !k.md5) v.err(['uplinks', n.i, 'password'], TCP_MD5_MISSING);
      }
    }
  }
  if (issues.length) throw new ConfigError(source, issues);
  return cfg;
}

// --- validation -----------------------------------------------------------------

type Path = KeyPath;

class Validator {
  constructor(
    private readonly root: unknown,
    private readonly lc: LineCounter,
    private readonly issues: ConfigIssue[],
  ) {}

  private node(p: Path): YamlNode | null {
    let cur: unknown = this.root;
    for (const k of p) {
      if (isMap(cur)) cur = cur.get(k, true);
      else if (isSeq(cur) && typeof k === 'number') cur = cur.get(k, true);
      else return null;
    }
    return (cur as YamlNode | null) ?? null;
  }

  err(p: Path, message: string): void {
    // Point at the key's value, or at the closest enclosing node that exists.
    let line: number | undefined;
    for (let n = p.length; n >= 0 && line === undefined; n--) {
      const node = this.node(p.slice(0, n));
      if (node?.range) line = this.lc.linePos(node.range[0]).line;
    }
    this.issues.push({ path: pathText(p), message, ...(line !== undefined ? { line } : {}) });
  }

  /** Plain JS value at p (undefined if absent). */
  private value(p: Path): unknown {
    const n = this.node(p);
    if (n === null) return undefined;
    if (isScalar(n)) return n.value;
    return n;
  }

  private mapKeys(p: Path, allowed: readonly string[]): boolean {
    const n = p.length ? this.node(p) : (this.root as YamlNode | null);
    if (n === null || n === undefined) return false;
    if (!isMap(n)) {
      this.err(p, 'must be a mapping');
      return false;
    }
    for (const pair of n.items) {
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      if (typeof key !== 'string') {
        this.err(p, `keys must be strings, found ${String(key)}`);
        continue;
      }
      if (!allowed.includes(key)) {
        const hint = closest(key, allowed);
        this.err([...p, key], `unknown key${hint ? ` (did you mean ${hint}?)` : ''}`);
      }
    }
    return true;
  }

  private has(p: Path): boolean {
    const v = this.value(p);
    return v !== undefined && v !== null;
  }

  private int(p: Path, min: number, max: number, def?: number): number {
    const v = this.value(p);
    if (v === undefined || v === null) {
      if (def === undefined) {
        this.err(p, `is required (an integer ${min}..${max})`);
        return min;
      }
      return def;
    }
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
      this.err(p, `must be an integer ${min}..${max}, not ${show(v)}`);
      return def ?? min;
    }
    return v;
  }

  /** A duration: a number in `unit` or a string with ms/s/m suffix; returned in ms. */
  private duration(p: Path, unit: 'ms' | 's', minMs: number, maxMs: number, defMs: number): number {
    const v = this.value(p);
    if (v === undefined || v === null) return defMs;
    let ms: number | null = null;
    if (typeof v === 'number') ms = unit === 's' ? v * 1000 : v;
    else if (typeof v === 'string') {
      const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)\s*$/.exec(v);
      if (m) ms = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
    }
    if (ms === null || !Number.isFinite(ms)) {
      this.err(p, `must be a duration (a number of ${unit === 's' ? 'seconds' : 'milliseconds'} or e.g. "300ms", "3s"), not ${show(v)}`);
      return defMs;
    }
    if (ms < minMs || ms > maxMs) {
      this.err(p, `must be between ${fmtMs(minMs)} and ${fmtMs(maxMs)}, not ${fmtMs(ms)}`);
      return defMs;
    }
    return Math.round(ms);
  }

  private str(p: Path, def?: string): string {
    const v = this.value(p);
    if (v === undefined || v === null) {
      if (def === undefined) {
        this.err(p, 'is required');
        return '';
      }
      return def;
    }
    if (typeof v !== 'string' || v === '') {
      this.err(p, `must be a non-empty string, not ${show(v)}`);
      return def ?? '';
    }
    return v;
  }

  private bool(p: Path, def: boolean): boolean {
    const v = this.value(p);
    if (v === undefined || v === null) return def;
    if (typeof v !== 'boolean') {
      this.err(p, `must be true or false, not ${show(v)}`);
      return def;
    }
    return v;
  }

  private ip(p: Path, family?: 4): string {
    const v = this.str(p);
    if (!v) return v;
    if (family === 4 ? !isIPv4(v) : !isIPv4(v) && !isIPv6(v)) {
      this.err(p, `must be an ${family === 4 ? 'IPv4' : 'IP'} address, not ${show(v)}`);
      return v;
    }
    // RFC 5952 text, so that it compares equal to what the kernel and the wire give.
    return isIPv6(v) && !v.includes('%') ? normalizeIp(v) : v;
  }

  private ifname(p: Path): string {
    const v = this.str(p);
    // Linux IFNAMSIZ is 16 including the NUL; no '/', no whitespace.
    if (v && (v.length > 15 || /[\s/:]/.test(v) || v === '.' || v === '..')) {
      this.err(p, `must be a Linux interface name (1..15 characters, no '/', ':' or spaces), not ${show(v)}`);
    }
    return v;
  }

  private seq(p: Path, required: boolean): number {
    const n = this.node(p);
    if (n === null || (isScalar(n) && n.value === null)) {
      if (required) this.err(p, 'is required (a list)');
      return 0;
    }
    if (!isSeq(n)) {
      this.err(p, 'must be a list');
      return 0;
    }
    return n.items.length;
  }

  config(source: string): Config {
    if (this.root === null || this.root === undefined || (isScalar(this.root) && this.root.value === null)) {
      this.err([], 'the configuration is empty (vnis and uplinks are required)');
      return emptyConfig(source);
    }
    if (!this.mapKeys([], ['routerId', 'vnis', 'uplinks', 'vtepProbe', 'control', 'stateDir', 'metrics', 'kernel', 'logLevel'])) {
      return emptyConfig(source);
    }
    const routerId = this.has(['routerId']) ? this.ip(['routerId'], 4) : null;

    const vnis: VniConfig[] = [];
    const nv = this.seq(['vnis'], true);
    for (let i = 0; i < nv; i++) {
      const p = ['vnis', i];
      if (!this.mapKeys(p, ['vni', 'bridge', 'vxlan', 'arpSuppress'])) continue;
      vnis.push({
        vni: this.int([...p, 'vni'], 1, 0xffffff), bridge: this.ifname([...p, 'bridge']), vxlan: this.ifname([...p, 'vxlan']),
        arpSuppress: this.bool([...p, 'arpSuppress'], false),
      });
    }
    if (this.has(['vnis']) && nv === 0 && isSeq(this.node(['vnis']))) this.err(['vnis'], 'must list at least one VNI');
    this.unique(vnis, 'vnis', 'vni');
    this.unique(vnis, 'vnis', 'bridge');
    this.unique(vnis, 'vnis', 'vxlan');

    const uplinks: UplinkConfig[] = [];
    const nu = this.seq(['uplinks'], true);
    for (let i = 0; i < nu; i++) {
      const u = this.uplink(i, vnis);
      if (u) uplinks.push(u);
    }
    if (this.has(['uplinks']) && nu === 0 && isSeq(this.node(['uplinks']))) this.err(['uplinks'], 'must list at least one uplink');
    this.unique(uplinks, 'uplinks', 'name');
    this.unique(uplinks.filter((u) => u.interface !== null), 'uplinks', 'interface');
    this.unique(uplinks.filter((u) => u.address !== null), 'uplinks', 'address');
    // One family for all uplinks: a VNI has one vxlan device, and a vxlan device
    // carries one family (an IPv4 one refuses IPv6 FDB destinations: EAFNOSUPPORT).
    const first = uplinks[0];
    uplinks.forEach((u, i) => {
      if (first && u.family !== first.family && u.peer) {
        this.err(['uplinks', i, 'peer'], `is IPv${u.family} but uplink ${first.name} is IPv${first.family}: all uplinks must use one address family ` +
          `(a VNI's vxlan device sends over one family); mixed IPv4/IPv6 underlays are not supported`);
      }
    });
    if (routerId === null && first?.family === 6) {
      this.err(['uplinks'], 'IPv6 uplinks need routerId (the BGP identifier is a 32-bit value written as an IPv4 address, RFC 6286): add routerId: A.B.C.D');
    }

    let vtepProbe: VtepProbeConfig | null = { ...DEFAULTS.vtepProbe };
    const vp = this.value(['vtepProbe']);
    if (vp === false) vtepProbe = null;
    else if (vp !== undefined && vp !== null && vp !== true && isScalar(this.node(['vtepProbe']))) {
      this.err(['vtepProbe'], `must be true, false or a mapping with interval, multiplier, holdDown, port, not ${show(vp)}`);
    } else if (vp !== undefined && vp !== null && vp !== true && this.mapKeys(['vtepProbe'], ['interval', 'multiplier', 'holdDown', 'port'])) {
      const d = DEFAULTS.vtepProbe;
      vtepProbe = {
        interval: this.duration(['vtepProbe', 'interval'], 'ms', 10, 60_000, d.interval),
        multiplier: this.int(['vtepProbe', 'multiplier'], 1, 255, d.multiplier),
        holdDown: this.duration(['vtepProbe', 'holdDown'], 'ms', 0, 3_600_000, d.holdDown),
        port: this.int(['vtepProbe', 'port'], 1, 65535, d.port),
      };
    }

    let socket: string = DEFAULTS.controlSocket;
    if (this.has(['control']) && this.mapKeys(['control'], ['socket'])) socket = this.absPath(['control', 'socket'], DEFAULTS.controlSocket);
    const stateDir = this.has(['stateDir']) ? this.absPath(['stateDir'], DEFAULTS.stateDir) : DEFAULTS.stateDir;

    let metrics: { listen: string } | null = null;
    if (this.has(['metrics']) && this.mapKeys(['metrics'], ['listen'])) {
      const listen = this.str(['metrics', 'listen']);
      if (listen && !parseListen(listen)) {
        this.err(['metrics', 'listen'], `must be HOST:PORT (e.g. 127.0.0.1:9477, [::1]:9477, :9477), not ${show(listen)}`);
      }
      metrics = { listen };
    }

    const dk = DEFAULTS.kernel;
    const kernel: KernelConfig = { ...dk };
    if (this.has(['kernel']) && this.mapKeys(['kernel'], ['protocol', 'restoreDelay', 'startupGrace', 'flushOnShutdown', 'withdrawDelay', 'nexthopGroups'])) {
      kernel.protocol = this.int(['kernel', 'protocol'], 1, 255, dk.protocol);
      kernel.restoreDelay = this.duration(['kernel', 'restoreDelay'], 'ms', 0, 1000, dk.restoreDelay);
      kernel.startupGrace = this.duration(['kernel', 'startupGrace'], 's', 0, 3_600_000, dk.startupGrace);
      kernel.flushOnShutdown = this.bool(['kernel', 'flushOnShutdown'], dk.flushOnShutdown);
      kernel.withdrawDelay = this.duration(['kernel', 'withdrawDelay'], 's', 0, 600_000, dk.withdrawDelay);
      const ng = this.value(['kernel', 'nexthopGroups']);
      if (ng === 'auto' || ng === true || ng === false) kernel.nexthopGroups = ng;
      else if (ng !== undefined && ng !== null) this.err(['kernel', 'nexthopGroups'], `must be auto, true or false, not ${show(ng)}`);
    }

    let logLevel: LogLevel = DEFAULTS.logLevel;
    if (this.has(['logLevel'])) {
      const levels: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];
      const l = this.str(['logLevel']);
      if ((levels as readonly string[]).includes(l)) logLevel = l as LogLevel;
      else this.err(['logLevel'], `must be one of ${levels.join(', ')}, not ${show(l)}`);
    }

    return { source, routerId, vnis, uplinks, vtepProbe, control: { socket }, stateDir, metrics, kernel, logLevel };
  }

  private uplink(i: number, vnis: VniConfig[]): UplinkConfig | null {
    const p: Path = ['uplinks', i];
    const keys = [
      'name', 'interface', 'address', 'peer', 'peerPort', 'passive', 'localAs', 'peerAs', 'localPref',
      'holdTime', 'keepalive', 'connectRetry', 'rd', 'routeTarget', 'importRouteTargets', 'bfd', 'gracefulRestart',
      'password', 'tcpAo', 'ttlSecurity',
      'inclusiveMulticastRoute',
    ] as const;
    if (!this.mapKeys(p, keys)) return null;
    const name = this.str([...p, 'name']);
    if (name && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/.test(name)) {
      this.err([...p, 'name'], `must be 1..32 characters of letters, digits, '_', '.', '-', not ${show(name)}`);
    }
    const hasIf = this.has([...p, 'interface']);
    const hasAddr = this.has([...p, 'address']);
    if (hasIf === hasAddr) this.err(p, hasIf ? 'give either interface or address, not both' : 'interface or address is required');
    const iface = hasIf ? this.ifname([...p, 'interface']) : null;
    const address = hasAddr ? this.ip([...p, 'address']) : null;
    const peer = this.ip([...p, 'peer']);
    const family: 4 | 6 = isIPv6(peer) ? 6 : 4;
    if (address && (isIPv6(address) ? 6 : 4) !== family && (isIPv4(address) || isIPv6(address))) {
      this.err([...p, 'address'], `must be an IPv${family} address like peer ${peer} (the session and the next hop use the peer's family), not ${show(address)}`);
    }
    const localAs = this.int([...p, 'localAs'], 1, 0xffffffff);
    const peerAs = this.int([...p, 'peerAs'], 1, 0xffffffff, localAs);
    const localPref = this.int([...p, 'localPref'], 0, 0xffffffff, DEFAULTS.localPref);
    const holdTime = this.int([...p, 'holdTime'], 0, 65535, DEFAULTS.holdTime);
    if (holdTime === 1 || holdTime === 2) this.err([...p, 'holdTime'], 'must be 0 or at least 3 seconds (RFC 4271 §4.2)');
    const defKeepalive = holdTime === 0 ? 0 : Math.max(1, Math.floor(holdTime / 3));
    const keepalive = this.int([...p, 'keepalive'], 0, 21845, defKeepalive);
    if (holdTime === 0 && keepalive !== 0) this.err([...p, 'keepalive'], 'must be 0 when holdTime is 0');
    if (holdTime >= 3 && (keepalive < 1 || keepalive > Math.floor(holdTime / 3))) {
      this.err([...p, 'keepalive'], `must be 1..${Math.floor(holdTime / 3)} (at most a third of holdTime ${holdTime})`);
    }
    const connectRetry = this.int([...p, 'connectRetry'], 1, 3600, DEFAULTS.connectRetry);

    // RFC 4364 §4.2: an RD's administrator field is an AS number or an IPv4 address,
    // so an IPv6 uplink's default RD uses the router ID instead of the address.
    const rd = this.str([...p, 'rd'], family === 6 ? DEFAULTS.rdIpv6 : DEFAULTS.rd);
    const routeTarget = this.str([...p, 'routeTarget'], DEFAULTS.routeTarget);
    this.checkTemplate([...p, 'rd'], rd, 'rd', vnis, localAs, address, family);
    this.checkTemplate([...p, 'routeTarget'], routeTarget, 'rt', vnis, localAs, address, family);

    const importRouteTargets: RouteTargetPattern[] = [];
    const irtPath: Path = [...p, 'importRouteTargets'];
    if (this.has(irtPath)) {
      const n = this.seq(irtPath, true);
      for (let j = 0; j < n; j++) {
        const v = this.value([...irtPath, j]);
        const pat = typeof v === 'string' ? parseRouteTargetPattern(v) : null;
        if (!pat) this.err([...irtPath, j], `must be a route target pattern like "65001:100", "*:{vni}", "65001:*", "192.0.2.1:100", not ${show(v)}`);
        else importRouteTargets.push(pat);
      }
      if (n === 0 && isSeq(this.node(irtPath))) this.err(irtPath, 'must list at least one pattern (omit it for the default "*:{vni}")');
    } else {
      importRouteTargets.push(parseRouteTargetPattern(DEFAULTS.importRouteTarget)!);
    }

    let bfd: BfdConfig | null = null;
    const bp: Path = [...p, 'bfd'];
    const bv = this.value(bp);
    if (bv === true) bfd = { ...DEFAULTS.bfd };
    else if (bv !== undefined && bv !== null && bv !== false) {
      if (isScalar(this.node(bp))) this.err(bp, `must be true, false or a mapping with minTx, minRx, multiplier, not ${show(bv)}`);
      else if (this.mapKeys(bp, ['minTx', 'minRx', 'multiplier'])) {
        const d = DEFAULTS.bfd;
        bfd = {
          minTx: this.duration([...bp, 'minTx'], 'ms', 1, 60_000, d.minTx),
          minRx: this.duration([...bp, 'minRx'], 'ms', 1, 60_000, d.minRx),
          multiplier: this.int([...bp, 'multiplier'], 1, 255, d.multiplier),
        };
      }
    }

    let gracefulRestart: number | 'end-of-rib' | null = DEFAULTS.gracefulRestart;
    const grPath: Path = [...p, 'gracefulRestart'];
    const gr = this.value(grPath);
    if (gr === false) gracefulRestart = null;
    else if (gr === 'end-of-rib') gracefulRestart = 'end-of-rib';
    else if (gr !== undefined && gr !== null) {
      if (typeof gr === 'number') gracefulRestart = this.int(grPath, 0, 4095, 0);
      else this.err(grPath, `must be false, end-of-rib or a restart time in seconds 0..4095, not ${show(gr)}`);
    }

    const { password, tcpAo, ttlSecurity } = this.security(p);

    return {
      name, interface: iface, address, peer, family, peerPort: this.int([...p, 'peerPort'], 1, 65535, DEFAULTS.peerPort),
      passive: this.bool([...p, 'passive'], false), localAs, peerAs, localPref, holdTime, keepalive, connectRetry,
      rd, routeTarget, importRouteTargets, bfd, gracefulRestart, password, tcpAo, ttlSecurity,
      inclusiveMulticastRoute: this.bool([...p, 'inclusiveMulticastRoute'], family === 4),
    };
  }

  /** `password`, `tcpAo`, `ttlSecurity` under p (an uplink). Messages never quote a secret. */
  security(p: Path): { password: string | null; tcpAo: TcpAoConfig | null; ttlSecurity: number | null } {
    const sec = securityChecks({
      value: (q) => this.value([...p, ...q]),
      isMapping: (q) => isMap(this.node([...p, ...q])),
      mapKeys: (q, allowed) => this.mapKeys([...p, ...q], allowed),
      err: (q, m) => this.err([...p, ...q], m),
    });
    return sec;
  }

  /** Check an RD / RT template by expanding it for every VNI with the address (or a stand-in). */
  private checkTemplate(
    p: Path, tpl: string, what: 'rd' | 'rt', vnis: VniConfig[], localAs: number, address: string | null, family: 4 | 6,
  ): void {
    const bad = tpl.match(/\{[^}]*\}/g)?.filter((t) => !['{address}', '{routerId}', '{vni}', '{localAs}'].includes(t));
    if (bad?.length) {
      this.err(p, `unknown placeholder ${bad[0]} (use {address}, {routerId}, {vni}, {localAs})`);
      return;
    }
    if (family === 6 && tpl.includes('{address}')) {
      // RFC 4364 §4.2 (RD) and RFC 4360 §3.2 (route target): the administrator field
      // holds an AS number or an IPv4 address, never an IPv6 one.
      this.err(p, `cannot use {address} on an IPv6 uplink (an ${what === 'rd' ? 'RD' : 'route target'} holds an AS number or an IPv4 address); use {routerId}`);
      return;
    }
    if (vnis.length > 1 && !tpl.includes('{vni}')) {
      this.err(p, 'must contain {vni} when several VNIs are configured (each VNI needs its own)');
      return;
    }
    for (const v of vnis) {
      const text = expandTemplate(tpl, { address: address ?? '192.0.2.1', routerId: '192.0.2.1', vni: v.vni, localAs });
      const problem = textProblem(what === 'rd' ? parseRd : parseRouteTarget, text);
      if (problem) {
        this.err(p, `${show(tpl)} gives ${show(text)} for VNI ${v.vni}: ${problem}`);
        return;
      }
    }
  }

  private absPath(p: Path, def: string): string {
    const v = this.str(p, def);
    if (!v.startsWith('/')) this.err(p, `must be an absolute path, not ${show(v)}`);
    return v;
  }

  private unique<T>(items: T[], list: string, key: keyof T & string): void {
    const seen = new Map<unknown, number>();
    items.forEach((it, i) => {
      const v = it[key];
      if (v === '' || v === null) return;
      const first = seen.get(v);
      if (first !== undefined) this.err([list, i, key], `duplicate ${key} ${show(v)} (also in ${list}[${first}])`);
      else seen.set(v, i);
    });
  }
}

function emptyConfig(source: string): Config {
  return {
    source, routerId: null, vnis: [], uplinks: [], vtepProbe: null, control: { socket: DEFAULTS.controlSocket },
    stateDir: DEFAULTS.stateDir, metrics: null, kernel: { ...DEFAULTS.kernel }, logLevel: DEFAULTS.logLevel,
  };
}

function fmtMs(ms: number): string {
  return ms % 1000 === 0 && ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}

/** host:port, [v6]:port, or :port (all addresses) */
export function parseListen(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  const host = (m[1] ?? m[2])!;
  if (m[1] !== undefined && !isIPv6(host)) return null;
  return { host, port };
}

/** Damerau-free Levenshtein suggestion: the closest allowed key within distance 2 (or a case-only difference). */
function closest(key: string, allowed: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = 3;
  for (const a of allowed) {
    if (a.toLowerCase() === key.toLowerCase()) return a;
    const d = levenshtein(key, a);
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

// --- RD / RT text ---------------------------------------------------------------

export interface TemplateValues {
  address: string;
  routerId: string;
  vni: number;
  localAs: number;
}

export function expandTemplate(tpl: string, v: TemplateValues): string {
  return tpl.replaceAll('{address}', v.address).replaceAll('{routerId}', v.routerId)
    .replaceAll('{vni}', String(v.vni)).replaceAll('{localAs}', String(v.localAs));
}

function splitColon(text: string): [string, string] | null {
  const i = text.lastIndexOf(':');
  if (i <= 0 || i === text.length - 1) return null;
  return [text.slice(0, i), text.slice(i + 1)];
}

function uint(text: string): number | null {
  return /^\d{1,10}$/.test(text) ? Number(text) : null;
}

/** What is wrong with an RD / RT text (the parsers' message without its "invalid ... "X": " prefix), or null. */
function textProblem(parse: (text: string) => unknown, text: string): string | null {
  try {
    parse(text);
    return null;
  } catch (e) {
    return (e as Error).message.replace(/^invalid route (distinguisher|target) "[^"]*": /, '');
  }
}

export function parseRouteTargetPattern(text: string): RouteTargetPattern | null {
  const parts = splitColon(text.trim());
  if (!parts) return null;
  const [g, l] = parts;
  let global: RouteTargetPattern['global'];
  if (g === '*') global = { kind: 'any' };
  else if (isIPv4(g)) global = { kind: 'ip', ip: g };
  else {
    const asn = uint(g);
    if (asn === null || asn > 0xffffffff) return null;
    global = { kind: 'asn', asn };
  }
  let local: RouteTargetPattern['local'];
  if (l === '*') local = { kind: 'any' };
  else if (l === '{vni}') local = { kind: 'vni' };
  else {
    const n = uint(l);
    if (n === null || n > 0xffffffff) return null;
    local = { kind: 'value', value: n };
  }
  return { text: text.trim(), global, local };
}

/** Does a received route target match the pattern, for a route of this VNI? */
export function matchRouteTarget(p: RouteTargetPattern, rt: RouteTarget, vni: number): boolean {
  switch (p.global.kind) {
    case 'asn':
      if (rt.form === 'ip4' || rt.asn !== p.global.asn) return false;
      break;
    case 'ip':
      if (rt.form !== 'ip4' || rt.ip !== p.global.ip) return false;
      break;
    case 'any':
      break;
  }
  switch (p.local.kind) {
    case 'any':
      return true;
    case 'vni':
      return rt.local === vni;
    case 'value':
      return rt.local === p.local.value;
  }
}

// --- runtime resolution ---------------------------------------------------------

/** The RD and exported RT of one uplink for one VNI, once the uplink address is known. */
export function uplinkRdRt(
  u: UplinkConfig, vni: number, address: string, routerId: string,
): { rd: RouteDistinguisher; routeTarget: RouteTarget } {
  const v = { address, routerId, vni, localAs: u.localAs };
  return { rd: parseRd(expandTemplate(u.rd, v)), routeTarget: parseRouteTarget(expandTemplate(u.routeTarget, v)) };
}
