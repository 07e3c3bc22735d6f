// FRR (zebra, bgpd, bfdd) started by hand inside a namespace, each instance in
// its own pathspace (`-N <ns>`): sockets and pid files in /var/run/frr/<ns>/, an
// empty vtysh.conf and the daemons' configs (readable by user `frr`) in
// /etc/frr/<ns>/, logs in /tmp/evpn-ha-logs/<ns>/. Daemons are stopped by the PIDs
// in their pid files, and the pathspace directories are removed when the Lab is
// disposed (the logs are kept). Used by the namespace tests (test/lib/frr.ts
// re-exports this module) and by `evpn-ha demo --reflector frr`.
import { chownSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sh, waitFor, type Lab } from './netns.js';

export const FRR_LIBDIR = '/usr/lib/frr';
/** Logs stay here after teardown (one directory per namespace) for post-mortem reading. */
export const FRR_LOG_ROOT = '/tmp/evpn-ha-logs';

export type FrrDaemon = 'zebra' | 'bgpd' | 'bfdd';

export interface FrrOptions {
  /** bgpd configuration, e.g. from rrConfig(). */
  bgpdConf: string;
  /** Start zebra (default true). Without zebra, bgpd runs with --no_zebra. */
  zebra?: boolean;
  /** zebra configuration (default: hostname only). */
  zebraConf?: string;
  /** Start bfdd (default false). Needs zebra. */
  bfdd?: boolean;
  /** bfdd configuration, e.g. bfdConfig() for the profile rrConfig({ bfd }) refers to. */
  bfddConf?: string;
  /** How long to wait for each daemon's vty socket (default 10 s). */
  startTimeoutMs?: number;
  /** Extra bgpd arguments, e.g. ['-l', '192.168.1.2'] to listen on one address. */
  bgpdArgs?: string[];
  /** Directory for the daemons' logs (default FRR_LOG_ROOT/<ns>). */
  logDir?: string;
  /**
   * Stop the daemons when the Lab is disposed (default true). With false the
   * caller stops them (handle.stop()), e.g. to leave them running.
   */
  stopOnDispose?: boolean;
}

export interface FrrHandle {
  readonly ns: string;
  /** /var/run/frr/<ns>: vty sockets and pid files. */
  readonly runDir: string;
  /** /etc/frr/<ns>: configuration files (and the empty vtysh.conf). */
  readonly confDir: string;
  /** Per-daemon log files (kept after teardown under FRR_LOG_ROOT). */
  readonly logs: Partial<Record<FrrDaemon, string>>;
  readonly daemons: readonly FrrDaemon[];
  /** Run one or more vtysh commands (each `-c`) and return stdout. */
  vtysh(...cmds: string[]): string;
  /** Run one `show ... json` command (`json` appended when missing) and parse it. */
  vtyshJson(cmd: string): unknown;
  /** Apply configuration lines in `configure terminal` mode. */
  configure(...lines: string[]): string;
  /** PID of a running daemon, from its pid file. */
  pid(d: FrrDaemon): number | undefined;
  /** Last `lines` lines of every log, for a failing test's diagnostics. */
  logTail(lines?: number): string;
  /** Kill the daemons by PID (SIGTERM, then SIGKILL). Idempotent. */
  stop(): void;
}

function frrIds(): { uid: number; gid: number } {
  const uid = Number(sh('id', ['-u', 'frr']).trim());
  const gid = Number(sh('id', ['-g', 'frr']).trim());
  return { uid, gid };
}

function writeFrrFile(path: string, text: string, ids: { uid: number; gid: number }): void {
  writeFileSync(path, text, { mode: 0o640 });
  chownSync(path, ids.uid, ids.gid);
}

function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/**
 * Start FRR inside `ns` (a namespace of `lab`). Resolves once every daemon's vty
 * socket answers. The instance is stopped and its pathspace removed on lab dispose.
 */
export async function startFrr(lab: Lab, ns: string, opts: FrrOptions): Promise<FrrHandle> {
  const ids = frrIds();
  const runDir = `/var/run/frr/${ns}`;
  const confDir = `/etc/frr/${ns}`;
  const logDir = opts.logDir ?? join(FRR_LOG_ROOT, ns);
  for (const d of [runDir, confDir, logDir]) {
    mkdirSync(d, { recursive: true });
    chownSync(d, ids.uid, ids.gid);
  }
  writeFrrFile(join(confDir, 'vtysh.conf'), '', ids);

  const withZebra = opts.zebra ?? true;
  const daemons: FrrDaemon[] = [];
  if (withZebra) daemons.push('zebra');
  if (opts.bfdd) {
    if (!withZebra) throw new Error('bfdd needs zebra');
    daemons.push('bfdd');
  }
  daemons.push('bgpd');

  const confs: Record<FrrDaemon, string> = {
    zebra: opts.zebraConf ?? `hostname ${ns}\n`,
    bfdd: opts.bfddConf ?? `hostname ${ns}\n`,
    bgpd: opts.bgpdConf,
  };
  const logs: Partial<Record<FrrDaemon, string>> = {};
  let stopped = false;

  const pid = (d: FrrDaemon): number | undefined => {
    try {
      const n = Number(readFileSync(join(runDir, `${d}.pid`), 'utf8').trim());
      return Number.isInteger(n) && n > 0 ? n : undefined;
    } catch { return undefined; }
  };

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    const pids = [...daemons].reverse().map(pid).filter((p): p is number => p !== undefined);
    for (const p of pids) { try { process.kill(p, 'SIGTERM'); } catch { /* gone */ } }
    const deadline = Date.now() + 2000;
    while (pids.some(isAlive) && Date.now() < deadline) sleepMs(20);
    for (const p of pids) { if (isAlive(p)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } } }
    rmSync(runDir, { recursive: true, force: true });
    rmSync(confDir, { recursive: true, force: true });
  };
  if (opts.stopOnDispose ?? true) lab.onDispose(stop);

  const vtyshArgs = (cmds: string[]): string[] => ['-N', ns, ...cmds.flatMap((c) => ['-c', c])];
  const vtysh = (...cmds: string[]): string => {
    try {
      return sh('vtysh', vtyshArgs(cmds));
    } catch (e) {
      // vtysh prints command errors ("% Unknown command") on stdout.
      const out = (e as { stdout?: string }).stdout ?? '';
      throw new Error(`vtysh -N ${ns} ${cmds.map((c) => `-c '${c}'`).join(' ')} failed: ${out.trim() || String(e)}`);
    }
  };

  const handle: FrrHandle = {
    ns, runDir, confDir, logs, daemons,
    vtysh,
    vtyshJson(cmd: string): unknown {
      const c = /\bjson\s*$/.test(cmd) ? cmd : `${cmd} json`;
      return JSON.parse(vtysh(c)) as unknown;
    },
    configure(...lines: string[]): string {
      return vtysh('configure terminal', ...lines);
    },
    pid,
    logTail(lines = 40): string {
      return Object.entries(logs).map(([d, path]) => {
        let text = '';
        try { text = readFileSync(path, 'utf8').split('\n').slice(-lines).join('\n'); } catch { /* none */ }
        return `--- ${d} (${path}) ---\n${text}`;
      }).join('\n');
    },
    stop,
  };

  for (const d of daemons) {
    const conf = join(confDir, `${d}.conf`);
    writeFrrFile(conf, confs[d], ids);
    const log = join(logDir, `${d}.log`);
    logs[d] = log;
    const args = ['-d', '-N', ns, '-f', conf, '-i', join(runDir, `${d}.pid`), '-P', '0', '--log', `file:${log}`, '--log-level', 'debug'];
    if (d === 'zebra') args.push('-s', '90000000');
    if (d === 'bgpd') {
      if (!withZebra) args.push('-Z');
      args.push(...(opts.bgpdArgs ?? []));
    }
    try {
      sh('ip', ['netns', 'exec', ns, join(FRR_LIBDIR, d), ...args]);
    } catch (e) {
      throw new Error(`starting ${d} in ${ns} failed: ${String(e)}\n${handle.logTail()}`);
    }
    const sock = join(runDir, `${d}.vty`);
    await waitFor(() => existsSync(sock) && pid(d) !== undefined, opts.startTimeoutMs ?? 10000, `${d} vty socket in ${ns}`)
      .catch((e: unknown) => { throw new Error(`${String(e)}\n${handle.logTail()}`); });
  }
  return handle;
}

// ---------------------------------------------------------------------------
// Configuration generators

export interface BfdTimers {
  /** Desired min TX interval, ms. */
  minTx: number;
  /** Required min RX interval, ms. */
  minRx: number;
  multiplier: number;
}

export interface RrOptions {
  asn: number;
  routerId: string;
  /** One or more prefixes for `bgp listen range`, e.g. '192.168.1.0/24'. */
  listenRange: string | string[];
  clusterId?: string;
  /**
   * AS of the dynamic clients: 'internal' (default, iBGP: route reflection),
   * 'external' (any AS but ours) or a number. With eBGP clients FRR cannot make
   * them route-reflector-clients; the RR then behaves as a plain eBGP speaker
   * (see docs/interop.md): it prepends its AS, drops LOCAL_PREF, keeps the EVPN
   * next hop, and clients sharing an AS reject each other's routes (AS loop).
   */
  clientAs?: 'internal' | 'external' | number;
  /** BGP keepalive/hold, seconds (default 3/9, as in the published setups). */
  timers?: { keepalive: number; hold: number };
  /** `neighbor CLIENTS bfd profile evpn-ha` with these timers (put bfdConfig() in bfdd). */
  bfd?: BfdTimers;
  /** Peer-group name (default CLIENTS). */
  peerGroup?: string;
  hostname?: string;
  /** Extra lines inside `router bgp`, before the address family. */
  extra?: string[];
}

/** The bfdd configuration matching RrOptions.bfd (profile `evpn-ha`). */
export function bfdConfig(t: BfdTimers, profile = 'evpn-ha'): string {
  return [
    'bfd',
    ` profile ${profile}`,
    `  transmit-interval ${t.minTx}`,
    `  receive-interval ${t.minRx}`,
    `  detect-multiplier ${t.multiplier}`,
    ' exit',
    'exit',
    '',
  ].join('\n');
}

/**
 * bgpd configuration for the design brief's route reflector: dynamic clients from
 * `bgp listen range` in one peer-group, reflected under address-family l2vpn evpn.
 */
export function rrConfig(o: RrOptions): string {
  const pg = o.peerGroup ?? 'CLIENTS';
  const ranges = Array.isArray(o.listenRange) ? o.listenRange : [o.listenRange];
  const clientAs = o.clientAs ?? 'internal';
  const ibgp = clientAs === 'internal' || clientAs === o.asn;
  const t = o.timers ?? { keepalive: 3, hold: 9 };
  const lines = [
    'frr defaults traditional',
    `hostname ${o.hostname ?? 'rr'}`,
    'log timestamp precision 3',
    '!',
    `router bgp ${o.asn}`,
    ` bgp router-id ${o.routerId}`,
    ...(o.clusterId ? [` bgp cluster-id ${o.clusterId}`] : []),
    ' no bgp ebgp-requires-policy',
    ' no bgp default ipv4-unicast',
    ' no bgp network import-check',
    ' bgp log-neighbor-changes',
    ` timers bgp ${t.keepalive} ${t.hold}`,
    ` neighbor ${pg} peer-group`,
    ` neighbor ${pg} remote-as ${clientAs}`,
    ` neighbor ${pg} timers ${t.keepalive} ${t.hold}`,
    ...(o.bfd ? [` neighbor ${pg} bfd`, ` neighbor ${pg} bfd profile evpn-ha`] : []),
    ...ranges.map((r) => ` bgp listen range ${r} peer-group ${pg}`),
    ...(o.extra ?? []).map((l) => ` ${l.trim()}`),
    ' !',
    ' address-family l2vpn evpn',
    `  neighbor ${pg} activate`,
    // FRR refuses route-reflector-client for eBGP peers; for l2vpn evpn it keeps the
    // next hop unchanged towards eBGP peers anyway (checked with 8.4.4).
    ...(ibgp ? [`  neighbor ${pg} route-reflector-client`] : []),
    ' exit-address-family',
    'exit',
    '!',
    '',
  ];
  return lines.join('\n');
}

/**
 * startFrr() options for the FRR route reflector of one network of the two-network
 * lab (src/lab/twonet.ts): AS 65001 on network 1, 65002 on network 2, clients from
 * 192.168.<index>.0/24 (or `at.listenRange`, e.g. 2001:db8:1::/64 on the IPv6 lab),
 * timers 3/9, hostname rr<index>; with BFD, bfdd and the evpn-ha profile. The
 * failover benchmark and `evpn-ha demo --reflector frr` run it.
 */
export function twoNetReflectorOptions(
  net: { index: 1 | 2; rrAddress: string }, bfd?: BfdTimers, at: { listenRange?: string; routerId?: string } = {},
): FrrOptions {
  return {
    bgpdConf: rrConfig({
      asn: net.index === 1 ? 65001 : 65002, routerId: at.routerId ?? net.rrAddress, hostname: `rr${net.index}`,
      listenRange: at.listenRange ?? `192.168.${net.index}.0/24`, timers: { keepalive: 3, hold: 9 },
      ...(bfd ? { bfd } : {}),
    }),
    bfdd: bfd !== undefined,
    ...(bfd ? { bfddConf: bfdConfig(bfd) } : {}),
  };
}

export interface EvpnSpeakerOptions {
  asn: number;
  routerId: string;
  /** Static neighbors (address → remote AS, or 'internal'/'external'). */
  neighbors: Array<{
    address: string;
    remoteAs: number | 'internal' | 'external';
    updateSource?: string;
    /** BFD on this session: true, or a bfdd profile name (see bfdConfig()). Needs bfdd. */
    bfd?: boolean | string;
    /** Set LOCAL_PREF on EVPN routes received from this neighbor (route-map in), as the published FRR setup does. */
    localPref?: number;
  }>;
  /** `advertise-all-vni` (originate type-2/3 from the kernel's VXLAN devices; needs zebra). */
  advertiseAllVni?: boolean;
  /** `advertise-svi-ip` (originate the bridge's own MAC+IP). */
  advertiseSviIp?: boolean;
  timers?: { keepalive: number; hold: number };
  /** ConnectRetry timer, seconds (default 1 for tests; FRR's own default is 120). */
  connectRetry?: number;
  hostname?: string;
  /** Extra lines under `address-family l2vpn evpn`. */
  evpnExtra?: string[];
  /** Extra top-level lines after `router bgp` (route-maps, bfd, ...). */
  extra?: string[];
}

const routeMapName = (address: string): string => `LP-${address.replace(/[.:]/g, '-')}`;

/**
 * The design brief's FRR server configuration (seeds/000): one peer-group RR to the
 * two reflectors 192.168.1.2 (local-preference 200) and 192.168.2.2 (100),
 * advertise-all-vni + advertise-svi-ip, next-hop-self, no type-3 out; the route-map
 * names made consistent and both route-maps defined (the brief has typos). `bfd`
 * adds `neighbor RR bfd` with the bfdd profile `evpn-ha` (bfdConfig()).
 */
export function briefServerConfig(o: { hostname: string; routerId: string; bfd?: boolean }): string {
  return [
    'frr defaults traditional',
    `hostname ${o.hostname}`,
    'log timestamp precision 3',
    '!',
    'route-map NO_TYPE3 deny 10',
    ' match evpn route-type 3',
    'exit',
    'route-map NO_TYPE3 permit 20',
    'exit',
    'route-map PRIMARY-LINK permit 10',
    ' set local-preference 200',
    'exit',
    'route-map BACKUP-LINK permit 10',
    ' set local-preference 100',
    'exit',
    '!',
    'router bgp 65001',
    ` bgp router-id ${o.routerId}`,
    ' no bgp default ipv4-unicast',
    ' bgp log-neighbor-changes',
    ' neighbor RR peer-group',
    ' neighbor RR remote-as 65001',
    ' neighbor RR capability extended-nexthop',
    ' neighbor RR timers 3 9',
    // FRR's default connect timer is 120 s; the brief leaves it, a test cannot wait that long.
    ' neighbor RR timers connect 1',
    ...(o.bfd ? [' neighbor RR bfd', ' neighbor RR bfd profile evpn-ha'] : []),
    ...BRIEF_SERVER_NEIGHBORS,
    '!',
    '',
  ].join('\n');
}

/** The brief's neighbors and EVPN address family (also in its as-printed version, e2e-frr). */
export const BRIEF_SERVER_NEIGHBORS: readonly string[] = [
  ' neighbor 192.168.1.2 peer-group RR',
  ' neighbor 192.168.2.2 peer-group RR',
  ' address-family l2vpn evpn',
  '  neighbor RR route-map NO_TYPE3 out',
  '  neighbor 192.168.1.2 route-map PRIMARY-LINK in',
  '  neighbor 192.168.2.2 route-map BACKUP-LINK in',
  '  neighbor RR next-hop-self',
  '  neighbor RR activate',
  '  advertise-all-vni',
  '  advertise-svi-ip',
  ' exit-address-family',
  'exit',
];

/** bgpd configuration for an FRR VTEP / plain EVPN speaker with static neighbors. */
export function evpnSpeakerConfig(o: EvpnSpeakerOptions): string {
  const t = o.timers ?? { keepalive: 3, hold: 9 };
  return [
    'frr defaults traditional',
    `hostname ${o.hostname ?? 'vtep'}`,
    'log timestamp precision 3',
    '!',
    `router bgp ${o.asn}`,
    ` bgp router-id ${o.routerId}`,
    ' no bgp ebgp-requires-policy',
    ' no bgp default ipv4-unicast',
    ' bgp log-neighbor-changes',
    ` timers bgp ${t.keepalive} ${t.hold}`,
    ...o.neighbors.flatMap((n) => [
      ` neighbor ${n.address} remote-as ${n.remoteAs}`,
      ` neighbor ${n.address} timers ${t.keepalive} ${t.hold}`,
      // FRR's default connect-retry is 120 s: a peer that starts second would wait that long.
      ` neighbor ${n.address} timers connect ${o.connectRetry ?? 1}`,
      ...(n.updateSource ? [` neighbor ${n.address} update-source ${n.updateSource}`] : []),
      ...(n.bfd ? [` neighbor ${n.address} bfd`] : []),
      ...(typeof n.bfd === 'string' ? [` neighbor ${n.address} bfd profile ${n.bfd}`] : []),
    ]),
    ' !',
    ' address-family l2vpn evpn',
    ...o.neighbors.flatMap((n) => [
      `  neighbor ${n.address} activate`,
      ...(n.localPref !== undefined ? [`  neighbor ${n.address} route-map ${routeMapName(n.address)} in`] : []),
    ]),
    ...(o.advertiseAllVni ? ['  advertise-all-vni'] : []),
    ...(o.advertiseSviIp ? ['  advertise-svi-ip'] : []),
    ...(o.evpnExtra ?? []).map((l) => `  ${l.trim()}`),
    ' exit-address-family',
    'exit',
    '!',
    ...o.neighbors.filter((n) => n.localPref !== undefined).flatMap((n) => [
      `route-map ${routeMapName(n.address)} permit 10`,
      ` set local-preference ${n.localPref}`,
      'exit',
      '!',
    ]),
    ...(o.extra ?? []),
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------
// Queries

/** State of one BGP neighbor as FRR reports it (`show bgp neighbors <addr> json`). */
export function frrPeerState(frr: FrrHandle, address: string): string | undefined {
  const j = frr.vtyshJson(`show bgp neighbors ${address}`) as Record<string, { bgpState?: string } | undefined>;
  return j[address]?.bgpState;
}

/** Wait until FRR reports the neighbor Established. */
export async function waitFrrEstablished(frr: FrrHandle, address: string, timeoutMs = 20000): Promise<void> {
  await waitFor(() => frrPeerState(frr, address) === 'Established', timeoutMs, `FRR ${frr.ns} neighbor ${address} Established`)
    .catch((e: unknown) => { throw new Error(`${String(e)}\n${frr.logTail(20)}`); });
}
