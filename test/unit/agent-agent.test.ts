// The agent orchestrator against FakeKernel, fake sessions and a ManualClock.
import t from 'tap';
import type { UpdateMessage, ExtCommunity } from '../../src/bgp/types.js';
import { macIpRoute, routeKey } from '../../src/evpn/route.js';
import type { MacIpRoute } from '../../src/evpn/types.js';
import { DEFAULT_FAKE_LINKS, FakeKernel } from '../../src/kernel/fake.js';
import type { KernelOp } from '../../src/kernel/port.js';
import { ManualClock } from '../../src/util/clock.js';
import { parseConfig, type Config } from '../../src/agent/config.js';
import { Agent, type AgentEvent, type AgentProber, type ProberSpec } from '../../src/agent/agent.js';
import type { LocalUplink, ProbeStateEvent, ProbeTarget } from '../../src/probe/prober.js';
import { advanceAndSettle } from '../lib/settle.js';
import { FakeSession } from '../lib/agent-fakes.js';

const MAC = '02:00:00:00:00:87';
const IP = '192.168.0.87';

const CONFIG_TEXT = `
vnis: [{vni: 100, bridge: br-vxlan, vxlan: vxlan0}]
uplinks:
  - {name: net1, interface: eth1, peer: 192.168.1.2, localAs: 65001, localPref: 200}
  - {name: net2, interface: eth2, peer: 192.168.2.2, localAs: 65002, localPref: 100}
kernel: {withdrawDelay: 0}
`;

const RT = (asn: number): ExtCommunity => ({ kind: 'route-target', form: 'as2', asn, local: 100 });

/** server-r's route over network `net` (1 primary, 2 backup). */
function route(net: 1 | 2, o: { ip?: string | null; mac?: string } = {}): MacIpRoute {
  return macIpRoute({ rd: `192.168.${net}.87:100`, mac: o.mac ?? MAC, ip: o.ip === undefined ? IP : o.ip, vni: 100 });
}

function announce(net: 1 | 2, routes: MacIpRoute[] = [route(net)], o: { nextHop?: string; originatorId?: string; attrErrors?: UpdateMessage['attrErrors'] } = {}): UpdateMessage {
  return {
    type: 'update', withdrawn: [], nlri: [],
    attributes: {
      origin: 0, asPath: [], ...(o.originatorId ? { originatorId: o.originatorId } : {}),
      extCommunities: [RT(65000 + net), { kind: 'encapsulation', tunnelType: 8 }],
      mpReach: { afi: 25, safi: 70, nextHop: [o.nextHop ?? `192.168.${net}.87`], nlri: { kind: 'evpn', routes } },
    },
    ...(o.attrErrors ? { attrErrors: o.attrErrors } : {}),
  };
}

function withdraw(routes: MacIpRoute[]): UpdateMessage {
  return { type: 'update', withdrawn: [], nlri: [], attributes: { mpUnreach: { afi: 25, safi: 70, nlri: { kind: 'evpn', routes } } } };
}

class FakeProber implements AgentProber {
  running = false;
  uplinks: LocalUplink[];
  targets: ProbeTarget[] = [];
  private fn: ((ev: ProbeStateEvent) => void) | null = null;
  constructor(readonly spec: ProberSpec) { this.uplinks = spec.uplinks; }
  start(): void { this.running = true; }
  stop(): void { this.running = false; }
  setUplinks(u: LocalUplink[]): void { this.uplinks = u; }
  setTargets(t: Iterable<ProbeTarget>): void { this.targets = [...t]; }
  onStateChange(fn: (ev: ProbeStateEvent) => void): () => void {
    this.fn = fn;
    return () => { this.fn = null; };
  }
  report(network: string, remoteVtep: string, to: 'up' | 'down', eligible: boolean): void {
    this.fn?.({ network, localVtep: '', remoteVtep, from: 'up', to, reason: to === 'down' ? 'detect-timeout' : 'holddown-expired', rttMs: undefined, at: 0, eligible });
  }
}

interface Rig {
  clock: ManualClock;
  kernel: FakeKernel;
  agent: Agent;
  sessions: FakeSession[];
  events: AgentEvent[];
  probers: FakeProber[];
  /** The newest session of an uplink. */
  s(name: string): FakeSession;
  /** Let `ms` pass, then run every zero-delay follow-up and all kernel work. */
  step(ms?: number): Promise<void>;
  /** Ops applied since the last call. */
  newOps(): KernelOp[];
}

async function rig(opts: { config?: Config; kernel?: FakeKernel; start?: boolean } = {}): Promise<Rig> {
  const clock = new ManualClock(1000);
  const kernel = opts.kernel ?? newKernel();
  const sessions: FakeSession[] = [];
  const events: AgentEvent[] = [];
  const probers: FakeProber[] = [];
  const agent = new Agent({
    probers: (spec) => {
      const p = new FakeProber(spec);
      probers.push(p);
      return p;
    },
    config: opts.config ?? parseConfig(CONFIG_TEXT), kernel, clock,
    sessions: (spec, h) => {
      const s = new FakeSession(spec, h);
      sessions.push(s);
      return s;
    },
  });
  agent.subscribe((e) => events.push(e));
  let seen = kernel.applied.length;
  const r: Rig = {
    clock, kernel, agent, sessions, events, probers,
    s: (name) => sessions.filter((x) => x.spec.uplink === name).at(-1)!,
    step: (ms = 0) => advanceAndSettle(clock, agent, ms),
    newOps() {
      const ops = kernel.applied.slice(seen);
      seen = kernel.applied.length;
      return ops;
    },
  };
  if (opts.start ?? true) await agent.start();
  return r;
}

// These tests run in per-entry (`dst`) mode: the fake kernel has no FDB nexthops, so
// kernel.nexthopGroups 'auto' falls back (that fallback is asserted below). The same
// agent with nexthop groups: test/unit/agent-nhgroups.test.ts.
function newKernel(): FakeKernel {
  return new FakeKernel({
    nexthops: false,
    // Copies of the default links (FakeKernel copies them too since addLink(); kept for clarity).
    links: [
      ...DEFAULT_FAKE_LINKS.map((l) => ({ ...l, addresses: [...(l.addresses ?? [])] })),
      { name: 'eth1', addresses: [{ family: 4, address: '192.168.1.65', prefixLen: 24 }] },
      { name: 'eth2', addresses: [{ family: 4, address: '192.168.2.65', prefixLen: 24 }] },
    ],
  });
}

/** Both sessions up, server-r's primary and backup routes received. */
async function converged(r: Rig): Promise<void> {
  r.s('net1').up('192.168.1.2');
  r.s('net2').up('192.168.2.2');
  r.s('net1').send(announce(1));
  r.s('net2').send(announce(2));
  await r.step();
}

function fdbDst(k: FakeKernel): string | null | undefined {
  return k.fdb('vxlan0', MAC, 'vxlan')?.dst;
}

t.test('start: one session per uplink, with our routes in its Adj-RIB-Out', async (t) => {
  const r = await rig();
  t.equal(r.sessions.length, 2);
  const s1 = r.s('net1');
  t.same(s1.spec, {
    uplink: 'net1', peerAddress: '192.168.1.2', peerPort: 179, localAddress: '192.168.1.65', localAs: 65001, peerAs: 65001,
    routerId: '192.168.1.65', holdTime: 9, keepalive: 3, connectRetry: 1, passive: false, bfd: null,
    gracefulRestart: { restartTime: 0, families: [] }, auth: null, ttlSecurity: null,
  });
  t.ok(s1.started);
  t.equal(r.s('net2').spec.routerId, '192.168.1.65', 'one router ID for all sessions');
  const routes = [...r.s('net2').adjOut.values()];
  t.same(routes.map((a) => [a.route.type, a.route.type === 'mac-ip' ? a.route.ip : null, a.nextHop]), [
    ['mac-ip', '192.168.0.65', '192.168.2.65'], ['mac-ip', null, '192.168.2.65'], ['inclusive-multicast', null, '192.168.2.65'],
  ]);
  t.match(r.events.filter((e) => e.type === 'origination'), [{ uplink: 'net1', advertised: 3 }, { uplink: 'net2', advertised: 3 }]);
  t.equal(r.agent.bgpRouterId, '192.168.1.65');
  t.same(r.newOps(), [], 'nothing written at start');
  await t.rejects(r.agent.start());
  t.end();
});

t.test('failover primary -> backup when net1 goes down, failback when it returns', async (t) => {
  const r = await rig();
  await converged(r);
  t.equal(fdbDst(r.kernel), '192.168.1.87');
  t.equal(r.kernel.neigh('br-vxlan', IP)?.mac, MAC);
  t.match(r.kernel.neigh('br-vxlan', IP), { protocol: 231, externLearned: true });
  r.newOps();
  const applyCalls = r.kernel.applyCalls;
  r.events.length = 0;

  r.s('net1').down('Hold Timer Expired');
  await r.step();
  t.same(r.newOps(), [{ op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.2.87' } }],
    'one replace of the FDB entry; the neighbour stays');
  t.equal(r.kernel.applyCalls, applyCalls + 1, 'one batch');
  t.equal(fdbDst(r.kernel), '192.168.2.87');
  t.equal(r.kernel.neigh('br-vxlan', IP)?.mac, MAC);
  t.match(r.events, [
    { type: 'best-path', mac: MAC, ip: IP, before: { uplink: 'net1' }, after: { uplink: 'net2', nextHop: '192.168.2.87' }, reason: { step: 'only-path' } },
    { type: 'best-path', mac: MAC, ip: null },
  ].slice(0, 1));
  t.match(r.events.find((e) => e.type === 'session'), { uplink: 'net1', state: 'down', reason: 'Hold Timer Expired', pathsDropped: 1 });
  t.match(r.agent.status()[0], { name: 'net1', state: 'idle', flaps: 1, pathsReceived: 0 });

  // Failback.
  r.s('net1').up('192.168.1.2');
  r.s('net1').send(announce(1));
  await r.step();
  t.same(r.newOps(), [{ op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.1.87' } }]);
  t.match(r.events.filter((e) => e.type === 'best-path').at(-1), { after: { uplink: 'net1' }, reason: { step: 'local-pref', better: 200, worse: 100 } });
  t.end();
});

t.test('withdrawals, treat-as-withdraw, MAC-only routes', async (t) => {
  const r = await rig();
  await converged(r);
  r.newOps();
  // The primary is withdrawn by RR-net1 (session stays up).
  r.s('net1').send(withdraw([route(1)]));
  await r.step();
  t.equal(fdbDst(r.kernel), '192.168.2.87');
  t.same(r.newOps(), [{ op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.2.87' } }]);
  // A malformed re-announcement of the backup (RFC 7606 treat-as-withdraw) removes it too.
  r.s('net2').send(announce(2, [route(2)], { attrErrors: [{ typeCode: 16, action: 'withdraw', reason: 'bad length' }] }));
  await r.step();
  t.same(r.newOps().map((o) => [o.op, o.entry.kind]).sort(), [['delete', 'fdb'], ['delete', 'neigh']]);
  t.equal(r.kernel.neigh('br-vxlan', IP), undefined);
  t.equal(r.kernel.fdb('vxlan0', MAC, 'vxlan'), undefined);
  t.equal(r.kernel.fdb('vxlan0', MAC, 'bridge'), undefined);
  t.equal(r.agent.status()[1]!.counters.treatAsWithdraw, 1);
  // A MAC-only route gives an FDB entry without a neighbour.
  r.s('net2').send(announce(2, [route(2, { ip: null, mac: '02:00:00:00:00:99' })]));
  await r.step();
  t.same(r.newOps(), [{ op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: '02:00:00:00:00:99', dst: '192.168.2.87' } }]);
  t.end();
});

t.test('our own routes coming back are ignored', async (t) => {
  const r = await rig();
  r.s('net1').up('192.168.1.2');
  r.s('net2').up('192.168.2.2');
  const own = macIpRoute({ rd: '192.168.2.65:100', mac: '02:00:00:00:00:65', ip: '192.168.0.65', vni: 100 });
  r.s('net1').send(announce(1, [own], { nextHop: '192.168.2.65' }));
  r.s('net2').send(announce(2, [route(2)], { originatorId: '192.168.1.65' }));
  await r.step();
  t.same(r.newOps(), []);
  t.equal(r.agent.rib.size, 0);
  t.match(r.agent.status().map((s) => s.counters.rejected), [{ 'own-next-hop': 1 }, { 'own-originator': 1 }]);
  t.end();
});

t.test('eligibility from the VTEP probe moves the FDB entry', async (t) => {
  const r = await rig();
  await converged(r);
  r.newOps();
  r.agent.setEligibility('192.168.1.87', 'net1', false);
  await r.step();
  t.same(r.newOps(), [{ op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.2.87' } }]);
  r.agent.setEligibility('192.168.1.87', 'net1', true);
  await r.step();
  t.equal(fdbDst(r.kernel), '192.168.1.87');
  t.end();
});

t.test('VTEP probe: targets follow the RIB, a down verdict moves the FDB entry', async (t) => {
  const r = await rig();
  t.equal(r.probers.length, 1);
  const p = r.probers[0]!;
  t.same(p.spec, {
    vni: 100, serviceIp: '192.168.0.65', bridgeMac: '02:00:00:00:00:65',
    uplinks: [{ network: 'net1', address: '192.168.1.65' }, { network: 'net2', address: '192.168.2.65' }],
    interval: 100, multiplier: 3, holdDown: 3000, port: 4799,
  });
  t.ok(p.running);
  await converged(r);
  const sort = (x: ProbeTarget[]) => [...x].sort((a, b) => a.network.localeCompare(b.network));
  t.same(sort(p.targets), [
    { network: 'net1', localVtep: '192.168.1.65', remoteVtep: '192.168.1.87', remoteMac: MAC, remoteServiceIp: IP, active: true },
    { network: 'net2', localVtep: '192.168.2.65', remoteVtep: '192.168.2.87', remoteMac: MAC, remoteServiceIp: IP, active: false },
  ], 'best and backup paths are probed; the only alternative at the idle rate');
  r.newOps();
  p.report('net1', '192.168.1.87', 'down', false);
  await r.step();
  t.same(r.newOps(), [{ op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.2.87' } }]);
  t.match(r.events.filter((e) => e.type === 'probe'), [{ network: 'net1', remoteVtep: '192.168.1.87', to: 'down', eligible: false }]);
  p.report('net1', '192.168.1.87', 'up', true);
  await r.step();
  t.equal(fdbDst(r.kernel), '192.168.1.87');
  r.s('net2').down();
  await r.step();
  t.same(p.targets.map((x) => x.network), ['net1'], 'targets of a dropped session go');
  // The bridge's MAC changes: a new prober.
  r.kernel.setLink('br-vxlan', { mac: '02:00:00:00:00:66' });
  await r.step(100);
  t.equal(r.probers.length, 2);
  t.notOk(p.running);
  t.equal(r.probers[1]!.spec.bridgeMac, '02:00:00:00:00:66');
  await r.agent.shutdown();
  t.notOk(r.probers[1]!.running);
  t.end();
});

t.test('VTEP probe: a target is active while it carries best paths or is one of several alternatives', async (t) => {
  const r = await rig();
  const p = r.probers[0]!;
  const active = (): Record<string, boolean> => Object.fromEntries(p.targets.map((x) => [`${x.network} ${x.remoteVtep}`, x.active ?? true]));
  await converged(r);
  t.same(active(), { 'net1 192.168.1.87': true, 'net2 192.168.2.87': false });
  // The probe finds net1's path down: the traffic moves to net2's path, which turns active;
  // net1's (now the only alternative, and ineligible) turns idle.
  p.report('net1', '192.168.1.87', 'down', false);
  await r.step();
  t.equal(fdbDst(r.kernel), '192.168.2.87');
  t.same(active(), { 'net1 192.168.1.87': false, 'net2 192.168.2.87': true });
  p.report('net1', '192.168.1.87', 'up', true);
  await r.step();
  t.equal(fdbDst(r.kernel), '192.168.1.87');
  t.same(active(), { 'net1 192.168.1.87': true, 'net2 192.168.2.87': false });
  // A second server announces the same MAC+IP on net2 (server 88): net1's next hop now
  // has two alternatives, and a failover must choose between them: both active.
  r.s('net2').send(announce(2, [macIpRoute({ rd: '192.168.2.88:100', mac: MAC, ip: IP, vni: 100 })], { nextHop: '192.168.2.88' }));
  await r.step();
  t.same(active(), { 'net1 192.168.1.87': true, 'net2 192.168.2.87': true, 'net2 192.168.2.88': true });
  // Without net1 the best path is on net2 (one of the two): the other one is its only alternative.
  r.s('net1').down();
  await r.step();
  const a = active();
  t.equal(Object.keys(a).length, 2);
  t.equal(Object.values(a).filter((x) => x).length, 1, 'the best path\'s next hop active, its only alternative idle');
  t.equal(a[`net2 ${fdbDst(r.kernel)}`], true);
  // The best path's next hop counts best paths (RIB), not paths.
  t.equal(r.agent.rib.bestPathsVia('net2', fdbDst(r.kernel)!), 1);
  await r.agent.shutdown();
  t.end();
});

t.test('vtepProbe: false: no prober', async (t) => {
  const r = await rig({ config: parseConfig(`${CONFIG_TEXT}vtepProbe: false\n`) });
  t.equal(r.probers.length, 0);
  t.end();
});

/** A kernel holding what a previous run wrote: server-r (still announced) and a server that is gone. */
async function kernelFromPreviousRun(): Promise<FakeKernel> {
  const k = newKernel();
  await k.apply([
    { op: 'replace', entry: { kind: 'neigh', ifname: 'br-vxlan', ip: IP, mac: MAC } },
    { op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.1.87' } },
    { op: 'replace', entry: { kind: 'neigh', ifname: 'br-vxlan', ip: '192.168.0.99', mac: '02:00:00:00:00:99' } },
    { op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: '02:00:00:00:00:99', dst: '192.168.1.99' } },
  ]);
  // Someone else's entries: never touched.
  k.foreignNeigh({ ifname: 'br-vxlan', ip: '192.168.0.1', mac: '02:00:00:00:00:01' });
  return k;
}

t.test('restart: supported entries stay untouched, stale ones go after End-of-RIB from every session', async (t) => {
  const kernel = await kernelFromPreviousRun();
  const r = await rig({ kernel });
  r.newOps();
  await converged(r);
  t.same(r.newOps(), [], 'entries still supported are not rewritten (no flap)');
  t.equal(r.kernel.neigh('br-vxlan', '192.168.0.99')?.mac, '02:00:00:00:00:99', 'stale entry kept for now');
  r.s('net1').eor();
  await r.step(20_000);
  t.same(r.newOps(), [], 'net2 has not sent End-of-RIB yet');
  t.notOk(r.agent.staleGateOpen);
  r.s('net2').eor();
  await r.step();
  t.same(r.newOps().map((o) => [o.op, o.entry.kind === 'neigh' ? o.entry.ip : o.entry.kind === 'fdb' ? o.entry.mac : o.entry.id]).sort(), [
    ['delete', '02:00:00:00:00:99'], ['delete', '192.168.0.99'],
  ]);
  t.match(r.events.filter((e) => e.type === 'stale-cleanup'), [{ cause: 'end-of-rib' }]);
  t.equal(r.kernel.neigh('br-vxlan', '192.168.0.1')?.mac, '02:00:00:00:00:01', 'foreign entry untouched');
  t.equal(fdbDst(r.kernel), '192.168.1.87');
  t.end();
});

t.test('restart: stale entries go after the grace period when a session never sends End-of-RIB', async (t) => {
  const kernel = await kernelFromPreviousRun();
  const r = await rig({ kernel });
  r.newOps();
  r.s('net1').up('192.168.1.2');
  r.s('net1').send(announce(1));
  r.s('net1').eor();
  await r.step(29_999);
  t.same(r.newOps(), []);
  // A route lost before the gate opens is removed at once if this run wrote it.
  r.s('net1').send(announce(1, [route(1, { ip: '192.168.0.50', mac: '02:00:00:00:00:50' })]));
  await r.step();
  t.equal(r.newOps().length, 2);
  r.s('net1').send(withdraw([route(1, { ip: '192.168.0.50', mac: '02:00:00:00:00:50' })]));
  await r.step();
  t.same(r.newOps().map((o) => o.op), ['delete', 'delete']);
  await r.step(1);
  t.same(r.newOps().map((o) => [o.op, o.entry.kind === 'neigh' ? o.entry.ip : o.entry.kind === 'fdb' ? o.entry.mac : o.entry.id]).sort(), [
    ['delete', '02:00:00:00:00:99'], ['delete', '192.168.0.99'],
  ]);
  t.match(r.events.filter((e) => e.type === 'stale-cleanup'), [{ cause: 'timeout' }]);
  t.ok(r.agent.staleGateOpen);
  t.end();
});

t.test('entries deleted or changed by someone else are restored after the debounce', async (t) => {
  const r = await rig();
  await converged(r);
  r.newOps();
  r.kernel.removeNeigh('br-vxlan', IP);
  r.kernel.removeFdb('vxlan0', MAC);
  await r.step(49);
  t.same(r.newOps(), [], 'not before the debounce');
  await r.step(1);
  t.same(r.newOps().map((o) => [o.op, o.entry.kind]), [['replace', 'fdb'], ['replace', 'neigh']].sort().reverse().sort((a, b) => (a[1]! < b[1]! ? -1 : 1)));
  t.equal(fdbDst(r.kernel), '192.168.1.87');
  t.equal(r.kernel.neigh('br-vxlan', IP)?.mac, MAC);
  t.match(r.events.filter((e) => e.type === 'kernel-restore'), [{ keys: 2 }]);
  t.match(r.events.filter((e) => e.type === 'kernel').at(-1), { trigger: 'restore', replaced: 2 });
  // Someone points the vxlan FDB entry elsewhere (a learned, not extern_learn entry).
  r.kernel.foreignFdb({ ifname: 'vxlan0', mac: MAC, table: 'vxlan', dst: '10.9.9.9' });
  await r.step(100);
  t.same(r.newOps(), [{ op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.1.87' } }]);
  t.equal(fdbDst(r.kernel), '192.168.1.87');
  // Echoes of our own writes cause no writes.
  await r.step(1000);
  t.same(r.newOps(), []);
  // Lost events: everything is dumped and compared again.
  r.kernel.removeNeigh('br-vxlan', IP);
  r.kernel.overflow();
  await r.step(200);
  t.same(r.newOps(), [{ op: 'replace', entry: { kind: 'neigh', ifname: 'br-vxlan', ip: IP, mac: MAC } }]);
  t.end();
});

t.test('a foreign delete that arrives before our write is acknowledged is still undone', async (t) => {
  const r = await rig();
  const apply = r.kernel.apply.bind(r.kernel);
  let meanwhile: (() => void) | null = () => { r.kernel.removeNeigh('br-vxlan', IP); };
  r.kernel.apply = async (ops) => {
    const res = await apply(ops);
    const f = meanwhile;
    meanwhile = null;
    f?.();
    return res;
  };
  await converged(r);
  t.equal(r.kernel.neigh('br-vxlan', IP), undefined, 'deleted right after our write');
  await r.step(50);
  t.equal(r.kernel.neigh('br-vxlan', IP)?.mac, MAC, 'restored');
  t.end();
});

t.test('a change during a dump is not lost', async (t) => {
  const r = await rig();
  await converged(r);
  const dump = r.kernel.dump.bind(r.kernel);
  // The dump reads the table, then our neighbour is deleted before the dump returns.
  r.kernel.dump = async (ifnames) => {
    const res = await dump(ifnames);
    r.kernel.removeNeigh('br-vxlan', IP);
    return res;
  };
  r.kernel.overflow();
  await r.step(50);
  await r.step(50);
  t.equal(r.kernel.neigh('br-vxlan', IP)?.mac, MAC, 'restored although the dump still showed it');
  t.end();
});

t.test('failed kernel writes are retried', async (t) => {
  const r = await rig();
  r.kernel.failWith('ENOBUFS', 105, (op) => op.entry.kind === 'fdb');
  await converged(r);
  t.equal(fdbDst(r.kernel), undefined);
  t.match(r.events.filter((e) => e.type === 'problem'), [{ message: /kernel replace fdb 02:00:00:00:00:87 dev vxlan0 dst 192.168.1.87: ENOBUFS .*; retrying every 1 s$/ }]);
  r.newOps();
  await r.step(999);
  t.same(r.newOps(), []);
  await r.step(1);
  t.same(r.newOps(), [{ op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.1.87' } }]);
  t.equal(fdbDst(r.kernel), '192.168.1.87');
  t.end();
});

t.test('vxlan device gone and back: failures reported once, entries rewritten when it returns', async (t) => {
  const r = await rig();
  await converged(r);
  r.events.length = 0;
  r.kernel.removeLink('vxlan0');
  await r.step(100);
  await r.step(3000);
  const problems = r.events.filter((e) => e.type === 'problem');
  t.equal(problems.length, 1, 'one problem for the whole streak');
  t.match(problems[0], { message: /^kernel replace fdb .* dev vxlan0 .*: ENODEV/ });
  r.kernel.addLink({ name: 'vxlan0', kind: 'vxlan', mac: '02:00:00:00:01:65', master: 'br-vxlan', vni: 100 });
  await r.step(100);
  t.equal(fdbDst(r.kernel), '192.168.1.87');
  t.equal(r.kernel.neigh('br-vxlan', IP)?.mac, MAC);
  t.end();
});

t.test('an uplink losing carrier takes its session down at once', async (t) => {
  const r = await rig();
  await converged(r);
  r.newOps();
  const s1 = r.s('net1');
  r.kernel.setLink('eth1', { carrier: false });
  await r.step();
  t.equal(s1.stopped, 'eth1 is without carrier');
  t.same(r.newOps(), [{ op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.2.87' } }]);
  t.match(r.events.filter((e) => e.type === 'session').at(-1), { uplink: 'net1', state: 'down', reason: 'eth1 is without carrier' });
  const n1 = r.s('net1');
  t.not(n1, s1, 'a new session tries to connect');
  t.ok(n1.started);
  // Carrier back, the new session comes up, traffic fails back.
  r.kernel.setLink('eth1', { carrier: true });
  n1.up('192.168.1.2');
  n1.send(announce(1));
  await r.step(100);
  t.equal(fdbDst(r.kernel), '192.168.1.87');
  t.equal(r.s('net1'), n1, 'carrier up does not restart the session');
  // A link event for a non-established session changes nothing.
  r.s('net2').down();
  const n2 = r.s('net2');
  r.kernel.setLink('eth2', { up: false });
  await r.step(100);
  t.equal(n2.stopped, null);
  t.end();
});

t.test('link and address events: origination follows within the debounce', async (t) => {
  const r = await rig();
  await converged(r);
  const s2 = r.s('net2');
  // The bridge gets a second address: announced on every uplink.
  r.kernel.addAddress('br-vxlan', { family: 6, address: '2001:db8::65', prefixLen: 64 });
  await r.step(99);
  t.notOk(s2.adjOut.has(routeKey(macIpRoute({ rd: '192.168.2.65:100', mac: '02:00:00:00:00:65', ip: '2001:db8::65', vni: 100 }))));
  await r.step(1);
  t.ok(s2.adjOut.has(routeKey(macIpRoute({ rd: '192.168.2.65:100', mac: '02:00:00:00:00:65', ip: '2001:db8::65', vni: 100 }))));
  t.equal(s2.adjOut.size, 4);
  t.match(r.events.filter((e) => e.type === 'origination').at(-1), { uplink: 'net2', advertised: 1, withdrawn: 0 });
  // eth2's address changes: the session is replaced, its paths dropped, routes re-made with the new next hop.
  r.kernel.removeAddress('eth2', '192.168.2.65');
  r.kernel.addAddress('eth2', { family: 4, address: '192.168.2.66', prefixLen: 24 });
  await r.step(100);
  t.equal(s2.stopped, 'local address changed from 192.168.2.65 to 192.168.2.66');
  const n2 = r.s('net2');
  t.not(n2, s2);
  t.equal(n2.spec.localAddress, '192.168.2.66');
  t.ok([...n2.adjOut.values()].every((a) => a.nextHop === '192.168.2.66'));
  t.equal(r.agent.rib.adjRibIn('net2').length, 0);
  // The old session's late events are ignored.
  s2.send(announce(2));
  t.equal(r.agent.rib.adjRibIn('net2').length, 0);
  // The first uplink loses its address: router ID changes, every session restarts.
  r.kernel.removeAddress('eth1', '192.168.1.65');
  await r.step(100);
  t.equal(r.agent.bgpRouterId, null);
  t.match(r.events.filter((e) => e.type === 'problem').map((e) => e.type === 'problem' && e.message), [
    'uplink net1: eth1 has no IPv4 address; nothing announced', 'no router ID: set routerId or give the first uplink an address',
  ]);
  t.equal(r.s('net2').stopped, 'router ID changed');
  t.equal(r.agent.status()[0]!.state, 'no-address');
  r.kernel.addAddress('eth1', { family: 4, address: '192.168.1.65', prefixLen: 24 });
  await r.step(100);
  t.equal(r.s('net1').spec.routerId, '192.168.1.65');
  t.ok(r.s('net1').started && r.s('net2').started && r.s('net2').stopped === null);
  t.end();
});

t.test('reconfigure: localPref swap moves traffic; session changes restart only that session', async (t) => {
  const r = await rig();
  await converged(r);
  r.newOps();
  const [s1, s2] = [r.s('net1'), r.s('net2')];
  // net2 becomes the primary.
  let res = r.agent.reconfigure(parseConfig(CONFIG_TEXT.replace('localPref: 200', 'localPref: 50')));
  t.same(res, { applied: ['uplinks.net1.localPref 200 -> 50'], restartRequired: [] });
  await r.step();
  t.same(r.newOps(), [{ op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.2.87' } }]);
  t.equal(s1.stopped, null, 'no session restarted for a localPref change');
  t.equal(r.agent.status()[0]!.counters.accepted, 1, 'counters kept');
  // net2's peer AS and import RTs change: that session restarts, net1's does not.
  const text2 = CONFIG_TEXT.replace('localPref: 200', 'localPref: 50').replace('localAs: 65002, localPref: 100', 'localAs: 65002, peerAs: 65010, localPref: 100, importRouteTargets: ["65002:{vni}"]');
  res = r.agent.reconfigure(parseConfig(text2));
  t.same(res.applied, ['uplinks.net2: peerAs, importRouteTargets (session restarted)']);
  await r.step();
  t.equal(s2.stopped, 'configuration changed');
  t.equal(s1.stopped, null);
  const n2 = r.s('net2');
  t.not(n2, s2);
  t.equal(n2.spec.peerAs, 65010);
  t.equal(n2.adjOut.size, 3, 'our routes handed to the new session');
  t.equal(fdbDst(r.kernel), '192.168.1.87', 'net2 paths dropped with its session: back on net1');
  // A third uplink appears, net1 goes away; vnis cannot change live.
  const text3 = `
vnis: [{vni: 100, bridge: br-other, vxlan: vxlan0}]
uplinks:
  - {name: net2, interface: eth2, peer: 192.168.2.2, localAs: 65002, peerAs: 65010, localPref: 100, importRouteTargets: ["65002:{vni}"]}
  - {name: net3, address: 192.168.3.65, peer: 192.168.3.2, localAs: 65003}
kernel: {withdrawDelay: 0}
`;
  r.events.length = 0;
  res = r.agent.reconfigure(parseConfig(text3));
  t.same(res, { applied: ['uplinks.net3 added', 'uplinks.net1 removed'], restartRequired: ['vnis'] });
  await r.step();
  t.equal(s1.stopped, 'peer de-configured');
  t.equal(s1.adjOut.size, 0, 'withdrawn before stopping');
  t.match(r.events.filter((e) => e.type === 'session'), [{ uplink: 'net1', state: 'down', reason: 'peer de-configured' }]);
  t.equal(r.kernel.fdb('vxlan0', MAC, 'vxlan'), undefined, 'no paths left: entries removed');
  t.equal(r.s('net3').spec.localAddress, '192.168.3.65');
  t.equal(r.agent.bgpRouterId, '192.168.2.65', 'router ID follows the new first uplink');
  t.equal(n2.stopped, 'router ID changed');
  t.equal(r.s('net2').spec.routerId, '192.168.2.65');
  t.same(r.agent.status().map((x) => x.name), ['net2', 'net3']);
  t.end();
});

t.test('reconfigure: new import route targets are applied with a route refresh', async (t) => {
  const r = await rig();
  await converged(r);
  const s1 = r.s('net1');
  const res = r.agent.reconfigure(parseConfig(CONFIG_TEXT.replace('localPref: 200', 'localPref: 200, importRouteTargets: ["65009:{vni}"]')));
  t.same(res.applied, ['uplinks.net1: importRouteTargets (route refresh)']);
  t.equal(s1.refreshes, 1);
  t.equal(s1.stopped, null);
  // The peer sends everything again: now rejected, so removed.
  s1.send(announce(1));
  await r.step();
  t.equal(fdbDst(r.kernel), '192.168.2.87');
  t.equal(r.agent.status()[0]!.counters.rejected['route-target'], 1);
  t.end();
});

t.test('reconfigure: vtepProbe off forgets the verdicts', async (t) => {
  const r = await rig();
  await converged(r);
  r.probers[0]!.report('net1', '192.168.1.87', 'down', false);
  await r.step();
  t.equal(fdbDst(r.kernel), '192.168.2.87');
  const res = r.agent.reconfigure(parseConfig(`${CONFIG_TEXT}vtepProbe: false\n`));
  t.same(res.applied, ['vtepProbe']);
  await r.step();
  t.notOk(r.probers[0]!.running);
  t.equal(fdbDst(r.kernel), '192.168.1.87', 'every path eligible again');
  t.end();
});

t.test('two VNIs: each route goes to its own bridge and vxlan device', async (t) => {
  const kernel = new FakeKernel({
    nexthops: false,
    links: [
      { name: 'br100', kind: 'bridge', mac: '02:00:00:00:10:65', addresses: [{ family: 4, address: '10.100.0.65', prefixLen: 24 }] },
      { name: 'vx100', kind: 'vxlan', master: 'br100', vni: 100 },
      { name: 'br200', kind: 'bridge', mac: '02:00:00:00:20:65', addresses: [{ family: 4, address: '10.200.0.65', prefixLen: 24 }] },
      { name: 'vx200', kind: 'vxlan', master: 'br200', vni: 200 },
      { name: 'eth1', addresses: [{ family: 4, address: '192.168.1.65', prefixLen: 24 }] },
    ],
  });
  const r = await rig({
    kernel,
    config: parseConfig(`
vnis: [{vni: 100, bridge: br100, vxlan: vx100}, {vni: 200, bridge: br200, vxlan: vx200}]
uplinks: [{name: net1, interface: eth1, peer: 192.168.1.2, localAs: 65001}]
`),
  });
  const s1 = r.s('net1');
  t.equal(s1.adjOut.size, 6, 'per VNI: IP route, MAC-only route, type 3');
  t.equal(r.probers.length, 2, 'one prober per VNI');
  s1.up('192.168.1.2');
  const rt = (vni: number): ExtCommunity => ({ kind: 'route-target', form: 'as2', asn: 65001, local: vni });
  for (const vni of [100, 200]) {
    const u = announce(1, [macIpRoute({ rd: `192.168.1.87:${vni}`, mac: MAC, ip: `10.${vni}.0.87`, vni })]);
    u.attributes.extCommunities = [rt(vni)];
    s1.send(u);
  }
  await r.step();
  t.equal(kernel.neigh('br100', '10.100.0.87')?.mac, MAC);
  t.equal(kernel.neigh('br200', '10.200.0.87')?.mac, MAC);
  t.equal(kernel.fdb('vx100', MAC, 'vxlan')?.dst, '192.168.1.87');
  t.equal(kernel.fdb('vx200', MAC, 'vxlan')?.dst, '192.168.1.87');
  t.equal(kernel.neigh('br100', '10.200.0.87'), undefined);
  t.end();
});

t.test('shutdown: withdraw, Cease, remove what we wrote', async (t) => {
  const kernel = newKernel();
  kernel.foreignNeigh({ ifname: 'br-vxlan', ip: '192.168.0.1', mac: '02:00:00:00:00:01' });
  const r = await rig({ kernel });
  await converged(r);
  const [s1, s2] = [r.s('net1'), r.s('net2')];
  await r.agent.shutdown();
  t.equal(s1.adjOut.size, 0);
  t.equal(s1.withdrawn.length, 3);
  t.equal(s1.stopped, 'evpn-ha shutting down');
  t.equal(s2.stopped, 'evpn-ha shutting down');
  t.equal(r.kernel.neigh('br-vxlan', IP), undefined);
  t.equal(r.kernel.fdb('vxlan0', MAC, 'vxlan'), undefined);
  t.equal(r.kernel.neigh('br-vxlan', '192.168.0.1')?.mac, '02:00:00:00:00:01');
  t.equal(r.clock.pending(), 0, 'no timers left');
  // Late events do nothing.
  s1.send(announce(1));
  await r.agent.shutdown();
  t.end();
});

t.test('kernel.withdrawDelay: entries outlive their routes briefly (a neighbour agent restarting)', async (t) => {
  const r = await rig({ config: parseConfig(CONFIG_TEXT.replace('kernel: {withdrawDelay: 0}', 'kernel: {withdrawDelay: 5s}')) });
  await converged(r);
  r.newOps();
  // server-r's agent restarts: both routes withdrawn, announced again 2 s later.
  r.s('net1').send(withdraw([route(1)]));
  await r.step();
  t.same(r.newOps(), [{ op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.2.87' } }], 'a replacement is not delayed');
  r.s('net2').send(withdraw([route(2)]));
  await r.step(2000);
  t.same(r.newOps(), [], 'nothing deleted yet');
  t.equal(r.kernel.neigh('br-vxlan', IP)?.mac, MAC);
  r.s('net1').send(announce(1));
  r.s('net2').send(announce(2));
  await r.step(10_000);
  t.same(r.newOps(), [{ op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: MAC, dst: '192.168.1.87' } }], 'back: only the primary FDB dst');
  // Gone for good: deleted after the delay.
  r.s('net1').send(withdraw([route(1)]));
  r.s('net2').send(withdraw([route(2)]));
  await r.step(4999);
  t.same(r.newOps().filter((o) => o.op === 'delete'), []);
  await r.step(1);
  t.same(r.newOps().map((o) => [o.op, o.entry.kind]).sort(), [['delete', 'fdb'], ['delete', 'neigh']]);
  t.equal(r.kernel.neigh('br-vxlan', IP), undefined);
  t.end();
});

t.test('shutdown for a restart keeps the kernel entries', async (t) => {
  const r = await rig({ config: parseConfig(CONFIG_TEXT.replace('kernel: {withdrawDelay: 0}', 'kernel: {withdrawDelay: 0, flushOnShutdown: false}')) });
  await converged(r);
  await r.agent.shutdown();
  t.equal(fdbDst(r.kernel), '192.168.1.87');
  t.end();
});

t.test('50,000 routes: failover of a whole network in batches of at most 2,048 entries', async (t) => {
  const r = await rig();
  r.s('net1').up('192.168.1.2');
  r.s('net2').up('192.168.2.2');
  const N = 50_000;
  const mac = (i: number) => `02:01:${((i >> 16) & 255).toString(16).padStart(2, '0')}:${((i >> 8) & 255).toString(16).padStart(2, '0')}:${(i & 255).toString(16).padStart(2, '0')}:00`;
  const ip = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
  for (const net of [1, 2] as const) {
    for (let i = 0; i < N; i += 1000) {
      const routes: MacIpRoute[] = [];
      for (let j = i; j < i + 1000; j++) routes.push(macIpRoute({ rd: `192.168.${net}.87:100`, mac: mac(j), ip: ip(j), vni: 100 }));
      r.s(`net${net}`).send(announce(net, routes));
    }
  }
  await r.step();
  t.equal(r.newOps().length, 2 * N);
  const calls = r.kernel.applyCalls;
  const t0 = performance.now();
  r.s('net1').down();
  const tSync = performance.now() - t0;
  await r.step();
  t.comment(`sync part (RIB drop, delta, events): ${tSync.toFixed(0)} ms`);
  const ms = performance.now() - t0;
  const ops = r.newOps();
  t.equal(ops.length, N, 'one replace per FDB entry, neighbours untouched');
  t.ok(ops.every((o) => o.op === 'replace' && o.entry.kind === 'fdb' && o.entry.dst === '192.168.2.87'));
  // Planned and written in chunks (KernelSync FLUSH_CHUNK), the event loop free in between.
  t.equal(r.kernel.applyCalls, calls + Math.ceil(N / 2048), 'ceil(N / 2048) batches');
  t.comment(`failover of ${N} routes: ${ms.toFixed(0)} ms (RIB + plan + fake kernel)`);
  t.end();
});

t.test('IPv6 uplinks: start() refuses an IPv4 vxlan device before touching anything; a reload cannot switch the family', async (t) => {
  const v6 = parseConfig(`
routerId: 10.255.0.65
vnis: [{vni: 100, bridge: br-vxlan, vxlan: vxlan0}]
uplinks:
  - {name: net1, interface: eth1, peer: '2001:db8:1::2', localAs: 65001}
`);
  const links = (family: 4 | 6) => [
    ...DEFAULT_FAKE_LINKS.map((l) => ({ ...l, addresses: [...(l.addresses ?? [])], ...(l.kind === 'vxlan' ? { family } : {}) })),
    { name: 'eth1', addresses: [{ family: 6 as const, address: '2001:db8:1::65', prefixLen: 64 }] },
  ];
  const bad = await rig({ config: v6, kernel: new FakeKernel({ links: links(4) }), start: false });
  await t.rejects(bad.agent.start(), { name: 'StartupError', message: /^vxlan device vxlan0 \(VNI 100\) sends over IPv4 but the uplinks are IPv6/ });
  t.equal(bad.sessions.length, 0, 'no session');
  t.same(bad.kernel.applied, [], 'no kernel write');

  // A check that cannot tell (EPERM, say) is reported and does not stop the start.
  const unsure = new FakeKernel({ links: links(6) });
  unsure.vxlanFamily = async () => { throw Object.assign(new Error('EPERM'), { code: 'EPERM' }); };
  const u = await rig({ config: v6, kernel: unsure, start: false });
  await u.agent.start();
  await u.step();
  t.match(u.events.filter((e) => e.type === 'problem'), [{ message: /vxlan device vxlan0: could not check its address family \(Error: EPERM\); starting anyway/ }]);
  t.equal(u.sessions.length, 1);

  const good = await rig({ config: v6, kernel: new FakeKernel({ links: links(6) }) });
  await good.step();
  t.equal(good.sessions.length, 1, 'an IPv6 vxlan device: the session starts');
  t.equal(good.s('net1').spec.localAddress, '2001:db8:1::65');
  const res = good.agent.reconfigure(parseConfig(CONFIG_TEXT));
  t.same(res, { applied: [], restartRequired: ['uplinks (underlay IPv6 -> IPv4)'] });
  t.equal(good.s('net1').stopped, null, 'nothing applied');
});

t.test('shutdown stops the backup uplink (lower local-preference) first, the next only after it has closed', async (t) => {
  const r = await rig();
  r.s('net1').up('192.168.1.2');
  r.s('net2').up('192.168.2.2');
  await r.step();
  const order: string[] = [];
  for (const name of ['net1', 'net2']) {
    const s = r.s(name);
    const stop = s.stop.bind(s);
    s.stop = (reason: string): Promise<void> => {
      order.push(`${name} stop`);
      stop(reason);
      // Closing takes a turn of the event loop; the other uplink must wait for it.
      return new Promise<void>((resolve) => setImmediate(() => { order.push(`${name} closed`); resolve(); }));
    };
  }
  await r.agent.shutdown();
  t.same(order, ['net2 stop', 'net2 closed', 'net1 stop', 'net1 closed']);
});
