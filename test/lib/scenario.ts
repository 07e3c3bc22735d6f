// Scenario replays ("tests as data"): a folder under test/scenarios/<name>/ holds a
// configuration, the inputs as JSON lines (events.jsonl) and the outputs expected
// from them (expected/*.jsonl). runScenario() plays the inputs into the real Agent
// (or the reflector's RIB) over FakeKernel, fake BGP sessions, real VTEP probers on
// an in-memory underlay and a ManualClock, and returns the outputs as JSON lines;
// test/unit/scenarios.test.ts compares them with the expected files, and
// SCENARIO_UPDATE=1 rewrites those files for a human to review (git diff).
// docs/testing.md "Writing a scenario" describes the folder and every input.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Agent, type AgentEvent, type AgentProber, type AgentSession, type SessionHandlers, type SessionSpec } from '../../src/agent/agent.js';
import { parseConfig } from '../../src/agent/config.js';
import type { Advertisement } from '../../src/agent/origination.js';
import type { ExtCommunity, OutRoute, PathAttributes, UpdateMessage } from '../../src/bgp/types.js';
import { describeRoute, macIpRoute } from '../../src/evpn/route.js';
import type { EvpnRoute, MacIpRoute } from '../../src/evpn/types.js';
import { DEFAULT_FAKE_LINKS, FakeKernel, type FakeLinkSpec } from '../../src/kernel/fake.js';
import { describeEntry, type KernelOp } from '../../src/kernel/port.js';
import { VtepProber } from '../../src/probe/prober.js';
import { parseReflectorConfig } from '../../src/reflector/config.js';
import { ReflectorRib } from '../../src/reflector/rib.js';
import { ManualClock } from '../../src/util/clock.js';
import { Fabric } from './probe-fabric.js';
import { advanceAndSettle } from './settle.js';

/** The output files of a scenario, under expected/. */
export const OUTPUTS = ['kernel', 'announcements', 'events'] as const;
export type OutputName = (typeof OUTPUTS)[number];
export type ScenarioOutput = Record<OutputName, string[]>;

/** scenario.json: the world before the first event (every field optional). */
interface Setup {
  /** Links of the FakeKernel (default: br-vxlan + vxlan0, eth1 192.168.1.65/24, eth2 192.168.2.65/24). */
  links?: FakeLinkSpec[];
  /** FDB nexthop groups in the fake kernel (default false: per-entry dst). */
  nexthops?: boolean;
  /** Kernel state before the agent starts (e.g. left by a previous run), not recorded. */
  kernel?: KernelOp[];
  /** Remote servers that answer VTEP probes: service address, bridge MAC, VTEP per network. */
  remotes?: Array<{ name: string; serviceIp: string; bridgeMac: string; vteps: Record<string, string> }>;
  /** Clock at the start, ms (default 1000). */
  start?: number;
}

/** A route in an input line: a MAC, optionally an IP, of VNI `vni` (default 100). */
interface RouteSpec {
  mac: string;
  ip?: string | null;
  vni?: number;
  /** MAC Mobility sequence number (RFC 7432 §7.7). */
  seq?: number;
}

/**
 * One input line. Exactly one of the keys below names what happens; `#` is a comment.
 * See docs/testing.md for each.
 */
interface Input {
  '#'?: string;
  advance?: number;
  session?: string;
  up?: string;
  down?: string;
  bfd?: string;
  announce?: string;
  withdraw?: string;
  eor?: string;
  server?: number;
  nextHop?: string;
  rd?: string;
  rt?: string;
  originatorId?: string;
  clusterList?: string[];
  localPref?: number;
  routes?: RouteSpec[];
  cut?: [string, string];
  heal?: [string, string];
  kernel?: 'remove-fdb' | 'remove-neigh' | 'foreign-fdb' | 'foreign-neigh' | 'overflow' | 'link';
  ifname?: string;
  mac?: string;
  ip?: string;
  dst?: string;
  table?: 'bridge' | 'vxlan';
  name?: string;
  carrier?: boolean;
  reload?: string;
  restart?: { flushKernel?: boolean };
  shutdown?: { flushKernel?: boolean };
  // reflector scenarios
  peer?: string;
  asn?: number;
  bgpId?: string;
  from?: string;
}

/** Read events.jsonl: one JSON object a line; blank lines and lines starting with # are skipped. */
export function readInputs(file: string): Array<{ line: number; input: Input }> {
  const out: Array<{ line: number; input: Input }> = [];
  readFileSync(file, 'utf8').split('\n').forEach((text, i) => {
    const s = text.trim();
    if (s === '' || s.startsWith('#')) return;
    try {
      out.push({ line: i + 1, input: JSON.parse(s) as Input });
    } catch (e) {
      throw new Error(`${file}:${i + 1}: not JSON: ${(e as Error).message}`);
    }
  });
  return out;
}

/** JSON with bigints as strings and byte arrays as hex, keys in insertion order. */
function json(v: unknown): string {
  return JSON.stringify(v, (_k, x: unknown) => {
    if (typeof x === 'bigint') return x.toString();
    if (x instanceof Uint8Array) return Buffer.from(x).toString('hex');
    return x;
  });
}

function describeOp(op: KernelOp): string {
  const only = op.op === 'delete' && op.only ? ` (${op.only} only)` : '';
  return `${op.op} ${describeEntry(op.entry)}${only}`;
}

/** Attributes as sent, with the route's own fields left out (they are in the route's text). */
function attrs(a: PathAttributes): Record<string, unknown> {
  const { mpReach: _r, mpUnreach: _u, ...rest } = a;
  return rest;
}

function macIp(r: RouteSpec, rd: string): MacIpRoute {
  return macIpRoute({ rd, mac: r.mac, ip: r.ip ?? null, vni: r.vni ?? 100 });
}

/** The UPDATE of an `announce` line. */
function announcement(x: Input, defaultRt: string, defaultNextHop: string, rd: string): UpdateMessage {
  const [asn, local] = (x.rt ?? defaultRt).split(':').map(Number);
  const ext: ExtCommunity[] = [
    { kind: 'route-target', form: 'as2', asn: asn!, local: local! },
    { kind: 'encapsulation', tunnelType: 8 },
  ];
  const seq = x.routes?.find((r) => r.seq !== undefined)?.seq;
  if (seq !== undefined) ext.push({ kind: 'mac-mobility', sequence: seq, sticky: false });
  return {
    type: 'update', withdrawn: [], nlri: [],
    attributes: {
      origin: 0, asPath: [],
      ...(x.localPref !== undefined ? { localPref: x.localPref } : {}),
      ...(x.originatorId ? { originatorId: x.originatorId } : {}),
      ...(x.clusterList ? { clusterList: x.clusterList } : {}),
      extCommunities: ext,
      mpReach: { afi: 25, safi: 70, nextHop: [x.nextHop ?? defaultNextHop], nlri: { kind: 'evpn', routes: (x.routes ?? []).map((r) => macIp(r, rd)) } },
    },
  };
}

function withdrawal(routes: EvpnRoute[]): UpdateMessage {
  return { type: 'update', withdrawn: [], nlri: [], attributes: { mpUnreach: { afi: 25, safi: 70, nlri: { kind: 'evpn', routes } } } };
}

/** Collects the outputs, each line tagged with the input line and clock time that caused it. */
class Recorder {
  readonly out: ScenarioOutput = { kernel: [], announcements: [], events: [] };
  line = 0;
  constructor(private readonly clock: ManualClock) {}
  add(file: OutputName, record: Record<string, unknown>): void {
    this.out[file].push(json({ in: this.line, t: this.clock.now(), ...record }));
  }
}

/** A session whose peer is the scenario: it records what the agent sends. */
class ScriptedSession implements AgentSession {
  established = false;
  constructor(readonly spec: SessionSpec, readonly h: SessionHandlers, private readonly rec: Recorder) {}
  start(): void { /* the scenario says when the session comes up */ }
  stop(reason: string): void {
    this.rec.add('announcements', { uplink: this.spec.uplink, stop: reason });
  }
  refresh(): boolean {
    this.rec.add('announcements', { uplink: this.spec.uplink, refresh: true });
    return true;
  }
  advertise(routes: Advertisement[]): void {
    for (const r of routes) {
      this.rec.add('announcements', { uplink: this.spec.uplink, advertise: describeRoute(r.route), nextHop: r.nextHop, attributes: attrs(r.attributes) });
    }
  }
  withdraw(routes: EvpnRoute[]): void {
    for (const r of routes) this.rec.add('announcements', { uplink: this.spec.uplink, withdraw: describeRoute(r) });
  }
}

/** An agent event as a line: kernel events carry their ops as text (they are in kernel.jsonl in full). */
function eventRecord(ev: AgentEvent): Record<string, unknown> {
  if (ev.type === 'kernel') {
    return { ...ev, ops: ev.ops.map(describeOp), failed: ev.failed.map((f) => ({ op: describeOp(f.op), code: f.code })) };
  }
  if (ev.type === 'kernel-conflict') return { ...ev, entry: describeEntry(ev.entry) };
  return { ...ev };
}

const DEFAULT_LINKS: FakeLinkSpec[] = [
  ...DEFAULT_FAKE_LINKS,
  { name: 'eth1', addresses: [{ family: 4, address: '192.168.1.65', prefixLen: 24 }] },
  { name: 'eth2', addresses: [{ family: 4, address: '192.168.2.65', prefixLen: 24 }] },
];

function fail(dir: string, line: number, msg: string): never {
  throw new Error(`${join(dir, 'events.jsonl')}:${line}: ${msg}`);
}

/** Play the scenario in `dir`; the outputs as JSON lines. */
export async function runScenario(dir: string): Promise<ScenarioOutput> {
  if (existsSync(join(dir, 'reflector.yaml'))) return runReflectorScenario(dir);
  const setup: Setup = existsSync(join(dir, 'scenario.json')) ? JSON.parse(readFileSync(join(dir, 'scenario.json'), 'utf8')) as Setup : {};
  const clock = new ManualClock(setup.start ?? 1000);
  const rec = new Recorder(clock);
  const kernel = new FakeKernel({ nexthops: setup.nexthops ?? false, links: (setup.links ?? DEFAULT_LINKS).map((l) => ({ ...l, addresses: [...(l.addresses ?? [])] })) });
  if (setup.kernel) {
    const res = await kernel.apply(setup.kernel);
    const bad = res.find((r) => !r.ok);
    if (bad) throw new Error(`${dir}/scenario.json: kernel: ${describeOp(bad.op)} failed`);
  }
  let recorded = kernel.applied.length;
  const fabric = new Fabric(clock);
  const remotes: VtepProber[] = [];
  for (const r of setup.remotes ?? []) {
    const h = fabric.host(r.name, r.serviceIp, r.bridgeMac, r.vteps);
    const p = new VtepProber({
      clock, transport: fabric.transport(h), vni: 100, serviceIp: r.serviceIp, bridgeMac: r.bridgeMac,
      uplinks: Object.entries(r.vteps).map(([network, address]) => ({ network, address })), random: () => 0, nonce: 0x2222n,
    });
    p.start();
    remotes.push(p);
  }
  const sessions: ScriptedSession[] = [];
  const session = (dirLine: number, name: string): ScriptedSession => {
    const s = sessions.filter((x) => x.spec.uplink === name).at(-1);
    if (!s) fail(dir, dirLine, `no session for uplink ${name}`);
    return s;
  };
  const newAgent = (configFile: string): Agent => {
    const config = parseConfig(readFileSync(join(dir, configFile), 'utf8'), configFile);
    const agent = new Agent({
      config, kernel, clock,
      sessions: (spec, h) => { const s = new ScriptedSession(spec, h, rec); sessions.push(s); return s; },
      probers: (spec): AgentProber => {
        const h = fabric.host('local', spec.serviceIp, spec.bridgeMac, Object.fromEntries(spec.uplinks.map((u) => [u.network, u.address])));
        return new VtepProber({
          clock, transport: fabric.transport(h), vni: spec.vni, serviceIp: spec.serviceIp, bridgeMac: spec.bridgeMac, uplinks: spec.uplinks,
          interval: spec.interval, multiplier: spec.multiplier, holdDown: spec.holdDown, probePort: spec.port, random: () => 0, nonce: 0x1111n,
        });
      },
    });
    agent.subscribe((ev) => rec.add('events', eventRecord(ev)));
    return agent;
  };
  const flushKernel = (): void => {
    for (const op of kernel.applied.slice(recorded)) rec.add('kernel', { op: describeOp(op) });
    recorded = kernel.applied.length;
  };
  let agent = newAgent('config.yaml');
  let configFile = 'config.yaml';
  // Kernel ops are recorded at the end of each step (FakeKernel keeps them in order).
  const settle = async (ms = 0): Promise<void> => { await advanceAndSettle(clock, agent, ms); flushKernel(); };
  await agent.start();
  await settle();
  for (const { line, input: x } of readInputs(join(dir, 'events.jsonl'))) {
    rec.line = line;
    if (x.advance !== undefined) {
      // Step by the earliest due timer, so every output carries the time it happened.
      const until = clock.now() + x.advance;
      for (;;) {
        const due = clock.nextDueAt();
        if (due === undefined || due > until) break;
        await settle(Math.max(0, due - clock.now()));
      }
      await settle(until - clock.now());
      continue;
    }
    if (x.session !== undefined) {
      const s = session(line, x.session);
      if (x.up !== undefined) { s.established = true; s.h.established({ peerRouterId: x.up }); }
      else if (x.down !== undefined) { s.established = false; s.h.down(x.down); }
      else fail(dir, line, 'session: needs up or down');
    } else if (x.bfd !== undefined) {
      // wiring.ts: BFD down resets an Established BGP session (Cease/BFD Down).
      const s = session(line, x.bfd);
      if (x.down === undefined) fail(dir, line, 'bfd: only down reaches the agent (the session re-establishes with a session up line)');
      if (s.established) { s.established = false; s.h.down(`BFD down (${x.down || 'Control Detection Time Expired'})`); }
    } else if (x.announce !== undefined || x.withdraw !== undefined) {
      const uplink = (x.announce ?? x.withdraw)!;
      const net = Number(/(\d+)$/.exec(uplink)?.[1] ?? 1);
      const server = x.server ?? 87;
      const rd = x.rd ?? `192.168.${net}.${server}:100`;
      if (x.announce !== undefined) session(line, uplink).h.update(announcement(x, `${65000 + net}:100`, `192.168.${net}.${server}`, rd));
      else session(line, uplink).h.update(withdrawal((x.routes ?? []).map((r) => macIp(r, rd))));
    } else if (x.eor !== undefined) {
      session(line, x.eor).h.endOfRib({ afi: 25, safi: 70 });
    } else if (x.cut !== undefined) {
      fabric.cutPath(x.cut[0], x.cut[1]);
    } else if (x.heal !== undefined) {
      fabric.heal(x.heal[0], x.heal[1]);
    } else if (x.kernel !== undefined) {
      // Someone else changes the kernel.
      switch (x.kernel) {
        case 'remove-fdb': kernel.removeFdb(x.ifname ?? 'vxlan0', x.mac!, x.table); break;
        case 'remove-neigh': kernel.removeNeigh(x.ifname ?? 'br-vxlan', x.ip!); break;
        case 'foreign-fdb': kernel.foreignFdb({ ifname: x.ifname ?? 'vxlan0', mac: x.mac!, table: x.table ?? 'vxlan', ...(x.dst ? { dst: x.dst } : {}) }); break;
        case 'foreign-neigh': kernel.foreignNeigh({ ifname: x.ifname ?? 'br-vxlan', ip: x.ip!, mac: x.mac! }); break;
        case 'overflow': kernel.overflow(); break;
        case 'link': kernel.setLink(x.name!, { ...(x.carrier !== undefined ? { carrier: x.carrier } : {}) }); break;
        default: fail(dir, line, `unknown kernel action ${String(x.kernel)}`);
      }
    } else if (x.reload !== undefined) {
      configFile = x.reload;
      const res = agent.reconfigure(parseConfig(readFileSync(join(dir, x.reload), 'utf8'), x.reload));
      rec.add('events', { type: 'reload', file: x.reload, ...res });
    } else if (x.restart !== undefined) {
      // The process stops (sessions ceased, entries kept unless flushKernel) and a new one starts on the same kernel.
      await agent.shutdown({ flushKernel: x.restart.flushKernel ?? false, reason: 'restart' });
      await settle();
      rec.add('events', { type: 'restart' });
      agent = newAgent(configFile);
      await agent.start();
    } else if (x.shutdown !== undefined) {
      await agent.shutdown({ ...(x.shutdown.flushKernel !== undefined ? { flushKernel: x.shutdown.flushKernel } : {}), reason: 'shutdown' });
    } else if (!x['#']) {
      fail(dir, line, `nothing to do in ${JSON.stringify(x)}`);
    }
    await settle();
  }
  for (const p of remotes) p.stop();
  return rec.out;
}

/** A reflector scenario: reflector.yaml, peers and UPDATEs in, what each peer is sent out. */
async function runReflectorScenario(dir: string): Promise<ScenarioOutput> {
  const config = parseReflectorConfig(readFileSync(join(dir, 'reflector.yaml'), 'utf8'), 'reflector.yaml');
  const clock = new ManualClock(1000);
  const rec = new Recorder(clock);
  const rib = new ReflectorRib({ localAs: config.asn, routerId: config.routerId, clusterId: config.clusterId });
  const sink = (peer: string) => ({
    advertise: (routes: OutRoute[]) => {
      for (const r of routes) rec.add('announcements', { peer, advertise: describeRoute(r.route), nextHop: r.nextHop, attributes: attrs(r.attributes) });
    },
    withdraw: (routes: EvpnRoute[]) => {
      for (const r of routes) rec.add('announcements', { peer, withdraw: describeRoute(r) });
    },
  });
  for (const n of config.neighbors) rib.addPeer({ address: n.address, asn: n.asn, sink: sink(n.address) });
  for (const { line, input: x } of readInputs(join(dir, 'events.jsonl'))) {
    rec.line = line;
    if (x.advance !== undefined) clock.advance(x.advance);
    else if (x.peer !== undefined) {
      if (x.up !== undefined) rib.peerUp(x.peer, x.up);
      else if (x.down !== undefined) rec.add('events', { type: 'peer-down', peer: x.peer, routesDropped: rib.peerDown(x.peer) });
      else rib.addPeer({ address: x.peer, asn: x.asn ?? config.asn, sink: sink(x.peer) });
    } else if (x.announce !== undefined || x.withdraw !== undefined) {
      const from = (x.announce ?? x.withdraw)!;
      const rd = x.rd ?? fail(dir, line, 'reflector announce/withdraw needs rd');
      const u = x.announce !== undefined
        ? announcement(x, x.rt ?? `${config.asn}:100`, x.nextHop ?? fail(dir, line, 'announce needs nextHop'), rd)
        : withdrawal((x.routes ?? []).map((r) => macIp(r, rd)));
      const res = rib.receive(from, u);
      rec.add('events', { type: 'received', peer: from, ...res });
    } else if (!x['#']) {
      fail(dir, line, `nothing to do in ${JSON.stringify(x)}`);
    }
  }
  rec.add('events', { type: 'routes', routes: rib.routes().map((r) => ({ route: r.description, best: r.best?.peer ?? null, reason: r.reason, paths: r.paths.length })) });
  return rec.out;
}

/** Every scenario folder (one with events.jsonl) under `root`, by name. */
export function scenarioDirs(root: string): string[] {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(root, d.name, 'events.jsonl')))
    .map((d) => d.name)
    .sort();
}

/** The expected output file of a scenario (may not exist yet). */
export function expectedFile(dir: string, name: OutputName): string {
  return join(dir, 'expected', `${name}.jsonl`);
}
