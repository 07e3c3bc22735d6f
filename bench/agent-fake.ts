// The agent's own CPU for a large table, without a real kernel: N type-2 routes
// (MAC+IP) from K remote servers on both networks into an Agent on FakeKernel, then
// network 1's session lost (failover) and back (failback by one UPDATE per server),
// then network 1's routes withdrawn (an alternative on network 2), then network 2's.
// Prints, per phase and in both FDB modes, the wall time until the agent settled,
// the time until its last write of FDB state (FDB entries, nexthops, groups: when
// every MAC points where it ends up; "fdb at"), the longest the event loop was kept
// from other work ("max block": what BFD and keepalives would wait), and the kernel
// ops. For profiling:
//   node --cpu-prof build/bench/agent-fake.js
// Knobs: BENCH_N (default 50000), BENCH_K (4), BENCH_MODE (groups|dst|both);
// BENCH_PROFILE=<phase prefix, e.g. failover> writes a CPU profile of just that phase
// to agent-<mode>-<phase>.cpuprofile.
import { writeFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Session } from 'node:inspector/promises';
import { writeHeapSnapshot } from 'node:v8';
import { Agent } from '../src/agent/agent.js';
import { parseConfig } from '../src/agent/config.js';
import { DEFAULT_FAKE_LINKS, FakeKernel } from '../src/kernel/fake.js';
import { ManualClock } from '../src/util/clock.js';
import { announceFrom, FakeSession, macOf, serverRoute, twoUplinkConfig, withdrawRoutes } from '../test/lib/agent-fakes.js';
import { advanceAndSettle } from '../test/lib/settle.js';

const N = Number(process.env['BENCH_N'] ?? 50_000);
const K = Number(process.env['BENCH_K'] ?? 4);
const MODE = process.env['BENCH_MODE'] ?? 'both';
const PROFILE = process.env['BENCH_PROFILE'] ?? null;
/** BENCH_SNAPSHOT=<phase prefix>: a heap snapshot after that phase (agent-<mode>-<phase>.heapsnapshot). */
const SNAPSHOT = process.env['BENCH_SNAPSHOT'] ?? null;
const gc = (globalThis as { gc?: () => void }).gc;
/** Routes per UPDATE, roughly what fits in 4096 bytes. */
const PER_UPDATE = 60;

async function run(groups: boolean): Promise<void> {
  const kernel = new FakeKernel({
    nexthops: true,
    links: [
      ...DEFAULT_FAKE_LINKS.map((l) => ({ ...l, addresses: [...(l.addresses ?? [])] })),
      { name: 'eth1', addresses: [{ family: 4, address: '192.168.1.65', prefixLen: 24 }] },
      { name: 'eth2', addresses: [{ family: 4, address: '192.168.2.65', prefixLen: 24 }] },
    ],
  });
  // When the last write touching FDB state was handed to the kernel (relative to the phase start).
  let phaseStart = 0n;
  let fdbAt = -1;
  const apply = kernel.apply.bind(kernel);
  kernel.apply = (ops) => {
    if (ops.some((o) => o.entry.kind !== 'neigh')) fdbAt = Number(process.hrtime.bigint() - phaseStart) / 1e6;
    return apply(ops);
  };
  const clock = new ManualClock(1000);
  const sessions: FakeSession[] = [];
  const agent = new Agent({
    config: parseConfig(twoUplinkConfig(groups ? '' : ', nexthopGroups: false')), kernel, clock,
    sessions: (spec, h) => { const s = new FakeSession(spec, h); sessions.push(s); return s; },
  });
  await agent.start();
  const s = (n: string): FakeSession => sessions.filter((x) => x.spec.uplink === n).at(-1)!;
  const per = Math.ceil(N / K);
  const feed = (net: 1 | 2, withdraw = false): void => {
    for (let k = 0; k < K; k++) {
      const server = 10 + k;
      for (let i = 0; i < per; i += PER_UPDATE) {
        const routes = [];
        for (let j = i; j < Math.min(per, i + PER_UPDATE); j++) {
          const n = k * per + j;
          routes.push(serverRoute(net, server, macOf(server, j), `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`));
        }
        s(`net${net}`).send(withdraw ? withdrawRoutes(routes) : announceFrom(net, server, routes));
      }
    }
    // End-of-RIB, as a reflector sends after its table: the stale gate opens once both did.
    if (!withdraw) s(`net${net}`).eor();
  };
  const mode = groups ? 'groups' : 'dst';
  const phase = async (name: string, fn: () => void): Promise<void> => {
    const ops0 = kernel.applied.length;
    const inspector = PROFILE !== null && name.startsWith(PROFILE) ? new Session() : null;
    if (inspector) {
      inspector.connect();
      await inspector.post('Profiler.enable');
      await inspector.post('Profiler.start');
    }
    const loop = monitorEventLoopDelay({ resolution: 1 });
    loop.enable();
    // A turn of the loop first: the monitor records a block only after a sample before it.
    await new Promise((resolve) => setTimeout(resolve, 5));
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    phaseStart = t0;
    fdbAt = -1;
    fn();
    await advanceAndSettle(clock, agent, 0);
    await advanceAndSettle(clock, agent, 100);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const cpu = process.cpuUsage(cpu0);
    // One more turn of the loop, so that a block with no turn in it is recorded too.
    await new Promise((resolve) => setTimeout(resolve, 2));
    loop.disable();
    if (inspector) {
      const { profile } = await inspector.post('Profiler.stop');
      writeFileSync(`agent-${mode}-${name.split(' ')[0]}.cpuprofile`, JSON.stringify(profile));
      inspector.disconnect();
    }
    const ops = kernel.applied.slice(ops0);
    const kinds = new Map<string, number>();
    for (const o of ops) kinds.set(`${o.op} ${o.entry.kind}`, (kinds.get(`${o.op} ${o.entry.kind}`) ?? 0) + 1);
    const fdb = fdbAt < 0 ? '-' : `${fdbAt.toFixed(0)} ms`;
    console.log(`${mode} ${name} N=${N} K=${K}: ${ms.toFixed(0)} ms, fdb at ${fdb}, max block ${(loop.max / 1e6).toFixed(0)} ms, ${ops.length} kernel ops (${[...kinds].map(([k, v]) => `${v} ${k}`).join(', ')})`);
    // CPU of the phase (user + system): less disturbed than the wall time by other load.
    console.log(`${mode} ${name} cpu: ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms`);
    // Memory after the phase (the FakeKernel's own tables and op log included; with
    // --expose-gc after a full collection). The op log is the bench's, not the agent's: dropped.
    kernel.applied.length = 0;
    gc?.();
    const m = process.memoryUsage();
    const mib = (b: number): string => (b / 2 ** 20).toFixed(0);
    console.log(`${mode} ${name} mem: rss ${mib(m.rss)} MiB, heap ${mib(m.heapUsed)} MiB, external ${mib(m.external + m.arrayBuffers)} MiB${gc ? '' : ' (no --expose-gc)'}`);
    if (SNAPSHOT !== null && name.startsWith(SNAPSHOT)) writeHeapSnapshot(`agent-${mode}-${name.split(' ')[0]}.heapsnapshot`);
  };
  s('net1').up('192.168.1.2');
  s('net2').up('192.168.2.2');
  await phase('install net1', () => feed(1));
  await phase('install net2', () => feed(2));
  await phase('failover (net1 down)', () => s('net1').down('BFD down'));
  await phase('failback (net1 up, one UPDATE burst)', () => { s('net1').up('192.168.1.2'); feed(1); });
  // The withdraws of bench:scale: network 1's routes (an alternative on network 2), then network 2's.
  await phase('withdraw-alt (net1 routes, alternative on net2)', () => feed(1, true));
  await phase('withdraw-none (net2 routes, no alternative)', () => feed(2, true));
  await agent.shutdown({ flushKernel: false });
}

if (MODE === 'both' || MODE === 'groups') await run(true);
if (MODE === 'both' || MODE === 'dst') await run(false);
