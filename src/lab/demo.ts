// `evpn-ha demo`: the design brief's two-network topology in network namespaces,
// with two `evpn-ha reflector`s and two `evpn-ha run` agents, a 10 ms ping between
// the service addresses, network 1 blackholed on server-l and healed again, and a
// timeline of the failover and the failback built from the agents' event streams
// (the control socket's `watch`, as `evpn-ha watch --json` prints it).
// docs/demo.md shows a run.
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { accessSync, constants, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import type { Writable } from 'node:stream';
import { ControlClient } from '../control/client.js';
import { FRR_LIBDIR, startFrr, twoNetReflectorOptions, type FrrHandle } from './frr.js';
import type { ChildProcess } from 'node:child_process';
import { isRoot, Lab, nsExec, sh, sleep, waitFor } from './netns.js';
import { type Seen, SERVER_LABEL, signedMs, describe, type RowKind, type LogRow, logRows } from './demo-timeline.js';
export { logRows } from './demo-timeline.js';
import { ContainerMoves, CONTAINER_NAMESPACES, type MoveResult } from './demo-containers.js';
import { defaultEvpnHaCommand, TwoNetworkLab, type AgentTuning, type PingRun, type ReflectorTuning } from './twonet.js';

export interface DemoOptions {
  out: Writable;
  /** Namespace name prefix (default `ehd` + 4 random hex digits). */
  prefix?: string;
  /** Leave the topology running and print how to explore and remove it. */
  keep?: boolean;
  /** How long the fault lasts, ms (default 3000). */
  faultMs?: number;
  /**
   * 'uplink' (default): server-l's eth1 blackholed, BGP, BFD and VXLAN alike.
   * 'path': only the VTEP-to-VTEP path on network 1 (server-l <-> server-r); both
   * servers keep their sessions to rr1, so only the VTEP probes can see it.
   */
  fault?: FaultKind;
  /** How to start evpn-ha (default: this node + bin/evpn-ha). */
  evpnHa?: string[];
  /** Route reflectors: `evpn-ha reflector` (default) or FRR bgpd + bfdd. */
  reflector?: ReflectorKind;
  /**
   * IPv6-only underlays (2001:db8:1::/64, 2001:db8:2::/64): BGP, BFD and VXLAN over
   * IPv6, IPv6 listen ranges on the reflectors, ip6tables for the faults. The
   * overlay (service addresses) stays IPv4.
   */
  ipv6?: boolean;
  /**
   * Instead of the fault: a container on server-l (advertiseEndpoints on the VNI),
   * pinged from both servers, moved to server-r and back (demo-containers.ts).
   */
  containers?: boolean;
}

export type ReflectorKind = 'evpn-ha' | 'frr';
export type FaultKind = 'uplink' | 'path';

/** The fault's wording; `a`/`b` are server-l's and server-r's network-1 addresses, `tool` iptables or ip6tables. */
function faultText(kind: FaultKind, a: string, b: string, tool: string): { step: string; row: string; heal: string; healed: string } {
  return kind === 'uplink'
    ? {
      step: `blackholing network 1 on server-l for %s (${tool} DROP in and out on eth1, carrier stays up)`,
      row: 'network 1 blackholed on server-l (eth1, both directions)',
      heal: `healing network 1 (${tool} rules removed)`,
      healed: 'network 1 healed on server-l',
    }
    : {
      step: `breaking only the VTEP-to-VTEP path on network 1 for %s (server-l drops ${b} <-> ${a}; both servers still reach rr1)`,
      row: `path ${a} <-> ${b} broken on server-l (sessions to rr1 unaffected)`,
      heal: `repairing the network-1 path (${tool} rules removed)`,
      healed: `path ${a} <-> ${b} repaired`,
    };
}

export const PREFIX_RE = /^[A-Za-z][A-Za-z0-9]{1,11}$/;

/** Random default prefix: `ehd` + 4 hex digits. */
export function defaultPrefix(): string {
  return `ehd${randomBytes(2).toString('hex')}`;
}

/**
 * How to start evpn-ha in the namespaces: this very executable when running as a
 * single executable (dist/evpn-ha), else this node with bin/evpn-ha.
 */
export function demoEvpnHaCommand(): string[] {
  try {
    const sea = createRequire(import.meta.url)('node:sea') as { isSea(): boolean };
    if (sea.isSea()) return [process.execPath];
  } catch { /* not a single executable, or a Node without node:sea */ }
  return defaultEvpnHaCommand();
}

/** A Lab whose namespaces are named `<prefix>-<name>` with a prefix of our choosing. */
class DemoLab extends Lab {
  constructor(prefix: string) {
    super('');
    (this as unknown as { prefix: string }).prefix = prefix;
  }
}

const TOOLS: Array<{ cmd: string; pkg: string }> = [
  { cmd: 'ip', pkg: 'iproute2' },
  { cmd: 'bridge', pkg: 'iproute2' },
  { cmd: 'ping', pkg: 'iputils-ping' },
  { cmd: 'iptables', pkg: 'iptables' },
];
/** The IPv6 demo's faults are ip6tables rules. */
const TOOLS_V6: Array<{ cmd: string; pkg: string }> = [{ cmd: 'ip6tables', pkg: 'iptables' }];

function onPath(cmd: string): boolean {
  const dirs = (process.env['PATH'] ?? '').split(delimiter).concat(['/usr/sbin', '/sbin', '/usr/bin', '/bin']);
  for (const d of dirs) {
    if (!d) continue;
    try { accessSync(join(d, cmd), constants.X_OK); return true; } catch { /* next */ }
  }
  return false;
}

/** Why the demo cannot run here (one line), or null. */
export function demoPrerequisite(reflector: ReflectorKind = 'evpn-ha', ipv6 = false): string | null {
  if (!isRoot()) return 'the demo needs root (it creates network namespaces): run it with sudo';
  for (const t of ipv6 ? [...TOOLS, ...TOOLS_V6] : TOOLS) {
    if (!onPath(t.cmd)) return `"${t.cmd}" not found: install the Debian package ${t.pkg} (apt-get install ${t.pkg})`;
  }
  if (reflector === 'frr') {
    for (const d of ['zebra', 'bgpd', 'bfdd']) {
      try { accessSync(join(FRR_LIBDIR, d), constants.X_OK); } catch { return `${join(FRR_LIBDIR, d)} not found: install the Debian package frr (apt-get install frr)`; }
    }
    if (!onPath('vtysh')) return '"vtysh" not found: install the Debian package frr (apt-get install frr)';
    try { sh('id', ['-u', 'frr']); } catch { return 'no user "frr": install the Debian package frr (apt-get install frr)'; }
  }
  return null;
}

/** The namespaces the demo creates, after the prefix. */
export const DEMO_NAMESPACES = ['sw1', 'sw2', 'rr1', 'rr2', 'srvl', 'srvr'] as const;

/** Existing namespaces of a demo with this prefix (only the names the demo uses, --containers' too). */
export function demoNamespaces(prefix: string): string[] {
  const ours = new Set<string>([...DEMO_NAMESPACES, ...CONTAINER_NAMESPACES].map((n) => `${prefix}-${n}`));
  const out = sh('ip', ['netns', 'list']);
  return out.split('\n').map((l) => l.split(/\s+/)[0] ?? '').filter((n) => ours.has(n));
}

/**
 * Remove what a demo with this prefix left: the processes in its namespaces
 * (SIGTERM, then SIGKILL), the namespaces, its working directory. Returns the
 * namespaces removed.
 */
export async function teardownDemo(prefix: string): Promise<string[]> {
  if (!PREFIX_RE.test(prefix)) throw new Error(`bad prefix "${prefix}" (letters and digits, 2-12 characters)`);
  const nss = demoNamespaces(prefix);
  const pids = (ns: string): number[] => {
    try { return sh('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean).map(Number); } catch { return []; }
  };
  const all = nss.flatMap(pids);
  for (const p of all) { try { process.kill(p, 'SIGTERM'); } catch { /* gone */ } }
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline && nss.some((ns) => pids(ns).length > 0)) await sleep(50);
  for (const ns of nss) for (const p of pids(ns)) { try { process.kill(p, 'SIGKILL'); } catch { /* gone */ } }
  for (const ns of nss) { try { sh('ip', ['netns', 'del', ns]); } catch { /* gone */ } }
  // The working directory (mkdtemp: `<prefix>-XXXXXX` holding the agents' configs),
  // and FRR's pathspaces (--reflector frr).
  const names = (dir: string): string[] => { try { return readdirSync(dir); } catch { return []; } };
  for (const d of names(tmpdir())) {
    const path = join(tmpdir(), d);
    if (new RegExp(`^${prefix}-[A-Za-z0-9]{6}$`).test(d) && (existsSync(join(path, 'logs')) || existsSync(join(path, 'agent-l.yaml')))) {
      rmSync(path, { recursive: true, force: true });
    }
  }
  for (const parent of ['/var/run/frr', '/etc/frr']) {
    for (const d of names(parent)) if (d === `${prefix}-rr1` || d === `${prefix}-rr2`) rmSync(join(parent, d), { recursive: true, force: true });
  }
  return nss;
}

export class Demo {
  readonly prefix: string;
  private lab: DemoLab | null = null;
  private tn: TwoNetworkLab | null = null;
  private readonly watchers: ControlClient[] = [];
  private readonly events: Seen[] = [];
  private ping: PingRun | null = null;
  private moves: ContainerMoves | null = null;
  private readonly frr: FrrHandle[] = [];
  private readonly daemons: Array<{ name: string; child: ChildProcess }> = [];
  private faultText = faultText('uplink', '', '', 'iptables');
  private kept = false;
  private undoFault: (() => void) | null = null;
  private logDir = '';
  private step = 0;
  private readonly steps = 9;
  private readonly started = Date.now();
  private disposed = false;

  constructor(private readonly o: DemoOptions) {
    this.prefix = o.prefix ?? defaultPrefix();
    if (!PREFIX_RE.test(this.prefix)) throw new Error(`bad prefix "${this.prefix}" (letters and digits, 2-12 characters)`);
  }

  private say(line = ''): void {
    this.o.out.write(`${line}\n`);
  }

  private begin(what: string): void {
    this.step++;
    const t = ((Date.now() - this.started) / 1000).toFixed(1).padStart(5);
    this.say(`\n[${this.step}/${this.steps}] ${what}  (t=${t} s)`);
  }

  private detail(line: string): void {
    this.say(`      ${line}`);
  }

  /** waitFor(), but failing at once when one of our daemons has exited. */
  private async until<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string, intervalMs = 50): Promise<NonNullable<T>> {
    return waitFor(fn, timeoutMs, what, intervalMs, () => {
      const dead = this.daemons.find((d) => d.child.exitCode !== null || d.child.signalCode !== null);
      return dead ? `${dead.name} exited (${dead.child.exitCode !== null ? `code ${dead.child.exitCode}` : dead.child.signalCode})` : null;
    });
  }

  /** The last lines of every daemon's log (for a failed run, before dispose() removes them). */
  logTails(lines = 8): string {
    if (!this.logDir) return '';
    const out: string[] = [];
    let files: string[] = [];
    try { files = readdirSync(this.logDir).filter((f) => f.endsWith('.log')).sort(); } catch { return ''; }
    for (const f of files) {
      let text = '';
      try { text = readFileSync(join(this.logDir, f), 'utf8').trimEnd(); } catch { continue; }
      if (!text) continue;
      const tail = text.split('\n').slice(-lines);
      out.push(`--- ${f} (last ${tail.length} lines) ---`, ...tail.map((l) => (l.length > 300 ? `${l.slice(0, 300)}...` : l)));
    }
    return out.length ? `${out.join('\n')}\n` : '';
  }

  /** Kill everything and delete the namespaces (idempotent; also for Ctrl-C). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const w of this.watchers.splice(0)) w.close();
    this.ping?.stop();
    this.moves?.stop();
    try { this.undoFault?.(); } catch { /* the namespace may be gone */ }
    this.lab?.dispose();
  }

  /** Run the whole demo; returns the exit code. Throws on failures (the caller disposes). */
  async run(): Promise<number> {
    const o = this.o;
    const faultMs = o.faultMs ?? 3000;
    const evpnHa = o.evpnHa ?? demoEvpnHaCommand();

    this.begin('checking prerequisites');
    const reflector = o.reflector ?? 'evpn-ha';
    const family = o.ipv6 ? 6 : 4;
    const pre = demoPrerequisite(reflector, family === 6);
    if (pre) throw new Error(pre);
    const version = sh(evpnHa[0]!, [...evpnHa.slice(1), '--version']).trim();
    this.detail(`root: yes; ip, bridge, ping, iptables${family === 6 ? ', ip6tables' : ''}${reflector === 'frr' ? ', FRR' : ''}: found; evpn-ha ${version} (${evpnHa.join(' ')})`);
    if (demoNamespaces(this.prefix).length > 0) throw new Error(`namespaces with prefix ${this.prefix}- exist already (evpn-ha demo --teardown ${this.prefix})`);

    this.begin(`building the two-network topology in namespaces ${this.prefix}-*${family === 6 ? ' (IPv6 underlays, IPv4 overlay)' : ''}`);
    const lab = new DemoLab(this.prefix);
    this.lab = lab;
    const tn = new TwoNetworkLab(lab, evpnHa, family);
    this.tn = tn;
    tn.build();
    const { l, r } = tn.servers;
    const { net1, net2 } = tn.networks;
    this.detail(`network 1: switch ${net1.switchNs}, reflector ${net1.rrNs} ${net1.rrAddress}`);
    this.detail(`network 2: switch ${net2.switchNs}, reflector ${net2.rrNs} ${net2.rrAddress}`);
    for (const s of [l, r]) {
      this.detail(`server-${s.name} (${s.ns}): eth1 ${s.address.net1}, eth2 ${s.address.net2}, ` +
        `br-vxlan ${s.service} (${s.mac}), vxlan0 VNI 100 dstport 4789 nolearning${family === 6 ? ' local :: (IPv6)' : ''}`);
    }
    if (o.containers) {
      const moves = new ContainerMoves({
        lab, tn, events: this.events, say: (l) => this.say(l), begin: (w) => this.begin(w), detail: (l) => this.detail(l),
        until: (fn, ms, what, every) => this.until(fn, ms, what, every),
      });
      this.moves = moves;
      const c = moves.place();
      this.detail(`container ${c.ns}: eth0 ${moves.c.ip}/24 (${moves.c.mac}), its veth peer ${c.port} a port of server-l's br-vxlan`);
    }
    const logDir = join(tn.dir, 'logs');
    this.logDir = logDir;
    mkdirSync(logDir, { recursive: true });

    const bfd = { minTx: 100, minRx: 100, multiplier: 3 };
    if (reflector === 'frr') {
      this.begin('starting route reflectors (FRR zebra + bgpd + bfdd) in rr1 and rr2');
      lab.onDispose(() => { if (!this.kept) for (const h of this.frr) h.stop(); });
      for (const net of [net1, net2]) {
        const h = await startFrr(lab, net.rrNs, {
          ...twoNetReflectorOptions(net, bfd, { listenRange: tn.subnet(net.name), routerId: tn.reflectorRouterId(net.name) }), logDir: join(logDir, `rr${net.index}-frr`), stopOnDispose: false,
        });
        this.frr.push(h);
      }
    } else {
      this.begin('starting route reflectors (evpn-ha reflector) in rr1 and rr2');
      const rrTuning = (asn: number): ReflectorTuning => ({ asn, bfd, holdTime: 9, keepalive: 3 });
      this.daemons.push({ name: 'the reflector in rr1', child: tn.startReflector('net1', rrTuning(65001), { logFile: join(logDir, 'rr1.log') }).child });
      this.daemons.push({ name: 'the reflector in rr2', child: tn.startReflector('net2', rrTuning(65002), { logFile: join(logDir, 'rr2.log') }).child });
    }
    this.detail(`rr1: ${net1.rrAddress} AS 65001, listen range ${tn.subnet('net1')} (route-reflector clients), BFD 100 ms x 3`);
    this.detail(`rr2: ${net2.rrAddress} AS 65002, listen range ${tn.subnet('net2')} (route-reflector clients), BFD 100 ms x 3`);

    this.begin('starting agents (evpn-ha run) on server-l and server-r');
    const tuning: AgentTuning = {
      asn: { net1: 65001, net2: 65002 }, localPref: { net1: 200, net2: 100 },
      holdTime: 9, keepalive: 3, connectRetry: 1, bfd,
      vtepProbe: { interval: 100, multiplier: 3, holdDown: 1000 },
      ...(o.containers ? { vniExtra: ['advertiseEndpoints: true'] } : {}),
    };
    this.daemons.push({ name: 'the agent on server-l', child: tn.startAgent('l', tuning, { logFile: join(logDir, 'agent-l.log') }).child });
    this.daemons.push({ name: 'the agent on server-r', child: tn.startAgent('r', tuning, { logFile: join(logDir, 'agent-r.log') }).child });
    this.detail('uplink net1: eth1 -> rr1, AS 65001, local-pref 200 (primary); BFD 100 ms x 3');
    this.detail('uplink net2: eth2 -> rr2, AS 65002, local-pref 100 (backup);  BFD 100 ms x 3');
    this.detail('VTEP probes 100 ms x 3 (hold-down 1 s); hold time 9 s');
    if (o.containers) this.detail('VNI 100: advertiseEndpoints: true (so flood and arpSuppress on; mobility maxMoves 5 in 180 s)');
    this.detail(`configs, sockets and logs in ${tn.dir}`);

    this.begin('waiting for sessions, routes and kernel entries');
    const t0 = Date.now();
    for (const s of ['l', 'r'] as const) {
      await this.until(async () => {
        try { (await ControlClient.connect(tn.socketPath(s))).close(); return true; } catch { return false; }
      }, 20_000, `server-${s}'s control socket`, 100);
      const c = await ControlClient.connect(tn.socketPath(s));
      this.watchers.push(c);
      void c.watch((ev) => { this.events.push({ server: s, at: Date.parse(ev.time), ev }); }).catch(() => undefined);
    }
    await this.until(() => tn.fdbDst('l', r.mac) === r.address.net1 && tn.fdbDst('r', l.mac) === l.address.net1 &&
      tn.neigh('l', r.service) !== null && tn.neigh('r', l.service) !== null, 30_000, 'FDB and neighbour entries on both servers', 100);
    this.detail(`both servers programmed in ${Date.now() - t0} ms. On server-l:`);
    this.detail(`# ip neigh show dev br-vxlan ${r.service}`);
    for (const line of nsExec(l.ns, 'ip', ['neigh', 'show', 'dev', 'br-vxlan', r.service]).trim().split('\n')) this.detail(`  ${line}`);
    this.detail('# bridge fdb show dev vxlan0');
    let nhid: string | undefined;
    for (const line of nsExec(l.ns, 'bridge', ['fdb', 'show', 'dev', 'vxlan0']).trim().split('\n')) {
      if (!line.startsWith(r.mac)) continue;
      this.detail(`  ${line}`);
      nhid ??= / nhid (\d+)/.exec(line)?.[1];
    }
    if (nhid !== undefined) {
      // FDB nexthop groups (kernel.nexthopGroups): the entry leads to a group, the group to the VTEP.
      this.detail(`# ip nexthop show id ${nhid}; ip nexthop show fdb`);
      const group = nsExec(l.ns, 'ip', ['nexthop', 'show', 'id', nhid]).trim();
      this.detail(`  ${group}`);
      const member = / group (\d+)/.exec(group)?.[1];
      for (const line of nsExec(l.ns, 'ip', ['nexthop', 'show', 'fdb']).trim().split('\n')) {
        if (member !== undefined && line.startsWith(`id ${member} `)) this.detail(`  ${line}`);
      }
    }
    this.detail(`# evpn-ha show routes --ip ${r.service}`);
    for (const line of tn.evpnHaCli('l', ['show', 'routes', '--ip', r.service, '--socket', tn.socketPath('l')]).trimEnd().split('\n')) this.detail(`  ${line}`);

    await this.moves?.converge();

    let summary: string;
    if (this.moves) summary = await this.containerMoves(this.moves, reflector, family);
    else summary = await this.failoverAndBack(tn, o, faultMs, family, reflector);

    if (o.keep) {
      this.begin('keeping the topology (--keep)');
      for (const w of this.watchers.splice(0)) w.close();
      tn.keep();
      this.kept = true;
      lab.processes.splice(0);
      lab.namespaces.splice(0);
      this.printExplore(tn, evpnHa);
    } else {
      this.begin('tearing down (agents, reflectors, namespaces)');
      this.dispose();
      const left = demoNamespaces(this.prefix);
      this.detail(left.length === 0 ? `all namespaces ${this.prefix}-* deleted` : `left behind: ${left.join(' ')}`);
    }
    this.say('');
    this.say(summary);
    return 0;
  }

  /** Steps 6-8 with --containers: ping the container, move it to server-r and back; returns the summary line. */
  private async containerMoves(moves: ContainerMoves, reflector: ReflectorKind, family: 4 | 6): Promise<string> {
    const c = moves.c;
    this.begin(`pinging the container ${c.ip} from server-l (${this.tn!.servers.l.service}) and server-r (${this.tn!.servers.r.service}) every 10 ms`);
    await moves.startTraffic();
    const results: MoveResult[] = [];
    this.begin(`moving the container to server-r (same MAC ${c.mac} and IP ${c.ip})`);
    results.push(await moves.move());
    this.begin(`moving it back to server-l`);
    results.push(await moves.move());
    moves.stop();
    const each = results.map((m) => `${m.from} -> ${m.to}: sequence ${m.seq ?? '?'}, first reply after ${m.follow ?? '?'} ms, longest gap ${m.gap} ms`);
    return `summary: container ${c.mac} ${c.ip} moved twice (${reflector === 'frr' ? 'FRR' : 'evpn-ha'} reflectors${family === 6 ? ', IPv6 underlays' : ''}): ${each.join('; ')}`;
  }

  /** Steps 6-8 of the default demo: ping, fault and failover, heal and failback; returns the summary line. */
  private async failoverAndBack(tn: TwoNetworkLab, o: DemoOptions, faultMs: number, family: 4 | 6, reflector: ReflectorKind): Promise<string> {
    const { l, r } = tn.servers;
    const neighBefore = this.neighLine(r.service);
    this.begin(`pinging ${r.service} from server-l (${l.service}) every 10 ms`);
    const ping = tn.ping('l', r.service, 10);
    this.ping = ping;
    await this.until(() => ping.replies.length >= 50, 10_000, 'ping replies over network 1', 50);
    this.detail(`${ping.replies.length} replies so far; traffic runs over network 1 (FDB dst ${r.address.net1})`);

    const faultKind = o.fault ?? 'uplink';
    const ft = faultText(faultKind, l.address.net1, r.address.net1, family === 6 ? 'ip6tables' : 'iptables');
    this.faultText = ft;
    this.begin(ft.step.replace('%s', `${(faultMs / 1000).toFixed(1)} s`));
    await sleep(300);
    const fault = Date.now();
    this.undoFault = faultKind === 'uplink' ? tn.blackholeUplink('l', 'net1') : tn.blackholePath('net1');
    const inPlace = Date.now() - fault;
    await this.until(() => tn.fdbDst('l', r.mac) === r.address.net2 && tn.fdbDst('r', l.mac) === l.address.net2 &&
      ping.lastReplyAt() > fault + 200, 10_000, 'failover to network 2', 20);
    const remaining = faultMs - (Date.now() - fault);
    if (remaining > 0) await sleep(remaining);
    this.detail(`fault in place ${inPlace} ms after T0 (both ${family === 6 ? 'ip6tables' : 'iptables'} rules)`);
    this.printTimeline('failover', fault, ping, Date.now());
    const rawOutage = ping.outageAround(fault);
    const outage = rawOutage === null ? null : Math.round(rawOutage);
    this.say('');
    this.detail(`server-l now: ${this.fdbLine(r.mac)}`);
    this.detail(`              ${this.neighLine(r.service)}${this.neighLine(r.service) === neighBefore ? ' (unchanged)' : ''}`);
    this.detail(`# evpn-ha show routes --ip ${r.service}`);
    for (const line of tn.evpnHaCli('l', ['show', 'routes', '--ip', r.service, '--socket', tn.socketPath('l')]).trimEnd().split('\n')) this.detail(`  ${line}`);
    this.detail(`OUTAGE (failover): ${outage ?? '?'} ms without replies; ${ping.lostBetween(fault - 1000, Date.now())} echo requests lost`);

    this.begin(ft.heal);
    const heal = Date.now();
    this.undoFault();
    this.undoFault = null;
    await this.until(() => tn.fdbDst('l', r.mac) === r.address.net1 && tn.fdbDst('r', l.mac) === l.address.net1, 60_000, 'failback to network 1', 50);
    await sleep(1000);
    this.printTimeline('failback', heal, ping, Date.now());
    this.say('');
    const lostBack = ping.lostBetween(heal - 500, Date.now());
    const gapBack = this.longestGap(ping, heal, Date.now());
    this.detail(`server-l now: ${this.fdbLine(r.mac)}`);
    this.say(`      FAILBACK: ${lostBack} echo requests lost, longest gap between replies ${gapBack} ms (ping interval ~10-16 ms)`);
    ping.stop();
    this.ping = null;
    return `summary: ${faultKind === 'uplink' ? 'network 1 lost on server-l' : 'VTEP-to-VTEP path on network 1 lost'}: failover outage ${outage ?? '?'} ms (BFD 100 ms x 3, probes 100 ms x 3, ${reflector === 'frr' ? 'FRR' : 'evpn-ha'} reflectors${family === 6 ? ', IPv6 underlays' : ''}); ` +
      `failback lost ${lostBack} echo requests`;
  }

  /** server-l's vxlan0 FDB line for a MAC (`bridge fdb show dev vxlan0`). */
  private fdbLine(mac: string): string {
    const lines = nsExec(this.tn!.servers.l.ns, 'bridge', ['fdb', 'show', 'dev', 'vxlan0']).split('\n');
    const line = lines.find((l) => l.startsWith(mac) && (l.includes(' dst ') || l.includes(' nhid ')))?.trim();
    if (!line) return `no vxlan0 entry for ${mac}`;
    const nhid = / nhid (\d+)/.exec(line)?.[1];
    if (nhid === undefined) return line;
    // Through an FDB nexthop group: say where the group leads now.
    return `${line}  (group ${nhid} -> via ${this.tn!.fdbDst('l', mac) ?? '?'})`;
  }

  /** server-l's `ip neigh` line for an address on br-vxlan. */
  private neighLine(addr: string): string {
    return nsExec(this.tn!.servers.l.ns, 'ip', ['neigh', 'show', 'dev', 'br-vxlan', addr]).trim() || `no neighbour entry for ${addr}`;
  }

  private longestGap(ping: PingRun, from: number, to: number): number {
    let worst = 0;
    let prev: number | null = null;
    for (const r of ping.replies) {
      if (r.at < from - 1000 || r.at > to) continue;
      if (prev !== null && r.at >= from) worst = Math.max(worst, r.at - prev);
      prev = r.at;
    }
    return Math.round(worst);
  }

  private printTimeline(kind: 'failover' | 'failback', t0: number, ping: PingRun, until: number): void {
    const tn = this.tn!;
    const mac = { l: tn.servers.l.mac, r: tn.servers.r.mac };
    this.say('');
    this.say(`      ${kind} timeline (T0 = ${kind === 'failover' ? 'fault injected' : 'fault removed'}, ${new Date(t0).toISOString()}):`);
    const rows: LogRow[] = [];
    rows.push({ at: t0, who: 'fault', text: kind === 'failover' ? this.faultText.row : this.faultText.healed });
    const withIp = new Set(this.events.filter((s) => s.ev.type === 'failover' && s.ev.ip !== null)
      .map((s) => `${s.server}|${s.ev.type === 'failover' ? s.ev.mac : ''}|${s.at}`));
    for (const s of this.events) {
      if (s.at < t0 - 50 || s.at > until) continue;
      // The MAC-only route moves with the MAC/IP route: one line for both.
      if (s.ev.type === 'failover' && s.ev.ip === null && withIp.has(`${s.server}|${s.ev.mac}|${s.at}`)) continue;
      const text = describe(s, { mac });
      if (!text) continue;
      const ev = s.ev;
      let tag: Pick<LogRow, 'kind' | 'label'> = {};
      if (ev.type === 'session' && ev.state === 'down') tag = { kind: 'detect', label: `session ${ev.uplink} down` };
      else if (ev.type === 'probe' && ev.to === 'down' && ev.reason !== 'target-removed') tag = { kind: 'detect', label: `VTEP probe ${ev.remoteVtep} down` };
      else if (ev.type === 'failover') tag = { kind: 'route', label: `cause ${ev.cause}` };
      else if (ev.type === 'kernel') {
        const op = ev.ops.find((o) => o.entry.kind === 'fdb' && o.entry.mac === (s.server === 'l' ? mac.r : mac.l));
        const grp = ev.ops.find((o) => o.op === 'replace' && o.entry.kind === 'nhgroup');
        if (op && op.entry.kind === 'fdb') tag = { kind: 'kernel', label: op.entry.nhid !== undefined ? `nhid ${op.entry.nhid}` : `dst ${op.entry.dst}` };
        else if (grp && grp.entry.kind === 'nhgroup') tag = { kind: 'kernel', label: `nexthop group ${grp.entry.id} -> ${grp.entry.members.join('/')}` };
      }
      rows.push({ at: s.at, who: SERVER_LABEL[s.server], text, ...tag });
    }
    const logs: Array<[string, string, 'agent' | 'reflector']> = [
      ['agent-l.log', 'server-l', 'agent'], ['agent-r.log', 'server-r', 'agent'], ['rr1.log', 'rr1', 'reflector'], ['rr2.log', 'rr2', 'reflector'],
    ];
    for (const [file, who, role] of logs) {
      let text = '';
      try { text = readFileSync(join(this.logDir, file), 'utf8'); } catch { continue; }
      for (const row of logRows(text, who, role)) if (row.at >= t0 - 50 && row.at <= until) rows.push(row);
    }
    // Ping: the longest gap between replies after T0 (the outage), or the first reply.
    let before: number | null = null;
    let after: { at: number; seq: number } | null = null;
    let worst = 0;
    let prev: { at: number; seq: number } | null = null;
    for (const r of ping.replies) {
      if (r.at > until) break;
      if (prev && r.at > t0 && r.at <= t0 + 5000 && r.at - prev.at > worst) {
        worst = r.at - prev.at;
        before = prev.at;
        after = r;
      }
      prev = r;
    }
    if (kind === 'failover' && before !== null && after) {
      rows.push({ at: before, who: 'ping', text: 'last reply before the outage' });
      rows.push({ at: after.at, who: 'ping', text: `first reply after the fault (icmp_seq=${after.seq}), over network 2` });
    }
    rows.sort((a, b) => a.at - b.at);
    for (const row of rows) this.say(`      ${signedMs(row.at - t0)}  ${row.who.padEnd(8)}  ${row.text}`);
    if (kind !== 'failover') return;
    // At a glance: per server, the first detection, route change and kernel write.
    this.say('');
    this.say('      at a glance (ms after T0):');
    const ms = (at: number): string => `+${Math.round(at - t0)}`;
    for (const s of ['l', 'r'] as const) {
      const mine = rows.filter((x) => x.who === SERVER_LABEL[s]);
      const first = (k: RowKind): LogRow | undefined => mine.find((x) => x.kind === k);
      const rt = first('route');
      const k = first('kernel');
      // Detected here, or (the route withdrawn) by a reflector's BFD.
      const byReflector = rt?.label === 'cause withdrawn' ? rows.filter((x) => x.kind === 'detect' && /^rr\d$/.test(x.who)) : [];
      const d = [...mine.filter((x) => x.kind === 'detect'), ...byReflector].sort((a, b) => a.at - b.at)[0];
      const other = s === 'l' ? tn.servers.r : tn.servers.l;
      this.say(`        ${SERVER_LABEL[s]} -> ${other.service}: ` + [
        d ? `detected ${ms(d.at)} (${d.label})` : 'no detection seen',
        rt ? `best path moved ${ms(rt.at)} (${rt.label})` : 'no route change seen',
        k ? `FDB ${k.label} ${ms(k.at)}` : 'no kernel write seen',
      ].join(', '));
    }
    if (after) this.say(`        ping: first reply after the fault ${ms(after.at)}`);
  }

  private printExplore(tn: TwoNetworkLab, evpnHa: string[]): void {
    const cli = evpnHa.join(' ');
    const { l, r } = tn.servers;
    this.detail(`The topology stays up. Namespaces: ${this.lab!.prefix}-{sw1,sw2,rr1,rr2,srvl,srvr${this.moves ? `,${CONTAINER_NAMESPACES.join(',')}` : ''}}`);
    this.detail('Explore it:');
    for (const s of [l, r]) {
      this.detail(`  ip netns exec ${s.ns} ${cli} show routes --socket ${tn.socketPath(s.name)}`);
      this.detail(`  ip netns exec ${s.ns} ${cli} show neighbors --socket ${tn.socketPath(s.name)}`);
      this.detail(`  ip netns exec ${s.ns} ${cli} watch --socket ${tn.socketPath(s.name)}`);
      this.detail(`  ip netns exec ${s.ns} bridge fdb show dev vxlan0`);
      this.detail(`  ip netns exec ${s.ns} ip neigh show dev br-vxlan`);
    }
    this.detail(`  ip netns exec ${l.ns} ping ${r.service}`);
    for (const line of this.moves?.exploreLines(cli) ?? []) this.detail(`  ${line}`);
    if (this.frr.length > 0) {
      for (const h of this.frr) this.detail(`  vtysh -N ${h.ns} -c 'show bgp l2vpn evpn' -c 'show bfd peers brief'`);
      this.detail(`  logs: ${join(tn.dir, 'logs')}/{agent-l.log,agent-r.log,rr1-frr/,rr2-frr/}`);
    } else {
      this.detail(`  kill -USR1 $(ip netns pids ${tn.networks.net1.rrNs})   # rr1 prints its peers and routes as one JSON line in rr1.log`);
      this.detail(`  logs: ${join(tn.dir, 'logs')}/{rr1,rr2,agent-l,agent-r}.log`);
    }
    this.detail('Tear it down:');
    this.detail(`  ${cli} demo --teardown ${this.prefix}`);
    this.detail(`  or: for ns in $(ip netns list | awk '/^${this.prefix}-/{print $1}'); do ip netns pids $ns | xargs -r kill; ip netns del $ns; done; ` +
      `rm -rf ${tn.dir}${this.frr.length > 0 ? ` /var/run/frr/${this.prefix}-* /etc/frr/${this.prefix}-*` : ''}`);
  }
}
