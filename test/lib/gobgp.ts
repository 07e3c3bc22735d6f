// GoBGP (gobgpd + the gobgp CLI) inside a test namespace. Each namespace has its own
// loopback, so the gRPC API listens on a fixed port of 127.0.0.1 inside it.
import { createWriteStream, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { nsExec, waitFor, type Lab } from './netns.js';
import type { EvpnPathView } from './routes.js';

export const GOBGP_API_PORT = 50051;
/** Configs and logs stay here after teardown (one directory per namespace). */
export const GOBGP_LOG_ROOT = '/tmp/evpn-ha-logs';

export interface GobgpOptions {
  /** Configuration text (TOML unless configType says otherwise), e.g. from gobgpConfig(). */
  config: string;
  configType?: 'toml' | 'yaml' | 'json';
  /** gRPC port on 127.0.0.1 inside the namespace (default 50051). */
  apiPort?: number;
  logLevel?: 'debug' | 'info' | 'warn';
  /**
   * Hostname gobgpd sees (own UTS namespace). GoBGP sends it in the FQDN capability
   * of its OPEN; set it for OPEN bytes that do not depend on the machine.
   */
  hostname?: string;
  startTimeoutMs?: number;
}

export interface GobgpHandle {
  readonly ns: string;
  readonly apiPort: number;
  readonly configPath: string;
  readonly logPath: string;
  readonly process: ChildProcess;
  /** Run the gobgp CLI against this daemon: gobgp(['neighbor']). Returns stdout. */
  gobgp(args: string[]): string;
  /** `gobgp -j <args>` parsed. */
  gobgpJson(args: string[]): unknown;
  /** `gobgp -j global rib -a evpn` (our own table: locally originated + best received). */
  rib(): GobgpPath[][];
  /** `gobgp -j neighbor <addr> adj-in -a evpn` (what the peer sent us). */
  adjIn(neighbor: string): GobgpPath[][];
  /** Session state of a neighbor ('established', 'active', ...). */
  peerState(neighbor: string): string | undefined;
  logTail(lines?: number): string;
  /** SIGTERM by PID, SIGKILL after 2 s. Idempotent. */
  stop(): Promise<void>;
}

/** One path in `gobgp -j` output. Only the fields the tests use are typed. */
export interface GobgpPath {
  nlri: Record<string, unknown> & { type?: number };
  attrs: Array<Record<string, unknown> & { type: number }>;
  age?: number;
  best?: boolean;
  'source-id'?: string;
  'neighbor-ip'?: string;
  withdrawal?: boolean;
  stale?: boolean;
}

function toPathLists(j: unknown): GobgpPath[][] {
  // `-j global rib` prints { "<prefix>": [path, ...], ... } (or [] when empty).
  if (Array.isArray(j)) return j.length === 0 ? [] : [j as GobgpPath[]];
  if (typeof j !== 'object' || j === null) return [];
  return Object.values(j as Record<string, unknown>).filter(Array.isArray) as GobgpPath[][];
}

/** Start gobgpd in `ns`; resolves when its API answers. Killed by PID on lab dispose. */
export async function startGobgp(lab: Lab, ns: string, opts: GobgpOptions): Promise<GobgpHandle> {
  const dir = join(GOBGP_LOG_ROOT, ns);
  mkdirSync(dir, { recursive: true });
  const type = opts.configType ?? 'toml';
  const configPath = join(dir, `gobgpd.${type}`);
  const logPath = join(dir, 'gobgpd.log');
  writeFileSync(configPath, opts.config);
  const apiPort = opts.apiPort ?? GOBGP_API_PORT;
  const args = [
    '-f', configPath, '-t', type, '--api-hosts', `127.0.0.1:${apiPort}`, '--pprof-disable',
    '-p', '-l', opts.logLevel ?? 'debug',
  ];
  // unshare and sh exec in place, so the child's PID is gobgpd's.
  const child = opts.hostname
    ? lab.spawn(ns, 'unshare', ['--uts', 'sh', '-c', 'hostname "$0" && exec gobgpd "$@"', opts.hostname, ...args])
    : lab.spawn(ns, 'gobgpd', args);
  const log = createWriteStream(logPath);
  child.stdout?.pipe(log);
  child.stderr?.pipe(log);

  const cli = (args: string[]): string => nsExec(ns, 'gobgp', ['-u', '127.0.0.1', '-p', String(apiPort), ...args]);
  let stopped: Promise<void> | undefined;
  const handle: GobgpHandle = {
    ns, apiPort, configPath, logPath, process: child,
    gobgp: cli,
    gobgpJson: (args) => JSON.parse(cli(['-j', ...args])) as unknown,
    rib: () => toPathLists(JSON.parse(cli(['-j', 'global', 'rib', '-a', 'evpn'])) as unknown),
    adjIn: (n) => toPathLists(JSON.parse(cli(['-j', 'neighbor', n, 'adj-in', '-a', 'evpn'])) as unknown),
    peerState(neighbor: string): string | undefined {
      const j = JSON.parse(cli(['-j', 'neighbor', neighbor])) as { state?: { session_state?: number | string } };
      const s = j.state?.session_state;
      // GoBGP prints the enum as a number in some versions, a name in others.
      const names = ['unknown', 'idle', 'connect', 'active', 'opensent', 'openconfirm', 'established'];
      return typeof s === 'number' ? names[s] : s?.toLowerCase();
    },
    logTail(lines = 40): string {
      try { return readFileSync(logPath, 'utf8').split('\n').slice(-lines).join('\n'); } catch { return ''; }
    },
    stop(): Promise<void> {
      stopped ??= new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) { resolve(); return; }
        const timer = setTimeout(() => { try { process.kill(child.pid as number, 'SIGKILL'); } catch { /* gone */ } }, 2000);
        child.once('exit', () => { clearTimeout(timer); resolve(); });
        try { process.kill(child.pid, 'SIGTERM'); } catch { clearTimeout(timer); resolve(); }
      });
      return stopped;
    },
  };
  const early = new Promise<never>((_, reject) => {
    child.once('exit', (code) => reject(new Error(`gobgpd in ${ns} exited with ${code}\n${handle.logTail()}`)));
  });
  await Promise.race([
    waitFor(() => { cli(['global']); return true; }, opts.startTimeoutMs ?? 10000, `gobgpd API in ${ns}`),
    early,
  ]);
  early.catch(() => { /* later exits are the test's business */ });
  return handle;
}

/** Wait until gobgpd reports the neighbor established. */
export async function waitGobgpEstablished(g: GobgpHandle, neighbor: string, timeoutMs = 20000): Promise<void> {
  await waitFor(() => g.peerState(neighbor) === 'established', timeoutMs, `gobgp ${g.ns} neighbor ${neighbor} established`)
    .catch((e: unknown) => { throw new Error(`${String(e)}\n${g.logTail(20)}`); });
}

// ---------------------------------------------------------------------------
// Configuration generators (TOML)

export interface GobgpNeighbor {
  address: string;
  peerAs: number;
  /** Source address (transport local-address). */
  localAddress?: string;
  passive?: boolean;
  /** Make this neighbor a route-reflector client (iBGP only). */
  rrClient?: boolean;
  clusterId?: string;
  timers?: { keepalive: number; hold: number; connectRetry?: number };
}

export interface GobgpConfigOptions {
  asn: number;
  routerId: string;
  /** BGP listen port (default 179; -1 disables listening). */
  port?: number;
  /** Addresses to listen on (default all). */
  listenAddresses?: string[];
  neighbors?: GobgpNeighbor[];
  /** Dynamic neighbors: prefix → peer-group settings (an RR with a listen range). */
  dynamic?: { prefix: string; peerAs: number; rrClient?: boolean; clusterId?: string; timers?: { keepalive: number; hold: number } };
}

const q = (s: string): string => JSON.stringify(s);

function neighborBlock(kind: 'neighbors' | 'peer-groups', n: {
  address?: string; group?: string; peerAs: number; localAddress?: string; passive?: boolean;
  rrClient?: boolean; clusterId?: string; timers?: { keepalive: number; hold: number; connectRetry?: number };
}): string[] {
  const t = n.timers ?? { keepalive: 3, hold: 9 };
  const lines = [
    `[[${kind}]]`,
    `  [${kind}.config]`,
    ...(n.address ? [`    neighbor-address = ${q(n.address)}`] : []),
    ...(n.group ? [`    peer-group-name = ${q(n.group)}`] : []),
    `    peer-as = ${n.peerAs}`,
    `  [${kind}.timers.config]`,
    `    hold-time = ${t.hold}`,
    `    keepalive-interval = ${t.keepalive}`,
    `    connect-retry = ${t.connectRetry ?? 1}`,
  ];
  if (n.localAddress || n.passive) {
    lines.push(`  [${kind}.transport.config]`);
    if (n.localAddress) lines.push(`    local-address = ${q(n.localAddress)}`);
    if (n.passive) lines.push('    passive-mode = true');
  }
  lines.push(
    `  [[${kind}.afi-safis]]`,
    `    [${kind}.afi-safis.config]`,
    '      afi-safi-name = "l2vpn-evpn"',
  );
  if (n.rrClient) {
    lines.push(
      `  [${kind}.route-reflector.config]`,
      '    route-reflector-client = true',
      ...(n.clusterId ? [`    route-reflector-cluster-id = ${q(n.clusterId)}`] : []),
    );
  }
  return lines;
}

/** gobgpd TOML: static EVPN neighbors and/or a dynamic (listen-range) peer-group. */
export function gobgpConfig(o: GobgpConfigOptions): string {
  const lines = [
    '[global.config]',
    `  as = ${o.asn}`,
    `  router-id = ${q(o.routerId)}`,
    `  port = ${o.port ?? 179}`,
    ...(o.listenAddresses ? [`  local-address-list = [${o.listenAddresses.map(q).join(', ')}]`] : []),
    '',
  ];
  for (const n of o.neighbors ?? []) lines.push(...neighborBlock('neighbors', n), '');
  if (o.dynamic) {
    const d = o.dynamic;
    lines.push(
      ...neighborBlock('peer-groups', { group: 'clients', peerAs: d.peerAs, rrClient: d.rrClient ?? true, clusterId: d.clusterId, timers: d.timers }),
      '',
      '[[dynamic-neighbors]]',
      '  [dynamic-neighbors.config]',
      `    prefix = ${q(d.prefix)}`,
      '    peer-group = "clients"',
      '',
    );
  }
  return lines.join('\n');
}

/** gobgpd TOML for a route reflector with a listen range (iBGP clients in `asn`). */
export function gobgpRrConfig(o: { asn: number; routerId: string; listenRange: string; clusterId?: string; timers?: { keepalive: number; hold: number } }): string {
  return gobgpConfig({
    asn: o.asn, routerId: o.routerId,
    dynamic: { prefix: o.listenRange, peerAs: o.asn, rrClient: true, clusterId: o.clusterId ?? o.routerId, timers: o.timers },
  });
}

// ---------------------------------------------------------------------------
// Route injection through the CLI

export interface MacAdvRoute {
  mac: string;
  /** IPv4/IPv6 address, or undefined for a MAC-only route. */
  ip?: string;
  rd: string;
  rt?: string[];
  /** VNI / label (GoBGP's CLI value). */
  label: number;
  etag?: number;
  esi?: string;
  nexthop?: string;
  /** Extra CLI words, e.g. ['local-pref', '200']. */
  extra?: string[];
}

/** Arguments for `gobgp global rib -a evpn add|del macadv ...`. */
export function macAdvArgs(op: 'add' | 'del', r: MacAdvRoute): string[] {
  const ip = r.ip ?? '0.0.0.0';
  return [
    'global', 'rib', '-a', 'evpn', op, 'macadv', r.mac, ip,
    ...(r.esi ? ['esi', r.esi] : []),
    'etag', String(r.etag ?? 0), 'label', String(r.label), 'rd', r.rd,
    ...(r.rt && r.rt.length ? ['rt', ...r.rt] : []),
    'encap', 'vxlan',
    ...(r.nexthop ? ['nexthop', r.nexthop] : []),
    ...(r.extra ?? []),
  ];
}

export interface MulticastRoute {
  /** Originating router's IP. */
  ip: string;
  rd: string;
  rt?: string[];
  etag?: number;
  /** PMSI tunnel: ingress replication with this label (VNI) and endpoint. */
  pmsi?: { label: number; endpoint: string };
  nexthop?: string;
  extra?: string[];
}

/** Arguments for `gobgp global rib -a evpn add|del multicast ...`. */
export function multicastArgs(op: 'add' | 'del', r: MulticastRoute): string[] {
  return [
    'global', 'rib', '-a', 'evpn', op, 'multicast', r.ip, 'etag', String(r.etag ?? 0), 'rd', r.rd,
    ...(r.rt && r.rt.length ? ['rt', ...r.rt] : []),
    'encap', 'vxlan',
    ...(r.pmsi ? ['pmsi', 'ingress-repl', String(r.pmsi.label), r.pmsi.endpoint] : []),
    ...(r.nexthop ? ['nexthop', r.nexthop] : []),
    ...(r.extra ?? []),
  ];
}

// ---------------------------------------------------------------------------
// Flat views of `gobgp -j` EVPN paths

interface GobgpRd { type?: number; admin?: string | number; assigned?: number }
interface GobgpEvpnValue { rd?: GobgpRd; mac?: string; ip?: string; labels?: number[] }

/** GoBGP paths (from rib() or adjIn()) as EvpnPathView. */
export function gobgpEvpnPaths(lists: GobgpPath[][]): EvpnPathView[] {
  return lists.flat().map((p) => {
    const v = ((p.nlri as { value?: GobgpEvpnValue }).value ?? {});
    const view: EvpnPathView = {
      routeType: typeof p.nlri.type === 'number' ? p.nlri.type : -1,
      rd: v.rd ? `${String(v.rd.admin)}:${String(v.rd.assigned)}` : '',
      routeTargets: [],
      best: p.best === true,
      valid: true,
    };
    if (v.mac) view.mac = v.mac;
    if (v.ip && v.ip !== '<nil>') view.ip = v.ip;
    if (v.labels) view.labels = v.labels;
    for (const a of p.attrs) {
      if (a.type === 5 && typeof a.value === 'number') view.localPref = a.value;
      else if (a.type === 14 && typeof a.nexthop === 'string') view.nextHop = a.nexthop;
      else if (a.type === 9 && typeof a.value === 'string') view.originatorId = a.value;
      else if (a.type === 10 && Array.isArray(a.value)) view.clusterList = a.value as string[];
      else if (a.type === 2 && Array.isArray(a.as_paths)) {
        view.asPath = (a.as_paths as Array<{ asns?: number[] }>).flatMap((seg) => seg.asns ?? []).join(' ');
      } else if (a.type === 16 && Array.isArray(a.value)) {
        for (const ec of a.value as Array<{ subtype?: number; value?: string }>) {
          if (ec.subtype === 2 && typeof ec.value === 'string') view.routeTargets.push(ec.value);
        }
      }
    }
    if (p['neighbor-ip'] && p['neighbor-ip'] !== '<nil>') view.from = p['neighbor-ip'];
    return view;
  });
}
