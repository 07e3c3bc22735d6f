// AgentControlProvider on the real Agent (FakeKernel, fake sessions, ManualClock):
// what `show` prints comes from the agent's state, failover events carry a cause.
import t from 'tap';
import type { UpdateMessage } from '../../src/bgp/types.js';
import type { Negotiated } from '../../src/bgp/negotiate.js';
import type { BfdSessionInfo } from '../../src/bfd/types.js';
import { macIpRoute } from '../../src/evpn/route.js';
import type { MacIpRoute } from '../../src/evpn/types.js';
import { DEFAULT_FAKE_LINKS, FakeKernel } from '../../src/kernel/fake.js';
import { NTF_EXT_LEARNED, NUD_NOARP } from '../../src/kernel/nl.js';
import { ManualClock } from '../../src/util/clock.js';
import { parseConfig } from '../../src/agent/config.js';
import { Agent, type AgentEvent } from '../../src/agent/agent.js';
import type { ChangeReason } from '../../src/agent/rib.js';
import { AgentControlProvider, classifyFailover, compareKernel, trimKernelEvent, type SessionView } from '../../src/control/agent-adapter.js';
import type { ControlEvent } from '../../src/control/types.js';
import { advanceAndSettle } from '../lib/settle.js';
import { FakeSession } from '../lib/agent-fakes.js';

const MAC = '02:00:00:00:00:87';
const IP = '192.168.0.87';
const CONFIG = parseConfig(`
vnis: [{vni: 100, bridge: br-vxlan, vxlan: vxlan0}]
uplinks:
  - {name: net1, interface: eth1, peer: 192.168.1.2, localAs: 65001, localPref: 200}
  - {name: net2, interface: eth2, peer: 192.168.2.2, localAs: 65002, localPref: 100}
`);

function route(net: 1 | 2): MacIpRoute {
  return macIpRoute({ rd: `192.168.${net}.87:100`, mac: MAC, ip: IP, vni: 100 });
}

function announce(net: 1 | 2, routes: MacIpRoute[] = [route(net)]): UpdateMessage {
  return {
    type: 'update', withdrawn: [], nlri: [],
    attributes: {
      origin: 0, asPath: [], originatorId: `192.168.${net}.87`,
      extCommunities: [{ kind: 'route-target', form: 'as2', asn: 65000 + net, local: 100 }, { kind: 'encapsulation', tunnelType: 8 }],
      mpReach: { afi: 25, safi: 70, nextHop: [`192.168.${net}.87`], nlri: { kind: 'evpn', routes } },
    },
  };
}

function withdraw(routes: MacIpRoute[]): UpdateMessage {
  return { type: 'update', withdrawn: [], nlri: [], attributes: { mpUnreach: { afi: 25, safi: 70, nlri: { kind: 'evpn', routes } } } };
}

interface Rig {
  clock: ManualClock;
  kernel: FakeKernel;
  agent: Agent;
  provider: AgentControlProvider;
  events: ControlEvent[];
  s(name: string): FakeSession;
  step(ms?: number): Promise<void>;
  sessionViews: Map<string, SessionView>;
  bfd: Map<string, BfdSessionInfo>;
}

async function rig(): Promise<Rig> {
  const clock = new ManualClock(1000);
  const kernel = new FakeKernel({
    links: [
      ...DEFAULT_FAKE_LINKS.map((l) => ({ ...l, addresses: [...(l.addresses ?? [])] })),
      { name: 'eth1', addresses: [{ family: 4, address: '192.168.1.65', prefixLen: 24 }] },
      { name: 'eth2', addresses: [{ family: 4, address: '192.168.2.65', prefixLen: 24 }] },
    ],
  });
  const sessions: FakeSession[] = [];
  const agent = new Agent({
    config: CONFIG, kernel, clock,
    sessions: (spec, h) => {
      const s = new FakeSession(spec, h);
      sessions.push(s);
      return s;
    },
  });
  const sessionViews = new Map<string, SessionView>();
  const bfd = new Map<string, BfdSessionInfo>();
  const provider = new AgentControlProvider({
    agent, config: () => CONFIG, clock, kernel, wallClock: () => Date.UTC(2026, 10, 21, 10, 0, 0),
    session: (u) => sessionViews.get(u) ?? null,
    bfd: (u) => { const b = bfd.get(u); return b ? { snapshot: () => b } : null; },
    refreshLinks: () => agent.refreshLinks(),
  });
  const events: ControlEvent[] = [];
  provider.subscribe((e) => events.push(e));
  await agent.start();
  const r: Rig = {
    clock, kernel, agent, provider, events, sessionViews, bfd,
    s: (name) => sessions.filter((x) => x.spec.uplink === name).at(-1)!,
    step: (ms = 0) => advanceAndSettle(clock, agent, ms),
  };
  return r;
}

async function converged(r: Rig): Promise<void> {
  r.s('net1').h.established({ peerRouterId: '192.168.1.2' });
  r.s('net2').h.established({ peerRouterId: '192.168.2.2' });
  r.s('net1').h.update(announce(1));
  r.s('net2').h.update(announce(2));
  r.s('net1').h.endOfRib({ afi: 25, safi: 70 });
  r.s('net2').h.endOfRib({ afi: 25, safi: 70 });
  await r.step();
}

const NEGOTIATED: Negotiated = {
  peerAs: 65001, peerRouterId: '192.168.1.2', holdTime: 9, keepalive: 3, families: [{ afi: 25, safi: 70 }],
  fourOctetAs: true, routeRefresh: true, enhancedRouteRefresh: false, gracefulRestart: { local: true, peer: { restartState: false, notification: false, restartTime: 120, families: [] } },
  peerCapabilities: [], notes: [],
};

const BFD_UP: BfdSessionInfo = {
  local: '192.168.1.65', remote: '192.168.1.2', multihop: false, state: 'Up', remoteState: 'Up', diag: 0, diagName: 'NoDiagnostic',
  localDiscriminator: 1, remoteDiscriminator: 2, txIntervalMs: 300, detectTimeMs: 900, remoteMinRxMs: 300, remoteMinTxMs: 300,
  remoteMultiplier: 3, sourcePort: 49152, lastUpAt: 1000, lastDownAt: undefined,
  counters: { txPackets: 1, rxPackets: 1, txErrors: 0, upTransitions: 1, downTransitions: 0 },
};

t.test('neighbors: agent state, with session and BFD details when given', async (t) => {
  const r = await rig();
  await converged(r);
  r.clock.advance(65_000);
  let ns = await r.provider.neighbors();
  t.match(ns, [
    { uplink: 'net1', peer: '192.168.1.2', localAddress: '192.168.1.65', localAs: 65001, peerAs: 65001, state: 'Established', established: true,
      uptimeMs: 65_000, flaps: 0, families: [], capabilities: [], holdTime: 9, keepalive: 3, bfd: null,
      routes: { received: 1, accepted: 1, withdrawn: 0, paths: 1, best: 1, advertised: 3 }, lastError: null },
    { uplink: 'net2', state: 'Established', routes: { received: 1, accepted: 1, paths: 1, best: 0 } },
  ]);
  r.sessionViews.set('net1', { state: 'Established', negotiated: NEGOTIATED, uptimeSince: 1000, lastError: null });
  r.sessionViews.set('net2', { state: 'Active', negotiated: null, uptimeSince: null, lastError: { code: 4, subcode: 0, text: 'sent NOTIFICATION Hold Timer Expired' } });
  r.bfd.set('net1', BFD_UP);
  ns = await r.provider.neighbors();
  t.match(ns[0], {
    state: 'Established', peerRouterId: '192.168.1.2', families: ['l2vpn-evpn'], capabilities: ['four-octet-as', 'route-refresh', 'graceful-restart'],
    bfd: { state: 'Up', remoteState: 'Up', diag: 'NoDiagnostic', txIntervalMs: 300, detectTimeMs: 900 },
  });
  t.match(ns[1], { state: 'Active', established: false, uptimeMs: null, lastError: { code: 4, subcode: 0, notification: 'Hold Timer Expired / Unspecific', text: 'sent NOTIFICATION Hold Timer Expired' } });
  t.same(JSON.parse(JSON.stringify(ns)), ns, 'plain JSON');
});

t.test('routes: every path, best + reason, filters', async (t) => {
  const r = await rig();
  await converged(r);
  const rs = await r.provider.routes({});
  t.same(rs, [{
    vni: 100, mac: MAC, ip: IP, bestReason: 'local-pref 200 > 100',
    paths: [
      { network: 'net1', peer: '192.168.1.2', nextHop: '192.168.1.87', rd: '192.168.1.87:100', routeTargets: ['65001:100'], localPref: 200, macMobilitySeq: 0, originatorId: '192.168.1.87', vtep: 'not-probed', eligible: true, best: true },
      { network: 'net2', peer: '192.168.2.2', nextHop: '192.168.2.87', rd: '192.168.2.87:100', routeTargets: ['65002:100'], localPref: 100, macMobilitySeq: 0, originatorId: '192.168.2.87', vtep: 'not-probed', eligible: true, best: false },
    ],
  }]);
  t.equal((await r.provider.routes({ vni: 100, mac: MAC, ip: IP })).length, 1);
  t.equal((await r.provider.routes({ vni: 200 })).length, 0);
  t.equal((await r.provider.routes({ mac: '02:00:00:00:00:01' })).length, 0);
  t.equal((await r.provider.routes({ ip: '192.168.0.1' })).length, 0);
});

t.test('kernel: desired vs the agent\'s observed view, with missing / different / extra', async (t) => {
  const r = await rig();
  await converged(r);
  let k = await r.provider.kernel();
  t.match(k, { protocol: 231, source: 'agent', staleGateOpen: true, counts: { ok: 2, missing: 0, different: 0, extra: 0, conflict: 0 } });
  t.same(k.entries.map((e) => [e.kind, e.status]), [['fdb', 'ok'], ['neigh', 'ok']]);
  // Someone else: the FDB entry removed, the neighbour changed, a stale entry of ours.
  r.kernel.removeFdb('vxlan0', MAC);
  r.kernel.removeNeigh('br-vxlan', IP);
  r.kernel.foreignNeigh({ ifname: 'br-vxlan', ip: IP, mac: '02:00:00:00:00:01', state: 0x02, flags: 0 });
  r.kernel.foreignNeigh({ ifname: 'br-vxlan', ip: '192.168.0.50', mac: '02:00:00:00:00:50', state: NUD_NOARP, flags: NTF_EXT_LEARNED, protocol: 231 });
  k = await r.provider.kernel();
  t.match(k.counts, { ok: 0, missing: 1, different: 1, extra: 1 });
  t.match(k.entries, [
    { kind: 'fdb', device: 'vxlan0', mac: MAC, status: 'missing', desired: { dst: '192.168.1.87' }, observed: [] },
    { kind: 'neigh', ip: '192.168.0.50', status: 'extra', desired: null, mac: '02:00:00:00:00:50' },
    { kind: 'neigh', ip: IP, status: 'different', desired: { mac: MAC }, observed: [{ mac: '02:00:00:00:00:01' }] },
  ]);
  // The agent puts it right after restoreDelay.
  await r.step(CONFIG.kernel.restoreDelay);
  k = await r.provider.kernel();
  t.same(k.counts, { ok: 2, missing: 0, different: 0, extra: 0, conflict: 0 });
});

t.test('kernel: a dump through the kernel port when the agent has no observed view; an error without either', async (t) => {
  const r = await rig();
  await converged(r);
  const a = r.agent;
  const view = {
    rib: a.rib, status: () => a.status(), desiredEntries: () => a.desiredEntries(), staleGateOpen: false,
    subscribe: (fn: (ev: AgentEvent) => void) => a.subscribe(fn),
  };
  const p = new AgentControlProvider({ agent: view, config: () => CONFIG, clock: r.clock, kernel: r.kernel });
  const k = await p.kernel();
  t.match(k, { source: 'dump', staleGateOpen: false, counts: { ok: 2 } });
  const none = new AgentControlProvider({ agent: view, config: () => CONFIG, clock: r.clock });
  await t.rejects(none.kernel(), /not available/);
  p.close();
  none.close();
});

t.test('compareKernel: a foreign static entry is a conflict', async (t) => {
  const out = compareKernel(
    [{ kind: 'neigh', ifname: 'br-vxlan', ip: IP, mac: MAC }],
    [{ kind: 'neigh', ifname: 'br-vxlan', ifindex: 4, family: 4, ip: IP, mac: '02:00:00:00:00:01', state: 0x80, flags: 0, protocol: null, externLearned: false }],
    231,
  );
  t.match(out, [{ status: 'conflict' }]);
});

t.test('vteps: next hops in use, not probed; a status source fills state and RTT', async (t) => {
  const r = await rig();
  await converged(r);
  t.same(await r.provider.vteps(), [
    { network: 'net1', localVtep: '192.168.1.65', remoteVtep: '192.168.1.87', state: 'not-probed', eligible: true, rttMs: null, srttMs: null, lastReplyAgoMs: null, sinceMs: null, sent: 0, replies: 0, paths: 1 },
    { network: 'net2', localVtep: '192.168.2.65', remoteVtep: '192.168.2.87', state: 'not-probed', eligible: true, rttMs: null, srttMs: null, lastReplyAgoMs: null, sinceMs: null, sent: 0, replies: 0, paths: 1 },
  ]);
  const p = new AgentControlProvider({
    agent: r.agent, config: () => CONFIG, clock: r.clock,
    probeStatus: () => [{
      network: 'net1', localVtep: '192.168.1.65', remoteVtep: '192.168.1.87', remoteMac: MAC, remoteServiceIp: IP,
      state: 'up', eligible: true, rttMs: 0.5, srttMs: 0.45, lastReplyAt: r.clock.now() - 100, since: r.clock.now() - 5000, sent: 50, replies: 49,
    }],
  });
  const vs = await p.vteps();
  t.same(vs[0], { network: 'net1', localVtep: '192.168.1.65', remoteVtep: '192.168.1.87', state: 'up', eligible: true, rttMs: 0.5, srttMs: 0.45, lastReplyAgoMs: 100, sinceMs: 5000, sent: 50, replies: 49, paths: 1 });
  t.match(vs[1], { network: 'net2', state: 'not-probed' });
  const rs = await p.routes({});
  t.same(rs[0]!.paths.map((x) => x.vtep), ['up', 'not-probed']);
  p.close();
});

t.test('events: stamped agent events, failover with cause session-down, then failback', async (t) => {
  const r = await rig();
  await converged(r);
  r.events.length = 0;
  r.s('net1').h.down('Hold Timer Expired');
  await r.step();
  const fo = r.events.filter((e) => e.type === 'failover');
  t.match(fo, [{ type: 'failover', vni: 100, mac: MAC, ip: IP, cause: 'session-down', from: { uplink: 'net1', nextHop: '192.168.1.87' }, to: { uplink: 'net2', nextHop: '192.168.2.87' }, time: '2026-11-21T10:00:00.000Z' }]);
  // The RIB's typed reason is text on the control socket, in the field and place it always had.
  const bp = r.events.find((e) => e.type === 'best-path')!;
  t.same(Object.keys(bp), ['type', 'vni', 'mac', 'ip', 'before', 'after', 'reason', 'time']);
  t.equal(bp.type === 'best-path' && bp.reason, 'only path');
  t.same(Object.keys(fo[0]!), ['type', 'vni', 'mac', 'ip', 'from', 'to', 'cause', 'reason', 'time']);
  t.equal(fo[0]!.type === 'failover' && fo[0]!.reason, 'only path');
  t.same(JSON.parse(JSON.stringify(fo[0])).from, { uplink: 'net1', peer: '192.168.1.2', nextHop: '192.168.1.87', localPref: 200, macMobilitySeq: 0, eligible: true });
  const types = r.events.map((e) => e.type);
  t.ok(types.indexOf('best-path') < types.indexOf('failover'), 'the failover follows its best-path event');
  t.ok(types.includes('session') && types.includes('kernel'));

  r.events.length = 0;
  r.s('net1').h.established({ peerRouterId: '192.168.1.2' });
  r.s('net1').h.update(announce(1));
  await r.step();
  t.match(r.events.filter((e) => e.type === 'failover'), [{ cause: 'failback', from: { uplink: 'net2' }, to: { uplink: 'net1' }, reason: 'local-pref 200 > 100' }]);

  r.events.length = 0;
  r.s('net1').h.update(withdraw([route(1)]));
  await r.step();
  t.match(r.events.filter((e) => e.type === 'failover'), [{ cause: 'withdrawn' }]);

  // BFD went down just before the session: bfd-down. Long after: session-down.
  r.s('net1').h.update(announce(1));
  await r.step();
  r.bfd.set('net1', { ...BFD_UP, state: 'Down', lastDownAt: r.clock.now() - 10, counters: { ...BFD_UP.counters, downTransitions: 1 } });
  r.events.length = 0;
  r.s('net1').h.down('BFD down');
  await r.step();
  t.match(r.events.filter((e) => e.type === 'failover'), [{ cause: 'bfd-down' }]);
  r.s('net1').h.established({ peerRouterId: '192.168.1.2' });
  r.s('net1').h.update(announce(1));
  await r.step(5000);
  r.events.length = 0;
  r.s('net1').h.down('Hold Timer Expired');
  await r.step();
  t.match(r.events.filter((e) => e.type === 'failover'), [{ cause: 'session-down' }], 'an old BFD failure is not the cause');
});

t.test('classifyFailover', async (t) => {
  const p = (uplink: string, o: Partial<{ nextHop: string; localPref: number; eligible: boolean }> = {}) => ({
    uplink, peer: 'x', nextHop: o.nextHop ?? `${uplink}-vtep`, localPref: o.localPref ?? (uplink === 'net1' ? 200 : 100), macMobilitySeq: 0, eligible: o.eligible ?? true,
  });
  const ev = (before: ReturnType<typeof p> | null, after: ReturnType<typeof p> | null, reason: ChangeReason): Extract<AgentEvent, { type: 'best-path' }> =>
    ({ type: 'best-path', vni: 100, mac: MAC, ip: IP, before, after, reason });
  const ONLY: ChangeReason = { step: 'only-path' };
  const up = (): boolean => true;
  const down = (): boolean => false;
  const no = (): boolean => false;
  const yes = (): boolean => true;
  t.equal(classifyFailover(ev(p('net1'), p('net2'), ONLY), down, no), 'session-down');
  t.equal(classifyFailover(ev(p('net1'), p('net2'), ONLY), down, yes), 'bfd-down');
  t.equal(classifyFailover(ev(p('net1'), p('net2'), { step: 'eligible', nextHop: '192.168.1.87', uplink: 'net1' }), up, no), 'vtep-unreachable');
  t.equal(classifyFailover(ev(p('net1'), p('net2'), ONLY), up, no), 'withdrawn');
  t.equal(classifyFailover(ev(p('net2'), p('net1'), { step: 'local-pref', better: 200, worse: 100 }), up, no), 'failback');
  t.equal(classifyFailover(ev(p('net2', { eligible: false }), p('net1', { localPref: 100 }), { step: 'eligible', nextHop: '192.168.1.87', uplink: 'net1' }), up, no), 'failback');
  t.equal(classifyFailover(ev(p('net1'), p('net1', { nextHop: 'other' }), { step: 'mobility-seq', better: 3, worse: 2 }), up, no), 'mac-moved');
  t.equal(classifyFailover(ev(p('net1'), p('net1', { nextHop: 'other' }), { step: 'router-id', better: '1.1.1.1', worse: '2.2.2.2' }), up, no), 'other');
  t.equal(classifyFailover(ev(p('net1'), p('net1'), ONLY), down, no), null, 'same network and VTEP: no failover');
  t.equal(classifyFailover(ev(null, p('net1'), ONLY), up, no), null, 'new entry');
  t.equal(classifyFailover(ev(p('net1'), null, { step: 'withdrawn' }), up, no), null, 'lost entry');
});

t.test('reload: default refreshes links and emits a reload event; a given handler is used', async (t) => {
  const r = await rig();
  const res = await r.provider.reload();
  t.same(res, { ok: true, message: 'links and addresses will be read again' });
  t.match(r.events.at(-1), { type: 'reload', ok: true });
  let called = 0;
  const p = new AgentControlProvider({
    agent: r.agent, config: () => CONFIG, clock: r.clock,
    reload: async () => { called++; return { ok: false, message: 'bad config' }; },
  });
  t.same(await p.reload(), { ok: false, message: 'bad config' });
  t.equal(called, 1);
  p.close();
  r.provider.close();
  r.events.length = 0;
  r.s('net1').h.established({ peerRouterId: '192.168.1.2' });
  t.same(r.events, [], 'no events after close');
});

t.test('trimKernelEvent: a big batch is cut for watchers, failures still counted', async (t) => {
  const entry = { kind: 'fdb' as const, ifname: 'vxlan0', mac: MAC, dst: '192.168.1.87' };
  const small: Extract<AgentEvent, { type: 'kernel' }> = { type: 'kernel', trigger: 'routes', replaced: 1, deleted: 0, failed: [], ops: [{ op: 'replace', entry }] };
  t.equal(trimKernelEvent(small), small, 'small events unchanged');
  const ops = Array.from({ length: 250 }, () => ({ op: 'replace' as const, entry }));
  const failed = [
    ...Array.from({ length: 150 }, () => ({ op: { op: 'replace' as const, entry }, code: 'ENODEV', message: 'x' })),
    ...Array.from({ length: 50 }, () => ({ op: { op: 'delete' as const, entry }, code: 'EPERM', message: 'y' })),
  ];
  const big = trimKernelEvent({ type: 'kernel', trigger: 'resync', replaced: 50, deleted: 0, failed, ops });
  t.match(big, { type: 'kernel', replaced: 50, opsOmitted: 150, failedOmitted: 100, failedCounts: [{ op: 'replace', code: 'ENODEV', count: 150 }, { op: 'delete', code: 'EPERM', count: 50 }] });
  t.equal(big.type === 'kernel' ? big.ops.length : -1, 100);
  t.equal(big.type === 'kernel' ? big.failed.length : -1, 100);
});
