// The agent's configuration as one valibot schema: every key, its type, range
// and format, its default, and the message when it is wrong. The types of the
// configuration (Config, UplinkConfig, ...) are the schema's output.
// docs/configuration.md documents every key.
//
// Adding a key is one entry in the mapping it belongs to; its type (VniConfig,
// UplinkConfig, ...) follows, and unknown-key hints learn it. In VNI, e.g.:
//   flood: v.optional(bool(), true),
//   mobility: v.optional(mapping({
//     maxMoves: v.optional(int(1, 1000), 5),
//     window: optDuration('s', 1000, 3_600_000, 180_000),
//   }), () => ({})),
// Entries are checked, and their errors read, in the order written here. A
// default that depends on another key goes into the mapping's transform (see
// UPLINK); a rule across keys into config-checks.ts; docs/configuration.md
// documents the key.
import * as v from 'valibot';
import { LOG_LEVELS, SESSION_DEFAULTS, type LogLevel } from '../config/common-defaults.js';
import { authEntries, ttlSecurity } from '../config/security.js';
import { list, mapping, orNull, show, value } from '../config/schema.js';
import { isIpv4, isIpv6Text, normalizeIp } from '../wire/addr.js';
import { EVPN_HA_PROTOCOL } from '../kernel/port.js';
import { DEFAULT_PROBE_PORT } from '../probe/packet.js';
import { DEFAULT_PROBER_TIMERS } from '../probe/prober.js';
import { DEFAULT_MOBILITY } from './mobility.js';
import { parseRouteTargetPattern, type RouteTargetPattern } from './route-target.js';

export { LOG_LEVELS, type LogLevel } from '../config/common-defaults.js';

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

// --- one key's value, in the agent's words ------------------------------------------

const isInt = (min: number, max: number) => (x: unknown): boolean => typeof x === 'number' && Number.isInteger(x) && x >= min && x <= max;

/** An integer min..max; `required`: no default. */
export const int = (min: number, max: number) =>
  value<number>(isInt(min, max), (x) => `must be an integer ${min}..${max}, not ${show(x)}`, `is required (an integer ${min}..${max})`);

export const str = () => value<string>((x) => typeof x === 'string' && x !== '', (x) => `must be a non-empty string, not ${show(x)}`, 'is required');

export const bool = () => value<boolean>((x) => typeof x === 'boolean', (x) => `must be true or false, not ${show(x)}`);

/** A string that also passes `ok`. */
const strThat = (ok: (s: string) => boolean, invalid: (s: string) => string) =>
  v.pipe(str(), v.check(ok, (i) => invalid(i.input as string)));

/** Linux IFNAMSIZ is 16 including the NUL; no '/', no whitespace. */
export const ifname = () => strThat(
  (s) => !(s.length > 15 || /[\s/:]/.test(s) || s === '.' || s === '..'),
  (s) => `must be a Linux interface name (1..15 characters, no '/', ':' or spaces), not ${show(s)}`,
);

/** An address (IPv4 only with `family` 4), IPv6 in RFC 5952 text so that it compares equal to what the kernel and the wire give. */
export const ip = (family?: 4) => v.pipe(
  strThat((s) => (family === 4 ? isIpv4(s) : isIpv4(s) || isIpv6Text(s)), (s) => `must be an ${family === 4 ? 'IPv4' : 'IP'} address, not ${show(s)}`),
  v.transform((s) => (isIpv6Text(s) && !s.includes('%') ? normalizeIp(s) : s)),
);

const absPath = () => strThat((s) => s.startsWith('/'), (s) => `must be an absolute path, not ${show(s)}`);

function fmtMs(ms: number): string {
  return ms % 1000 === 0 && ms >= 1000 ? `${ms / 1000}s` : `${ms}ms`;
}

function durationMs(x: unknown, unit: 'ms' | 's'): number | null {
  let ms: number | null = null;
  if (typeof x === 'number') ms = unit === 's' ? x * 1000 : x;
  else if (typeof x === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m)\s*$/.exec(x);
    if (m) ms = Number(m[1]) * (m[2] === 'ms' ? 1 : m[2] === 's' ? 1000 : 60_000);
  }
  return ms !== null && Number.isFinite(ms) ? ms : null;
}

/** A duration: a number in `unit` or a string with ms/s/m suffix; the output is in ms. */
export const duration = (unit: 'ms' | 's', minMs: number, maxMs: number) => v.pipe(
  value<number | string>(
    (x) => durationMs(x, unit) !== null,
    (x) => `must be a duration (a number of ${unit === 's' ? 'seconds' : 'milliseconds'} or e.g. "300ms", "3s"), not ${show(x)}`,
  ),
  v.transform((x) => durationMs(x, unit)!),
  v.check((ms) => ms >= minMs && ms <= maxMs, (i) => `must be between ${fmtMs(minMs)} and ${fmtMs(maxMs)}, not ${fmtMs(i.input as number)}`),
  v.transform(Math.round),
);

/** An optional duration; its default (in ms) goes through the same checks as a written value. */
export const optDuration = (unit: 'ms' | 's', minMs: number, maxMs: number, defMs: number) => v.optional(duration(unit, minMs, maxMs), `${defMs}ms`);

/** `false` → null, `true` → the mapping's defaults, a mapping → itself; other scalars are wrong (`what` lists the keys). */
function switchable<S extends v.GenericSchema<Record<string, unknown>, unknown>>(m: S, absent: 'off' | 'on') {
  return v.optional(v.pipe(
    v.unknown(),
    v.transform((x) => (x === false ? null : x === true || x === undefined ? {} : x)),
    v.nullable(m),
  ), absent === 'on' ? true : false);
}
const scalarOr = (what: string) => (x: unknown): string =>
  (x === null || typeof x !== 'object' ? `must be true, false or a mapping with ${what}, not ${show(x)}` : 'must be a mapping');

/** host:port, [v6]:port, or :port (all addresses) */
export function parseListen(text: string): { host: string; port: number } | null {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) return null;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) return null;
  const host = (m[1] ?? m[2])!;
  if (m[1] !== undefined && !isIpv6Text(host)) return null;
  return { host, port };
}

// --- the file -------------------------------------------------------------------------

/** vnis[].mobility: duplicate detection (RFC 7432 §15.1), durations in ms. */
const MOBILITY = mapping({
  // Checked (and reported) freeze first, as the hand-written validator did.
  /** true: until `evpn-ha clear duplicate`; a duration: lifted by itself after it. */
  freeze: v.optional(v.union([
    v.pipe(v.literal(true), v.transform((): true | number => true)),
    v.pipe(
      value<unknown>((x) => x !== false, () => 'must be true (until evpn-ha clear duplicate) or a duration such as "10m"; false is not allowed'),
      duration('s', 1000, 7 * 86_400_000),
    ),
  ], (i) => i.issues?.[i.issues.length - 1]?.message ?? 'must be true or a duration'), true as true | number),
  maxMoves: v.optional(int(1, 1_000_000), DEFAULT_MOBILITY.maxMoves),
  window: optDuration('s', 1000, 86_400_000, DEFAULT_MOBILITY.window),
});

const VNI = v.pipe(mapping({
  /** VXLAN network identifier, 1..16777215 (RFC 7348 §5); label1 of our routes (RFC 8365 §5.1.3). */
  vni: int(1, 0xffffff),
  /** Bridge whose MAC and addresses are announced and where neighbour entries are written. */
  bridge: ifname(),
  /** VXLAN device where FDB entries are written. */
  vxlan: ifname(),
  /**
   * neigh_suppress on the vxlan device's bridge port while the agent runs: the
   * bridge answers ARP requests and neighbour solicitations for remote endpoints
   * from the neighbour entries we write, instead of flooding them.
   */
  arpSuppress: v.optional(bool()),
  /**
   * Announce the endpoints behind the bridge's local ports (MACs the bridge learns,
   * static FDB entries, their IPs from the bridge's neighbour table) as type-2
   * routes (endpoints.ts).
   */
  advertiseEndpoints: v.optional(bool(), false),
  /**
   * Flood list: received type-3 routes (RFC 7432 §11) become all-zeros FDB entries
   * on the vxlan device (ingress replication). Default: the value of advertiseEndpoints.
   */
  flood: v.optional(bool()),
  /** MAC mobility duplicate detection (RFC 7432 §15.1); absent: DEFAULT_MOBILITY. */
  mobility: v.optional(MOBILITY),
}, undefined), v.transform((x) => {
  // The defaults that depend on other keys: arpSuppress and flood follow advertiseEndpoints.
  const { mobility, ...rest } = x;
  return {
    ...rest,
    arpSuppress: x.arpSuppress ?? x.advertiseEndpoints,
    flood: x.flood ?? x.advertiseEndpoints,
    ...(mobility ? { mobility } : {}),
  };
}));

const BFD = mapping({
  /** Desired Min TX Interval, ms (RFC 5880 §6.8.1 bfd.DesiredMinTxInterval). */
  minTx: optDuration('ms', 1, 60_000, DEFAULTS.bfd.minTx),
  /** Required Min RX Interval, ms. */
  minRx: optDuration('ms', 1, 60_000, DEFAULTS.bfd.minRx),
  /** Detect Mult. */
  multiplier: v.optional(int(1, 255), DEFAULTS.bfd.multiplier),
}, scalarOr('minTx, minRx, multiplier'));

const ROUTE_TARGET_PATTERN = v.pipe(
  value<string>(
    (x) => typeof x === 'string' && parseRouteTargetPattern(x) !== null,
    (x) => `must be a route target pattern like "65001:100", "*:{vni}", "65001:*", "192.0.2.1:100", not ${show(x)}`,
  ),
  v.transform((s): RouteTargetPattern => parseRouteTargetPattern(s)!),
);

/** The keys of an uplink in the order "did you mean" tries them (the order of docs/configuration.md). */
const UPLINK_HINTS = [
  'name', 'interface', 'address', 'peer', 'peerPort', 'passive', 'localAs', 'peerAs', 'localPref',
  'holdTime', 'keepalive', 'connectRetry', 'rd', 'routeTarget', 'importRouteTargets', 'bfd', 'gracefulRestart',
  'password', 'tcpAo', 'ttlSecurity', 'inclusiveMulticastRoute',
] as const;

const UPLINK = v.pipe(mapping({
  /** Name of the session and of its underlay network (in logs, the RIB and the CLI). */
  name: strThat((s) => /^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$/.test(s), (s) => `must be 1..32 characters of letters, digits, '_', '.', '-', not ${show(s)}`),
  /**
   * Device whose first address of the uplink's family is the session source and
   * announced next hop (IPv6: a global one that is not temporary, deprecated or
   * tentative). Either this or `address`.
   */
  interface: v.optional(ifname()),
  /** Fixed local address, instead of `interface`. */
  address: v.optional(ip()),
  peer: ip(),
  localAs: int(1, 0xffffffff),
  /** Default: localAs. */
  peerAs: v.optional(int(1, 0xffffffff)),
  /** LOCAL_PREF given to every route learned over this session (the received one is ignored). */
  localPref: v.optional(int(0, 0xffffffff), DEFAULTS.localPref),
  /** Seconds (RFC 4271 §4.2); 0 or 3..65535. */
  holdTime: v.optional(int(0, 65535), DEFAULTS.holdTime),
  /** Seconds; 0 when holdTime is 0, otherwise 1..holdTime/3 (default holdTime/3). */
  keepalive: v.optional(int(0, 21845)),
  /** ConnectRetryTimer, seconds (RFC 4271 §8.2.2). */
  connectRetry: v.optional(int(1, 3600), DEFAULTS.connectRetry),
  /**
   * RD template: `{address}`, `{routerId}`, `{vni}`, `{localAs}` are substituted per
   * VNI. Default `{address}:{vni}`, or `{routerId}:{vni}` on an IPv6 uplink.
   */
  rd: v.optional(str()),
  /** Exported route target template, same placeholders. */
  routeTarget: v.optional(str(), DEFAULTS.routeTarget),
  /** Accepted route targets; a route is imported when one of its RTs matches one pattern. */
  importRouteTargets: v.optional(v.pipe(
    list(ROUTE_TARGET_PATTERN),
    v.check((a) => a.length > 0, 'must list at least one pattern (omit it for the default "*:{vni}")'),
  ), () => [DEFAULTS.importRouteTarget]),
  /** null: no BFD on this session. */
  bfd: switchable(BFD, 'off'),
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
  gracefulRestart: v.optional(v.pipe(
    value<number | 'end-of-rib' | false>(
      (x) => x === false || x === 'end-of-rib' || typeof x === 'number',
      (x) => `must be false, end-of-rib or a restart time in seconds 0..4095, not ${show(x)}`,
    ),
    v.check((x) => typeof x !== 'number' || isInt(0, 4095)(x), (i) => `must be an integer 0..4095, not ${show(i.input)}`),
    v.transform((x) => (x === false ? null : x)),
  ), DEFAULTS.gracefulRestart),
  ...authEntries,
  ttlSecurity,
  peerPort: v.optional(int(1, 65535), DEFAULTS.peerPort),
  /** Wait for the peer to connect instead of connecting (RFC 4271 §8.1.1 PassiveTcpEstablishment). */
  passive: v.optional(bool(), false),
  /**
   * Announce the type-3 Inclusive Multicast Ethernet Tag route (RFC 7432 §7.3, with
   * PMSI_TUNNEL ingress replication) per VNI. Default: on for IPv4 uplinks, off for
   * IPv6 ones, because FRR before 10.7 resets the session on its 16-byte PMSI
   * endpoint (and before 10.6 on its 128-bit originator IP): docs/interop.md.
   * evpn-ha agents do not use received type-3 routes; FRR VTEPs do (flood list).
   */
  inclusiveMulticastRoute: v.optional(bool()),
}, undefined, UPLINK_HINTS), v.transform((u) => {
  // The defaults that depend on other keys.
  const family: 4 | 6 = isIpv6Text(u.peer) ? 6 : 4;
  return {
    name: u.name,
    interface: u.interface ?? null,
    address: u.address ?? null,
    peer: u.peer,
    /** The underlay's address family: the peer's (and so the session's and the next hop's). */
    family,
    peerPort: u.peerPort,
    passive: u.passive,
    localAs: u.localAs,
    peerAs: u.peerAs ?? u.localAs,
    localPref: u.localPref,
    holdTime: u.holdTime,
    keepalive: u.keepalive ?? (u.holdTime === 0 ? 0 : Math.max(1, Math.floor(u.holdTime / 3))),
    connectRetry: u.connectRetry,
    // RFC 4364 §4.2: an RD's administrator field is an AS number or an IPv4 address,
    // so an IPv6 uplink's default RD uses the router ID instead of the address.
    rd: u.rd ?? (family === 6 ? DEFAULTS.rdIpv6 : DEFAULTS.rd),
    routeTarget: u.routeTarget,
    importRouteTargets: u.importRouteTargets,
    bfd: u.bfd,
    gracefulRestart: u.gracefulRestart,
    inclusiveMulticastRoute: u.inclusiveMulticastRoute ?? family === 4,
    password: u.password,
    tcpAo: u.tcpAo,
    ttlSecurity: u.ttlSecurity,
  };
}));

const VTEP_PROBE = mapping({
  /** Probe interval, ms. */
  interval: optDuration('ms', 10, 60_000, DEFAULTS.vtepProbe.interval),
  /** Probes lost in a row before a VTEP is declared unreachable. */
  multiplier: v.optional(int(1, 255), DEFAULTS.vtepProbe.multiplier),
  /** Time a recovered VTEP must stay reachable before its paths are eligible again, ms. */
  holdDown: optDuration('ms', 0, 3_600_000, DEFAULTS.vtepProbe.holdDown),
  /** Inner UDP port of the probe socket (on the bridge's service address), the same on all servers. */
  port: v.optional(int(1, 65535), DEFAULTS.vtepProbe.port),
}, scalarOr('interval, multiplier, holdDown, port'));

const KERNEL = mapping({
  /** NDA_PROTOCOL stamped on, and identifying, every entry the agent writes. */
  protocol: v.optional(int(1, 255), DEFAULTS.kernel.protocol),
  /** Delay before a foreign change to one of our entries is undone, ms. */
  restoreDelay: optDuration('ms', 0, 1000, DEFAULTS.kernel.restoreDelay),
  /** Longest wait at start for End-of-RIB from every peer before stale entries are removed, ms. */
  startupGrace: optDuration('s', 0, 3_600_000, DEFAULTS.kernel.startupGrace),
  /** Remove the agent's kernel entries on shutdown (false keeps forwarding across a restart). */
  flushOnShutdown: v.optional(bool(), DEFAULTS.kernel.flushOnShutdown),
  /** Keep an entry this long after its last route went away, ms (rides out a neighbour agent's restart). */
  withdrawDelay: optDuration('s', 0, 600_000, DEFAULTS.kernel.withdrawDelay),
  /**
   * Program remote MACs through FDB nexthop groups (failover = one group replace per
   * remote VTEP): 'auto' when the kernel can (Linux >= 5.8), true = required (start
   * fails without), false = per-entry `dst` (docs/kernel.md).
   */
  nexthopGroups: v.optional(
    value<'auto' | boolean>((x) => x === 'auto' || x === true || x === false, (x) => `must be auto, true or false, not ${show(x)}`),
    DEFAULTS.kernel.nexthopGroups,
  ),
});

export const AGENT_SCHEMA = mapping({
  /** BGP identifier; null: the first uplink's address. */
  routerId: orNull(ip(4)),
  vnis: v.pipe(list(VNI, 'is required (a list)'), v.check((a) => a.length > 0, 'must list at least one VNI')),
  uplinks: v.pipe(list(UPLINK, 'is required (a list)'), v.check((a) => a.length > 0, 'must list at least one uplink')),
  /** null (`vtepProbe: false`): no data-path probing, every path is eligible. On by default. */
  vtepProbe: switchable(VTEP_PROBE, 'on'),
  control: v.optional(mapping({ socket: v.optional(absPath(), DEFAULTS.controlSocket) }), () => ({})),
  stateDir: v.optional(absPath(), DEFAULTS.stateDir),
  /** null: no metrics endpoint. */
  metrics: orNull(mapping({
    listen: strThat((s) => parseListen(s) !== null, (s) => `must be HOST:PORT (e.g. 127.0.0.1:9477, [::1]:9477, :9477), not ${show(s)}`),
  })),
  kernel: v.optional(KERNEL, () => ({})),
  logLevel: v.optional(v.pipe(str(), v.check(
    (s) => (LOG_LEVELS as readonly string[]).includes(s), (i) => `must be one of ${LOG_LEVELS.join(', ')}, not ${show(i.input)}`,
  ), v.transform((s) => s as LogLevel)), DEFAULTS.logLevel),
});

type Parsed = v.InferOutput<typeof AGENT_SCHEMA>;

export type Config = Parsed & {
  /** Where it came from (a path or '<string>'), for messages. */
  source: string;
};
export type VniConfig = Parsed['vnis'][number];
export type UplinkConfig = Parsed['uplinks'][number];
export type BfdConfig = NonNullable<UplinkConfig['bfd']>;
export type VtepProbeConfig = NonNullable<Parsed['vtepProbe']>;
export type KernelConfig = Parsed['kernel'];
