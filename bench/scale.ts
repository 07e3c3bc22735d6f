// Scale benchmark (issue 9 §4): the two-network topology of bench:failover with
// FRR reflectors (RR-net1 AS 65001, RR-net2 AS 65002; both 65001 for the FRR run,
// as FRR needs), a route generator of our own (src/lab/routegen.ts) peering with
// each reflector as a client, and on server-l either evpn-ha or FRR (bgpd + zebra
// + bfdd, the design brief's server configuration with both route-maps defined,
// BFD 100 ms x 3 to both reflectors), one after the other in the same run. For
// each N (default 10,000, 50,000, 200,000; K remote VTEPs per network, default 4),
// in a fresh lab per implementation:
//
//   install   the generator announces the N type-2 MAC+IP routes on both networks
//             (net1 routes first, then net2, on both sessions at once): time from
//             its first UPDATE to the last of N FDB entries on network 1 plus N
//             neighbour entries in server-l's kernel;
//   rss/cpu   the server's RSS (evpn-ha: the agent and its event pump; FRR: bgpd +
//             zebra + bfdd) 2 s after the install, CPU seconds (utime + stime);
//   failover  server-l's eth1 blackholed (iptables, both ways, carrier up), BFD
//             100 ms x 3: time until every FDB entry for the generator's MACs
//             points into network 2 (entry dst, or the FDB nexthop it uses);
//   failback  fault removed: time until all are back on network 1 (extra line);
//   withdraw  the net1 routes withdrawn (an alternative on net2): time until every
//             entry points into network 2; then the net2 routes (no alternative):
//             time until no entry is left (extra line). evpn-ha runs with
//             kernel.withdrawDelay 0 (its default keeps path-less entries 10 s).
//
// Then a standalone probe measurement (bench/lib/probe-cpu.ts): the real prober and
// UDP transport against 2 x --probe-servers VTEP addresses that answer.
//
// Lines (fixed, issue 9 §4):
//   install N=<n>: evpn-ha <s> s, frr <s> s, ratio <r>
//   rss N=<n>: evpn-ha <MiB> MiB, frr <MiB> MiB
//   failover N=<n>: evpn-ha <ms> ms, frr <ms> ms
//   probe cpu: <pct>% of one core for <k> remote VTEP paths
// A phase that does not complete within its cap prints `timeout` in place of the
// figure (and a `# timeout:` note); later phases of that implementation at that N
// are skipped (`skipped`). With --runs > 1 the figures are medians.
//
// The reflectors log each session they drop on BFD Down; a count above the one
// failover is printed as a note (an agent whose event loop stalls for longer than
// the BFD detection time loses its sessions under load). --bfd-multiplier changes
// the detection multiplier on every session (both implementations, reflectors).
//
// Run as root: `npm run bench:scale [-- --sizes 10000,50000 --runs 3 --vteps 4
//   --impl evpn-ha,frr --bfd-multiplier 3 --probe-servers 1000 --no-probe --probe-only]`.
import { mkdirSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { RUN_ID, isRoot, sh, sleep } from '../src/lab/netns.js';
import type { BfdTimers } from '../src/lab/frr.js';
import { fdbTotal, log, rssDetail, ScaleLab, type Counts, type Impl } from './lib/scale-lab.js';
import { measureProbeCpu } from './lib/probe-cpu.js';
import { runBench, UsageError } from './lib/main.js';

interface Args {
  sizes: number[];
  runs: number;
  vteps: number;
  impls: Impl[];
  probe: boolean;
  probeOnly: boolean;
  probeServers: number;
  probeSeconds: number;
  bfdMultiplier: number;
  /** Directory for a CPU profile of the measured prober (node --cpu-prof). */
  probeProf?: string;
  /** Another prober program to measure (an older build, for before/after figures). */
  probeCli?: string;
  /** Every path active (the agent today), not only network 1's. */
  probeAllActive?: boolean;
  /** Directory for CPU profiles of the agent on server-l (node --cpu-prof, written when it stops). */
  agentProf?: string;
  agentHeap?: string;
}

const USAGE = 'usage: node build/bench/scale.js [--sizes 10000,50000,200000] [--runs N] [--vteps K] [--impl evpn-ha,frr] '
  + '[--bfd-multiplier M] [--probe-servers M] [--probe-seconds S] [--no-probe] [--probe-only] [--agent-prof DIR] [--agent-heap DIR]';

function parseArgs(argv: string[]): Args {
  const a: Args = { sizes: [10_000, 50_000, 200_000], runs: 1, vteps: 4, impls: ['evpn-ha', 'frr'], probe: true, probeOnly: false, probeServers: 1000, probeSeconds: 20, bfdMultiplier: 3 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const [flag, inline] = k.includes('=') ? [k.slice(0, k.indexOf('=')), k.slice(k.indexOf('=') + 1)] : [k, undefined];
    const val = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const posInt = (name: string, v: string): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`${name} must be a positive integer, not ${v}`);
      return n;
    };
    if (flag === '--sizes') a.sizes = val().split(',').map((x) => posInt('--sizes', x.trim()));
    else if (flag === '--runs') a.runs = posInt('--runs', val());
    else if (flag === '--vteps') a.vteps = posInt('--vteps', val());
    else if (flag === '--probe-servers') a.probeServers = posInt('--probe-servers', val());
    else if (flag === '--probe-seconds') a.probeSeconds = posInt('--probe-seconds', val());
    else if (flag === '--bfd-multiplier') a.bfdMultiplier = posInt('--bfd-multiplier', val());
    else if (flag === '--no-probe') a.probe = false;
    else if (flag === '--probe-prof') a.probeProf = val();
    else if (flag === '--agent-prof') a.agentProf = resolve(val());
    else if (flag === '--agent-heap') a.agentHeap = resolve(val());
    else if (flag === '--probe-cli') a.probeCli = val();
    else if (flag === '--probe-all-active') a.probeAllActive = true;
    else if (flag === '--probe-only') a.probeOnly = true;
    else if (flag === '--impl') {
      const s = val().split(',').map((x) => x.trim());
      for (const x of s) if (x !== 'evpn-ha' && x !== 'frr') throw new UsageError(`unknown implementation ${x} (evpn-ha, frr)`);
      a.impls = s as Impl[];
    } else if (flag === '--help' || flag === '-h') {
      console.log(USAGE);
      process.exit(0);
    } else throw new UsageError(`unknown argument ${k}`);
  }
  if (a.vteps > 150) throw new UsageError('--vteps must be at most 150');
  return a;
}

/** A measured figure, or why there is none. */
type Fig = number | 'timeout' | 'skipped' | 'failed';

interface RunResult {
  install: Fig; // s
  rss: Fig; // MiB
  rssParts: Record<string, number>;
  cpuInstall: Fig; // s
  failover: Fig; // ms
  failback: Fig; // s
  withdrawAlt: Fig; // s
  withdrawNone: Fig; // s
  cpuTotal: Fig;
  /** Cease/BFD Down sent by the reflectors to server-l (the failover adds one). */
  bfdDowns: number;
  notes: string[];
}

/** Caps: generous, growing with N (the 50k install took 13-23 s before issue 9). */
const caps = (n: number) => ({
  install: 30_000 + n * 0.6,
  failover: 10_000 + n * 0.1,
  failback: 60_000 + n * 0.6,
  withdraw: 30_000 + n * 0.6,
});

/** A heap snapshot of the agent (not its children) into dir; waits until it is written. */
async function heapSnapshot(s: ScaleLab, dir: string, what: string): Promise<void> {
  const pid = s.pids().agent?.[0];
  if (pid === undefined) return;
  const before = new Set(readdirSync(dir));
  process.kill(pid, 'SIGUSR2');
  const t0 = Date.now();
  let last = -1;
  while (Date.now() - t0 < 300_000) {
    await sleep(1000);
    const f = readdirSync(dir).find((x) => x.endsWith('.heapsnapshot') && !before.has(x));
    if (f === undefined) continue;
    const size = statSync(join(dir, f)).size;
    if (size > 0 && size === last) {
      log(`heap snapshot after ${what}: ${join(dir, f)} (${(size / 2 ** 20).toFixed(0)} MiB, ${((Date.now() - t0) / 1000).toFixed(0)} s)`);
      return;
    }
    last = size;
  }
  log(`heap snapshot after ${what}: not written within 300 s`);
}

async function runOne(impl: Impl, n: number, k: number, run: number, logDir: string, bfd: BfdTimers, agentProf?: string, agentHeap?: string): Promise<RunResult> {
  const r: RunResult = {
    install: 'skipped', rss: 'skipped', rssParts: {}, cpuInstall: 'skipped', failover: 'skipped', failback: 'skipped',
    withdrawAlt: 'skipped', withdrawNone: 'skipped', cpuTotal: 'skipped', bfdDowns: 0, notes: [],
  };
  const cap = caps(n);
  const tag = impl === 'evpn-ha' ? 'sce' : 'scf';
  // kernel.withdrawDelay 0: the default (10 s) keeps an entry whose last path went
  // for 10 s on purpose; FRR removes at once, so the withdraw figures compare that.
  const s = new ScaleLab(tag, {
    impl, bfd, prepare: { n, k }, tuning: { extra: 'kernel:\n  withdrawDelay: 0' },
    ...(agentProf || agentHeap ? {
      agentNodeArgs: [
        ...(agentProf ? ['--cpu-prof', '--cpu-prof-dir', agentProf] : []),
        ...(agentHeap ? ['--heapsnapshot-signal=SIGUSR2', `--diagnostic-dir=${agentHeap}`] : []),
      ],
    } : {}),
  });
  // A phase whose end came from a stale count, or that spanned a counter re-seed,
  // has a late figure (never an early one): say so.
  const late = (phase: string, u: { stale: boolean; reseeds: number }): void => {
    if (u.stale) r.notes.push(`# note: ${impl} ${phase} N=${n}: the completing count was stale (changed before the phase began); the figure is when it was taken (late)`);
    else if (u.reseeds > 0) r.notes.push(`# note: ${impl} ${phase} N=${n}: the kernel counter re-seeded ${u.reseeds} time(s) during the phase (the figure is late by up to a dump)`);
  };
  const timeout = (phase: string, ms: number, c: Counts): void => {
    r.notes.push(`# timeout: ${impl} ${phase} N=${n} not complete after ${(ms / 1000).toFixed(0)} s `
      + `(fdb net1 ${c.fdb.net1}, net2 ${c.fdb.net2}, other ${c.fdb.other}, neigh ${c.neigh}; counter overflows ${c.overflows}, repairs ${c.repairs})`);
  };
  try {
    log(`${impl} N=${n} run ${run}: building the lab`);
    await s.setup();
    log(`${impl} N=${n}: steady; generator encoded ${n} routes x 2 networks in ${s.prepareMs} ms`);
    const cpu0 = s.cpu();

    // Install: both networks; done when all N are on net1 and N neighbours exist.
    log(`${impl} N=${n}: install starts (${Date.now()})`);
    const sent = await s.gen.send('announce', ['net1', 'net2']);
    const inst = await s.counter.until((c) => c.fdb.net1 === n && c.neigh >= n, sent.firstAt, cap.install, { stepMs: 100 });
    if (!inst.ok) { r.install = 'timeout'; timeout('install', cap.install, inst.last); return r; }
    r.install = (inst.last.t1 - sent.firstAt) / 1000;
    late('install', inst);
    log(`${impl} N=${n}: install ${r.install.toFixed(2)} s (generator wrote for ${sent.doneAt - sent.firstAt} ms)`);
    await sleep(2000);
    const rss = s.rss();
    r.rss = rss.total;
    r.rssParts = rss.parts;
    r.cpuInstall = s.cpu() - cpu0;
    if (impl === 'evpn-ha') {
      r.notes.push(`# rss N=${n} evpn-ha 2 s after the install: ${rssDetail(s.pids().agent ?? [])} MiB`);
      await sleep(8000);
      r.notes.push(`# rss N=${n} evpn-ha 10 s after the install: ${rssDetail(s.pids().agent ?? [])} MiB`);
    }
    if (agentHeap && impl === 'evpn-ha') await heapSnapshot(s, agentHeap, `install N=${n}`);

    // Failover: eth1 blackholed; BFD takes the net1 session down.
    await s.steady(30_000);
    await sleep(1000);
    const faultAt = Date.now();
    const undo = s.net.blackholeUplink('l', 'net1');
    const fo = await s.counter.until((c) => c.fdb.net2 === n, faultAt, cap.failover, { fdbOnly: true, stepMs: 20 });
    if (!fo.ok) { r.failover = 'timeout'; timeout('failover', cap.failover, fo.last); undo(); return r; }
    r.failover = fo.last.t1 - faultAt;
    late('failover', fo);
    log(`${impl} N=${n}: failover ${r.failover} ms (the completing count taken ${fo.last.t0 - faultAt} ms after the fault)`);
    await sleep(2000);
    const undoAt = Date.now();
    undo();
    const fb = await s.counter.until((c) => c.fdb.net1 === n, undoAt, cap.failback, { fdbOnly: true, stepMs: 100 });
    if (!fb.ok) { r.failback = 'timeout'; timeout('failback', cap.failback, fb.last); return r; }
    r.failback = (fb.last.t1 - undoAt) / 1000;
    late('failback', fb);
    log(`${impl} N=${n}: failback ${r.failback.toFixed(2)} s`);
    await s.steady(30_000);

    // Withdraw with an alternative (net1 routes), then without (net2 routes).
    log(`${impl} N=${n}: withdraw with alternative starts (${Date.now()})`);
    const w1 = await s.gen.send('withdraw', ['net1']);
    const wa = await s.counter.until((c) => c.fdb.net2 === n, w1.firstAt, cap.withdraw, { fdbOnly: true, stepMs: 50 });
    if (!wa.ok) { r.withdrawAlt = 'timeout'; timeout('withdraw (alternative)', cap.withdraw, wa.last); return r; }
    r.withdrawAlt = (wa.last.t1 - w1.firstAt) / 1000;
    late('withdraw (alternative)', wa);
    const cpuW = s.cpu();
    log(`${impl} N=${n}: withdraw without alternative starts (${Date.now()})`);
    const w2 = await s.gen.send('withdraw', ['net2']);
    const wn = await s.counter.until((c) => fdbTotal(c) === 0 && c.master === 0 && c.neigh === 0, w2.firstAt, cap.withdraw, { stepMs: 50 });
    if (!wn.ok) { r.withdrawNone = 'timeout'; timeout('withdraw (none)', cap.withdraw, wn.last); return r; }
    r.withdrawNone = (wn.last.t1 - w2.firstAt) / 1000;
    log(`${impl} N=${n}: withdraw without alternative done (${Date.now()}), ${(s.cpu() - cpuW).toFixed(1)} CPU s`);
    late('withdraw (none)', wn);
    log(`${impl} N=${n}: withdraw ${r.withdrawAlt.toFixed(2)} s with alternative, ${r.withdrawNone.toFixed(2)} s without`);
    r.cpuTotal = s.cpu() - cpu0;
    if (wn.last.repairs > 0) r.notes.push(`# note: ${impl} N=${n}: the kernel counter missed events ${wn.last.repairs} time(s) and repaired its count with a dump (the figure of that phase is late by up to 1 s + the dump)`);
    if (wn.last.overflows > 0) r.notes.push(`# note: ${impl} N=${n}: the kernel counter's event socket overflowed ${wn.last.overflows} time(s) (re-seeded by a dump; the figures around it are late)`);
    const closed = s.gen.closed();
    if (closed.length) r.notes.push(`# note: ${impl} N=${n}: generator sessions closed: ${closed.join(' ')}`);
    return r;
  } catch (e) {
    r.notes.push(`# error: ${impl} N=${n}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`);
    log(`${impl} N=${n}: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n${s.tail()}`);
    for (const key of ['install', 'rss', 'cpuInstall', 'failover', 'failback', 'withdrawAlt', 'withdrawNone', 'cpuTotal'] as const) {
      if (r[key] === 'skipped') { r[key] = 'failed'; break; }
    }
    return r;
  } finally {
    r.bfdDowns = s.bfdDowns();
    const expected = typeof r.failover === 'number' ? 1 : 0;
    if (r.bfdDowns > expected) {
      r.notes.push(`# note: ${impl} N=${n} run ${run}: the reflectors dropped server-l's sessions ${r.bfdDowns} time(s) on BFD Down (Cease 6/10); `
        + `the failover accounts for ${expected}: the others are BFD flaps without a fault`);
    }
    try { writeFileSync(join(logDir, `${impl}-${n}-${run}.log`), s.tail(100_000)); } catch { /* best effort */ }
    await s.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((p, q) => p - q);
  const m = s.length;
  return m % 2 ? s[(m - 1) / 2]! : (s[m / 2 - 1]! + s[m / 2]!) / 2;
}

/** Median of the runs' figures; a non-number when any run has none. */
function med(fs: Fig[]): Fig {
  const bad = fs.find((f) => typeof f !== 'number');
  if (bad !== undefined) return bad;
  return median(fs as number[]);
}

const fmt = (f: Fig, digits: number): string => (typeof f === 'number' ? f.toFixed(digits) : f);

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!isRoot()) throw new Error('bench:scale needs root (network namespaces)');
  for (const tool of ['vtysh', 'iptables', 'bridge']) {
    try { sh('which', [tool]); } catch { throw new Error(`${tool} not installed (bash scripts/install-deps.sh)`); }
  }
  const logDir = join('/tmp/evpn-ha-logs', `scale-${RUN_ID}`);
  mkdirSync(logDir, { recursive: true });
  if (args.agentProf) mkdirSync(args.agentProf, { recursive: true });
  if (args.agentHeap) mkdirSync(args.agentHeap, { recursive: true });
  const bfd: BfdTimers = { minTx: 100, minRx: 100, multiplier: args.bfdMultiplier };
  console.log(`# bench:scale: ${cpus().length} CPUs, load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')}; `
    + `sizes ${args.sizes.join(',')}, ${args.runs} run(s), ${args.vteps} remote VTEPs per network; BFD 100 ms x ${args.bfdMultiplier} on every session; logs ${logDir}`);

  if (!args.probeOnly) {
    for (const n of args.sizes) {
      const res: Record<Impl, RunResult[]> = { 'evpn-ha': [], frr: [] };
      for (let run = 1; run <= args.runs; run++) {
        for (const impl of args.impls) res[impl].push(await runOne(impl, n, args.vteps, run, logDir, bfd, args.agentProf, args.agentHeap));
      }
      const m = (impl: Impl, key: keyof Omit<RunResult, 'rssParts' | 'notes' | 'bfdDowns'>): Fig =>
        (args.impls.includes(impl) ? med(res[impl].map((r) => r[key])) : 'skipped');
      const ei = m('evpn-ha', 'install');
      const fi = m('frr', 'install');
      const ratio = typeof ei === 'number' && typeof fi === 'number' ? (ei / fi).toFixed(2) : 'n/a';
      console.log(`install N=${n}: evpn-ha ${fmt(ei, 2)} s, frr ${fmt(fi, 2)} s, ratio ${ratio}`);
      console.log(`rss N=${n}: evpn-ha ${fmt(m('evpn-ha', 'rss'), 0)} MiB, frr ${fmt(m('frr', 'rss'), 0)} MiB`);
      console.log(`failover N=${n}: evpn-ha ${fmt(m('evpn-ha', 'failover'), 0)} ms, frr ${fmt(m('frr', 'failover'), 0)} ms`);
      const wa = (impl: Impl): string => `${fmt(m(impl, 'withdrawAlt'), 2)} s with alternative, ${fmt(m(impl, 'withdrawNone'), 2)} s without`;
      console.log(`withdraw N=${n}: evpn-ha ${wa('evpn-ha')}; frr ${wa('frr')}`);
      console.log(`failback N=${n}: evpn-ha ${fmt(m('evpn-ha', 'failback'), 2)} s, frr ${fmt(m('frr', 'failback'), 2)} s`);
      console.log(`cpu N=${n}: evpn-ha ${fmt(m('evpn-ha', 'cpuInstall'), 1)} s install, ${fmt(m('evpn-ha', 'cpuTotal'), 1)} s all phases; `
        + `frr ${fmt(m('frr', 'cpuInstall'), 1)} s install, ${fmt(m('frr', 'cpuTotal'), 1)} s all phases`);
      for (const impl of args.impls) {
        const parts = res[impl].map((r) => Object.entries(r.rssParts).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(' + ')).join(' | ');
        if (parts) console.log(`# rss N=${n} ${impl}: ${parts} MiB`);
        for (const r of res[impl]) for (const note of r.notes) console.log(note);
      }
    }
  }
  if (args.probe || args.probeOnly) {
    const p = await measureProbeCpu({
      servers: args.probeServers, seconds: args.probeSeconds, activeNet1Only: args.probeAllActive !== true,
      ...(args.probeCli ? { cli: args.probeCli } : {}),
      ...(args.probeProf ? { nodeArgs: ['--cpu-prof', '--cpu-prof-dir', args.probeProf] } : {}),
    });
    console.log(`probe cpu: ${p.pct.toFixed(1)}% of one core for ${p.paths} remote VTEP paths`);
    for (const l of p.notes) console.log(l);
  }
  console.log(`# load average at end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
}

runBench('bench:scale', USAGE, main);
