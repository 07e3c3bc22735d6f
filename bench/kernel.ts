// Kernel write throughput: add, then replace (new dst), N neigh+FDB pairs through
// RtnetlinkPort in a fresh namespace; first without, then with an event subscriber.
// Run as root: `npm run bench:kernel` (BENCH_PAIRS, BENCH_WINDOW, BENCH_CHUNK to vary).
// The parent creates the namespace and re-runs this file inside it (`--in-ns`).
// Last two lines (the run without a subscriber): `kernel add: <N> pairs/s` and
// `kernel replace: <N> pairs/s`.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Lab, ip, isRoot } from '../test/lib/netns.js';
import { RtnetlinkPort } from '../src/kernel/rtnetlink.js';
import type { KernelOp } from '../src/kernel/port.js';

const PAIRS = Number(process.env['BENCH_PAIRS'] ?? 50_000);
const BRIDGE = 'br-vxlan';
const VXLAN = 'vxlan0';

function macOf(i: number): string {
  const b = [0x02, 0xeb, (i >>> 24) & 0xff, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** 10.x.y.z addresses, never .0 or .255 in the last octet. */
function ipOf(i: number): string {
  const host = 1 + (i % 250);
  const net = Math.floor(i / 250);
  return `10.${(net >>> 8) & 0xff}.${net & 0xff}.${host}`;
}

function opsFor(dst: string): KernelOp[] {
  const ops: KernelOp[] = [];
  for (let i = 0; i < PAIRS; i++) {
    const mac = macOf(i);
    ops.push({ op: 'replace', entry: { kind: 'neigh', ifname: BRIDGE, ip: ipOf(i), mac } });
    ops.push({ op: 'replace', entry: { kind: 'fdb', ifname: VXLAN, mac, dst } });
  }
  return ops;
}

function deletesFor(): KernelOp[] {
  return opsFor('0.0.0.0').map((o) => ({ op: 'delete', entry: o.entry }));
}

async function timed(port: RtnetlinkPort, what: string, ops: KernelOp[]): Promise<number> {
  const t0 = process.hrtime.bigint();
  const res = await port.apply(ops);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const failed = res.filter((r) => !r.ok);
  if (failed.length) {
    const first = failed[0]!;
    throw new Error(`${what}: ${failed.length} ops failed, first: ${first.ok ? '' : first.code}`);
  }
  const rate = Math.round(PAIRS / s);
  console.log(`${what}: ${PAIRS} pairs (${ops.length} ops) in ${s.toFixed(3)} s = ${rate} pairs/s`);
  return rate;
}

async function dumpCheck(port: RtnetlinkPort, expected: number): Promise<void> {
  const t0 = process.hrtime.bigint();
  const seen = await port.dump([BRIDGE, VXLAN]);
  const ds = Number(process.hrtime.bigint() - t0) / 1e9;
  const ours = seen.filter((e) => e.externLearned).length;
  console.log(`dump: ${seen.length} entries (${ours} extern_learn) in ${ds.toFixed(3)} s`);
  if (ours !== expected) throw new Error(`expected ${expected} extern_learn entries, saw ${ours}`);
}

async function inNamespace(): Promise<void> {
  const window = process.env['BENCH_WINDOW'] ? Number(process.env['BENCH_WINDOW']) : undefined;
  const chunk = process.env['BENCH_CHUNK'] ? Number(process.env['BENCH_CHUNK']) : undefined;
  const port = new RtnetlinkPort({ ...(window ? { window } : {}), ...(chunk ? { chunk } : {}) });
  console.log(`pairs: ${PAIRS} (neigh + fdb each), pipeline window ${port.pipelineWindow}`);
  try {
    // 1. Writes alone: what the request path sustains.
    console.log('-- without an event subscriber');
    const add = await timed(port, 'add', opsFor('192.168.1.87'));
    const replace = await timed(port, 'replace', opsFor('192.168.2.87'));
    await dumpCheck(port, PAIRS * 3);
    await timed(port, 'delete', deletesFor());
    await dumpCheck(port, 0);

    // 2. As in the agent: a subscriber is attached, so the kernel also notifies every
    // change to the event pump and the events are decoded here.
    console.log('-- with an event subscriber (as the agent runs)');
    let events = 0;
    let overflows = 0;
    const off = port.subscribe((e) => { if (e.type === 'overflow') overflows++; else events++; });
    await port.eventsReady();
    await timed(port, 'add', opsFor('192.168.1.87'));
    await timed(port, 'replace', opsFor('192.168.2.87'));
    await dumpCheck(port, PAIRS * 3);
    off();
    console.log(`events seen by the subscriber: ${events}, overflow reports: ${overflows}`);

    const mem = process.memoryUsage();
    console.log(`rss: ${Math.round(mem.rss / 2 ** 20)} MiB, heap used: ${Math.round(mem.heapUsed / 2 ** 20)} MiB`);
    console.log(`kernel add: ${add} pairs/s`);
    console.log(`kernel replace: ${replace} pairs/s`);
  } finally {
    await port.close();
  }
}

function main(): void {
  if (!isRoot()) {
    console.error('bench:kernel needs root (it creates a network namespace)');
    process.exit(2);
  }
  const lab = new Lab('kb');
  try {
    const ns = lab.ns('bench');
    ip(ns, 'link', 'add', BRIDGE, 'type', 'bridge');
    ip(ns, 'link', 'add', VXLAN, 'type', 'vxlan', 'id', '100', 'dstport', '4789', 'nolearning');
    ip(ns, 'link', 'set', VXLAN, 'master', BRIDGE);
    ip(ns, 'link', 'set', BRIDGE, 'up');
    ip(ns, 'link', 'set', VXLAN, 'up');
    // No gc_thresh tuning needed: extern_learn neighbours are exempt from neighbour GC.
    const child = spawnSync('ip', ['netns', 'exec', ns, process.execPath, fileURLToPath(import.meta.url), '--in-ns'], {
      stdio: 'inherit',
      env: process.env,
    });
    process.exitCode = child.status ?? 1;
  } finally {
    lab.dispose();
  }
}

if (process.argv.includes('--in-ns')) {
  inNamespace().catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  });
} else {
  main();
}
