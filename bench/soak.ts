// Soak benchmark (issue 9 §6): the lab of bench:scale (bench/lib/scale-lab.ts) with
// evpn-ha on server-l and N routes (default 10,000) announced on both networks by
// the route generator; then --flaps times (default 1,000): server-l's eth1
// blackholed (BFD 100 ms x 3 detects it) until every FDB entry for the generator's
// MACs points into network 2, the fault removed until every entry points into
// network 1 again. Each flap starts from the steady state (the agent sees both
// sessions Established with BFD Up, and so do both reflectors) and ends as soon as
// the failback is complete.
//
// Checked: every flap converges (failover within 10 s, failback within 60 s), and
// its failover was BFD-detected (after the fault the agent reset network 1's session
// because BFD went Down, not on the hold timer; other session drops, e.g. a
// reflector's BFD starved on the loaded machine, are counted and printed); RSS
// (agent + its event pump and BFD process) after the last flap within 10 % of after
// the first (each the median of the samples after 10 flaps: one sample swings by
// 20 % with the garbage collector); our FDB nexthops and groups after the last flap
// (settled) no more than after the install (one group per remote VTEP, and its
// nexthop: they must not multiply with the flaps); after the last flap, the
// generator withdraws everything and no kernel entry (FDB, neighbour) or FDB
// nexthop or group of ours may be left (kernel.withdrawDelay 0); every 'events
// lost' report of the agent's kernel layer must be followed by a correct kernel
// state (the leak check, and every flap's convergence, prove the resync).
// Output (fixed):
//   soak: <flaps> flaps, rss <first> -> <last> MiB, leaked <n>
// followed by a details line. Exit code 1 when a check fails.
//
// What bounds a flap (docs/performance.md, "Soak"): the failover (~0.3 s: BFD
// detection, then one group replace per remote VTEP); the failback: the agent's
// reconnect (connectRetry 1 s, the config's minimum, jittered: ~0.8 s after the
// fault is removed), then the reflector's re-advertisement of the table, then the
// agent's work; then the wait for BFD Up on both sides before the next fault (RFC
// 5880 §6.8.3: at most one packet a second while a session is not Up, so 1-3 s after
// the reconnect). FRR delays the first advertisement to a new update subgroup by its
// `coalesce-time` (1 s + 50 ms per peer by default). The soak configures the
// reflectors with `coalesce-time 100` (--rr-coalesce-ms; `frr` keeps FRR's default):
// the agent still receives and installs the whole table again on each failback,
// only sooner. Nothing on the agent's side is shortened.
// --max-minutes M stops starting flaps after M minutes (the leak check still runs;
// not a failure), to fit a run into a hold of the shared bench lock.
//
// Run as root: `npm run bench:soak [-- --flaps N --routes N --vteps K --rr-coalesce-ms MS|frr --max-minutes M]`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { RUN_ID, isRoot, sleep } from '../src/lab/netns.js';
import { fdbTotal, log, ScaleLab } from './lib/scale-lab.js';
import { ControlClient } from '../src/control/client.js';
import type { NeighborInfo } from '../src/control/types.js';
import { runBench, UsageError } from './lib/main.js';

/** The reflectors' update-group coalesce time (FRR `coalesce-time`, ms) in the soak; null: FRR's default. */
const RR_COALESCE_MS: number | null = 100;

interface Args { flaps: number; routes: number; vteps: number; coalesceMs: number | null; maxMinutes: number | null }
const USAGE = 'usage: node build/bench/soak.js [--flaps N] [--routes N] [--vteps K] [--rr-coalesce-ms MS|frr] [--max-minutes M]';

function parseArgs(argv: string[]): Args {
  const a: Args = { flaps: 1000, routes: 10_000, vteps: 4, coalesceMs: RR_COALESCE_MS, maxMinutes: null };
  const valued = ['--flaps', '--routes', '--vteps', '--rr-coalesce-ms', '--max-minutes'];
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const [flag, inline] = k.includes('=') ? [k.slice(0, k.indexOf('=')), k.slice(k.indexOf('=') + 1)] : [k, undefined];
    const v = inline ?? argv[i + 1];
    if (inline === undefined && valued.includes(flag!)) i++;
    const int = (min: number): number => {
      const n = Number(v);
      if (v === undefined || v === '' || !Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be an integer >= ${min}, not ${String(v)}`);
      return n;
    };
    if (flag === '--flaps') a.flaps = int(1);
    else if (flag === '--routes') a.routes = int(1);
    else if (flag === '--vteps') a.vteps = int(1);
    else if (flag === '--max-minutes') a.maxMinutes = int(1);
    else if (flag === '--rr-coalesce-ms') a.coalesceMs = v === 'frr' ? null : int(0);
    else if (flag === '--help' || flag === '-h') { console.log(USAGE); process.exit(0); }
    else throw new UsageError(`unknown argument ${k}`);
  }
  return a;
}

const FAILOVER_CAP = 10_000;
const FAILBACK_CAP = 60_000;
const STEADY_CAP = 60_000;
const RSS_WINDOW = 10;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : Number.NaN;
}

/** One converged flap. */
interface Flap {
  /** Wait for the steady state before the fault (BGP Established, BFD Up on both sides). */
  steadyMs: number;
  failoverMs: number;
  failbackMs: number;
  /** Our FDB nexthops and groups in the kernel before the fault (the previous flap's, settled). */
  nh: number;
  rss: number;
}

/** The agent's own view: both sessions Established with BFD Up. */
function agentSteady(ns: NeighborInfo[]): boolean {
  return ns.length === 2 && ns.every((x) => x.established && x.bfd?.state === 'Up');
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!isRoot()) throw new Error('bench:soak needs root (network namespaces)');
  const n = args.routes;
  const logDir = join('/tmp/evpn-ha-logs', `soak-${RUN_ID}`);
  mkdirSync(logDir, { recursive: true });
  console.log(`# bench:soak: ${cpus().length} CPUs, load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')}; `
    + `${args.flaps} flaps${args.maxMinutes === null ? '' : ` (at most ${args.maxMinutes} min of flapping)`}, `
    + `${n} routes on both networks from ${args.vteps} VTEPs each; reflector coalesce-time `
    + `${args.coalesceMs === null ? 'FRR default' : `${args.coalesceMs} ms`}; logs ${logDir}`);
  const s = new ScaleLab('sk', {
    impl: 'evpn-ha', prepare: { n, k: args.vteps }, tuning: { extra: 'kernel:\n  withdrawDelay: 0' },
    ...(args.coalesceMs === null ? {} : { rrExtra: [`coalesce-time ${args.coalesceMs}`] }),
  });
  const started = Date.now();
  const flaps: Flap[] = [];
  const problems: string[] = [];
  let leaked = Number.NaN;
  let ctl: ControlClient | null = null;
  let stoppedByTime = false;
  let flapStart = Number.NaN;
  let logSeen = 0;
  let spurious = 0;
  let nhInstalled = Number.NaN;
  let nhLast = Number.NaN;
  let beforeFault: string[] = [];
  /** The agent's 'session ... down' log messages since the last call. */
  const sessionDowns = (): string[] => {
    const out = s.agent!.output();
    const seen = out.slice(logSeen, out.lastIndexOf('\n') + 1);
    logSeen += seen.length;
    return seen.split('\n').filter((l) => l.includes('"msg":"session net')).map((l) => /"msg":"([^"]*)"/.exec(l)?.[1] ?? l);
  };
  const markFault = (): void => { beforeFault = sessionDowns(); };
  const newSessionDowns = (): { before: string[]; after: string[] } => ({ before: beforeFault, after: sessionDowns() });
  let flapEnd = Number.NaN;
  try {
    await s.setup();
    ctl = await ControlClient.connect(s.agent!.socketPath);
    const sent = await s.gen.send('announce', ['net1', 'net2']);
    const inst = await s.counter.until((c) => c.fdb.net1 === n && c.neigh >= n, sent.firstAt, 30_000 + n * 0.6, { stepMs: 200 });
    if (!inst.ok) throw new Error(`install of ${n} routes not complete: ${JSON.stringify(inst.last)}`);
    log(`installed ${n} routes in ${((inst.last.t1 - sent.firstAt) / 1000).toFixed(2)} s`);
    flapStart = Date.now();
    for (let f = 1; f <= args.flaps; f++) {
      if (args.maxMinutes !== null && Date.now() - flapStart > args.maxMinutes * 60_000) { stoppedByTime = true; break; }
      // Steady state first: the agent sees both sessions Established with BFD Up (so
      // the fault is detected by BFD, not by the hold timer), and so do the reflectors.
      const t0 = Date.now();
      for (;;) {
        if (agentSteady(await ctl.call('neighbors'))) break;
        if (Date.now() - t0 > STEADY_CAP) throw new Error(`flap ${f}: the agent's sessions not Established with BFD Up within ${STEADY_CAP} ms`);
        await sleep(20);
      }
      await s.steady(STEADY_CAP);
      markFault();
      const nhBefore = (await s.counter.count()).nh;
      if (f === 1) nhInstalled = nhBefore;
      const faultAt = Date.now();
      const undo = s.net.blackholeUplink('l', 'net1');
      const fo = await s.counter.until((c) => c.fdb.net2 === n, faultAt, FAILOVER_CAP, { fdbOnly: true, stepMs: 20 });
      undo();
      const undoAt = Date.now();
      if (!fo.ok) { problems.push(`flap ${f}: no failover within ${FAILOVER_CAP} ms (${JSON.stringify(fo.last.fdb)})`); break; }
      const fb = await s.counter.until((c) => c.fdb.net1 === n, undoAt, FAILBACK_CAP, { fdbOnly: true, stepMs: 50 });
      if (!fb.ok) { problems.push(`flap ${f}: no failback within ${FAILBACK_CAP} ms (${JSON.stringify(fb.last.fdb)})`); break; }
      // Detected by BFD: after the fault the agent reset network 1's session because
      // BFD went Down (not the hold timer). Other session drops (a reflector's BFD
      // starved on the loaded machine) are counted, not failed on.
      const downs = newSessionDowns();
      const ours = downs.after.filter((d) => d.startsWith('session net1 down: reset: BFD down'));
      spurious += downs.before.length + downs.after.length - ours.length;
      if (ours.length !== 1) {
        problems.push(`flap ${f}: network 1's session not reset once by BFD after the fault; session drops seen: `
          + `${[...downs.before.map((d) => `before the fault: ${d}`), ...downs.after].join('; ') || 'none'}`);
        break;
      }
      flaps.push({ steadyMs: faultAt - t0, failoverMs: fo.last.t1 - faultAt, failbackMs: fb.last.t1 - undoAt, nh: nhBefore, rss: s.rss().total });
      const x = flaps.at(-1)!;
      if (f === 1 || f % 10 === 0 || f === args.flaps) {
        log(`flap ${f}: steady ${x.steadyMs} ms, failover ${x.failoverMs} ms, failback ${x.failbackMs} ms, nexthops ${x.nh}, `
          + `rss ${x.rss.toFixed(0)} MiB, cpu ${s.cpu().toFixed(1)} s, ${((Date.now() - flapStart) / f).toFixed(0)} ms per flap`);
      }
    }
    flapEnd = Date.now();
    // Nexthops and groups after the last flap, settled (no change for a second): as
    // many as after the install (one group per remote VTEP, its nexthop).
    const settled = await s.counter.until((c) => c.t0 - c.t1 > 1000, Date.now(), 30_000, { stepMs: 200 });
    nhLast = settled.last.nh;
    if (flaps.length && nhLast > nhInstalled) problems.push(`${nhLast} nexthops and groups after the last flap, ${nhInstalled} after the install`);
    // Leaks: everything withdrawn, nothing of ours may stay.
    const c0 = await s.counter.count();
    if (fdbTotal(c0) !== n || c0.fdb.other !== 0 || c0.neigh !== n) problems.push(`before the withdrawal: ${JSON.stringify(c0)} (expected ${n} entries on one network)`);
    const w = await s.gen.send('withdraw', ['net1', 'net2']);
    const gone = await s.counter.until((c) => fdbTotal(c) + c.master + c.neigh + c.nh === 0, w.firstAt, 30_000 + n * 0.6, { stepMs: 200 });
    leaked = fdbTotal(gone.last) + gone.last.master + gone.last.neigh + gone.last.nh;
    if (!gone.ok) problems.push(`after withdrawing everything: ${JSON.stringify(gone.last)}`);
  } catch (e) {
    problems.push(e instanceof Error ? e.message.split('\n')[0]! : String(e));
    log(`${e instanceof Error ? e.stack ?? e.message : String(e)}\n${s.tail()}`);
  } finally {
    ctl?.close();
    const bfdDowns = s.bfdDowns();
    const out = s.agent?.output() ?? '';
    const lost = out.split('\n').filter((l) => /events lost|event pump exited|event socket error/.test(l)).length;
    writeFileSync(join(logDir, 'agent.log'), out);
    await s.close();
    const done = flaps.length;
    // RSS swings by 20 % and more between two samples with the garbage collector's
    // cycle: "after the first" and "after the last" flap are the medians of the
    // samples after the first and the last RSS_WINDOW flaps (disjoint).
    const w = Math.max(1, Math.min(RSS_WINDOW, Math.floor(done / 2)));
    const rssFirst = pct(flaps.slice(0, w).map((x) => x.rss), 0.5);
    const rssLast = pct(flaps.slice(-w).map((x) => x.rss), 0.5);
    console.log(`soak: ${done} flaps, rss ${rssFirst.toFixed(0)} -> ${rssLast.toFixed(0)} MiB, leaked ${Number.isNaN(leaked) ? 'n/a' : leaked}`);
    const ms = (x: number): string => (Number.isNaN(x) || !Number.isFinite(x) ? 'n/a' : x.toFixed(0));
    const col = (k: keyof Flap): number[] => flaps.map((x) => x[k]);
    console.log(`soak details: failover median ${ms(pct(col('failoverMs'), 0.5))} ms, p95 ${ms(pct(col('failoverMs'), 0.95))} ms, max ${ms(Math.max(...col('failoverMs')))} ms; `
      + `failback median ${ms(pct(col('failbackMs'), 0.5))} ms, max ${ms(Math.max(...col('failbackMs')))} ms; event-loss reports ${lost}; `
      + `BFD Down session drops ${bfdDowns} (${done} from the faults); `
      + `${((Date.now() - started) / 60_000).toFixed(1)} min; ${done ? ((flapEnd - flapStart) / done / 1000).toFixed(2) : 'n/a'} s per flap; `
      + `other session drops ${spurious}; steady wait median ${ms(pct(col('steadyMs'), 0.5))} ms; nexthops and groups ${nhInstalled} after the install, max ${done ? Math.max(...col('nh')) : 'n/a'} before a fault, ${nhLast} after the last flap; `
      + `rss (medians of ${w} flaps) ${rssFirst.toFixed(0)} -> ${rssLast.toFixed(0)} MiB, single samples ${ms(flaps[0]?.rss ?? Number.NaN)} -> ${ms(flaps.at(-1)?.rss ?? Number.NaN)}, max ${ms(Math.max(...col('rss')))} MiB`);
    const growth = rssLast / rssFirst - 1;
    if (done < args.flaps && !stoppedByTime) problems.push(`only ${done} of ${args.flaps} flaps converged`);
    if (growth > 0.1) problems.push(`RSS grew by ${(growth * 100).toFixed(0)} % (limit 10 %)`);
    if (leaked > 0) problems.push(`${leaked} kernel entries or nexthops leaked`);
    for (const p of problems) console.log(`# FAIL: ${p}`);
    if (problems.length) process.exitCode = 1;
  }
}

runBench('bench:soak', USAGE, main);
