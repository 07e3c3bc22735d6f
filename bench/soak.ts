// Soak benchmark (issue 9 §6): the lab of bench:scale (bench/lib/scale-lab.ts) with
// evpn-ha on server-l and N routes (default 10,000) announced on both networks by
// the route generator; then --flaps times (default 1,000): server-l's eth1
// blackholed (BFD 100 ms x 3 detects it) until every FDB entry for the generator's
// MACs points into network 2, the fault removed until every entry points into
// network 1 again. Each flap starts from the steady state (server-l Established
// with BFD Up on both reflectors) and ends as soon as the failback is complete.
//
// Checked: every flap converges (failover within 10 s, failback within 60 s);
// RSS (agent + event pump) after the last flap within 10 % of after the first;
// after the last flap, the generator withdraws everything and no kernel entry
// (FDB, neighbour) or FDB nexthop of ours may be left (kernel.withdrawDelay 0);
// every 'events lost' report of the agent's kernel layer must be followed by a
// correct kernel state (the leak check, and every flap's convergence, prove the
// resync). Output (fixed):
//   soak: <flaps> flaps, rss <first> -> <last> MiB, leaked <n>
// followed by a details line. Exit code 1 when a check fails.
//
// Run as root: `npm run bench:soak [-- --flaps N --routes N --vteps K]`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { RUN_ID, isRoot } from '../src/lab/netns.js';
import { fdbTotal, log, ScaleLab } from './lib/scale-lab.js';
import { runBench, UsageError } from './lib/main.js';

interface Args { flaps: number; routes: number; vteps: number }
const USAGE = 'usage: node build/bench/soak.js [--flaps N] [--routes N] [--vteps K]';

function parseArgs(argv: string[]): Args {
  const a: Args = { flaps: 1000, routes: 10_000, vteps: 4 };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i]!;
    const [flag, inline] = k.includes('=') ? [k.slice(0, k.indexOf('=')), k.slice(k.indexOf('=') + 1)] : [k, undefined];
    const v = inline ?? argv[i + 1];
    if (inline === undefined && ['--flaps', '--routes', '--vteps'].includes(flag!)) i++;
    const posInt = (): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} must be a positive integer, not ${String(v)}`);
      return n;
    };
    if (flag === '--flaps') a.flaps = posInt();
    else if (flag === '--routes') a.routes = posInt();
    else if (flag === '--vteps') a.vteps = posInt();
    else if (flag === '--help' || flag === '-h') { console.log(USAGE); process.exit(0); }
    else throw new UsageError(`unknown argument ${k}`);
  }
  return a;
}

const FAILOVER_CAP = 10_000;
const FAILBACK_CAP = 60_000;

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))]! : Number.NaN;
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (!isRoot()) throw new Error('bench:soak needs root (network namespaces)');
  const n = args.routes;
  const logDir = join('/tmp/evpn-ha-logs', `soak-${RUN_ID}`);
  mkdirSync(logDir, { recursive: true });
  console.log(`# bench:soak: ${cpus().length} CPUs, load average at start ${loadavg().map((x) => x.toFixed(2)).join(' ')}; `
    + `${args.flaps} flaps, ${n} routes on both networks from ${args.vteps} VTEPs each; logs ${logDir}`);
  const s = new ScaleLab('sk', { impl: 'evpn-ha', prepare: { n, k: args.vteps }, tuning: { extra: 'kernel:\n  withdrawDelay: 0' } });
  const started = Date.now();
  const failovers: number[] = [];
  const failbacks: number[] = [];
  const problems: string[] = [];
  let rssFirst = Number.NaN;
  let rssLast = Number.NaN;
  let done = 0;
  let leaked = Number.NaN;
  try {
    await s.setup();
    const sent = await s.gen.send('announce', ['net1', 'net2']);
    const inst = await s.counter.until((c) => c.fdb.net1 === n && c.neigh >= n, sent.firstAt, 30_000 + n * 0.6, { stepMs: 200 });
    if (!inst.ok) throw new Error(`install of ${n} routes not complete: ${JSON.stringify(inst.last)}`);
    log(`installed ${n} routes in ${((inst.last.t1 - sent.firstAt) / 1000).toFixed(2)} s`);
    for (let f = 1; f <= args.flaps; f++) {
      await s.steady(60_000);
      const faultAt = Date.now();
      const undo = s.net.blackholeUplink('l', 'net1');
      const fo = await s.counter.until((c) => c.fdb.net2 === n, faultAt, FAILOVER_CAP, { fdbOnly: true, stepMs: 20 });
      undo();
      const undoAt = Date.now();
      if (!fo.ok) { problems.push(`flap ${f}: no failover within ${FAILOVER_CAP} ms (${JSON.stringify(fo.last.fdb)})`); break; }
      failovers.push(fo.last.t1 - faultAt);
      const fb = await s.counter.until((c) => c.fdb.net1 === n, undoAt, FAILBACK_CAP, { fdbOnly: true, stepMs: 50 });
      if (!fb.ok) { problems.push(`flap ${f}: no failback within ${FAILBACK_CAP} ms (${JSON.stringify(fb.last.fdb)})`); break; }
      failbacks.push(fb.last.t1 - undoAt);
      done = f;
      const rss = s.rss().total;
      if (f === 1) rssFirst = rss;
      rssLast = rss;
      if (f === 1 || f % 10 === 0 || f === args.flaps) {
        log(`flap ${f}: failover ${failovers.at(-1)} ms, failback ${failbacks.at(-1)} ms, rss ${rss.toFixed(0)} MiB, cpu ${s.cpu().toFixed(1)} s`);
      }
    }
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
    const bfdDowns = s.bfdDowns();
    const out = s.agent?.output() ?? '';
    const lost = out.split('\n').filter((l) => /events lost|event pump exited|event socket error/.test(l)).length;
    writeFileSync(join(logDir, 'agent.log'), out);
    await s.close();
    console.log(`soak: ${done} flaps, rss ${rssFirst.toFixed(0)} -> ${rssLast.toFixed(0)} MiB, leaked ${Number.isNaN(leaked) ? 'n/a' : leaked}`);
    const ms = (x: number): string => (Number.isNaN(x) ? 'n/a' : x.toFixed(0));
    console.log(`soak details: failover median ${ms(pct(failovers, 0.5))} ms, p95 ${ms(pct(failovers, 0.95))} ms, max ${ms(Math.max(...failovers))} ms; `
      + `failback median ${ms(pct(failbacks, 0.5))} ms, max ${ms(Math.max(...failbacks))} ms; event-loss reports ${lost}; `
      + `BFD Down session drops ${bfdDowns} (${failovers.length} from the faults); `
      + `${((Date.now() - started) / 60_000).toFixed(1)} min`);
    const growth = rssLast / rssFirst - 1;
    if (done < args.flaps) problems.push(`only ${done} of ${args.flaps} flaps converged`);
    if (growth > 0.1) problems.push(`RSS grew by ${(growth * 100).toFixed(0)} % (limit 10 %)`);
    if (leaked > 0) problems.push(`${leaked} kernel entries or nexthops leaked`);
    for (const p of problems) console.log(`# FAIL: ${p}`);
    if (problems.length) process.exitCode = 1;
  }
}

runBench('bench:soak', USAGE, main);
