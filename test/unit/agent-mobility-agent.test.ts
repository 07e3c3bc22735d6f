// MAC mobility in the running agent (FakeKernel, fake sessions, ManualClock): a
// remote route with a higher sequence for our local MAC withdraws ours (and removes
// a stale local FDB entry), the MAC is taken back with a higher sequence, a
// duplicate stops the announcement, `clear duplicate` and the freeze time bring it
// back; the control API's `duplicate` field, the `clear-duplicate` request and the
// CLI command over a real socket.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { Writer, toHex } from '../../src/wire/bytes.js';
import type { UpdateMessage } from '../../src/bgp/types.js';
import { encodeExtCommunity } from '../../src/bgp/extcommunity.js';
import { macIpRoute } from '../../src/evpn/route.js';
import type { ExtCommunity } from '../../src/bgp/types.js';
import type { MacIpRoute } from '../../src/evpn/types.js';
import { DEFAULT_FAKE_LINKS, FakeKernel } from '../../src/kernel/fake.js';
import { ManualClock } from '../../src/util/clock.js';
import { parseConfig, type Config } from '../../src/agent/config.js';
import { Agent, type AgentEvent } from '../../src/agent/agent.js';
import { AgentControlProvider } from '../../src/control/agent-adapter.js';
import { ControlServer } from '../../src/control/server.js';
import { ControlClient, ControlError } from '../../src/control/client.js';
import { parseClearDuplicate, ProtocolError } from '../../src/control/protocol.js';
import { runControlCli } from '../../src/cli/show.js';
import { formatRoutes } from '../../src/cli/control-format.js';
import { advanceAndSettle } from '../lib/settle.js';
import { FakeSession } from '../lib/agent-fakes.js';

t.setTimeout(120_000);

const OUR_MAC = '02:00:00:00:00:65'; // the bridge's own MAC (DEFAULT_FAKE_LINKS)
const OUR_IP = '192.168.0.65';
const EP_MAC = '02:00:00:00:aa:01'; // a local endpoint on veth0

const config = (mobility = '', withdrawDelay = 0): Config => parseConfig(`
vnis: [{vni: 100, bridge: br-vxlan, vxlan: vxlan0${mobility ? `, mobility: ${mobility}` : ''}}]
uplinks:
  - {name: net1, interface: eth1, peer: 192.168.1.2, localAs: 65001, localPref: 200}
  - {name: net2, interface: eth2, peer: 192.168.2.2, localAs: 65002, localPref: 100}
kernel: {withdrawDelay: ${withdrawDelay}}
`);

const RT = (asn: number): ExtCommunity => ({ kind: 'route-target', form: 'as2', asn, local: 100 });

/** Server 87's route for `mac` over network `net` with a MAC Mobility sequence. */
function announce(net: 1 | 2, mac: string, seq: number, sticky = false, ip: string | null = null): UpdateMessage {
  const routes: MacIpRoute[] = [macIpRoute({ rd: `192.168.${net}.87:100`, mac, ip: null, vni: 100 })];
  if (ip !== null) routes.push(macIpRoute({ rd: `192.168.${net}.87:100`, mac, ip, vni: 100 }));
  const ext: ExtCommunity[] = [RT(65000 + net), { kind: 'encapsulation', tunnelType: 8 }];
  if (seq || sticky) ext.push({ kind: 'mac-mobility', sequence: seq, sticky });
  return {
    type: 'update', withdrawn: [], nlri: [],
    attributes: { origin: 0, asPath: [], extCommunities: ext, mpReach: { afi: 25, safi: 70, nextHop: [`192.168.${net}.87`], nlri: { kind: 'evpn', routes } } },
  };
}

function withdraw(net: 1 | 2, mac: string, ip: string | null = null): UpdateMessage {
  const routes = [macIpRoute({ rd: `192.168.${net}.87:100`, mac, ip: null, vni: 100 })];
  if (ip !== null) routes.push(macIpRoute({ rd: `192.168.${net}.87:100`, mac, ip, vni: 100 }));
  return { type: 'update', withdrawn: [], nlri: [], attributes: { mpUnreach: { afi: 25, safi: 70, nlri: { kind: 'evpn', routes } } } };
}

async function rig(cfg = config()) {
  const clock = new ManualClock(1000);
  const kernel = new FakeKernel({
    nexthops: false,
    links: [
      ...DEFAULT_FAKE_LINKS.map((l) => ({ ...l, addresses: [...(l.addresses ?? [])] })),
      { name: 'eth1', addresses: [{ family: 4, address: '192.168.1.65', prefixLen: 24 }] },
      { name: 'eth2', addresses: [{ family: 4, address: '192.168.2.65', prefixLen: 24 }] },
      { name: 'veth0', master: 'br-vxlan' },
    ],
  });
  const sessions: FakeSession[] = [];
  const events: AgentEvent[] = [];
  const agent = new Agent({
    config: cfg, kernel, clock,
    sessions: (spec, h) => {
      const s = new FakeSession(spec, h);
      sessions.push(s);
      return s;
    },
  });
  agent.subscribe((e) => events.push(e));
  await agent.start();
  const s = (name: string): FakeSession => sessions.filter((x) => x.spec.uplink === name).at(-1)!;
  s('net1').up('192.168.1.2');
  s('net2').up('192.168.2.2');
  // Both initial tables received (empty): the steady state.
  s('net1').eor();
  s('net2').eor();
  const step = (ms = 0): Promise<void> => advanceAndSettle(clock, agent, ms);
  await step();
  return { clock, kernel, agent, s, events, step };
}

/** Our announcements over `net` for `mac`: route key -> extended communities as hex. */
function ours(session: FakeSession, mac: string): string[] {
  return [...session.adjOut.values()]
    .filter((a) => a.route.type === 'mac-ip' && a.route.mac === mac)
    .map((a) => {
      const w = new Writer();
      for (const c of a.attributes.extCommunities ?? []) encodeExtCommunity(w, c);
      return `${a.route.type === 'mac-ip' ? a.route.ip ?? '-' : ''} ${toHex(w.finish())}`;
    })
    .sort();
}

const PLAIN1 = '0002fde900000064030c000000000008'; // RT 65001:100, VXLAN
const mm = (seq: number): string => `06000000${seq.toString(16).padStart(8, '0')}`; // RFC 7432 §7.7, not sticky

t.test('a remote route with a higher sequence for our MAC withdraws ours; it is taken back with seq + 1 when the claim goes', async (t) => {
  const r = await rig();
  t.same(ours(r.s('net1'), OUR_MAC), [`- ${PLAIN1}`, `${OUR_IP} ${PLAIN1}`], 'announced without MAC Mobility, as before');
  // Server 87 claims our bridge MAC with sequence 1 (e.g. a VM with the same MAC moved there).
  r.s('net1').send(announce(1, OUR_MAC, 1));
  await r.step();
  t.same(ours(r.s('net1'), OUR_MAC), [], 'our MAC and MAC/IP routes withdrawn on net1');
  t.same(ours(r.s('net2'), OUR_MAC), [], '... and on net2');
  t.ok([...r.s('net1').adjOut.values()].some((a) => a.route.type === 'inclusive-multicast'), 'the type-3 route stays');
  t.match(r.events.filter((e) => e.type === 'mobility'), [
    { decision: { kind: 'announce', mac: OUR_MAC, seq: 0, sticky: false } }, // at start
    { decision: { kind: 'withdraw', reason: 'moved-away', by: '192.168.1.87' } },
    { decision: { kind: 'remove-local-fdb', vtep: '192.168.1.87', seq: 1 } },
  ]);
  // The claim is withdrawn: the MAC is still here, announced with sequence 2.
  r.s('net1').send(withdraw(1, OUR_MAC));
  await r.step();
  t.same(ours(r.s('net1'), OUR_MAC), [`- ${PLAIN1}${mm(2)}`, `${OUR_IP} ${PLAIN1}${mm(2)}`]);
  t.end();
});

t.test('a local endpoint that moves away: our announcement stops and its stale bridge FDB entry is deleted', async (t) => {
  const r = await rig();
  r.kernel.foreignFdb({ ifname: 'veth0', mac: EP_MAC, table: 'bridge' });
  t.ok(r.kernel.fdb('veth0', EP_MAC, 'bridge'), 'the bridge learned it on veth0');
  r.agent.localMacUp(100, EP_MAC, false, 'veth0');
  t.same(r.agent.mobility.of(100, EP_MAC), { seq: 0, sticky: false, duplicate: false, announce: true });
  // It appears on server 87 with sequence 1 over the backup network only.
  r.s('net2').send(announce(2, EP_MAC, 1));
  await r.step();
  t.equal(r.agent.mobility.of(100, EP_MAC).announce, false, 'not ours any more');
  t.equal(r.kernel.fdb('veth0', EP_MAC, 'bridge'), undefined, 'stale local entry deleted');
  t.equal(r.kernel.fdb('vxlan0', EP_MAC, 'vxlan')?.dst, '192.168.2.87', 'traffic follows it to its new server');
  // The endpoint source reports it gone, then back here: sequence 2.
  r.agent.localMacDown(100, EP_MAC);
  r.agent.localMacUp(100, EP_MAC, false, 'veth0');
  t.same(r.agent.mobility.of(100, EP_MAC), { seq: 2, sticky: false, duplicate: false, announce: true });
  t.end();
});

t.test('a MAC that arrives here: the old server\'s paths stay out of the kernel while it is local, however its withdrawals arrive', async (t) => {
  const EP_IP = '192.168.0.10';
  // Removals linger (withdrawDelay) as in production, but not those of a MAC that is here:
  // the kernel's bridge, taking over our entry as it learns the MAC, would see it restored.
  const r = await rig(config('', 2));
  // The endpoint lives on server 87, reachable over both networks (sequence 0).
  r.s('net1').send(announce(1, EP_MAC, 0, false, EP_IP));
  r.s('net2').send(announce(2, EP_MAC, 0, false, EP_IP));
  await r.step();
  t.equal(r.kernel.fdb('vxlan0', EP_MAC, 'vxlan')?.dst, '192.168.1.87', 'remote, over the primary network');
  t.equal(r.kernel.neigh('br-vxlan', EP_IP)?.mac, EP_MAC);
  // It arrives here (a live migration): the bridge learns it on veth0.
  r.kernel.foreignFdb({ ifname: 'veth0', mac: EP_MAC, table: 'bridge' });
  r.agent.localMacUp(100, EP_MAC, false, 'veth0');
  await r.step();
  t.same(r.agent.mobility.of(100, EP_MAC), { seq: 1, sticky: false, duplicate: false, announce: true }, 'announced with sequence 1');
  t.equal(r.kernel.fdb('vxlan0', EP_MAC, 'vxlan'), undefined, 'the remote FDB entry is gone');
  t.equal(r.kernel.fdb('vxlan0', EP_MAC, 'bridge'), undefined, '... its bridge half too');
  t.equal(r.kernel.neigh('br-vxlan', EP_IP), undefined, 'our neighbour entry for its IP is gone: the kernel\'s own takes over');
  // Server 87 withdraws on network 1 first: its network-2 path becomes the remote best
  // path, which must not be written over the MAC learned on veth0.
  const before = r.kernel.applied.length;
  r.s('net1').send(withdraw(1, EP_MAC, EP_IP));
  await r.step();
  const writes = r.kernel.applied.slice(before).filter((op) => op.op !== 'delete' && ((op.entry.kind === 'fdb' && op.entry.mac === EP_MAC) || (op.entry.kind === 'neigh' && op.entry.ip === EP_IP)));
  t.same(writes, [], 'no FDB or neighbour write for the local MAC');
  t.ok(r.kernel.fdb('veth0', EP_MAC, 'bridge'), 'the bridge entry stays on veth0');
  r.s('net2').send(withdraw(2, EP_MAC, EP_IP));
  await r.step();
  t.ok(r.kernel.fdb('veth0', EP_MAC, 'bridge'), 'and after the second withdrawal');
  t.equal(r.agent.mobility.of(100, EP_MAC).announce, true);
  // It moves back to server 87 (sequence 2, backup network only): the remote path goes in again.
  r.s('net2').send(announce(2, EP_MAC, 2, false, EP_IP));
  await r.step();
  t.equal(r.agent.mobility.of(100, EP_MAC).announce, false, 'moved away');
  t.equal(r.kernel.fdb('vxlan0', EP_MAC, 'vxlan')?.dst, '192.168.2.87', 'traffic follows it');
  t.equal(r.kernel.neigh('br-vxlan', EP_IP)?.mac, EP_MAC, 'its neighbour entry is ours again');
  t.equal(r.kernel.fdb('veth0', EP_MAC, 'bridge'), undefined, 'stale local entry deleted');
  t.end();
});

t.test('a MAC that arrives while the sessions come back: the old server\'s route in the re-sent table does not move it away', async (t) => {
  // test/netns/move.test.ts under load: BFD reset both sessions, the endpoint arrived
  // here while the reflectors re-sent their tables, and the other server's route
  // (sequence 1, from before the move) came with them. RFC 7432 §15.1 taken literally
  // withdrew ours and deleted the bridge's fresh entry: ~5 s without traffic.
  const r = await rig();
  r.s('net1').send(announce(1, EP_MAC, 1));
  r.s('net2').send(announce(2, EP_MAC, 1));
  await r.step();
  r.s('net1').down('BFD Down');
  r.s('net2').down('BFD Down');
  await r.step(1000);
  r.s('net1').up('192.168.1.2');
  r.s('net2').up('192.168.2.2');
  await r.step();
  r.kernel.foreignFdb({ ifname: 'veth0', mac: EP_MAC, table: 'bridge' });
  r.agent.localMacUp(100, EP_MAC, false, 'veth0');
  await r.step();
  t.same(r.agent.mobility.of(100, EP_MAC), { seq: 0, sticky: false, duplicate: false, announce: true }, 'announced: no remote route known yet');
  r.s('net1').send(announce(1, EP_MAC, 1));
  await r.step(20);
  t.same(r.agent.mobility.of(100, EP_MAC), { seq: 2, sticky: false, duplicate: false, announce: true }, 'claimed again with sequence 2');
  t.ok(r.kernel.fdb('veth0', EP_MAC, 'bridge'), 'the bridge entry on veth0 stays');
  t.equal(r.kernel.fdb('vxlan0', EP_MAC, 'vxlan'), undefined, 'no remote FDB entry for it');
  t.notOk(r.events.some((e) => e.type === 'mobility' && e.decision.kind === 'remove-local-fdb' && e.decision.mac === EP_MAC), 'no stale-entry removal');
  // With the tables complete, a higher sequence is a move away again (RFC 7432 §15.1).
  r.s('net1').eor();
  r.s('net2').eor();
  r.s('net2').send(announce(2, EP_MAC, 3));
  await r.step();
  t.equal(r.agent.mobility.of(100, EP_MAC).announce, false, 'moved away');
  t.equal(r.kernel.fdb('veth0', EP_MAC, 'bridge'), undefined, 'stale local entry deleted');
  t.end();
});

t.test('a blind claim: only a table of an uplink that was incomplete at the claim is a replay', async (t) => {
  // net2 down, net1 complete (no remote route for the MAC): the claim is blind through net2 only.
  const claimedWithNet2Down = async (): Promise<Awaited<ReturnType<typeof rig>>> => {
    const r = await rig();
    r.s('net2').down('BFD Down');
    await r.step(1000);
    r.kernel.foreignFdb({ ifname: 'veth0', mac: EP_MAC, table: 'bridge' });
    r.agent.localMacUp(100, EP_MAC, false, 'veth0');
    await r.step();
    return r;
  };
  const r = await claimedWithNet2Down();
  // net1 flaps after the claim; the MAC moved to server 87 meanwhile: net1's new table is news.
  r.s('net1').down('BFD Down');
  await r.step(1000);
  r.s('net1').up('192.168.1.2');
  r.s('net1').send(announce(1, EP_MAC, 1));
  await r.step(20);
  t.equal(r.agent.mobility.of(100, EP_MAC).announce, false, 'a table from a session that came up after the claim: moved away');
  t.equal(r.kernel.fdb('veth0', EP_MAC, 'bridge'), undefined, 'stale local entry deleted');
  // The same, but the route comes in net2's first table since the claim (net2 was down then): a replay.
  const r2 = await claimedWithNet2Down();
  r2.s('net2').up('192.168.2.2');
  r2.s('net2').send(announce(2, EP_MAC, 1));
  await r2.step(20);
  t.same(r2.agent.mobility.of(100, EP_MAC), { seq: 2, sticky: false, duplicate: false, announce: true }, 'net2\'s first table since the claim: claimed again with sequence 2');
  t.ok(r2.kernel.fdb('veth0', EP_MAC, 'bridge'), 'the bridge entry stays');
  // Live, on the complete uplink: a move away (RFC 7432 §15.1).
  r2.s('net1').send(announce(1, EP_MAC, 3));
  await r2.step(20);
  t.equal(r2.agent.mobility.of(100, EP_MAC).announce, false, 'a live higher sequence on net1: moved away');
  t.end();
});

t.test('a local MAC that goes away while a remote path for it remains: the remote path goes into the kernel', async (t) => {
  const r = await rig();
  r.kernel.foreignFdb({ ifname: 'veth0', mac: EP_MAC, table: 'bridge' });
  r.agent.localMacUp(100, EP_MAC, false, 'veth0');
  await r.step();
  // A remote path with an older sequence: ours stays, the kernel keeps the local entry.
  r.s('net1').send(announce(1, EP_MAC, 0));
  await r.step();
  t.equal(r.kernel.fdb('vxlan0', EP_MAC, 'vxlan'), undefined, 'not written while the MAC is here');
  r.kernel.removeFdb('veth0', EP_MAC, 'bridge');
  r.agent.localMacDown(100, EP_MAC);
  await r.step();
  t.equal(r.kernel.fdb('vxlan0', EP_MAC, 'vxlan')?.dst, '192.168.1.87', 'the MAC left: the remote path is programmed');
  t.end();
});

t.test('a duplicate taken back without a decision: the kernel entries still follow when it leaves', async (t) => {
  const r = await rig(config('{maxMoves: 1, window: 60}'));
  /** Server 89's route (another VTEP) with a sequence. */
  const from89 = (seq: number): UpdateMessage => {
    const u = announce(1, EP_MAC, seq);
    const mp = u.attributes.mpReach!;
    return { ...u, attributes: { ...u.attributes, mpReach: { ...mp, nextHop: ['192.168.1.89'], nlri: { kind: 'evpn', routes: [macIpRoute({ rd: '192.168.1.89:100', mac: EP_MAC, ip: null, vni: 100 })] } } } };
  };
  r.kernel.foreignFdb({ ifname: 'veth0', mac: EP_MAC, table: 'bridge' });
  r.agent.localMacUp(100, EP_MAC, false, 'veth0');
  await r.step();
  r.s('net1').send(announce(1, EP_MAC, 3)); // away
  await r.step();
  r.agent.localMacUp(100, EP_MAC, false, 'veth0'); // back
  await r.step();
  r.s('net1').send(announce(1, EP_MAC, 5)); // away again: duplicate
  await r.step();
  t.equal(r.agent.mobility.isDuplicate(100, EP_MAC), true, 'duplicate');
  r.s('net1').send(withdraw(1, EP_MAC)); // taken back here, no decision (frozen)
  await r.step();
  r.s('net1').send(from89(1));
  await r.step();
  t.equal(r.kernel.fdb('vxlan0', EP_MAC, 'vxlan'), undefined, 'held here: server 89\'s path stays out');
  r.agent.localMacDown(100, EP_MAC);
  await r.step();
  t.equal(r.kernel.fdb('vxlan0', EP_MAC, 'vxlan')?.dst, '192.168.1.89', 'gone from here: server 89\'s path is programmed');
  t.end();
});

t.test('the bridge MAC is never deleted from the kernel when it moves away', async (t) => {
  const r = await rig();
  r.s('net1').send(announce(1, OUR_MAC, 1));
  await r.step();
  t.notOk(r.kernel.applied.some((op) => op.op === 'delete' && op.entry.kind === 'fdb' && op.entry.mac === OUR_MAC && op.entry.ifname !== 'vxlan0'));
  t.end();
});

t.test('duplicate: stops the announcement, shows in `show routes`, clear re-announces', async (t) => {
  const r = await rig(config('{maxMoves: 2, window: 60}'));
  // Away (1), back (2), away (3 > 2): duplicate.
  r.s('net1').send(announce(1, OUR_MAC, 1));
  await r.step(1000);
  r.s('net1').send(withdraw(1, OUR_MAC));
  await r.step(1000);
  t.same(ours(r.s('net1'), OUR_MAC), [`- ${PLAIN1}${mm(2)}`, `${OUR_IP} ${PLAIN1}${mm(2)}`]);
  r.s('net1').send(announce(1, OUR_MAC, 3));
  await r.step(1000);
  r.s('net1').send(withdraw(1, OUR_MAC));
  await r.step();
  t.same(ours(r.s('net1'), OUR_MAC), [], 'duplicate: not announced although nobody else claims it now');
  // The move back here while duplicate is counted too.
  t.same(r.agent.duplicates(), [{ vni: 100, mac: OUR_MAC, moves: 4, until: null }]);
  const dup = r.events.find((e) => e.type === 'mobility' && e.decision.kind === 'duplicate');
  t.match(dup, { decision: { vni: 100, mac: OUR_MAC, moves: 3, window: 60_000, targets: ['192.168.1.87', 'local', '192.168.1.87'] } });

  // The control API: `duplicate: true` on the entry (no RIB entry left: listed without paths).
  const provider = new AgentControlProvider({ agent: r.agent, config: () => config('{maxMoves: 2, window: 60}'), clock: r.clock, kernel: r.kernel });
  const routes = await provider.routes({});
  t.same(routes.filter((x) => x.mac === OUR_MAC), [{ vni: 100, mac: OUR_MAC, ip: null, paths: [], bestReason: null, duplicate: true }]);
  t.match(formatRoutes(routes), /02:00:00:00:00:65 DUPLICATE/);
  t.match(formatRoutes(routes), /1 MAC marked DUPLICATE/);
  // The same MAC announced again by server 87: its entry carries the flag.
  r.s('net1').send(announce(1, OUR_MAC, 4));
  await r.step();
  t.match((await provider.routes({ mac: OUR_MAC })), [{ mac: OUR_MAC, duplicate: true, paths: [{ macMobilitySeq: 4 }] }]);
  r.s('net1').send(withdraw(1, OUR_MAC));
  await r.step();

  t.same(await provider.clearDuplicate(OUR_MAC, 200), { cleared: [] }, 'not in VNI 200');
  t.same(await provider.clearDuplicate(OUR_MAC, null), { cleared: [{ vni: 100, mac: OUR_MAC }] });
  await r.step();
  t.same(ours(r.s('net1'), OUR_MAC), [`- ${PLAIN1}${mm(5)}`, `${OUR_IP} ${PLAIN1}${mm(5)}`], 'announced again above every sequence seen');
  t.same(r.agent.duplicates(), []);
  t.notOk((await provider.routes({})).some((x) => x.duplicate));
  t.end();
});

t.test('freeze: <duration> lifts the duplicate by itself', async (t) => {
  const r = await rig(config('{maxMoves: 1, window: 60, freeze: 30}'));
  r.s('net1').send(announce(1, OUR_MAC, 1));
  await r.step();
  r.s('net1').send(withdraw(1, OUR_MAC)); // back here: move 2 > 1
  await r.step();
  t.same(ours(r.s('net1'), OUR_MAC), []);
  t.equal(r.agent.duplicates()[0]?.until, r.clock.now() + 30_000);
  await r.step(29_999);
  t.same(ours(r.s('net1'), OUR_MAC), [], 'still frozen');
  await r.step(1);
  t.same(ours(r.s('net1'), OUR_MAC), [`- ${PLAIN1}${mm(2)}`, `${OUR_IP} ${PLAIN1}${mm(2)}`], 'unfrozen: announced again');
  t.match(r.events.filter((e) => e.type === 'mobility').map((e) => e.type === 'mobility' && e.decision.kind), ['announce', 'withdraw', 'remove-local-fdb', 'duplicate', 'duplicate-cleared', 'announce'], 'the first: the bridge MAC at start');
  t.end();
});

t.test('config: vnis[].mobility', (t) => {
  t.same(config('{maxMoves: 3, window: 2m, freeze: 10m}').vnis[0]!.mobility, { maxMoves: 3, window: 120_000, freeze: 600_000 });
  t.same(config('{}').vnis[0]!.mobility, { maxMoves: 5, window: 180_000, freeze: true }, 'defaults as documented');
  t.same(config('{freeze: true}').vnis[0]!.mobility?.freeze, true);
  t.equal(config().vnis[0]!.mobility, undefined, 'absent: the agent uses the defaults');
  t.throws(() => config('{maxMoves: 0}'), /vnis\[0\]\.mobility\.maxMoves|maxMoves/);
  t.throws(() => config('{freeze: false}'), /freeze.*false is not allowed/);
  t.throws(() => config('{window: soon}'), /window.*duration/);
  t.throws(() => config('{moves: 3}'), /vnis\[0\]\.mobility\.moves: unknown key/);
  t.end();
});

// --- the control request and the CLI -----------------------------------------

function sink(): { stream: PassThrough; text(): string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

async function server(t: Test, agent: Agent, clock: ManualClock, kernel: FakeKernel): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'evpn-ha-mobility-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'evpn-ha.sock');
  const provider = new AgentControlProvider({ agent, config: () => config('{maxMoves: 1}'), clock, kernel });
  const srv = new ControlServer({ path, provider });
  await srv.start();
  t.teardown(() => srv.close());
  return path;
}

t.test('clear-duplicate: request validation, the socket, `evpn-ha clear duplicate`', async (t) => {
  t.same(parseClearDuplicate({ mac: '02-00-00-00-00-65' }), { mac: OUR_MAC, vni: null });
  t.same(parseClearDuplicate({ mac: '0200.0000.0065', vni: 100 }), { mac: OUR_MAC, vni: 100 });
  t.throws(() => parseClearDuplicate({}), ProtocolError);
  t.throws(() => parseClearDuplicate({ mac: 'nope' }), /mac must be a MAC address/);
  t.throws(() => parseClearDuplicate({ mac: OUR_MAC, vni: -1 }), /vni must be an integer/);
  t.throws(() => parseClearDuplicate({ mac: OUR_MAC, port: 1 }), /unknown parameter "port"/);

  const r = await rig(config('{maxMoves: 1}'));
  r.s('net1').send(announce(1, OUR_MAC, 1));
  await r.step();
  r.s('net1').send(withdraw(1, OUR_MAC));
  await r.step();
  t.equal(r.agent.duplicates().length, 1);
  const path = await server(t, r.agent, r.clock, r.kernel);

  const client = await ControlClient.connect(path);
  t.teardown(() => client.close());
  await t.rejects(client.call('clear-duplicate', { mac: 'zz' }), ControlError);
  const routes = await client.call('routes', { mac: OUR_MAC });
  t.same(routes, [{ vni: 100, mac: OUR_MAC, ip: null, paths: [], bestReason: null, duplicate: true }], '"duplicate": true over the socket');

  const run = async (argv: string[]) => {
    const out = sink();
    const err = sink();
    const code = await runControlCli(argv, { stdout: out.stream, stderr: err.stream });
    return { code, out: out.text(), err: err.text() };
  };
  let res = await run(['clear', 'duplicate', 'nope', '--socket', path]);
  t.equal(res.code, 2, 'a malformed MAC is a usage error');
  t.match(res.err, /mac must be a MAC address/);
  res = await run(['clear', 'duplicate', OUR_MAC, '--vni', '200', '--socket', path]);
  t.same(res, { code: 0, out: `${OUR_MAC} is not marked duplicate in VNI 200\n`, err: '' });
  res = await run(['clear', 'duplicate', '02:00:00:00:00:65', '--socket', path, '--json']);
  t.equal(res.code, 0);
  t.same(JSON.parse(res.out), { cleared: [{ vni: 100, mac: OUR_MAC }] });
  await r.step();
  t.same(r.agent.duplicates(), []);
  t.same(ours(r.s('net1'), OUR_MAC), [`- ${PLAIN1}${mm(2)}`, `${OUR_IP} ${PLAIN1}${mm(2)}`], 'announced again');
  res = await run(['clear', 'duplicate', OUR_MAC, '--socket', path]);
  t.same(res, { code: 0, out: `${OUR_MAC} is not marked duplicate\n`, err: '' });
  t.end();
});
