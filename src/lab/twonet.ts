// The design brief's topology in network namespaces: two underlay networks
// (each an L2 switch), one route reflector per network, and two servers with
// eth1/eth2, br-vxlan (service address) and vxlan0 (VNI 100, nolearning, no
// local address). Used by the end-to-end tests, the failover benchmark and the
// demo. Route reflectors and agents are started by the caller; this module
// builds links, writes agent configs, injects faults and measures outages.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ip, nsExec, sh, type Lab } from './netns.js';
import { addVtep, Switch } from './topology.js';

export type ServerName = 'l' | 'r';
export type NetworkName = 'net1' | 'net2';
export const NETWORKS: readonly NetworkName[] = ['net1', 'net2'];

export interface ServerInfo {
  name: ServerName;
  /** Host part shared by all of its addresses (65 for server-l, 87 for server-r). */
  host: number;
  ns: string;
  /** Uplink addresses: eth1 on net1, eth2 on net2. */
  address: Record<NetworkName, string>;
  /** Service address on br-vxlan. */
  service: string;
  /** br-vxlan MAC (fixed, so routes and assertions are predictable). */
  mac: string;
}

/** Per-network facts: subnet index (1 or 2), reflector address and AS. */
export interface NetworkInfo {
  name: NetworkName;
  index: 1 | 2;
  interface: 'eth1' | 'eth2';
  rrAddress: string;
  rrNs: string;
  switchNs: string;
}

export interface AgentTuning {
  /** Per-network AS (default 65001 / 65002, as in the GoBGP variant of the brief). */
  asn?: Record<NetworkName, number>;
  localPref?: Record<NetworkName, number>;
  holdTime?: number;
  keepalive?: number;
  /** Seconds before the first reconnect attempt (config default 5). */
  connectRetry?: number;
  /** `uplinks[].gracefulRestart` (default: the agent's, the End-of-RIB-only form). */
  gracefulRestart?: number | 'end-of-rib' | false;
  bfd?: { minTx: number; minRx: number; multiplier: number } | false;
  vtepProbe?: { interval: number; multiplier: number; holdDown: number } | false;
  logLevel?: string;
  /** Extra YAML appended at the top level (e.g. `metrics:`). */
  extra?: string;
  /**
   * The text of an uplink's `peer` (default: the reflector's address as the lab
   * writes it), e.g. a non-canonical IPv6 spelling of the same address.
   */
  peerText?: Partial<Record<NetworkName, string>>;
  /** Extra keys of the VNI, as YAML lines without indentation (e.g. `advertiseEndpoints: true`). */
  vniExtra?: string[];
  /** Extra keys of one uplink, as YAML lines without indentation (e.g. `password: x`). */
  uplinkExtra?: Partial<Record<NetworkName, string[]>>;
}

export interface RunningAgent {
  server: ServerInfo;
  child: ChildProcess;
  configPath: string;
  socketPath: string;
  /** Everything the agent wrote to stdout/stderr (pino JSON lines). */
  output(): string;
  /** SIGTERM and wait for the exit; resolves with the exit code (or signal name). */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
}

/** How to start a daemon: output kept in memory (default) or written to a file. */
export interface SpawnChoice {
  /**
   * Write stdout/stderr to this file instead of a pipe, and start the daemon in a
   * session of its own (setsid), so it can outlive the caller (the demo's --keep).
   */
  logFile?: string;
}

/** Settings of an `evpn-ha reflector` in rr1/rr2 (docs/reflector.md). */
export interface ReflectorTuning {
  /** AS of the reflector (default: the agents' default, 65001 for net1, 65002 for net2). */
  asn?: number;
  holdTime?: number;
  keepalive?: number;
  bfd?: { minTx: number; minRx: number; multiplier: number } | false;
  logLevel?: string;
}

export interface RunningReflector {
  network: NetworkInfo;
  child: ChildProcess;
  configPath: string;
  output(): string;
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | string>;
}

function hostMac(host: number): string {
  return `02:00:c0:a8:00:${host.toString(16).padStart(2, '0')}`;
}

/** The package root (where package.json and bin/ are), from this module's location. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'bin'))) return dir;
    dir = resolve(dir, '..');
  }
  return process.cwd();
}

/** How to start evpn-ha itself: node + bin/evpn-ha, or a single executable. */
export function defaultEvpnHaCommand(): string[] {
  return [process.execPath, join(packageRoot(), 'bin', 'evpn-ha')];
}

/**
 * Environment for child processes: without tap's loader hooks (NODE_OPTIONS, and
 * the TAP / _TAP* variables that make @tapjs/processinfo hook a child node).
 */
export function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k === 'NODE_OPTIONS' || k === 'TAP' || k.startsWith('TAP_') || k.startsWith('_TAP')) continue;
    env[k] = v;
  }
  return env;
}

export class TwoNetworkLab {
  readonly servers: Record<ServerName, ServerInfo>;
  readonly networks: Record<NetworkName, NetworkInfo>;
  readonly dir: string;
  private readonly agents: Array<{ child: ChildProcess }> = [];
  private kept = false;
  private readonly switches: Partial<Record<NetworkName, Switch>> = {};
  /** Switch port of each server on each network (for link-down faults). */
  private readonly ports = new Map<string, string>();

  /**
   * `family` 6 builds IPv6 underlays: 2001:db8:<net>::<host>/64 on eth1/eth2 and the
   * reflectors (2001:db8:<net>::2), vxlan0 created with `local ::` (an IPv6 VXLAN
   * device), IPv4 router IDs 10.255.<net or 0>.<host>; the overlay stays IPv4.
   */
  constructor(readonly lab: Lab, readonly evpnHa: string[] = defaultEvpnHaCommand(), readonly family: 4 | 6 = 4) {
    this.dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-`));
    lab.onDispose(() => {
      if (this.kept) return;
      for (const a of this.agents) {
        if (a.child.exitCode === null && a.child.signalCode === null && a.child.pid !== undefined) {
          try { process.kill(a.child.pid, 'SIGKILL'); } catch { /* gone */ }
        }
      }
      rmSync(this.dir, { recursive: true, force: true });
    });
    const server = (name: ServerName, host: number): ServerInfo => ({
      name, host, ns: '',
      address: family === 6
        ? { net1: `2001:db8:1::${host}`, net2: `2001:db8:2::${host}` }
        : { net1: `192.168.1.${host}`, net2: `192.168.2.${host}` },
      service: `192.168.0.${host}`,
      mac: hostMac(host),
    });
    this.servers = { l: server('l', 65), r: server('r', 87) };
    const net = (name: NetworkName, index: 1 | 2): NetworkInfo => ({
      name, index, interface: index === 1 ? 'eth1' : 'eth2',
      rrAddress: family === 6 ? `2001:db8:${index}::2` : `192.168.${index}.2`, rrNs: '', switchNs: '',
    });
    this.networks = { net1: net('net1', 1), net2: net('net2', 2) };
  }

  /** Create every namespace, link and device. Reflectors and agents are not started. */
  build(): void {
    for (const n of NETWORKS) {
      const info = this.networks[n];
      const sw = new Switch(this.lab, `sw${info.index}`);
      this.switches[n] = sw;
      info.switchNs = sw.ns;
      info.rrNs = this.lab.ns(`rr${info.index}`);
      sw.plug(info.rrNs, `${info.rrAddress}/${this.prefixLen}`, 'eth0');
    }
    for (const s of Object.values(this.servers)) {
      s.ns = this.lab.ns(`srv${s.name}`);
      for (const n of NETWORKS) {
        const info = this.networks[n];
        const port = this.switches[n]!.plug(s.ns, `${s.address[n]}/${this.prefixLen}`, info.interface);
        this.ports.set(`${s.name}/${n}`, port);
      }
      addVtep(s.ns, { vni: 100, svi: `${s.service}/24`, sviMac: s.mac, ...(this.family === 6 ? { local: '::' } : {}) });
    }
  }

  /** Prefix length of the underlay subnets. */
  get prefixLen(): number {
    return this.family === 6 ? 64 : 24;
  }

  /** An underlay network's subnet (the reflectors' listen range), e.g. 192.168.1.0/24. */
  subnet(net: NetworkName): string {
    const i = this.networks[net].index;
    return this.family === 6 ? `2001:db8:${i}::/64` : `192.168.${i}.0/24`;
  }

  /** The router ID of a server (its net1 address on IPv4 underlays). */
  routerId(name: ServerName): string {
    const s = this.servers[name];
    return this.family === 6 ? `10.255.0.${s.host}` : s.address.net1;
  }

  /** A reflector's router ID: its address on IPv4 underlays, 10.255.<index>.2 on IPv6 ones. */
  reflectorRouterId(net: NetworkName): string {
    const info = this.networks[net];
    return this.family === 6 ? `10.255.${info.index}.2` : info.rrAddress;
  }

  /** The agent configuration (YAML) for one server. */
  agentConfig(name: ServerName, t: AgentTuning = {}): string {
    const asn = t.asn ?? { net1: 65001, net2: 65002 };
    const pref = t.localPref ?? { net1: 200, net2: 100 };
    const lines: string[] = [
      `routerId: ${this.routerId(name)}`,
      `logLevel: ${t.logLevel ?? process.env.EVPN_HA_LAB_LOG_LEVEL ?? 'info'}`,
      'vnis:',
      '  - vni: 100',
      '    bridge: br-vxlan',
      '    vxlan: vxlan0',
      ...(t.vniExtra ?? []).map((l) => `    ${l}`),
      'uplinks:',
    ];
    for (const n of NETWORKS) {
      const info = this.networks[n];
      lines.push(
        `  - name: ${n}`,
        `    interface: ${info.interface}`,
        `    peer: '${t.peerText?.[n] ?? info.rrAddress}'`,
        `    localAs: ${asn[n]}`,
        `    localPref: ${pref[n]}`,
        `    holdTime: ${t.holdTime ?? 9}`,
        `    keepalive: ${t.keepalive ?? 3}`,
      );
      if (t.connectRetry !== undefined) lines.push(`    connectRetry: ${t.connectRetry}`);
      if (t.gracefulRestart !== undefined) lines.push(`    gracefulRestart: ${String(t.gracefulRestart)}`);
      if (t.bfd) lines.push('    bfd:', `      minTx: ${t.bfd.minTx}`, `      minRx: ${t.bfd.minRx}`, `      multiplier: ${t.bfd.multiplier}`);
      for (const l of t.uplinkExtra?.[n] ?? []) lines.push(`    ${l}`);
    }
    if (t.vtepProbe === false) lines.push('vtepProbe: false');
    else if (t.vtepProbe) {
      lines.push('vtepProbe:', `  interval: ${t.vtepProbe.interval}`, `  multiplier: ${t.vtepProbe.multiplier}`, `  holdDown: ${t.vtepProbe.holdDown}`);
    }
    lines.push('control:', `  socket: ${this.socketPath(name)}`, `stateDir: ${join(this.dir, `state-${name}`)}`);
    if (t.extra) lines.push(t.extra);
    return `${lines.join('\n')}\n`;
  }

  socketPath(name: ServerName): string {
    return join(this.dir, `agent-${name}.sock`);
  }

  /** Write the config and start `evpn-ha run` inside the server's namespace. */
  startAgent(name: ServerName, tuning: AgentTuning = {}, how: SpawnChoice = {}): RunningAgent {
    const s = this.servers[name];
    const configPath = join(this.dir, `agent-${name}.yaml`);
    writeFileSync(configPath, this.agentConfig(name, tuning));
    const d = this.spawnDaemon(s.ns, ['run', '--config', configPath], how);
    const agent: RunningAgent = { server: s, child: d.child, configPath, socketPath: this.socketPath(name), output: d.output, stop: d.stop };
    this.agents.push(agent);
    return agent;
  }

  /** The `evpn-ha reflector` configuration (YAML) for one network's reflector. */
  reflectorConfig(net: NetworkName, t: ReflectorTuning = {}): string {
    const info = this.networks[net];
    const lines = [
      `routerId: ${this.reflectorRouterId(net)}`,
      `asn: ${t.asn ?? (info.index === 1 ? 65001 : 65002)}`,
      'listen:',
      `  address: '${info.rrAddress}'`,
      'listenRanges:',
      `  - '${this.subnet(net)}'`,
      `holdTime: ${t.holdTime ?? 9}`,
      `keepalive: ${t.keepalive ?? 3}`,
      t.bfd ? `bfd: { minTx: ${t.bfd.minTx}, minRx: ${t.bfd.minRx}, multiplier: ${t.bfd.multiplier} }` : 'bfd: false',
      `logLevel: ${t.logLevel ?? process.env.EVPN_HA_LAB_LOG_LEVEL ?? 'info'}`,
    ];
    return `${lines.join('\n')}\n`;
  }

  /** Write the config and start `evpn-ha reflector` in the network's reflector namespace. */
  startReflector(net: NetworkName, tuning: ReflectorTuning = {}, how: SpawnChoice = {}): RunningReflector {
    const info = this.networks[net];
    const configPath = join(this.dir, `rr${info.index}.yaml`);
    writeFileSync(configPath, this.reflectorConfig(net, tuning));
    const d = this.spawnDaemon(info.rrNs, ['reflector', '--config', configPath], how);
    const rr: RunningReflector = { network: info, child: d.child, configPath, output: d.output, stop: d.stop };
    this.agents.push(rr);
    return rr;
  }

  /**
   * Leave every daemon started here running and the working directory in place
   * when the Lab is disposed (the caller also keeps the Lab's namespaces).
   */
  keep(): void {
    this.kept = true;
  }

  private spawnDaemon(ns: string, args: string[], how: SpawnChoice): Pick<RunningAgent, 'child' | 'output' | 'stop'> {
    const [cmd, ...pre] = this.evpnHa;
    // `env -u NODE_OPTIONS` inside the namespace: a test runner's spawn hooks
    // (tap's processinfo) put NODE_OPTIONS back into every child's environment.
    let child: ChildProcess;
    let out = '';
    let output: () => string;
    if (how.logFile !== undefined) {
      const fd = openSync(how.logFile, 'a');
      child = spawn('ip', ['netns', 'exec', ns, 'env', '-u', 'NODE_OPTIONS', cmd!, ...pre, ...args], { stdio: ['ignore', fd, fd], env: childEnv(), detached: true });
      closeSync(fd);
      const file = how.logFile;
      output = () => { try { return readFileSync(file, 'utf8'); } catch { return ''; } };
    } else {
      child = spawn('ip', ['netns', 'exec', ns, 'env', '-u', 'NODE_OPTIONS', cmd!, ...pre, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: childEnv() });
      child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
      child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
      output = () => out;
    }
    const stop = (signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10_000): Promise<number | string> => new Promise((res) => {
      if (child.exitCode !== null) { res(child.exitCode); return; }
      if (child.signalCode !== null) { res(child.signalCode); return; }
      const timer = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, timeoutMs);
      child.once('exit', (code, sig) => { clearTimeout(timer); res(code ?? sig ?? -1); });
      child.kill(signal);
    });
    return { child, output, stop };
  }

  /** Run an evpn-ha client command (show, reload...) inside a server's namespace. */
  evpnHaCli(name: ServerName, args: string[]): string {
    const [cmd, ...pre] = this.evpnHa;
    return sh('ip', ['netns', 'exec', this.servers[name].ns, 'env', '-u', 'NODE_OPTIONS', cmd!, ...pre, ...args]);
  }

  // ---- kernel state -------------------------------------------------------

  /**
   * `bridge fdb` entries on vxlan0 for a MAC: [{dst, flags}]. An entry that points at
   * an FDB nexthop group (`nhid`) gets the `dst` that group leads to (its single fdb
   * member's gateway, from `ip nexthop`), and keeps its `nhid`.
   */
  fdb(name: ServerName, mac: string): Array<{ dst?: string; nhid?: number; flags: string[]; master?: string }> {
    const ns = this.servers[name].ns;
    const out = nsExec(ns, 'bridge', ['-j', 'fdb', 'show', 'dev', 'vxlan0']);
    const all = JSON.parse(out || '[]') as Array<{ mac: string; dst?: string; nhid?: number; flags?: string[]; master?: string }>;
    const mine = all.filter((e) => e.mac === mac);
    const nh = mine.some((e) => e.nhid !== undefined) ? this.nexthops(name) : new Map<number, NexthopJson>();
    return mine.map((e) => {
      const dst = e.dst ?? (e.nhid !== undefined ? groupDst(nh, e.nhid) : undefined);
      return {
        ...(dst !== undefined ? { dst } : {}), ...(e.nhid !== undefined ? { nhid: e.nhid } : {}),
        flags: e.flags ?? [], ...(e.master !== undefined ? { master: e.master } : {}),
      };
    });
  }

  /** `ip -j nexthop show` of a server, by id. */
  nexthops(name: ServerName): Map<number, NexthopJson> {
    let out = '';
    try { out = ip(this.servers[name].ns, '-j', 'nexthop', 'show'); } catch { /* a kernel without nexthops */ }
    const all = JSON.parse(out || '[]') as NexthopJson[];
    return new Map(all.map((n) => [n.id, n]));
  }

  /** The `dst` of the vxlan0 (self) entry for a MAC (through its nexthop group if it has one), or null. */
  fdbDst(name: ServerName, mac: string): string | null {
    return this.fdb(name, mac).find((e) => e.dst !== undefined)?.dst ?? null;
  }

  /** `ip neigh` entry on br-vxlan for an address. */
  neigh(name: ServerName, addr: string): { lladdr?: string; state: string[]; flags?: string[]; protocol?: string } | null {
    const out = ip(this.servers[name].ns, '-j', '-d', 'neigh', 'show', addr, 'dev', 'br-vxlan');
    const all = JSON.parse(out || '[]') as Array<{ dst: string; lladdr?: string; state?: string[]; flags?: string[]; protocol?: string }>;
    const e = all.find((x) => x.dst === addr);
    if (!e) return null;
    return {
      ...(e.lladdr !== undefined ? { lladdr: e.lladdr } : {}), state: e.state ?? [],
      ...(e.flags !== undefined ? { flags: e.flags } : {}), ...(e.protocol !== undefined ? { protocol: e.protocol } : {}),
    };
  }

  // ---- faults ---------------------------------------------------------------
  // Each fault returns its own undo. Faults are iptables rules in a chain of
  // their own inside the server's namespace: VXLAN and BGP both pass INPUT and
  // OUTPUT, and the link's carrier does not change.

  private iptables(ns: string, ...args: string[]): void {
    nsExec(ns, this.family === 6 ? 'ip6tables' : 'iptables', ['-w', ...args]);
  }

  private faultChain(ns: string, chain: string, rules: string[][]): () => void {
    this.iptables(ns, '-N', chain);
    for (const r of rules) this.iptables(ns, '-A', chain, ...r);
    this.iptables(ns, '-I', 'INPUT', '-j', chain);
    this.iptables(ns, '-I', 'OUTPUT', '-j', chain);
    let undone = false;
    return () => {
      if (undone) return;
      undone = true;
      this.iptables(ns, '-D', 'INPUT', '-j', chain);
      this.iptables(ns, '-D', 'OUTPUT', '-j', chain);
      this.iptables(ns, '-F', chain);
      this.iptables(ns, '-X', chain);
    };
  }

  /** Scenario a/b: every packet on the server's uplink to `net` dropped, both ways, carrier stays up. */
  blackholeUplink(name: ServerName, net: NetworkName): () => void {
    const dev = this.networks[net].interface;
    return this.faultChain(this.servers[name].ns, `FAULT-${net}`, [['-i', dev, '-j', 'DROP'], ['-o', dev, '-j', 'DROP']]);
  }

  /** Scenario c: only the path between the two servers' VTEPs on `net`; both still reach the reflector. */
  blackholePath(net: NetworkName): () => void {
    const l = this.servers.l;
    const r = this.servers.r;
    return this.faultChain(l.ns, `FAULT-PATH-${net}`, [
      ['-s', r.address[net], '-d', l.address[net], '-j', 'DROP'],
      ['-s', l.address[net], '-d', r.address[net], '-j', 'DROP'],
    ]);
  }

  /**
   * Scenario d, the design brief's own injection on one server: drop BGP from the
   * net1 reflector (tcp sport 179) and VXLAN from network 1 (udp dport 4789).
   */
  briefInjection(name: ServerName, net: NetworkName = 'net1'): () => void {
    const info = this.networks[net];
    return this.faultChain(this.servers[name].ns, `FAULT-BRIEF-${net}`, [
      ['-p', 'tcp', '-s', info.rrAddress, '--sport', '179', '-j', 'DROP'],
      ['-p', 'udp', '-s', this.subnet(net), '--dport', '4789', '-j', 'DROP'],
    ]);
  }

  /** The server's uplink interface administratively down (carrier lost). */
  linkDown(name: ServerName, net: NetworkName): () => void {
    const s = this.servers[name];
    const dev = this.networks[net].interface;
    ip(s.ns, 'link', 'set', dev, 'down');
    return () => {
      ip(s.ns, 'link', 'set', dev, 'up');
      // The address stays, but routes of a downed link are flushed with it.
    };
  }

  // ---- traffic --------------------------------------------------------------

  /** Start a continuous ping (default every 10 ms) from one server to an address. */
  ping(from: ServerName, to: string, intervalMs = 10): PingRun {
    return new PingRun(this.lab, this.servers[from].ns, to, intervalMs);
  }

  /** One-shot reachability check: true when `count` pings get at least one reply. */
  pingOnce(from: ServerName, to: string, count = 3): boolean {
    try {
      nsExec(this.servers[from].ns, 'ping', ['-c', String(count), '-i', '0.2', '-W', '1', to]);
      return true;
    } catch {
      return false;
    }
  }
}

export interface PingReply {
  seq: number;
  /** Wall-clock time of the reply, ms since the epoch (ping -D). */
  at: number;
}

/**
 * `ping -D -O` at a fixed interval. Outages are measured as the time between
 * replies (the toolchain notes: ping's real interval is coarser than asked).
 */
export class PingRun {
  readonly replies: PingReply[] = [];
  private readonly child: ChildProcess;
  private buf = '';
  readonly started = Date.now();

  constructor(lab: Lab, ns: string, to: string, intervalMs: number) {
    this.child = lab.spawn(ns, 'ping', ['-D', '-O', '-n', '-i', String(intervalMs / 1000), '-S', '1048576', '-W', '1', to], { env: childEnv() });
    this.child.stdout?.on('data', (d: Buffer) => {
      this.buf += d.toString();
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        const m = /^\[(\d+\.\d+)\] \d+ bytes from [^:]+: icmp_seq=(\d+)/.exec(line);
        if (m) this.replies.push({ at: Number(m[1]) * 1000, seq: Number(m[2]) });
      }
    });
  }

  /** Time of the last reply, or 0. */
  lastReplyAt(): number {
    return this.replies.at(-1)?.at ?? 0;
  }

  /** Replies received after `t` (ms since epoch). */
  repliesAfter(t: number): number {
    let n = 0;
    for (let i = this.replies.length - 1; i >= 0 && this.replies[i]!.at > t; i--) n++;
    return n;
  }

  /**
   * The outage around a fault at time `t`: from the last reply at or before `t`
   * to the first reply after it, in ms. null when no reply followed yet.
   */
  outageAround(t: number): number | null {
    let before: PingReply | undefined;
    let after: PingReply | undefined;
    for (const r of this.replies) {
      if (r.at <= t) before = r;
      else { after = r; break; }
    }
    if (!before || !after) return null;
    // The gap that contains t may be followed by a longer one (the fault bites a
    // moment later, e.g. when a packet in flight still got through): take the
    // longest gap that starts within the following 5 s (it may end much later,
    // e.g. a hold-timer failover).
    let worst = after.at - before.at;
    let prev = after;
    for (const r of this.replies) {
      if (r.at <= after.at) continue;
      if (prev.at > t + 5000) break;
      worst = Math.max(worst, r.at - prev.at);
      prev = r;
    }
    return worst;
  }

  /** Echo requests without any reply whose sequence numbers fall between replies at t1..t2. */
  lostBetween(t1: number, t2: number): number {
    const inWindow = this.replies.filter((r) => r.at >= t1 && r.at <= t2);
    if (inWindow.length < 2) return 0;
    const first = inWindow[0]!.seq;
    const last = inWindow.at(-1)!.seq;
    const got = new Set(inWindow.map((r) => r.seq));
    let lost = 0;
    for (let s = first; s <= last; s++) if (!got.has(s)) lost++;
    return lost;
  }

  stop(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT');
  }
}

/** One object of `ip -j nexthop show`. */
export interface NexthopJson {
  id: number;
  gateway?: string;
  group?: Array<{ id: number; weight?: number }>;
  protocol?: string;
  fdb?: null;
}

/**
 * The VTEP an FDB nexthop group leads to: the gateway of its only member, both
 * marked fdb. undefined for anything else (no such group, several members, not fdb).
 */
export function groupDst(nh: Map<number, NexthopJson>, id: number): string | undefined {
  const g = nh.get(id);
  if (!g || !('fdb' in g) || g.group?.length !== 1) return undefined;
  const m = nh.get(g.group[0]!.id);
  if (!m || !('fdb' in m)) return undefined;
  return m.gateway;
}
