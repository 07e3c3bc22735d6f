// Local endpoints (vnis[].advertiseEndpoints: endpoints.ts, origination) and flood
// lists (vnis[].flood: flood.ts, kernel entries), on FakeKernel with ManualClock.
import t from 'tap';
import type { UpdateMessage } from '../../src/bgp/types.js';
import { inclusiveMulticastRoute } from '../../src/evpn/route.js';
import type { EvpnRoute } from '../../src/evpn/types.js';
import { DEFAULT_FAKE_LINKS, FakeKernel } from '../../src/kernel/fake.js';
import { NTF_EXT_LEARNED, NTF_SELF, NUD_FAILED, NUD_NOARP, NUD_PERMANENT, NUD_REACHABLE, NUD_STALE } from '../../src/kernel/nl.js';
import { ManualClock } from '../../src/util/clock.js';
import { parseConfig } from '../../src/agent/config.js';
import { Agent, type AgentEvent } from '../../src/agent/agent.js';
import { EndpointTable, type EndpointEvent } from '../../src/agent/endpoints.js';
import type { Advertisement } from '../../src/agent/origination.js';
import { advanceAndSettle } from '../lib/settle.js';
import { FakeSession } from '../lib/agent-fakes.js';

const VM = '02:aa:00:00:00:01';
const VM2 = '02:aa:00:00:00:02';

function config(vniExtra: string, kernelExtra = 'withdrawDelay: 0'): string {
  return `
vnis: [{vni: 100, bridge: br-vxlan, vxlan: vxlan0${vniExtra}}]
uplinks:
  - {name: net1, interface: eth1, peer: 192.168.1.2, localAs: 65001, localPref: 200}
  - {name: net2, interface: eth2, peer: 192.168.2.2, localAs: 65002, localPref: 100}
vtepProbe: false
kernel: {${kernelExtra}}
`;
}

function newKernel(): FakeKernel {
  return new FakeKernel({
    nexthops: false,
    links: [
      ...DEFAULT_FAKE_LINKS.map((l) => ({ ...l, addresses: [...(l.addresses ?? [])] })),
      { name: 'veth1', kind: 'veth', mac: '02:00:00:00:99:01', master: 'br-vxlan' },
      { name: 'eth1', addresses: [{ family: 4, address: '192.168.1.65', prefixLen: 24 }] },
      { name: 'eth2', addresses: [{ family: 4, address: '192.168.2.65', prefixLen: 24 }] },
    ],
  });
}

async function rig(vniExtra: string, kernel = newKernel(), kernelExtra?: string) {
  const clock = new ManualClock(1000);
  const sessions: FakeSession[] = [];
  const events: AgentEvent[] = [];
  const agent = new Agent({
    config: parseConfig(config(vniExtra, kernelExtra)), kernel, clock,
    sessions: (spec, h) => {
      const s = new FakeSession(spec, h);
      sessions.push(s);
      return s;
    },
  });
  agent.subscribe((e) => events.push(e));
  await agent.start();
  const s = (name: string): FakeSession => sessions.filter((x) => x.spec.uplink === name).at(-1)!;
  return { clock, kernel, agent, events, s, step: (ms = 0) => advanceAndSettle(clock, agent, ms) };
}

/** The type-2 routes a session announces for MAC, as `ip|nextHop` (MAC-only: `-|nextHop`). */
function announced(s: FakeSession, mac: string): string[] {
  return [...s.adjOut.values()]
    .filter((a) => a.route.type === 'mac-ip' && a.route.mac === mac)
    .map((a) => `${a.route.type === 'mac-ip' ? a.route.ip ?? '-' : ''}|${a.nextHop}`).sort();
}

function adv(s: FakeSession, mac: string, ip: string | null): Advertisement | undefined {
  return [...s.adjOut.values()].find((a) => a.route.type === 'mac-ip' && a.route.mac === mac && a.route.ip === ip);
}

t.test('EndpointTable: FDB on local ports and neighbours on the bridge -> typed events', async (t) => {
  const ev: EndpointEvent[] = [];
  const tab = new EndpointTable([{ vni: 100, bridge: 'br-vxlan', vxlan: 'vxlan0' }], 0xe7, (e) => ev.push(e));
  const k = newKernel();
  tab.setLinks(await k.links());
  t.same(tab.devices().sort(), ['br-vxlan', 'veth1']);
  const fdb = (mac: string, ifname: string, state = NUD_REACHABLE, flags = 0) => ({
    kind: 'fdb' as const, ifname, ifindex: 9, mac, table: 'bridge' as const, dst: null, nhid: null, vlan: null, master: 'br-vxlan',
    state, flags, protocol: null, externLearned: (flags & NTF_EXT_LEARNED) !== 0,
  });
  const neigh = (ip: string, mac: string, state = NUD_REACHABLE, flags = 0, protocol: number | null = null) => ({
    kind: 'neigh' as const, ifname: 'br-vxlan', ifindex: 1, family: (ip.includes(':') ? 6 : 4) as 4 | 6, ip, mac, state, flags, protocol,
    externLearned: (flags & NTF_EXT_LEARNED) !== 0,
  });
  // A neighbour before its MAC: nothing yet; the MAC brings it.
  tab.onEntry('new', neigh('10.0.0.1', VM));
  t.same(ev, []);
  tab.onEntry('new', fdb(VM, 'veth1'));
  t.same(ev.splice(0), [{ kind: 'mac-up', vni: 100, mac: VM, sticky: false }, { kind: 'ip-up', vni: 100, mac: VM, ip: '10.0.0.1' }]);
  // STALE is not a withdraw (FRR #12574); FAILED is.
  tab.onEntry('new', neigh('10.0.0.1', VM, NUD_STALE));
  t.same(ev, []);
  tab.onEntry('new', neigh('10.0.0.1', VM, NUD_FAILED));
  t.same(ev.splice(0), [{ kind: 'ip-down', vni: 100, mac: VM, ip: '10.0.0.1' }]);
  // Never: our own extern_learn neighbours, link-local IPv6, permanent FDB (host's port), the vxlan port, extern_learn FDB.
  tab.onEntry('new', neigh('10.0.0.9', VM, NUD_NOARP, NTF_EXT_LEARNED, 0xe7));
  tab.onEntry('new', neigh('fe80::1', VM));
  tab.onEntry('new', fdb(VM2, 'veth1', NUD_PERMANENT));
  tab.onEntry('new', fdb(VM2, 'vxlan0'));
  tab.onEntry('new', fdb(VM2, 'veth1', NUD_REACHABLE, NTF_EXT_LEARNED));
  t.same(ev, []);
  // An IPv6 neighbour, and the IP moving to another MAC.
  tab.onEntry('new', neigh('2001:db8::5', VM));
  t.same(ev.splice(0), [{ kind: 'ip-up', vni: 100, mac: VM, ip: '2001:db8::5' }]);
  tab.onEntry('new', fdb(VM2, 'veth1', NUD_NOARP));
  t.same(ev.splice(0), [{ kind: 'mac-up', vni: 100, mac: VM2, sticky: true }]);
  tab.onEntry('new', neigh('2001:db8::5', VM2));
  t.same(ev.splice(0), [{ kind: 'ip-down', vni: 100, mac: VM, ip: '2001:db8::5' }, { kind: 'ip-up', vni: 100, mac: VM2, ip: '2001:db8::5' }]);
  // Port gone: its MACs (and their IPs) go.
  tab.setLinks((await k.links()).filter((l) => l.name !== 'veth1'));
  t.same(ev.splice(0), [
    { kind: 'mac-down', vni: 100, mac: VM },
    { kind: 'ip-down', vni: 100, mac: VM2, ip: '2001:db8::5' }, { kind: 'mac-down', vni: 100, mac: VM2 },
  ]);
  t.same(tab.counts(), { macs: 0, ips: 0 });
});

t.test('off by default: local MACs are not announced, type-3 routes are not installed', async (t) => {
  const r = await rig('');
  r.kernel.foreignFdb({ ifname: 'veth1', mac: VM, table: 'bridge' });
  r.kernel.foreignNeigh({ ifname: 'br-vxlan', ip: '192.168.0.10', mac: VM });
  r.s('net1').up('192.168.1.2');
  r.s('net1').send(imet(1, 87));
  await r.step(100);
  t.same(announced(r.s('net1'), VM), []);
  t.same(r.kernel.floodList('vxlan0'), []);
  t.equal(await r.kernel.neighSuppress('vxlan0'), false, 'arpSuppress stays off');
  await r.agent.shutdown();
});

t.test('advertiseEndpoints: learned MAC -> MAC-only route on every uplink, its IPs -> MAC+IP, aged out -> withdrawn', async (t) => {
  const k = newKernel();
  // Learned before the start: found by the dump.
  k.foreignFdb({ ifname: 'veth1', mac: VM, table: 'bridge' });
  const r = await rig(', advertiseEndpoints: true', k);
  t.equal(await k.neighSuppress('vxlan0'), true, 'arpSuppress follows advertiseEndpoints');
  await r.step();
  t.same(announced(r.s('net1'), VM), ['-|192.168.1.65']);
  t.same(announced(r.s('net2'), VM), ['-|192.168.2.65']);
  const a = adv(r.s('net1'), VM, null)!;
  t.match(a.route, { rd: { type: 1, ip: '192.168.1.65', assigned: 100 }, label1: 100 });
  t.same(a.attributes.extCommunities, adv(r.s('net1'), '02:00:00:00:00:65', null)!.attributes.extCommunities, 'RT and encapsulation as our own routes');

  r.kernel.foreignNeigh({ ifname: 'br-vxlan', ip: '192.168.0.10', mac: VM });
  r.kernel.foreignNeigh({ ifname: 'br-vxlan', ip: '2001:db8::10', mac: VM, state: NUD_STALE });
  await r.step();
  t.same(announced(r.s('net1'), VM), ['-|192.168.1.65', '192.168.0.10|192.168.1.65', '2001:db8::10|192.168.1.65']);
  t.match(r.events.filter((e) => e.type === 'endpoint').map((e) => e.type === 'endpoint' && e.event.kind), ['mac-up', 'ip-up', 'ip-up']);

  // STALE: still announced.
  r.kernel.foreignNeigh({ ifname: 'br-vxlan', ip: '192.168.0.10', mac: VM, state: NUD_STALE });
  await r.step();
  t.same(announced(r.s('net1'), VM).length, 3);

  // Aged out: the MAC and its IPs are withdrawn on both uplinks.
  r.kernel.removeFdb('veth1', VM, 'bridge');
  await r.step();
  t.same(announced(r.s('net1'), VM), []);
  t.same(announced(r.s('net2'), VM), []);
  t.equal(r.s('net2').withdrawn.filter((x) => x.type === 'mac-ip' && x.mac === VM).length, 3);
  await r.agent.shutdown();
});

t.test('advertiseEndpoints: a static FDB entry is sticky (RFC 7432 §15.2); a new port is read', async (t) => {
  const r = await rig(', advertiseEndpoints: true');
  r.kernel.addLink({ name: 'tap2', kind: 'tun', mac: '02:00:00:00:99:02', master: 'br-vxlan' });
  r.kernel.foreignFdb({ ifname: 'tap2', mac: VM2, table: 'bridge', state: NUD_NOARP });
  await r.step(200);
  const a = adv(r.s('net1'), VM2, null);
  t.ok(a, 'announced');
  t.same(a?.attributes.extCommunities?.find((c) => c.kind === 'mac-mobility'), { kind: 'mac-mobility', sequence: 0, sticky: true });
  // The port goes away: withdrawn.
  r.kernel.removeLink('tap2');
  await r.step(200);
  t.same(announced(r.s('net1'), VM2), []);
  await r.agent.shutdown();
});

t.test('the MAC/IP hook changes or holds back advertisements (for MAC mobility)', async (t) => {
  const r = await rig(', advertiseEndpoints: true');
  r.agent.macIpHook = (a, ctx) => (ctx.source === 'endpoint' && ctx.mac === VM2 ? null
    : ctx.source === 'endpoint' ? { ...a, attributes: { ...a.attributes, extCommunities: [...(a.attributes.extCommunities ?? []), { kind: 'mac-mobility', sequence: 7, sticky: false }] } } : a);
  r.kernel.foreignFdb({ ifname: 'veth1', mac: VM, table: 'bridge' });
  r.kernel.foreignFdb({ ifname: 'veth1', mac: VM2, table: 'bridge' });
  await r.step();
  t.same(adv(r.s('net1'), VM, null)?.attributes.extCommunities?.at(-1), { kind: 'mac-mobility', sequence: 7, sticky: false });
  t.equal(adv(r.s('net1'), VM2, null), undefined);
  t.notOk(adv(r.s('net1'), '02:00:00:00:00:65', null)?.attributes.extCommunities?.some((c) => c.kind === 'mac-mobility'));
  await r.agent.shutdown();
});

/** A type-3 route of server `server` over network `net` (reflected: ORIGINATOR_ID = the server's router ID). */
function imet(net: 1 | 2, server: number, vni = 100): UpdateMessage {
  const vtep = `192.168.${net}.${server}`;
  return {
    type: 'update', withdrawn: [], nlri: [],
    attributes: {
      origin: 0, asPath: [], originatorId: `192.168.1.${server}`,
      extCommunities: [{ kind: 'route-target', form: 'as2', asn: 65000 + net, local: 100 }, { kind: 'encapsulation', tunnelType: 8 }],
      pmsiTunnel: { flags: 0, tunnelType: 6, label: vni, tunnelId: new Uint8Array(vtep.split('.').map(Number)) },
      mpReach: { afi: 25, safi: 70, nextHop: [vtep], nlri: { kind: 'evpn', routes: [imetRoute(net, server)] } },
    },
  };
}

function imetRoute(net: 1 | 2, server: number): EvpnRoute {
  return inclusiveMulticastRoute({ rd: `192.168.${net}.${server}:100`, originatorIp: `192.168.${net}.${server}` });
}

function unreach(routes: EvpnRoute[]): UpdateMessage {
  return { type: 'update', withdrawn: [], nlri: [], attributes: { mpUnreach: { afi: 25, safi: 70, nlri: { kind: 'evpn', routes } } } };
}

t.test('flood: one entry per remote server on its best network, moved on failover, removed with the route', async (t) => {
  const r = await rig(', flood: true', newKernel(), 'withdrawDelay: 10s');
  r.s('net1').up('192.168.1.2');
  r.s('net2').up('192.168.2.2');
  r.s('net1').send(imet(1, 87));
  r.s('net2').send(imet(2, 87));
  r.s('net1').send(imet(1, 88));
  await r.step();
  t.same(r.kernel.floodList('vxlan0').sort(), ['192.168.1.87', '192.168.1.88'], 'primary network, one per server');
  const e = r.kernel.entries().find((x) => x.kind === 'fdb' && x.dst === '192.168.1.87')!;
  t.match(e, { table: 'vxlan', mac: '00:00:00:00:00:00', externLearned: true, state: NUD_NOARP | NUD_PERMANENT, flags: NTF_SELF | NTF_EXT_LEARNED });
  t.same(r.kernel.entries().filter((x) => x.kind === 'fdb' && x.table === 'bridge'), [], 'no bridge half');

  // Failover: net1 lost -> server 87 on net2 at once (no withdraw delay for a move); 88 lingers.
  r.s('net1').down();
  await r.step();
  t.same(r.kernel.floodList('vxlan0').sort(), ['192.168.1.88', '192.168.2.87']);
  await r.step(10_000);
  t.same(r.kernel.floodList('vxlan0'), ['192.168.2.87'], 'a server gone: removed after kernel.withdrawDelay');

  // Someone deletes it: restored after the restore delay.
  r.kernel.removeFlood('vxlan0', '192.168.2.87');
  await r.step(100);
  t.same(r.kernel.floodList('vxlan0'), ['192.168.2.87'], 'restored');

  // Someone else's flood entry is never touched.
  r.kernel.foreignFlood('vxlan0', '10.9.9.9', NTF_SELF);
  // Withdrawn: removed.
  r.s('net2').send(unreach([imetRoute(2, 87)]));
  await r.step(10_000);
  t.same(r.kernel.floodList('vxlan0'), ['10.9.9.9']);
  await r.agent.shutdown();
});

t.test('flood: a reload that changes localPref moves the flood entry to the new best network', async (t) => {
  const r = await rig(', flood: true');
  r.s('net1').up('192.168.1.2');
  r.s('net2').up('192.168.2.2');
  r.s('net1').send(imet(1, 87));
  r.s('net2').send(imet(2, 87));
  await r.step();
  t.same(r.kernel.floodList('vxlan0'), ['192.168.1.87']);
  const res = r.agent.reconfigure(parseConfig(config(', flood: true', 'withdrawDelay: 0').replace('localPref: 100', 'localPref: 300')));
  t.same(res.restartRequired, []);
  await r.step();
  t.same(r.kernel.floodList('vxlan0'), ['192.168.2.87'], 'net2 now preferred');
  await r.agent.shutdown();
});

t.test('flood: our own, non-ingress-replication and unknown-VNI type-3 routes are not installed', async (t) => {
  const r = await rig(', flood: true');
  r.s('net1').up('192.168.1.2');
  const own = imet(1, 65);
  const other = imet(1, 90);
  other.attributes.pmsiTunnel = { ...other.attributes.pmsiTunnel!, tunnelType: 3 };
  r.s('net1').send(own);
  r.s('net1').send(other);
  r.s('net1').send(imet(1, 91, 200));
  await r.step();
  t.same(r.kernel.floodList('vxlan0'), []);
  await r.agent.shutdown();
});

t.test('flood: entries a previous run left are swept once the stale gate opens, kept when still wanted', async (t) => {
  const k = newKernel();
  k.foreignFlood('vxlan0', '192.168.1.87', NTF_SELF | NTF_EXT_LEARNED);
  k.foreignFlood('vxlan0', '192.168.1.99', NTF_SELF | NTF_EXT_LEARNED);
  const r = await rig(', flood: true', k);
  r.s('net1').up('192.168.1.2');
  r.s('net2').up('192.168.2.2');
  r.s('net1').send(imet(1, 87));
  await r.step();
  t.same(r.kernel.floodList('vxlan0').sort(), ['192.168.1.87', '192.168.1.99'], 'nothing deleted before the gate');
  r.s('net1').eor();
  r.s('net2').eor();
  await r.step();
  t.same(r.kernel.floodList('vxlan0'), ['192.168.1.87']);
  t.notOk(r.kernel.applied.some((op) => op.op === 'replace' && op.entry.kind === 'fdb' && op.entry.dst === '192.168.1.87'), 'the kept one was not rewritten');
  await r.agent.shutdown();
  t.same(r.kernel.floodList('vxlan0'), [], 'flushed at shutdown (kernel.flushOnShutdown)');
});
