// The lab of bench:scale and bench:soak: the two-network topology of
// bench:failover (src/lab/twonet.ts) with FRR route reflectors, a route generator
// (src/lab/routegen.ts, run as bench/lib/gen-child.ts in a namespace of its own
// plugged into both switches as 192.168.1.10 / 192.168.2.10) and, on server-l,
// either evpn-ha or FRR (bgpd + zebra + bfdd, the design brief's server
// configuration). Kernel entries are counted by bench/lib/kcount-child.ts inside
// server-l's namespace; RSS and CPU come from /proc.
import type { ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Lab, ip, sleep } from '../../src/lab/netns.js';
import { bfdConfig, briefServerConfig, rrConfig, startFrr, type BfdTimers, type FrrHandle } from '../../src/lab/frr.js';
import { TwoNetworkLab, childEnv, defaultEvpnHaCommand, type AgentTuning, type NetworkName, type RunningAgent } from '../../src/lab/twonet.js';
import type { GenNetwork } from '../../src/lab/routegen.js';
import { phaseEnd } from './phase-clock.js';

export type Impl = 'evpn-ha' | 'frr';
export const BFD: BfdTimers = { minTx: 100, minRx: 100, multiplier: 3 };
const HERE = fileURLToPath(new URL('.', import.meta.url));

export const log = (s: string): void => { process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${s}\n`); };

/** A child process speaking JSON lines, started inside a namespace. */
export class LineChild {
  readonly child: ChildProcess;
  private readonly lines: object[] = [];
  private waiters: Array<() => void> = [];
  private stderr = '';

  constructor(lab: Lab, ns: string, script: string, args: string[] = []) {
    this.child = lab.spawn(ns, process.execPath, [join(HERE, script), ...args], { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    createInterface({ input: this.child.stdout! }).on('line', (l) => {
      try { this.lines.push(JSON.parse(l) as object); } catch { this.stderr += `${l}\n`; }
      for (const w of this.waiters.splice(0)) w();
    });
    this.child.stderr!.on('data', (d: Buffer) => { this.stderr += d.toString(); });
    this.child.on('exit', () => { for (const w of this.waiters.splice(0)) w(); });
  }

  send(o: object | string): void {
    this.child.stdin!.write(typeof o === 'string' ? `${o}\n` : `${JSON.stringify(o)}\n`);
  }

  /** Take the first line (in order) matching `pred`, waiting up to `ms`. */
  async take<T extends object>(pred: (o: Record<string, unknown>) => boolean, ms: number, what: string): Promise<T> {
    const deadline = Date.now() + ms;
    for (;;) {
      const i = this.lines.findIndex((o) => pred(o as Record<string, unknown>));
      if (i >= 0) return this.lines.splice(i, 1)[0] as T;
      if (this.child.exitCode !== null || this.child.signalCode !== null) throw new Error(`${what}: child exited\n${this.stderr}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`${what}: timed out after ${ms} ms\n${this.stderr.slice(-2000)}`);
      await new Promise<void>((res) => {
        const t = setTimeout(res, left);
        this.waiters.push(() => { clearTimeout(t); res(); });
      });
    }
  }

  /** Lines matching `pred` seen so far (removed). */
  drain(pred: (o: Record<string, unknown>) => boolean): object[] {
    const out: object[] = [];
    for (let i = this.lines.length - 1; i >= 0; i--) if (pred(this.lines[i] as Record<string, unknown>)) out.unshift(...this.lines.splice(i, 1));
    return out;
  }

  stop(): void {
    try { this.child.stdin!.end(); } catch { /* gone */ }
  }
}

export interface Counts {
  /** vxlan0's own (self) entries for the generator's MACs, by network. */
  fdb: { net1: number; net2: number; other: number };
  /** Bridge (master) FDB entries on the vxlan0 port for those MACs. */
  master: number;
  /** -1 when not dumped. */
  neigh: number;
  nh: number;
  /** Event-socket overflows of the counter (each followed by a re-seeding dump). */
  overflows: number;
  /** Re-seeds that found events missing. */
  repairs: number;
  /** Re-seeds completed (bench/lib/phase-clock.ts). */
  epoch: number;
  /**
   * When the count was taken, and when the counted state last changed. In the
   * count `until` returns, t1 is the end of the phase: never before its `since`.
   */
  t0: number;
  t1: number;
}

export const fdbTotal = (c: Counts): number => c.fdb.net1 + c.fdb.net2 + c.fdb.other;

export class KernelCounter {
  private readonly c: LineChild;
  constructor(lab: Lab, ns: string) {
    this.c = new LineChild(lab, ns, 'kcount-child.js', ['vxlan0', 'br-vxlan']);
  }

  async ready(): Promise<void> {
    await this.c.take((o) => o['ready'] === true, 10_000, 'kernel counter start');
  }

  /** `since`: the start of the phase this count is for (no idle re-seed within a second of it). */
  async count(fdbOnly = false, since = 0): Promise<Counts> {
    this.c.send(`${fdbOnly ? 'fdb' : 'count'} ${since}`);
    const r = await this.c.take<Counts & { error?: string }>((o) => 'fdb' in o || 'error' in o, 60_000, 'kernel count');
    if (r.error) throw new Error(`kernel count: ${r.error}`);
    return r;
  }

  /**
   * Count until `done` holds or `capMs` passes (from `since`, the phase's start);
   * returns the count that satisfied it, with t1 the end of the phase (phaseEnd:
   * never before `since`; `stale` when the count's own t1 was earlier and the
   * time it was taken stands in), or ok false with the last count. `reseeds`:
   * re-seeds of the counter during the phase (its end is then late by up to a dump).
   */
  async until(done: (c: Counts) => boolean, since: number, capMs: number, opts: { fdbOnly?: boolean; stepMs?: number } = {}):
    Promise<{ ok: boolean; last: Counts; stale: boolean; reseeds: number }> {
    let first: number | null = null;
    for (;;) {
      const c = await this.count(opts.fdbOnly ?? false, since);
      first ??= c.epoch;
      const reseeds = c.epoch - first;
      if (done(c)) {
        const end = phaseEnd(since, c);
        return { ok: true, last: { ...c, t1: end.at }, stale: end.stale, reseeds };
      }
      if (Date.now() - since > capMs) return { ok: false, last: c, stale: false, reseeds };
      await sleep(opts.stepMs ?? 50);
    }
  }

  stop(): void { this.c.stop(); }
}

export class Generator {
  private readonly c: LineChild;
  private id = 1;
  constructor(lab: Lab, ns: string) {
    this.c = new LineChild(lab, ns, 'gen-child.js');
  }

  async peer(net: NetworkName, local: string, remote: string, asn: number): Promise<void> {
    this.c.send({ cmd: 'peer', net, local, remote, asn });
    await this.c.take((o) => o['ev'] === 'established' && o['net'] === net, 30_000, `generator session on ${net}`);
  }

  async prepare(n: number, k: number, nets: Partial<Record<NetworkName, GenNetwork>>): Promise<number> {
    this.c.send({ cmd: 'prepare', n, k, nets });
    const r = await this.c.take<{ ms: number }>((o) => o['ev'] === 'prepared', 600_000, 'generator prepare');
    return r.ms;
  }

  /** Send the prepared announcement (or withdrawal); resolves with the time of the first write. */
  async send(what: 'announce' | 'withdraw', nets: NetworkName[]): Promise<{ firstAt: number; doneAt: number }> {
    const id = this.id++;
    this.c.send({ cmd: what, id, nets });
    return this.c.take<{ firstAt: number; doneAt: number }>((o) => (o['ev'] === 'sent' && o['id'] === id) || o['ev'] === 'error', 600_000, `generator ${what}`)
      .then((r) => {
        if ((r as { ev?: string }).ev === 'error') throw new Error(`generator: ${(r as { message?: string }).message}`);
        return r;
      });
  }

  /** Sessions the generator saw close. */
  closed(): string[] {
    return this.c.drain((o) => o['ev'] === 'closed').map((o) => JSON.stringify(o));
  }

  stop(): void { this.c.stop(); }
}

// ---- /proc --------------------------------------------------------------------

const TICKS = 100; // USER_HZ on Linux

function statFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return s.slice(s.lastIndexOf(')') + 2).split(' ');
  } catch { return null; }
}

/** pid and all its descendants (scanning /proc). */
export function processTree(pid: number): number[] {
  const parent = new Map<number, number>();
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    const f = statFields(Number(d));
    if (f) parent.set(Number(d), Number(f[1]));
  }
  const out = [pid];
  for (let i = 0; i < out.length; i++) for (const [c, p] of parent) if (p === out[i]) out.push(c);
  return out;
}

export function rssMiB(pids: number[]): number {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch { /* gone */ }
  }
  return kb / 1024;
}

/**
 * Each process's RSS split as /proc/<pid>/status has it: anonymous (heap, stacks),
 * file-backed (the node binary's code: shared between the processes, counted in
 * each) and shared memory. For `# rss` notes.
 */
export function rssDetail(pids: number[]): string {
  const parts: string[] = [];
  for (const pid of pids) {
    try {
      const st = readFileSync(`/proc/${pid}/status`, 'utf8');
      const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(st)?.[1] ?? 0);
      const args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
      const role = args.some((a) => a.includes('event-pump')) ? 'pump' : args.some((a) => a.includes('bfd')) ? 'bfd' : 'main';
      const mib = (x: number): string => (x / 1024).toFixed(0);
      parts.push(`${role} ${mib(kb('VmRSS'))} (anon ${mib(kb('RssAnon'))}, file ${mib(kb('RssFile'))}, shmem ${mib(kb('RssShmem'))})`);
    } catch { /* gone */ }
  }
  return parts.join('; ');
}

/** utime + stime of the processes, seconds. */
export function cpuSeconds(pids: number[]): number {
  let t = 0;
  for (const pid of pids) {
    const f = statFields(pid);
    if (f) t += (Number(f[11]) + Number(f[12])) / TICKS;
  }
  return t;
}

// ---- FRR on server-l ----------------------------------------------------------


// ---- the lab --------------------------------------------------------------------

export interface ScaleLabOptions {
  impl: Impl;
  /** BFD on every session (server and reflectors); default BFD (100 ms x 3). */
  bfd?: BfdTimers;
  /**
   * Routes the generator encodes before it opens its sessions (encoding 400,000
   * routes blocks it for longer than the 9 s hold time).
   */
  prepare?: { n: number; k: number };
  /** Extra agent settings (evpn-ha). */
  tuning?: AgentTuning;
  /** Node flags for the agent (evpn-ha), e.g. --cpu-prof --cpu-prof-dir DIR. */
  agentNodeArgs?: string[];
  /** Extra lines of the reflectors' `router bgp` block (e.g. bench:soak's `coalesce-time`). */
  rrExtra?: string[];
}

export const GEN_ADDR: Record<NetworkName, string> = { net1: '192.168.1.10', net2: '192.168.2.10' };

export class ScaleLab {
  readonly lab: Lab;
  readonly net: TwoNetworkLab;
  readonly impl: Impl;
  rr = {} as Record<NetworkName, FrrHandle>;
  /** Where each reflector's bgpd log stood when this lab started it (the file outlives a run: the runs of one bench share the namespace names). */
  private readonly rrLogStart: Partial<Record<NetworkName, number>> = {};
  agent: RunningAgent | null = null;
  frr: FrrHandle | null = null;
  gen!: Generator;
  counter!: KernelCounter;
  genNs = '';
  prepareMs = 0;
  readonly bfd: BfdTimers;

  constructor(tag: string, readonly opts: ScaleLabOptions) {
    this.impl = opts.impl;
    this.bfd = opts.bfd ?? BFD;
    this.lab = new Lab(tag);
    const nodeArgs = opts.agentNodeArgs ?? [];
    if (nodeArgs.length > 0) {
      const [node, ...rest] = defaultEvpnHaCommand();
      this.net = new TwoNetworkLab(this.lab, [node!, ...nodeArgs, ...rest]);
    } else this.net = new TwoNetworkLab(this.lab);
  }

  /** AS of each network's reflector: 65001/65002 for evpn-ha; FRR needs one AS (65001). */
  asn(n: NetworkName): number {
    return n === 'net2' && this.impl === 'evpn-ha' ? 65002 : 65001;
  }

  genNetworks(): Record<NetworkName, GenNetwork> {
    return {
      net1: { vtepPrefix: '192.168.1.', vtepFirst: 101, rtAs: this.asn('net1') },
      net2: { vtepPrefix: '192.168.2.', vtepFirst: 101, rtAs: this.asn('net2') },
    };
  }

  async setup(): Promise<void> {
    this.net.build();
    this.genNs = this.lab.ns('gen');
    for (const n of ['net1', 'net2'] as const) {
      const info = this.net.networks[n];
      const port = `pgen${info.index}`;
      this.lab.veth(this.genNs, info.interface, info.switchNs, port, `${GEN_ADDR[n]}/24`);
      ip(info.switchNs, 'link', 'set', port, 'master', 'sw0');
      this.rr[n] = await startFrr(this.lab, info.rrNs, {
        bgpdConf: rrConfig({
          asn: this.asn(n), routerId: info.rrAddress, hostname: `rr${info.index}`,
          listenRange: `192.168.${info.index}.0/24`, timers: { keepalive: 3, hold: 9 }, bfd: this.bfd,
          ...(this.opts.rrExtra ? { extra: this.opts.rrExtra } : {}),
        }),
        bfdd: true, bfddConf: bfdConfig(this.bfd),
      });
      const log = this.rr[n].logs.bgpd;
      try { this.rrLogStart[n] = log ? statSync(log).size : 0; } catch { this.rrLogStart[n] = 0; }
    }
    this.gen = new Generator(this.lab, this.genNs);
    if (this.opts.prepare) this.prepareMs = await this.gen.prepare(this.opts.prepare.n, this.opts.prepare.k, this.genNetworks());
    for (const n of ['net1', 'net2'] as const) await this.gen.peer(n, GEN_ADDR[n], this.net.networks[n].rrAddress, this.asn(n));
    const l = this.net.servers.l;
    if (this.impl === 'evpn-ha') {
      this.agent = this.net.startAgent('l', {
        holdTime: 9, keepalive: 3, connectRetry: 1, bfd: this.bfd, logLevel: 'warn', asn: { net1: 65001, net2: 65002 },
        ...this.opts.tuning,
      });
    } else {
      this.frr = await startFrr(this.lab, l.ns, {
        bgpdConf: briefServerConfig({ hostname: 'server-l', routerId: l.address.net1, bfd: true }), bfdd: true, bfddConf: bfdConfig(this.bfd),
      });
    }
    this.counter = new KernelCounter(this.lab, l.ns);
    await this.counter.ready();
    await this.steady(60_000);
  }

  /** server-l Established with both reflectors and its BFD sessions Up in both reflectors' bfdd. */
  isSteady(): boolean {
    const l = this.net.servers.l;
    return (['net1', 'net2'] as const).every((n) => {
      const j = this.rr[n].vtyshJson('show bgp l2vpn evpn summary') as { peers?: Record<string, { state?: string }> };
      if (j.peers?.[l.address[n]]?.state !== 'Established') return false;
      const peers = this.rr[n].vtyshJson('show bfd peers') as Array<{ peer?: string; status?: string }>;
      return peers.some((p) => p.peer === l.address[n] && p.status === 'up');
    });
  }

  async steady(capMs: number): Promise<void> {
    const t0 = Date.now();
    for (;;) {
      let ok = false;
      try { ok = this.isSteady(); } catch { ok = false; }
      if (ok) return;
      if (Date.now() - t0 > capMs) throw new Error(`server-l (${this.impl}) not Established with BFD Up on both reflectors within ${capMs} ms\n${this.tail()}`);
      await sleep(250);
    }
  }

  /** The server's processes: the agent and its children, or bgpd + zebra + bfdd. */
  pids(): Record<string, number[]> {
    if (this.agent) return { agent: this.agent.child.pid === undefined ? [] : processTree(this.agent.child.pid) };
    const out: Record<string, number[]> = {};
    for (const d of ['bgpd', 'zebra', 'bfdd'] as const) {
      const p = this.frr?.pid(d);
      out[d] = p === undefined ? [] : [p];
    }
    return out;
  }

  rss(): { total: number; parts: Record<string, number> } {
    const parts: Record<string, number> = {};
    let total = 0;
    for (const [k, v] of Object.entries(this.pids())) { parts[k] = rssMiB(v); total += parts[k]; }
    return { total, parts };
  }

  cpu(): number {
    return Object.values(this.pids()).reduce((s, v) => s + cpuSeconds(v), 0);
  }

  /** How often each reflector sent server-l a Cease/BFD Down (its bgpd log). */
  bfdDowns(): number {
    let n = 0;
    for (const net of ['net1', 'net2'] as const) {
      const path = this.rr[net]?.logs.bgpd;
      if (!path) continue;
      try {
        const addr = this.net.servers.l.address[net];
        const text = readFileSync(path).subarray(this.rrLogStart[net] ?? 0).toString('utf8');
        for (const line of text.split('\n')) if (line.includes(`sent to neighbor ${addr} 6/10`)) n++;
      } catch { /* no log */ }
    }
    return n;
  }

  tail(lines = 30): string {
    if (this.agent) return `--- agent l ---\n${this.agent.output().split('\n').slice(-lines).join('\n')}`;
    return this.frr?.logTail(lines) ?? '';
  }

  async close(): Promise<void> {
    this.gen?.stop();
    this.counter?.stop();
    // A profiled agent writes its profile on the way out: give it time.
    if (this.agent) log(`stopping the agent (${Date.now()})`);
    await this.agent?.stop('SIGTERM', (this.opts.agentNodeArgs ?? []).length > 0 ? 120_000 : 5000);
    this.lab.dispose();
  }
}
