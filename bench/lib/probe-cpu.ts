// Probe CPU at scale (issue 9 §3): the real prober (src/probe/cli.ts: VtepProber
// on UdpProbeTransport, real UDP sockets) in a namespace of its own, probing
// 2 x M remote VTEP paths (M remote servers on two networks) at the default timers;
// the answers come from a second real prober in another namespace that owns all
// 2 x M VTEP addresses (its uplinks) and answers every request from the address it
// was sent to, through real vxlan0/br-vxlan devices on both sides. CPU is the
// prober's utime + stime over a measuring window after a warm-up, and every path
// must be `up` at the end (the measurement is void otherwise).
import type { ChildProcess } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Lab, ip, sh, sleep } from '../../src/lab/netns.js';
import { addVtep } from '../../src/lab/topology.js';
import { childEnv } from '../../src/lab/twonet.js';
import { cpuSeconds } from './scale-lab.js';

const PROBE_CLI = fileURLToPath(new URL('../../src/probe/cli.js', import.meta.url));

export interface ProbeCpuOptions {
  servers: number;
  seconds: number;
  warmupSeconds?: number;
  /** Extra prober settings (interval, multiplier, ...), as src/probe/cli.ts takes them. */
  prober?: Record<string, unknown>;
  /** Extra node arguments for the measured prober (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Mark only the network-1 paths as carrying a best path (the rest probed at the idle rate). */
  activeNet1Only?: boolean;
  /** The prober program (default build/src/probe/cli.js), e.g. an older build to compare. */
  cli?: string;
}

export interface ProbeCpuResult {
  pct: number;
  paths: number;
  notes: string[];
}

/**
 * Remote VTEP j (0-based) on network n: 10.1<n>.<j / 250>.<1 + j % 250>, routed via
 * the responder's address on that network (one ARP entry per network, not 2 x M:
 * the neighbour table's gc_thresh3 of 1024 would thrash).
 */
const vtep = (n: 1 | 2, j: number): string => `10.1${n}.${Math.floor(j / 250)}.${1 + (j % 250)}`;

function startCli(lab: Lab, ns: string, cfg: object, dir: string, name: string, nodeArgs: string[] = [], cli = PROBE_CLI): { child: ChildProcess; lines: Array<Record<string, unknown>> } {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(cfg));
  const child = lab.spawn(ns, process.execPath, [...nodeArgs, cli, `@${file}`], { env: childEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
  const lines: Array<Record<string, unknown>> = [];
  createInterface({ input: child.stdout! }).on('line', (l) => { try { lines.push(JSON.parse(l) as Record<string, unknown>); } catch { /* log */ } });
  child.stderr!.resume();
  return { child, lines };
}

async function waitLine(lines: Array<Record<string, unknown>>, pred: (o: Record<string, unknown>) => boolean, ms: number, what: string): Promise<Record<string, unknown>> {
  const t0 = Date.now();
  for (;;) {
    const i = lines.findIndex(pred);
    if (i >= 0) return lines.splice(i, 1)[0]!;
    if (Date.now() - t0 > ms) throw new Error(`probe cpu: ${what} not seen within ${ms} ms`);
    await sleep(50);
  }
}

/** utime and stime of a process, in clock ticks (proc(5)). */
function userSystem(pid: number): [number, number] {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = f.slice(f.lastIndexOf(')') + 2).split(' ');
    return [Number(rest[11]), Number(rest[12])];
  } catch {
    return [0, 0];
  }
}

export async function measureProbeCpu(o: ProbeCpuOptions): Promise<ProbeCpuResult> {
  const lab = new Lab('pc');
  const notes: string[] = [];
  try {
    const a = lab.ns('prober');
    const b = lab.ns('resp');
    const dir = tmpdir();
    addVtep(a, { vni: 100, svi: '192.168.0.1/24', sviMac: '02:00:00:00:00:01' });
    addVtep(b, { vni: 100, svi: '192.168.0.2/24', sviMac: '02:00:00:00:00:02' });
    for (const n of [1, 2] as const) {
      lab.veth(a, `eth${n}`, b, `eth${n}`, `10.${n}.0.1/24`, `10.${n}.0.2/24`);
      ip(a, 'route', 'add', `10.1${n}.0.0/16`, 'via', `10.${n}.0.2`);
      const batch = Array.from({ length: o.servers }, (_, j) => `addr add ${vtep(n, j)}/32 dev eth${n}`).join('\n');
      sh('ip', ['-n', b, '-batch', '-'], `${batch}\n`);
    }
    for (const ns of [a, b]) ip(ns, 'link', 'set', 'lo', 'up');
    const uplinks = (n: 1 | 2) => Array.from({ length: o.servers }, (_, j) => ({ network: `net${n}`, address: vtep(n, j) }));
    const resp = startCli(lab, b, {
      vni: 100, serviceIp: '192.168.0.2', bridgeMac: '02:00:00:00:00:02', uplinks: [...uplinks(1), ...uplinks(2)], targets: [],
      maxRepliesPerSecond: 1_000_000, logLevel: 'warn',
    }, dir, `${lab.prefix}-resp`);
    await waitLine(resp.lines, (x) => x['type'] === 'ready', 20_000, 'responder ready');
    const targets = ([1, 2] as const).flatMap((n) => Array.from({ length: o.servers }, (_, j) => ({
      network: `net${n}`, localVtep: `10.${n}.0.1`, remoteVtep: vtep(n, j), remoteMac: '02:00:00:00:00:02', remoteServiceIp: '192.168.0.2',
      ...(o.activeNet1Only && n === 2 ? { active: false } : {}),
    })));
    const prober = startCli(lab, a, {
      vni: 100, serviceIp: '192.168.0.1', bridgeMac: '02:00:00:00:00:01',
      uplinks: [{ network: 'net1', address: '10.1.0.1' }, { network: 'net2', address: '10.2.0.1' }], targets, logLevel: 'warn',
      ...o.prober,
    }, dir, `${lab.prefix}-prober`, o.nodeArgs, o.cli);
    await waitLine(prober.lines, (x) => x['type'] === 'ready', 20_000, 'prober ready');
    const pid = prober.child.pid!;
    // The prober runs as `ip netns exec ... node`: ip execs node, so the pid is node's.
    await sleep((o.warmupSeconds ?? 5) * 1000);
    const c0 = cpuSeconds([pid]);
    const us0 = userSystem(pid);
    const t0 = Date.now();
    const r0 = cpuSeconds(resp.child.pid ? [resp.child.pid] : []);
    await sleep(o.seconds * 1000);
    const c1 = cpuSeconds([pid]);
    const us1 = userSystem(pid);
    const t1 = Date.now();
    const r1 = cpuSeconds(resp.child.pid ? [resp.child.pid] : []);
    prober.child.stdin!.write('status\n');
    const st = await waitLine(prober.lines, (x) => x['type'] === 'status', 20_000, 'prober status') as {
      targets?: Array<{ state: string; network: string }>; counters?: { requestsSent: number; repliesReceived: number; dropped?: Record<string, number> };
      transport?: { sendCalls: number; sent: number; recvCalls: number; received: number };
    };
    const states: Record<string, number> = {};
    for (const t of st.targets ?? []) states[t.state] = (states[t.state] ?? 0) + 1;
    const up = states['up'] ?? 0;
    const paths = targets.length;
    const pct = ((c1 - c0) / ((t1 - t0) / 1000)) * 100;
    notes.push(`# probe cpu: ${paths} paths, states ${JSON.stringify(states)}, ${st.counters?.requestsSent ?? '?'} requests sent, `
      + `${st.counters?.repliesReceived ?? '?'} replies, dropped ${JSON.stringify(st.counters?.dropped ?? {})}; responder used ${(((r1 - r0) / ((t1 - t0) / 1000)) * 100).toFixed(1)}% of a core; `
      + `window ${((t1 - t0) / 1000).toFixed(1)} s after ${o.warmupSeconds ?? 5} s warm-up`);
    const ticks = ((us1[0] - us0[0]) + (us1[1] - us0[1])) || 1;
    notes.push(`# probe cpu: user ${(((c1 - c0) * (us1[0] - us0[0])) / ticks / ((t1 - t0) / 1000) * 100).toFixed(1)}%, `
      + `system ${(((c1 - c0) * (us1[1] - us0[1])) / ticks / ((t1 - t0) / 1000) * 100).toFixed(1)}% of a core`
      + (st.transport ? `; since start: ${st.transport.sent} datagrams in ${st.transport.sendCalls} sendmmsg, ${st.transport.received} in ${st.transport.recvCalls} recvmmsg` : ''));
    if (up !== paths) notes.push(`# probe cpu: WARNING only ${up} of ${paths} paths up: the figure does not measure a healthy prober`);
    for (const ch of [prober.child, resp.child]) { try { ch.stdin!.end(); } catch { /* gone */ } }
    // Let them exit (and write a --cpu-prof profile) before the lab kills what is left.
    const t = Date.now();
    while (Date.now() - t < 5000 && [prober.child, resp.child].some((ch) => ch.exitCode === null && ch.signalCode === null)) await sleep(50);
    return { pct, paths, notes };
  } finally {
    lab.dispose();
  }
}
