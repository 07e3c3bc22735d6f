// Fail-over benchmark (issue 4 §3): the design brief's two-network topology with
// FRR route reflectors (RR-net1 AS 65001, RR-net2 AS 65002, `bgp listen range`,
// route-reflector-client, bfdd with a profile matching the agents' BFD) and
// evpn-ha agents on server-l and server-r; a continuous ping every 10 ms from
// server-l to 192.168.0.87 (server-r's service address; the replies exercise
// server-r's choice of path too).
//
// Scenarios, each --runs times (default 5):
//   a  server-l's eth1 blackholed (every packet both ways, carrier stays up)
//   b  server-r's eth1 blackholed
//   c  only the path 192.168.1.65 <-> 192.168.1.87 blackholed (BGP to RR-net1 stays up)
//   d  the design brief's injection on server-l: DROP tcp sport 179 from RR-net1 and
//      udp dport 4789 from network 1
// Outage = last reply before the fault to the first reply after (PingRun.outageAround).
// After each fault: wait for the fail-over to settle, remove the fault, wait until
// both servers' FDB entries point at network 1 again, and count the echo requests
// lost in that failback window.
//
// Modes: `fast` = BFD 100 ms x 3 + VTEP probes 100 ms x 3 (hold-down 2000 ms);
// `holdtimer` = BFD and probes off, hold time 9 s / keepalive 3 s (the published
// FRR timers). Output: one line per scenario and mode,
//   scenario <a|b|c|d> median <ms> ms max <ms> ms failback-lost <n>
// where failback-lost is the TOTAL over the runs; notes follow the fields.
//
// Run as root: `npm run bench:failover [-- --runs N --scenarios a,b --mode fast|holdtimer|both]`.
// Agent logs (pino JSON) and a per-run timeline are kept in /tmp/evpn-ha-logs/failover-<id>/.
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg, cpus } from 'node:os';
import { join } from 'node:path';
import { Lab, RUN_ID, isRoot, sh, sleep } from '../src/lab/netns.js';
import { TwoNetworkLab, type AgentTuning, type PingRun, type RunningAgent, type ServerName } from '../src/lab/twonet.js';
import { startFrr, twoNetReflectorOptions, type FrrHandle } from '../src/lab/frr.js';
import { runBench, UsageError } from './lib/main.js';

type Scenario = 'a' | 'b' | 'c' | 'd';
type Mode = 'fast' | 'holdtimer';

const BFD = { minTx: 100, minRx: 100, multiplier: 3 };
const PROBE = { interval: 100, multiplier: 3, holdDown: 2000 };
/** How long we wait for a fail-over before calling it "none". */
const FAILOVER_CAP_MS: Record<Mode, number> = { fast: 5000, holdtimer: 15000 };
/** How long the fault stays after the fail-over before it is removed. */
const SETTLE_MS = 3000;
const FAILBACK_CAP_MS = 60_000;

interface Args { runs: number; scenarios: Scenario[]; modes: Mode[] }

const USAGE = 'usage: node build/bench/failover.js [--runs N] [--scenarios a,b,c,d] [--mode fast|holdtimer|both]';

function parseArgs(argv: string[]): Args {
  const a: Args = { runs: 5, scenarios: ['a', 'b', 'c', 'd'], modes: ['fast', 'holdtimer'] };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const [flag, inline] = k.includes('=') ? [k.slice(0, k.indexOf('=')), k.slice(k.indexOf('=') + 1)] : [k, undefined];
    const val = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    if (flag === '--runs') {
      a.runs = Number(val());
      if (!Number.isInteger(a.runs) || a.runs < 1) throw new UsageError('--runs must be a positive integer');
    } else if (flag === '--scenarios') {
      const s = val().split(',').map((x) => x.trim()).filter(Boolean);
      for (const x of s) if (!['a', 'b', 'c', 'd'].includes(x)) throw new UsageError(`unknown scenario ${x} (a, b, c, d)`);
      a.scenarios = s as Scenario[];
    } else if (flag === '--mode') {
      const m = val();
      if (m === 'both') a.modes = ['fast', 'holdtimer'];
      else if (m === 'fast' || m === 'holdtimer') a.modes = [m];
      else throw new UsageError(`--mode must be fast, holdtimer or both, not ${m}`);
    } else if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else {
      throw new UsageError(`unknown argument ${k}`);
    }
  }
  return a;
}

async function until(fn: () => boolean, timeoutMs: number, stepMs = 50): Promise<number | null> {
  const t0 = Date.now();
  for (;;) {
    let ok = false;
    try { ok = fn(); } catch { ok = false; }
    if (ok) return Date.now();
    if (Date.now() - t0 > timeoutMs) return null;
    await sleep(stepMs);
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  const n = s.length;
  return n % 2 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
}

const log = (s: string): void => { process.stderr.write(`${new Date().toISOString().slice(11, 23)} ${s}\n`); };

interface RunResult {
  scenario: Scenario;
  run: number;
  faultAt: number;
  /** ms, or null when no reply came back within the cap. */
  outage: number | null;
  /** When each server's FDB entry for the other left network 1 (ms after the fault). */
  movedMs: Partial<Record<ServerName, number | null>>;
  undoAt: number;
  /** When both FDB entries were back on network 1, or null (cap). */
  backAt: number | null;
  failbackLost: number;
}

class Bench {
  readonly lab: Lab;
  readonly net: TwoNetworkLab;
  rr = {} as Record<'net1' | 'net2', FrrHandle>;
  agents = {} as Record<ServerName, RunningAgent>;
  ping: PingRun | null = null;

  constructor(readonly mode: Mode, readonly logDir: string) {
    this.lab = new Lab(mode === 'fast' ? 'fof' : 'foh');
    this.net = new TwoNetworkLab(this.lab);
  }

  primary(s: ServerName): string { return this.net.servers[s].address.net1; }
  other(s: ServerName): ServerName { return s === 'l' ? 'r' : 'l'; }
  /** dst of server s's FDB entry for the other server's MAC. */
  dst(s: ServerName): string | null { return this.net.fdbDst(s, this.net.servers[this.other(s)].mac); }
  onNet(s: ServerName, net: 1 | 2): boolean { return (this.dst(s) ?? '').startsWith(`192.168.${net}.`); }

  async setup(): Promise<void> {
    const fast = this.mode === 'fast';
    this.net.build();
    for (const n of ['net1', 'net2'] as const) {
      const info = this.net.networks[n];
      this.rr[n] = await startFrr(this.lab, info.rrNs, twoNetReflectorOptions(info, fast ? BFD : undefined));
    }
    const tuning: AgentTuning = fast
      ? { holdTime: 9, keepalive: 3, bfd: BFD, vtepProbe: PROBE }
      : { holdTime: 9, keepalive: 3, bfd: false, vtepProbe: false };
    for (const s of ['l', 'r'] as const) this.agents[s] = this.net.startAgent(s, tuning);
    const ok = await until(() => this.onNet('l', 1) && this.onNet('r', 1), 60_000, 200);
    if (ok === null) throw new Error(`agents did not converge on network 1 within 60 s\n${this.tail('l')}\n${this.tail('r')}`);
    if (fast) {
      const bfdUp = await until(() => this.bfdUp('net1') && this.bfdUp('net2'), 30_000, 250);
      if (bfdUp === null) throw new Error('FRR bfdd sessions to the agents not up within 30 s');
    }
    this.ping = this.net.ping('l', this.net.servers.r.service, 10);
    const flowing = await until(() => this.ping!.lastReplyAt() > Date.now() - 200, 10_000, 100);
    if (flowing === null) throw new Error('ping from server-l to 192.168.0.87 gets no replies');
  }

  /** Both servers' BFD sessions Up in the reflector's bfdd. */
  bfdUp(n: 'net1' | 'net2'): boolean {
    const peers = this.rr[n].vtyshJson('show bfd peers') as Array<{ peer?: string; status?: string }>;
    return (['l', 'r'] as const).every((s) => peers.some((p) => p.peer === this.net.servers[s].address[n] && p.status === 'up'));
  }

  /** FRR's state for one client (dynamic peers vanish when down). */
  rrEstablished(n: 'net1' | 'net2', s: ServerName): boolean {
    const j = this.rr[n].vtyshJson('show bgp l2vpn evpn summary') as { peers?: Record<string, { state?: string }> };
    return j.peers?.[this.net.servers[s].address[n]]?.state === 'Established';
  }

  tail(s: ServerName, lines = 20): string {
    return `--- agent ${s} ---\n${this.agents[s]?.output().split('\n').slice(-lines).join('\n') ?? ''}`;
  }

  fault(sc: Scenario): () => void {
    switch (sc) {
      case 'a': return this.net.blackholeUplink('l', 'net1');
      case 'b': return this.net.blackholeUplink('r', 'net1');
      case 'c': return this.net.blackholePath('net1');
      case 'd': return this.net.briefInjection('l', 'net1');
    }
  }

  /** The steady state before a fault: both on network 1, BFD up, replies flowing. */
  async steady(): Promise<void> {
    const ok = await until(() => this.onNet('l', 1) && this.onNet('r', 1)
      && (this.mode !== 'fast' || (this.bfdUp('net1') && this.bfdUp('net2')))
      && this.rrEstablished('net1', 'l') && this.rrEstablished('net1', 'r')
      && this.ping!.lastReplyAt() > Date.now() - 200, 60_000, 200);
    if (ok === null) {
      throw new Error(`no steady state within 60 s (fdb l ${String(this.dst('l'))}, r ${String(this.dst('r'))})\n${this.tail('l')}\n${this.tail('r')}`);
    }
    // Quiet time: probe hold-downs over, BFD at its fast rate, ping replies steady;
    // plus a random 0-3 s so the fault does not fall at the same phase of the
    // 3 s keepalive (runs take about the same time each, which would lock it).
    await sleep((this.mode === 'fast' ? PROBE.holdDown + 1000 : 1500) + Math.random() * 3000);
  }

  async run(sc: Scenario, i: number): Promise<RunResult> {
    const ping = this.ping!;
    await this.steady();
    const faultAt = Date.now();
    const undo = this.fault(sc);
    const moved: Partial<Record<ServerName, number | null>> = {};
    // Fail-over: both FDB entries off network 1 and the pings answered again.
    const cap = FAILOVER_CAP_MS[this.mode];
    const bothMoved = await until(() => {
      for (const s of ['l', 'r'] as const) if (moved[s] === undefined && this.onNet(s, 2)) moved[s] = Date.now() - faultAt;
      return moved.l !== undefined && moved.r !== undefined;
    }, cap, 20);
    for (const s of ['l', 'r'] as const) if (moved[s] === undefined) moved[s] = null;
    // Replies flowing again after the move (the iptables commands take a while, so
    // a few replies right after faultAt may predate the fault biting).
    if (bothMoved !== null) await until(() => ping.repliesAfter(bothMoved) >= 5, 3000, 20);
    // No reply for the last 300 ms: the outage is still going on (no failover).
    const recovered = ping.lastReplyAt() > Date.now() - 300;
    const outage = recovered ? ping.outageAround(faultAt) : null;
    // Settle: the faulted server's session to RR-net1 gone (a, b, d; not in c) and a few s.
    if (outage !== null && sc !== 'c') {
      const victim: ServerName = sc === 'b' ? 'r' : 'l';
      await until(() => !this.rrEstablished('net1', victim), 15_000, 250);
    }
    await sleep(SETTLE_MS);
    const undoAt = Date.now();
    undo();
    const backAt = await until(() => this.onNet('l', 1) && this.onNet('r', 1), FAILBACK_CAP_MS, 50);
    // Let the replies of the failback window arrive (ping -W 1), then count the
    // requests lost from the removal up to the first reply 1 s after the failback
    // (lostBetween only sees gaps between replies: a loss still going on at the
    // end of the window would not count otherwise).
    const windowEnd = (backAt ?? Date.now()) + 1000;
    const closing = await until(() => ping.lastReplyAt() >= windowEnd, 5000, 50);
    const endReply = ping.replies.find((r) => r.at >= windowEnd);
    const failbackLost = closing === null || endReply === undefined
      ? Number.NaN
      : ping.lostBetween(undoAt, endReply.at);
    return { scenario: sc, run: i, faultAt, outage: outage === null ? null : Math.round(outage), movedMs: moved, undoAt, backAt, failbackLost };
  }

  saveLogs(results: RunResult[]): void {
    for (const s of ['l', 'r'] as const) writeFileSync(join(this.logDir, `${this.mode}-agent-${s}.log`), this.agents[s]?.output() ?? '');
    writeFileSync(join(this.logDir, `${this.mode}-runs.json`), JSON.stringify(results, null, 1));
    writeFileSync(join(this.logDir, `${this.mode}-ping.json`), JSON.stringify(this.ping?.replies ?? []));
  }

  async close(): Promise<void> {
    this.ping?.stop();
    await Promise.all((['l', 'r'] as const).map((s) => this.agents[s]?.stop('SIGTERM', 5000)));
    this.lab.dispose();
  }
}

function summary(mode: Mode, sc: Scenario, rs: RunResult[]): string {
  const cap = FAILOVER_CAP_MS[mode];
  const outs = rs.map((r) => r.outage ?? cap);
  const none = rs.filter((r) => r.outage === null).length;
  const dead = rs.filter((r) => Number.isNaN(r.failbackLost)).length;
  const lost = rs.reduce((n, r) => n + (Number.isNaN(r.failbackLost) ? 0 : r.failbackLost), 0);
  const fb = rs.filter((r) => r.backAt !== null).map((r) => (r.backAt! - r.undoAt) / 1000);
  const notes: string[] = [];
  if (none) notes.push(`no failover within ${cap / 1000} s in ${none} of ${rs.length} runs: figures are the cap, read as >=`);
  if (fb.length) notes.push(`failback ${Math.min(...fb).toFixed(1)}-${Math.max(...fb).toFixed(1)} s`);
  if (dead) notes.push(`NO REPLIES after the failback in ${dead} runs (not counted in failback-lost)`);
  if (fb.length < rs.length) notes.push(`${rs.length - fb.length} failbacks not done within ${FAILBACK_CAP_MS / 1000} s`);
  return `scenario ${sc} median ${Math.round(median(outs))} ms max ${Math.round(Math.max(...outs))} ms failback-lost ${lost}${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!isRoot()) throw new Error('bench:failover needs root (network namespaces)');
  for (const tool of ['vtysh', 'iptables', 'ping', 'bridge']) {
    try { sh('which', [tool]); } catch { throw new Error(`${tool} not installed (apt-get install -y frr iptables iputils-ping iproute2)`); }
  }
  const logDir = join('/tmp/evpn-ha-logs', `failover-${RUN_ID}`);
  mkdirSync(logDir, { recursive: true });
  const la = loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`# bench:failover: ${cpus().length} CPUs, load average at start ${la}; ${args.runs} runs per scenario; ping every 10 ms server-l -> 192.168.0.87`);
  console.log('# outage = last reply before the fault to the first reply after (ms); failback-lost = echo requests lost while failing back, TOTAL over the runs');
  console.log(`# logs: ${logDir}`);

  let current: Bench | null = null;
  const abort = (sig: string): void => {
    process.stderr.write(`bench:failover: ${sig}, cleaning up\n`);
    current?.lab.dispose();
    process.exit(130);
  };
  process.once('SIGINT', () => abort('SIGINT'));
  process.once('SIGTERM', () => abort('SIGTERM'));

  for (const mode of args.modes) {
    const bench = new Bench(mode, logDir);
    current = bench;
    const results: RunResult[] = [];
    const lines: string[] = [];
    let failed: unknown = null;
    try {
      log(`${mode}: building the lab`);
      await bench.setup();
      log(`${mode}: converged, ping running`);
      for (const sc of args.scenarios) {
        const rs: RunResult[] = [];
        for (let i = 1; i <= args.runs; i++) {
          const r = await bench.run(sc, i);
          rs.push(r);
          results.push(r);
          log(`${mode} ${sc} run ${i}: outage ${r.outage ?? 'none'} ms, fdb moved l ${r.movedMs.l ?? '-'} ms r ${r.movedMs.r ?? '-'} ms, `
            + `failback ${r.backAt === null ? 'not done' : `${r.backAt - r.undoAt} ms`}, lost ${r.failbackLost}`);
        }
        lines.push(summary(mode, sc, rs));
      }
    } catch (e) {
      // Print what was measured; the error (with the agents' last lines) follows.
      failed = e;
    } finally {
      bench.saveLogs(results);
      await bench.close();
      current = null;
    }
    console.log('');
    console.log(mode === 'fast'
      ? `## BFD ${BFD.minTx} ms x ${BFD.multiplier} + VTEP probes ${PROBE.interval} ms x ${PROBE.multiplier} (hold-down ${PROBE.holdDown} ms), hold time 9 s`
      : '## hold timer only (BFD and probes off; hold time 9 s, keepalive 3 s)');
    for (const l of lines) console.log(l);
    if (failed !== null) throw failed;
  }
  console.log(`# load average at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

runBench('bench:failover', USAGE, main);
