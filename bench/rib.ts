// The agent's receive path at scale, without root: N type-2 MAC+IP routes from K
// remote VTEPs per network, encoded as real UPDATE bytes (packUpdates +
// encodeMessage, as a reflector sends them: ORIGINATOR_ID, CLUSTER_LIST, RT,
// encapsulation), cut into 64 KiB chunks and fed through what BgpSession does on
// receive (Framer, decodeMessage, End-of-RIB check) into the Agent (import policy,
// RIB, kernel delta, KernelSync) with FakeKernel and a ManualClock.
//
// `npm run bench:rib` (BENCH_N, default 50000; BENCH_VTEPS, default 4;
// BENCH_MODE=rib: only decode + import policy + Rib, no Agent, no kernel;
// BENCH_STOP=install: exit after the install, for node --heap-prof).
// Run with --expose-gc (the npm script does) so that the memory figures are after a
// full collection. The agent has an AgentControlProvider listening, as in the daemon
// (BENCH_WATCH=1: and a watcher on it, as with metrics or `evpn-ha watch`). FakeKernel's own tables are in the `agent` mode's heap; the
// `rib` mode's heap is the Adj-RIB-In and Loc-RIB alone. Timings are wall clock on
// a shared machine: noisy.
//
// Lines printed (agent mode):
//   rib install N=<n> net1: <s> s (receive <s> s, kernel <s> s)
//   rib install N=<n> net2: <s> s (receive <s> s, kernel <s> s)
//   rib memory N=<n> both: heap <MiB> MiB, rss <MiB> MiB
//   rib failover N=<n> eligibility: <ms> ms (rib <ms> ms, kernel <ms> ms)
//   rib failback N=<n> eligibility: <ms> ms (rib <ms> ms, kernel <ms> ms)
//   rib failover N=<n> session-down: <ms> ms (rib <ms> ms, kernel <ms> ms)
//   rib withdraw N=<n> with alternative: <s> s (receive <s> s, kernel <s> s)
import { Framer } from '../src/bgp/framer.js';
import { decodeMessage, encodeMessage } from '../src/bgp/message.js';
import { isEndOfRib, packUpdates } from '../src/bgp/pack.js';
import type { CodecContext, PathAttributes, UpdateMessage } from '../src/bgp/types.js';
import { ZERO_ESI, type MacIpRoute } from '../src/evpn/types.js';
import { DEFAULT_FAKE_LINKS, FakeKernel } from '../src/kernel/fake.js';
import { ManualClock } from '../src/util/clock.js';
import { parseConfig } from '../src/agent/config.js';
import { Agent, type AgentSession, type SessionHandlers } from '../src/agent/agent.js';
import { ImportPolicy, updateToChanges } from '../src/agent/policy.js';
import { Rib } from '../src/agent/rib.js';
import { AgentControlProvider } from '../src/control/agent-adapter.js';
import '../src/evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

const N = Number(process.env['BENCH_N'] ?? process.argv[2] ?? 50_000);
const VTEPS = Number(process.env['BENCH_VTEPS'] ?? 4);
const MODE = process.env['BENCH_MODE'] ?? 'agent';
const ctx: CodecContext = { fourOctetAs: true };
const CHUNK = 64 * 1024;

const hex2 = (n: number): string => (n & 0xff).toString(16).padStart(2, '0');

/** Remote server i's MAC+IP route over network `net` (its VTEP is one of K per network). */
function route(i: number, net: 1 | 2): MacIpRoute {
  const vtep = i % VTEPS;
  return {
    type: 'mac-ip',
    rd: { type: 1, ip: `192.168.${net}.${10 + vtep}`, assigned: 100 },
    esi: ZERO_ESI,
    ethernetTag: 0,
    mac: `52:54:${hex2(i >> 24)}:${hex2(i >> 16)}:${hex2(i >> 8)}:${hex2(i)}`,
    ip: `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`,
    label1: 100,
    label2: null,
  };
}

function attributes(net: 1 | 2, vtep: string): PathAttributes {
  return {
    origin: 0,
    asPath: [],
    localPref: 100,
    originatorId: vtep,
    clusterList: [`192.168.${net}.2`],
    extCommunities: [
      { kind: 'route-target', form: 'as2', asn: 65000 + net, local: 100 },
      { kind: 'encapsulation', tunnelType: 8 },
    ],
  };
}

/** The byte stream a reflector sends for N routes over `net` (announce), or their withdrawal. */
function stream(net: 1 | 2, withdraw: boolean): Uint8Array[] {
  const updates: UpdateMessage[] = [];
  const byVtep: MacIpRoute[][] = Array.from({ length: VTEPS }, () => []);
  for (let i = 0; i < N; i++) byVtep[i % VTEPS]!.push(route(i, net));
  if (withdraw) {
    // Withdrawals of a reflector: interleaved VTEPs, labels as announced.
    const all: MacIpRoute[] = [];
    for (let i = 0; i < N; i++) all.push(byVtep[i % VTEPS]![Math.floor(i / VTEPS)]!);
    updates.push(...packUpdates({ withdraw: all }, ctx));
  } else {
    const announce = byVtep.map((routes, v) => {
      const nh = `192.168.${net}.${10 + v}`;
      return { attributes: attributes(net, nh), nextHop: nh, routes };
    });
    updates.push(...packUpdates({ announce }, ctx));
  }
  const frames = updates.map((u) => encodeMessage(u, ctx));
  const total = frames.reduce((n, f) => n + f.length, 0);
  const all = new Uint8Array(total);
  let off = 0;
  for (const f of frames) {
    all.set(f, off);
    off += f.length;
  }
  const chunks: Uint8Array[] = [];
  for (let i = 0; i < total; i += CHUNK) chunks.push(Buffer.from(all.subarray(i, Math.min(total, i + CHUNK))));
  return chunks;
}

/** What BgpSession.onData + deliver do with received bytes, minus the FSM step. */
function receive(chunks: Uint8Array[], update: (u: UpdateMessage) => void): number {
  const framer = new Framer();
  let messages = 0;
  for (const c of chunks) {
    for (const f of framer.push(c)) {
      const m = decodeMessage(f, ctx);
      if (m.type !== 'update' || isEndOfRib(m)) continue;
      messages++;
      update(m);
    }
  }
  return messages;
}

const gc = (globalThis as { gc?: () => void }).gc;
function memory(): { heap: number; rss: number } {
  gc?.();
  gc?.();
  const m = process.memoryUsage();
  return { heap: m.heapUsed / 2 ** 20, rss: m.rss / 2 ** 20 };
}

const sec = (ms: number): string => (ms / 1000).toFixed(3);
const now = (): number => performance.now();

const CONFIG = `
vnis: [{vni: 100, bridge: br-vxlan, vxlan: vxlan0}]
uplinks:
  - {name: net1, interface: eth1, peer: 192.168.1.2, localAs: 65001, localPref: 200}
  - {name: net2, interface: eth2, peer: 192.168.2.2, localAs: 65002, localPref: 100}
kernel: {withdrawDelay: 0}
`;

async function ribOnly(): Promise<void> {
  const cfg = parseConfig(CONFIG);
  const context = { routerId: '192.168.1.65', ownAddresses: new Set(['192.168.1.65', '192.168.2.65']), vnis: new Set([100]) };
  const rib = new Rib();
  const base = memory();
  for (const net of [1, 2] as const) {
    const chunks = stream(net, false);
    const policy = new ImportPolicy(cfg.uplinks[net - 1]!, context);
    const peer = { address: `192.168.${net}.2`, routerId: `192.168.${net}.2` };
    const t0 = now();
    let changes = 0;
    receive(chunks, (u) => { changes += rib.applyUpdate(`net${net}`, policy.apply(updateToChanges(u), peer)).length; });
    console.log(`rib-only install N=${N} net${net}: ${sec(now() - t0)} s (${changes} best-path changes)`);
  }
  const m = memory();
  console.log(`rib-only memory N=${N} both: heap ${(m.heap - base.heap).toFixed(1)} MiB over base, rss ${m.rss.toFixed(1)} MiB`);
  if (rib.size !== N) throw new Error(`expected ${N} Loc-RIB entries, got ${rib.size}`);
}

async function agentRun(): Promise<void> {
  const clock = new ManualClock(1000);
  const kernel = new FakeKernel({
    links: [
      ...DEFAULT_FAKE_LINKS,
      { name: 'eth1', addresses: [{ family: 4, address: '192.168.1.65', prefixLen: 24 }] },
      { name: 'eth2', addresses: [{ family: 4, address: '192.168.2.65', prefixLen: 24 }] },
    ],
  });
  const handlers = new Map<string, SessionHandlers>();
  const agent = new Agent({
    config: parseConfig(CONFIG), kernel, clock,
    sessions: (spec, h): AgentSession => {
      handlers.set(spec.uplink, h);
      return { start() {}, stop() {}, advertise() {}, withdraw() {} };
    },
  });
  // As in the daemon (run.ts): the control provider always listens to the agent's events.
  const cfgNow = parseConfig(CONFIG);
  const provider = new AgentControlProvider({ agent, config: () => cfgNow, clock });
  if (process.env['BENCH_WATCH']) provider.subscribe(() => {});
  const settle = async (): Promise<void> => {
    clock.advance(0);
    await agent.settled();
    while (clock.nextDueAt() !== undefined && clock.nextDueAt()! <= clock.now()) {
      clock.advance(0);
      await agent.settled();
    }
  };
  await agent.start();
  handlers.get('net1')!.established({ peerRouterId: '192.168.1.2' });
  handlers.get('net2')!.established({ peerRouterId: '192.168.2.2' });
  await settle();
  const streams = { 1: stream(1, false), 2: stream(2, false) };
  const withdraw1 = stream(1, true);
  const fdbTo = (net: number): number => {
    let n = 0;
    for (const e of agent.desiredEntries()) if (e.kind === 'fdb' && e.dst.startsWith(`192.168.${net}.`)) n++;
    return n;
  };
  const base = memory();

  const timed = async (label: string, fn: () => void, unit: 's' | 'ms'): Promise<void> => {
    const t0 = now();
    fn();
    const t1 = now();
    await settle();
    const t2 = now();
    const f = unit === 's' ? sec : (ms: number) => ms.toFixed(0);
    console.log(`rib ${label}: ${f(t2 - t0)} ${unit} (${unit === 's' ? 'receive' : 'rib'} ${f(t1 - t0)} ${unit}, kernel ${f(t2 - t1)} ${unit})`);
  };

  for (const net of [1, 2] as const) {
    const h = handlers.get(`net${net}`)!;
    await timed(`install N=${N} net${net}`, () => { receive(streams[net], (u) => h.update(u)); }, 's');
  }
  if (fdbTo(1) !== N) throw new Error(`expected ${N} FDB entries to network 1, got ${fdbTo(1)}`);
  if (kernel.applied.length !== 2 * N) throw new Error(`expected ${2 * N} kernel ops, got ${kernel.applied.length}`);
  const m = memory();
  console.log(`rib memory N=${N} both: heap ${m.heap.toFixed(1)} MiB (${(m.heap - base.heap).toFixed(1)} over base), rss ${m.rss.toFixed(1)} MiB`);
  // BENCH_STOP=install: end here with everything alive (for node --heap-prof).
  if (process.env['BENCH_STOP'] === 'install') process.exit(0);

  await timed(`failover N=${N} eligibility`, () => {
    for (let v = 0; v < VTEPS; v++) agent.setEligibility(`192.168.1.${10 + v}`, 'net1', false);
  }, 'ms');
  if (fdbTo(2) !== N) throw new Error(`failover: expected ${N} FDB entries to network 2, got ${fdbTo(2)}`);
  await timed(`failback N=${N} eligibility`, () => {
    for (let v = 0; v < VTEPS; v++) agent.setEligibility(`192.168.1.${10 + v}`, 'net1', true);
  }, 'ms');
  if (fdbTo(1) !== N) throw new Error(`failback: expected ${N} FDB entries to network 1, got ${fdbTo(1)}`);
  await timed(`failover N=${N} session-down`, () => { handlers.get('net1')!.down('BFD down'); }, 'ms');
  if (fdbTo(2) !== N) throw new Error(`session down: expected ${N} FDB entries to network 2, got ${fdbTo(2)}`);
  // The session comes back, net1 is best again, then its reflector withdraws everything.
  handlers.get('net1')!.established({ peerRouterId: '192.168.1.2' });
  const h1 = handlers.get('net1')!;
  receive(streams[1], (u) => h1.update(u));
  await settle();
  if (fdbTo(1) !== N) throw new Error(`re-install: expected ${N} FDB entries to network 1, got ${fdbTo(1)}`);
  await timed(`withdraw N=${N} with alternative`, () => { receive(withdraw1, (u) => h1.update(u)); }, 's');
  if (fdbTo(2) !== N) throw new Error(`withdraw: expected ${N} FDB entries to network 2, got ${fdbTo(2)}`);
  await agent.shutdown({ flushKernel: false });
  provider.close();
}

await (MODE === 'rib' ? ribOnly() : agentRun());
