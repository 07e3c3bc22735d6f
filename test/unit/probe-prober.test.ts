// VtepProber on a ManualClock over an in-memory "fabric" that plays the kernels
// (test/lib/probe-fabric.ts).
import t from 'tap';
import { Fabric, type Host } from '../lib/probe-fabric.js';
import { ManualClock } from '../../src/util/clock.js';
import {
  decodeProbeFrame,
  decodeProbeMessage,
  encodeProbeFrame,
  encodeProbeMessage,
  type ProbeMessage,
} from '../../src/probe/packet.js';
import {
  DEFAULT_MAX_REPLIES_PER_SECOND,
  DEFAULT_PROBER_TIMERS,
  VtepProber,
  describeDatagram,
  type ProbeStateEvent,
  type ProbeTarget,
  type VtepProberOptions,
} from '../../src/probe/prober.js';
import type { ProbeTransport } from '../../src/probe/transport.js';

const L = { serviceIp: '192.168.0.65', bridgeMac: '02:00:00:00:00:65', vteps: { net1: '192.168.1.65', net2: '192.168.2.65' } };
const R = { serviceIp: '192.168.0.87', bridgeMac: '02:00:00:00:00:87', vteps: { net1: '192.168.1.87', net2: '192.168.2.87' } };

function targetsTo(from: typeof L, to: typeof R): ProbeTarget[] {
  return (['net1', 'net2'] as const).map((n) => ({
    network: n, localVtep: from.vteps[n], remoteVtep: to.vteps[n], remoteMac: to.bridgeMac, remoteServiceIp: to.serviceIp,
  }));
}

interface Pair {
  clock: ManualClock;
  fabric: Fabric;
  l: VtepProber;
  r: VtepProber;
  hl: Host;
  hr: Host;
  events: ProbeStateEvent[];
}

function pair(opts: Partial<VtepProberOptions> = {}, start = 1000, wrap: (t: ProbeTransport) => ProbeTransport = (x) => x): Pair {
  const clock = new ManualClock(start);
  const fabric = new Fabric(clock);
  const hl = fabric.host('l', L.serviceIp, L.bridgeMac, L.vteps);
  const hr = fabric.host('r', R.serviceIp, R.bridgeMac, R.vteps);
  const mk = (h: Host, nonce: bigint): VtepProber => new VtepProber({
    clock, transport: wrap(fabric.transport(h)), vni: 100, serviceIp: h.serviceIp, bridgeMac: h.bridgeMac,
    uplinks: Object.entries(h.vteps).map(([network, address]) => ({ network, address })),
    random: () => 0, nonce, ...opts,
  });
  const l = mk(hl, 0x1111n);
  const r = mk(hr, 0x2222n);
  const events: ProbeStateEvent[] = [];
  l.onStateChange((e) => events.push(e));
  l.setTargets(targetsTo(L, R));
  r.setTargets(targetsTo(R, L));
  l.start();
  r.start();
  return { clock, fabric, l, r, hl, hr, events };
}

t.test('defaults meet the failover budget', async (t) => {
  const { interval, multiplier } = DEFAULT_PROBER_TIMERS;
  t.ok(interval * multiplier <= 500, 'worst-case detection <= 500 ms');
  t.same(DEFAULT_PROBER_TIMERS, { interval: 100, multiplier: 3, holdDown: 3000 });
});

t.test('unknown -> up -> down -> holddown -> up, with RTT and events', async (t) => {
  const p = pair();
  t.equal(p.l.state('net1', '192.168.1.87'), 'unknown');
  t.ok(p.l.eligible('net1', '192.168.1.87'));
  p.clock.advance(10);
  t.equal(p.l.state('net1', '192.168.1.87'), 'up');
  t.equal(p.l.state('net2', '192.168.2.87'), 'up');
  t.equal(p.r.state('net1', '192.168.1.65'), 'up', 'the other side too');
  t.same(p.events.map((e) => [e.network, e.from, e.to, e.reason, e.rttMs]), [
    ['net1', 'unknown', 'up', 'first-reply', 2],
    ['net2', 'unknown', 'up', 'first-reply', 2],
  ]);
  p.clock.advance(5000);
  t.equal(p.events.length, 2, 'steady: no more changes');
  const st = p.l.status().find((s) => s.network === 'net1')!;
  t.equal(st.rttMs, 2);
  t.equal(st.srttMs, 2);
  t.ok(st.sent >= 50 && st.replies === st.sent, `sent ${st.sent}, replies ${st.replies}`);

  // Cut net1 between the two VTEPs only.
  const faultAt = p.clock.now();
  p.fabric.cutPath('192.168.1.65', '192.168.1.87');
  p.clock.advance(1000);
  const down = p.events.filter((e) => e.to === 'down');
  t.same(down.map((e) => [e.network, e.from, e.reason, e.eligible]), [['net1', 'up', 'detect-timeout', false]]);
  const detect = down[0]!.at - faultAt;
  t.ok(detect > 200 && detect <= 300 + 2, `detected after ${detect} ms`);
  t.notOk(p.l.eligible('net1', '192.168.1.87'));
  t.ok(p.l.eligible('net2', '192.168.2.87'), 'net2 unaffected');
  t.equal(p.r.state('net1', '192.168.1.65'), 'down', 'both directions detect it');

  // Heal: holddown on the first reply, up after 3 s of replies.
  p.fabric.heal('192.168.1.65', '192.168.1.87');
  const healAt = p.clock.now();
  p.clock.advance(100);
  t.equal(p.l.state('net1', '192.168.1.87'), 'holddown');
  t.notOk(p.l.eligible('net1', '192.168.1.87'), 'not eligible in holddown');
  const hold = p.events.at(-1)!;
  t.same([hold.from, hold.to, hold.reason, hold.eligible], ['down', 'holddown', 'reply-after-down', false]);
  p.clock.advance(2800);
  t.equal(p.l.state('net1', '192.168.1.87'), 'holddown');
  p.clock.advance(300);
  t.equal(p.l.state('net1', '192.168.1.87'), 'up');
  const up = p.events.at(-1)!;
  t.same([up.from, up.to, up.reason, up.eligible], ['holddown', 'up', 'holddown-expired', true]);
  t.ok(up.at - healAt >= 3000 && up.at - healAt <= 3100, `eligible again ${up.at - healAt} ms after heal`);
  p.l.stop();
  p.r.stop();
  t.equal(p.clock.pending(), 0, 'stop cancels every timer');
});

t.test('detection time over fault phases: median <= 300, max <= interval x multiplier + rtt', async (t) => {
  const times: number[] = [];
  for (let phase = 0; phase < 100; phase += 7) {
    const p = pair();
    p.clock.advance(1000 + phase);
    const faultAt = p.clock.now();
    p.fabric.cutPath('192.168.2.65', '192.168.2.87');
    p.clock.advance(1000);
    const d = p.events.find((e) => e.to === 'down');
    t.ok(d, `phase ${phase}: down`);
    if (d) times.push(d.at - faultAt);
    p.l.stop(); p.r.stop();
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)]!;
  t.ok(times.at(-1)! <= 302, `max ${times.at(-1)}`);
  t.ok(times[0]! >= 200, `min ${times[0]}`);
  t.ok(median <= 300, `median ${median}`);
});

t.test('a loss during holddown that reaches the detection time sends it back down', async (t) => {
  const p = pair();
  p.clock.advance(1000);
  p.fabric.cutPath('192.168.1.65', '192.168.1.87');
  p.clock.advance(1000);
  p.fabric.heal('192.168.1.65', '192.168.1.87');
  p.clock.advance(1000);
  t.equal(p.l.state('net1', '192.168.1.87'), 'holddown');
  p.fabric.cutPath('192.168.1.65', '192.168.1.87');
  p.clock.advance(1000);
  t.equal(p.l.state('net1', '192.168.1.87'), 'down');
  p.fabric.heal('192.168.1.65', '192.168.1.87');
  p.clock.advance(2500);
  t.equal(p.l.state('net1', '192.168.1.87'), 'holddown', 'hold-down starts over');
  p.clock.advance(700);
  t.equal(p.l.state('net1', '192.168.1.87'), 'up');
  const seq = p.events.filter((e) => e.network === 'net1').map((e) => e.to);
  t.same(seq, ['up', 'down', 'holddown', 'down', 'holddown', 'up']);
  // Isolated losses do not count: every other request lost still keeps it up.
  let n = 0;
  const orig = p.hr.handler!;
  p.hr.handler = (payload, from): void => { if (n++ % 2 === 0) orig(payload, from); };
  p.clock.advance(2000);
  t.equal(p.l.state('net1', '192.168.1.87'), 'up');
  p.l.stop(); p.r.stop();
});

t.test('a target that never answers stays unknown (and eligible)', async (t) => {
  const clock = new ManualClock();
  const fabric = new Fabric(clock);
  const hl = fabric.host('l', L.serviceIp, L.bridgeMac, L.vteps);
  fabric.host('r', R.serviceIp, R.bridgeMac, R.vteps); // no prober there: nobody answers
  const l = new VtepProber({
    clock, transport: fabric.transport(hl), vni: 100, serviceIp: L.serviceIp, bridgeMac: L.bridgeMac,
    uplinks: [{ network: 'net1', address: L.vteps.net1 }], random: () => 0.5,
  });
  const events: ProbeStateEvent[] = [];
  l.onStateChange((e) => events.push(e));
  l.setTargets(targetsTo(L, R));
  l.start();
  clock.advance(10_000);
  t.same(events, []);
  t.equal(l.state('net1', '192.168.1.87'), 'unknown');
  t.ok(l.eligible('net1', '192.168.1.87'));
  t.ok(l.eligible('net9', '10.0.0.1'), 'a next hop that is not probed is eligible');
  t.equal(l.state('net9', '10.0.0.1'), undefined);
  t.equal(hl.sent.length, 200, '2 targets x 10/s x 10 s');
  t.equal(hl.sent[0]!.local, '192.168.1.65');
  l.stop();
});

t.test('requests and replies on the wire', async (t) => {
  const p = pair();
  p.clock.advance(0);
  // l's first request on net2: from l's net2 VTEP to r's net2 VTEP.
  const req = p.hl.sent.find((s) => s.remote === '192.168.2.87')!;
  t.equal(req.local, '192.168.2.65');
  const f = decodeProbeFrame(req.datagram);
  t.ok(f.ok);
  if (!f.ok) return;
  t.same({ ...f.value, payload: undefined }, {
    vni: 100, dstMac: R.bridgeMac, srcMac: L.bridgeMac, srcIp: L.serviceIp, dstIp: R.serviceIp,
    srcPort: 4799, dstPort: 4799, ttl: 64, ipId: 0, tos: 0, udpChecksummed: true, payload: undefined,
  });
  const m = decodeProbeMessage(f.value.payload);
  t.same(m.ok && m.value, {
    type: 'request', sequence: m.ok ? m.value.sequence : 0, nonce: 0x1111n, txTime: 1000, echoTime: 0,
    senderVtep: '192.168.2.65', targetVtep: '192.168.2.87', senderMac: L.bridgeMac, network: 'net2',
  });
  t.match(describeDatagram(req.datagram), /^vni 100 02:00:00:00:00:65 > 02:00:00:00:00:87 192\.168\.0\.65\.4799 > 192\.168\.0\.87\.4799: request net2 seq \d+ 192\.168\.2\.65 -> 192\.168\.2\.87$/);
  t.match(describeDatagram(new Uint8Array(3)), /^invalid frame: truncated/);
  // r's reply to it: from r's net2 VTEP back to l's net2 VTEP, inner addresses swapped.
  p.clock.advance(1);
  const rep = p.hr.sent.find((s) => {
    const d = decodeProbeFrame(s.datagram);
    if (!d.ok) return false;
    const mm = decodeProbeMessage(d.value.payload);
    return mm.ok && mm.value.type === 'reply' && mm.value.network === 'net2';
  })!;
  t.same([rep.local, rep.remote], ['192.168.2.87', '192.168.2.65']);
  const rf = decodeProbeFrame(rep.datagram);
  t.ok(rf.ok && rf.value.dstMac === L.bridgeMac && rf.value.dstIp === L.serviceIp && rf.value.srcIp === R.serviceIp);
  p.l.stop(); p.r.stop();
});

t.test('bad and unexpected packets are counted and ignored', async (t) => {
  const p = pair();
  p.clock.advance(1000);
  const before = p.events.length;
  const deliver = (m: ProbeMessage | Uint8Array): void => {
    p.hl.handler!(m instanceof Uint8Array ? m : encodeProbeMessage(m), R.serviceIp);
  };
  const reply: ProbeMessage = {
    type: 'reply', sequence: 1, nonce: 0x1111n, txTime: 0, echoTime: 0,
    senderVtep: '192.168.1.87', targetVtep: '192.168.1.65', senderMac: R.bridgeMac, network: 'net1',
  };
  deliver(new Uint8Array(10));
  deliver(new Uint8Array(60));
  deliver({ ...reply, nonce: 0x9999n });
  deliver({ ...reply, senderVtep: '192.168.1.99' });
  deliver({ ...reply, sequence: 0xfffffff0 });
  // An outstanding sequence of net1 with a wrong echoed time.
  const lastReq = p.hl.sent.filter((s) => s.remote === '192.168.1.87').at(-1)!;
  const f = decodeProbeFrame(lastReq.datagram);
  const m = f.ok ? decodeProbeMessage(f.value.payload) : undefined;
  t.ok(m?.ok);
  if (m?.ok) {
    p.fabric.cutPath('192.168.1.65', '192.168.1.87'); // keep the real reply from settling it first
    deliver({ ...reply, sequence: m.value.sequence, echoTime: m.value.txTime + 1 });
  }
  deliver({ ...reply, type: 'request', network: 'net7', targetVtep: '10.9.9.9' });
  t.same(p.l.counters().dropped, {
    truncated: 1, 'bad-magic': 1, 'foreign-nonce': 1, 'unknown-target': 1, 'stale-sequence': 1, 'echo-mismatch': 1, 'no-uplink': 1,
  });
  t.equal(p.events.length, before, 'no state change from junk');
  // A request whose inner source is not IPv4 is not answered, and does not throw.
  t.doesNotThrow(() => p.hl.handler!(encodeProbeMessage({ ...reply, type: 'request' }), 'fe80::1'));
  p.l.stop(); p.r.stop();
});

t.test('the responder answers from the address the request was sent to, else by network', async (t) => {
  const clock = new ManualClock();
  const sent: Array<[string, string]> = [];
  let handler: ((p: Uint8Array, from: string) => void) | undefined;
  const r = new VtepProber({
    clock, vni: 100, serviceIp: R.serviceIp, bridgeMac: R.bridgeMac,
    uplinks: [{ network: 'a', address: '192.168.1.87' }, { network: 'b', address: '192.168.2.87' }],
    transport: { send: (l, rem) => sent.push([l, rem]), onReceive: (fn) => { handler = fn; }, close: () => {} },
  });
  r.start();
  const req: ProbeMessage = {
    type: 'request', sequence: 5, nonce: 7n, txTime: 1, echoTime: 0,
    senderVtep: '192.168.2.65', targetVtep: '192.168.2.87', senderMac: L.bridgeMac, network: 'net2',
  };
  handler!(encodeProbeMessage(req), L.serviceIp); // names differ, address matches
  handler!(encodeProbeMessage({ ...req, targetVtep: '192.168.1.1', network: 'a', senderVtep: '192.168.1.65' }), L.serviceIp);
  t.same(sent, [['192.168.2.87', '192.168.2.65'], ['192.168.1.87', '192.168.1.65']]);
  t.equal(r.counters().requestsAnswered, 2);
  r.stop();
});

t.test('the reply cap follows our own request rate unless it is set', async (t) => {
  const make = (extra: Partial<VtepProberOptions> = {}): VtepProber => new VtepProber({
    clock: new ManualClock(), vni: 100, serviceIp: R.serviceIp, bridgeMac: R.bridgeMac,
    uplinks: [{ network: 'net1', address: '192.168.1.87' }, { network: 'net2', address: '192.168.2.87' }],
    transport: { send: () => {}, onReceive: () => {}, close: () => {} }, ...extra,
  });
  // 1,000 remote servers: the path on net1 active (every 100 ms), on net2 idle (every 1,000 ms).
  const targets = (m: number): ProbeTarget[] => Array.from({ length: m }, (_, j) => [1, 2].map((n) => ({
    network: `net${n}`, localVtep: `192.168.${n}.87`, remoteVtep: `10.1${n}.${Math.floor(j / 250)}.${(j % 250) + 1}`,
    remoteMac: L.bridgeMac, remoteServiceIp: L.serviceIp, active: n === 1,
  }))).flat();
  const r = make();
  t.equal(r.replyCap(), DEFAULT_MAX_REPLIES_PER_SECOND, 'no targets: the floor');
  r.setTargets(targets(10));
  t.equal(r.replyCap(), DEFAULT_MAX_REPLIES_PER_SECOND, '10 servers (110 requests/s): the floor');
  r.setTargets(targets(1000));
  t.equal(r.replyCap(), 22_000, '1,000 servers: 11,000 requests/s of ours, twice that for theirs');
  r.setTargets(targets(10));
  t.equal(r.replyCap(), DEFAULT_MAX_REPLIES_PER_SECOND, 'and back');
  const fixed = make({ maxRepliesPerSecond: 100 });
  fixed.setTargets(targets(1000));
  t.equal(fixed.replyCap(), 100, 'a cap that is set stays');
});

t.test('replies are rate-limited', async (t) => {
  const clock = new ManualClock();
  let sent = 0;
  let handler: ((p: Uint8Array, from: string) => void) | undefined;
  const r = new VtepProber({
    clock, vni: 100, serviceIp: R.serviceIp, bridgeMac: R.bridgeMac, maxRepliesPerSecond: 10,
    uplinks: [{ network: 'net1', address: '192.168.1.87' }],
    transport: { send: () => { sent++; }, onReceive: (fn) => { handler = fn; }, close: () => {} },
  });
  r.start();
  const req = encodeProbeMessage({
    type: 'request', sequence: 5, nonce: 7n, txTime: 1, echoTime: 0,
    senderVtep: '192.168.1.65', targetVtep: '192.168.1.87', senderMac: L.bridgeMac, network: 'net1',
  });
  for (let i = 0; i < 50; i++) handler!(req, L.serviceIp);
  t.equal(sent, 10);
  clock.advance(500);
  for (let i = 0; i < 50; i++) handler!(req, L.serviceIp);
  t.equal(sent, 15);
  t.equal(r.counters().dropped['rate-limited'], 85);
  r.stop();
});

t.test('slow paths: RTT above the interval keeps the target up', async (t) => {
  const p = pair();
  p.fabric.delay = 120; // RTT 240 ms > interval 100 ms, < detection 300 ms
  p.clock.advance(3000);
  t.equal(p.l.state('net1', '192.168.1.87'), 'up');
  t.same(p.events.map((e) => e.to), ['up', 'up']);
  t.equal(p.l.status()[0]!.rttMs, 240);
  p.l.stop(); p.r.stop();
});

t.test('setTargets keeps, adds, resets and removes', async (t) => {
  const p = pair();
  p.clock.advance(500);
  t.equal(p.l.state('net1', '192.168.1.87'), 'up');
  // Same targets with an upper-case MAC: state kept.
  p.l.setTargets(targetsTo(L, R).map((x) => ({ ...x, remoteMac: x.remoteMac.toUpperCase() })));
  t.equal(p.l.state('net1', '192.168.1.87'), 'up');
  // net2 now leaves from another local address: a different path, back to unknown.
  const moved = targetsTo(L, R).map((x) => (x.network === 'net2' ? { ...x, localVtep: '192.168.2.66' } : x));
  p.l.setTargets(moved);
  t.equal(p.l.state('net2', '192.168.2.87'), 'unknown');
  p.clock.advance(1000);
  t.equal(p.l.state('net2', '192.168.2.87'), 'unknown', 'nothing answers from a missing local address');
  // Remove net2; invalid targets are skipped.
  p.l.setTargets([targetsTo(L, R)[0]!, { ...targetsTo(L, R)[1]!, remoteMac: 'nope' }]);
  t.same(p.l.status().map((s) => s.network), ['net1']);
  const requestsTo = (vtep: string): number => p.hl.sent.filter((s) => {
    const f = decodeProbeFrame(s.datagram);
    const m = f.ok ? decodeProbeMessage(f.value.payload) : undefined;
    return s.remote === vtep && m?.ok === true && m.value.type === 'request';
  }).length;
  const sentBefore = requestsTo('192.168.2.87');
  p.clock.advance(1000);
  t.equal(requestsTo('192.168.2.87'), sentBefore, 'no more requests to a removed target');
  t.ok(p.r.state('net2', '192.168.2.65') === 'up', 'the responder still answers on net2');
  p.l.stop(); p.r.stop();
});

t.test('a target removed after answering comes back down: eligible only after a reply and the hold-down', async (t) => {
  const p = pair();
  p.clock.advance(500);
  const [net1, net2] = targetsTo(L, R);
  t.equal(p.l.state('net1', '192.168.1.87'), 'up');
  // The net1 session goes down: its path (and the target) disappear.
  p.l.setTargets([net2!]);
  const gone = p.events.at(-1)!;
  t.same([gone.network, gone.from, gone.to, gone.reason, gone.eligible], ['net1', 'up', 'down', 'target-removed', false]);
  t.equal(p.l.state('net1', '192.168.1.87'), undefined, 'no longer probed');
  p.clock.advance(1000);
  // Back (the session re-established): down until it answers, then the hold-down.
  const n = p.events.length;
  p.l.setTargets([net1!, net2!]);
  t.equal(p.l.state('net1', '192.168.1.87'), 'down');
  t.notOk(p.l.eligible('net1', '192.168.1.87'));
  t.equal(p.events.length, n, 'no event: it was reported down on removal');
  const backAt = p.clock.now();
  p.clock.advance(100);
  t.equal(p.l.state('net1', '192.168.1.87'), 'holddown');
  p.clock.advance(3000);
  const up = p.events.at(-1)!;
  t.same([up.from, up.to, up.reason, up.eligible], ['holddown', 'up', 'holddown-expired', true]);
  t.ok(up.at - backAt >= 3000 && up.at - backAt <= 3100, `eligible ${up.at - backAt} ms after it came back`);

  // Removed while down: no event (already ineligible); re-added from another local address: a new path.
  p.fabric.cutPath('192.168.1.65', '192.168.1.87');
  p.clock.advance(500);
  t.equal(p.l.state('net1', '192.168.1.87'), 'down');
  const m = p.events.length;
  p.l.setTargets([net2!]);
  t.equal(p.events.length, m, 'removed while down: nothing to report');
  p.l.setTargets([{ ...net1!, localVtep: '192.168.1.66' }, net2!]);
  const fresh = p.events.at(-1)!;
  t.same([fresh.from, fresh.to, fresh.reason, fresh.eligible], ['down', 'unknown', 'new-path', true]);
  t.equal(p.l.state('net1', '192.168.1.87'), 'unknown');

  // A target that never answered is forgotten for good: back as unknown (eligible).
  p.l.setTargets([net2!]);
  p.l.setTargets([{ ...net1!, localVtep: '192.168.1.66' }, net2!]);
  t.equal(p.l.state('net1', '192.168.1.87'), 'unknown');
  t.equal(p.events.length, m + 1, 'no events for a target that never answered');
  p.l.stop(); p.r.stop();
});

t.test('holdDown 0 goes straight back up; listener errors are contained; validation', async (t) => {
  const p = pair({ holdDown: 0 });
  p.l.onStateChange(() => { throw new Error('listener bug'); });
  p.clock.advance(500);
  p.fabric.cutPath('192.168.1.65', '192.168.1.87');
  p.clock.advance(500);
  p.fabric.heal('192.168.1.65', '192.168.1.87');
  p.clock.advance(200);
  t.same(p.events.filter((e) => e.network === 'net1').map((e) => `${e.to}:${e.reason}`), ['up:first-reply', 'down:detect-timeout', 'up:reply-after-down']);
  p.l.stop(); p.r.stop();
  const base = { clock: new ManualClock(), vni: 100, serviceIp: R.serviceIp, bridgeMac: R.bridgeMac, uplinks: [], transport: { send: () => {}, onReceive: () => {}, close: () => {} } };
  t.throws(() => new VtepProber({ ...base, interval: 0 }), RangeError);
  t.throws(() => new VtepProber({ ...base, multiplier: 1.5 }), RangeError);
  t.throws(() => new VtepProber({ ...base, holdDown: -1 }), RangeError);
  t.throws(() => new VtepProber({ ...base, serviceIp: 'x' }), RangeError);
  t.throws(() => new VtepProber({ ...base, bridgeMac: 'x' }), RangeError);
  t.throws(() => new VtepProber({ ...base, vni: -1 }), RangeError);
  t.throws(() => new VtepProber({ ...base, uplinks: [{ network: 'n', address: '1.2.3' }] }), RangeError);
});

t.test('a frame the fabric would not deliver (wrong VNI) never brings a target up', async (t) => {
  const p = pair({ vni: 200 });
  p.clock.advance(2000);
  t.equal(p.l.state('net1', '192.168.1.87'), 'unknown');
  t.equal(p.l.counters().repliesReceived, 0);
  p.l.stop(); p.r.stop();
  // Sanity: the fabric does deliver a hand-built VNI 100 frame.
  const f = encodeProbeFrame({ vni: 100, dstMac: R.bridgeMac, srcMac: L.bridgeMac, srcIp: L.serviceIp, dstIp: R.serviceIp, srcPort: 1, dstPort: 4790, payload: new Uint8Array(1) });
  t.ok(decodeProbeFrame(f).ok);
});

t.test('a path without a best path (active: false) is probed at idleInterval and detected after multiplier x idleInterval', async (t) => {
  const p = pair({ idleInterval: 1000 });
  const idle = targetsTo(L, R).map((x) => (x.network === 'net2' ? { ...x, active: false } : x));
  p.l.setTargets(idle);
  p.clock.advance(100);
  const isRequest = (b: Uint8Array): boolean => {
    const f = decodeProbeFrame(b);
    const m = f.ok ? decodeProbeMessage(f.value.payload) : null;
    return m !== null && m.ok && m.value.type === 'request';
  };
  const sentTo = (remote: string): number => p.hl.sent.filter((s) => s.remote === remote && isRequest(s.datagram)).length;
  const n1 = sentTo('192.168.1.87');
  const n2 = sentTo('192.168.2.87');
  p.clock.advance(10_000);
  t.equal(sentTo('192.168.1.87') - n1, 100, 'active: 10 requests/s');
  t.equal(sentTo('192.168.2.87') - n2, 10, 'idle: 1 request/s');
  t.equal(p.l.state('net2', '192.168.2.87'), 'up', 'idle and answering: up');
  // A broken idle path: down within multiplier x idleInterval (+ RTT), not before 2 x idleInterval.
  const cutAt = p.clock.now();
  p.fabric.cutPath('192.168.2.65', '192.168.2.87');
  p.clock.advance(4000);
  const d = p.events.find((e) => e.network === 'net2' && e.to === 'down');
  t.ok(d, 'idle path down');
  if (d) t.ok(d.at - cutAt >= 2000 && d.at - cutAt <= 3002, `detected ${d.at - cutAt} ms after the cut`);
  t.equal(p.l.state('net1', '192.168.1.87'), 'up', 'the active path is untouched');
  p.l.stop(); p.r.stop();
  p.clock.advance(10); // datagrams still in flight in the fabric
  t.equal(p.clock.pending(), 0, 'stop cancels every timer');
});

t.test('an idle path that becomes active is probed at once and gets a fast detection window from then', async (t) => {
  const p = pair({ idleInterval: 1000 });
  const targets = targetsTo(L, R);
  p.l.setTargets(targets.map((x) => (x.network === 'net2' ? { ...x, active: false } : x)));
  p.clock.advance(5_000);
  t.equal(p.l.state('net2', '192.168.2.87'), 'up');
  // Healthy: activation must not make it 'down' although its last reply may be ~1 s old.
  const before = p.hl.sent.length;
  p.l.setTargets(targets);
  p.clock.advance(0);
  t.ok(p.hl.sent.slice(before).some((s) => s.remote === '192.168.2.87'), 'a request right away');
  p.clock.advance(2000);
  t.equal(p.l.state('net2', '192.168.2.87'), 'up', 'still up');
  t.same(p.events.filter((e) => e.to === 'down'), []);
  // Broken while idle, then activated: down within multiplier x interval of the activation.
  p.l.setTargets(targets.map((x) => (x.network === 'net2' ? { ...x, active: false } : x)));
  p.clock.advance(1500);
  p.fabric.cutPath('192.168.2.65', '192.168.2.87');
  p.clock.advance(200);
  const activatedAt = p.clock.now();
  p.l.setTargets(targets);
  p.clock.advance(1000);
  const d = p.events.find((e) => e.network === 'net2' && e.to === 'down');
  t.ok(d, 'down');
  if (d) t.ok(d.at - activatedAt <= 300, `detected ${d.at - activatedAt} ms after the activation`);
  p.l.stop(); p.r.stop();
});

t.test('idleInterval must not be below interval', async (t) => {
  const clock = new ManualClock();
  const fabric = new Fabric(clock);
  const h = fabric.host('l', L.serviceIp, L.bridgeMac, L.vteps);
  t.throws(() => new VtepProber({
    clock, transport: fabric.transport(h), vni: 100, serviceIp: L.serviceIp, bridgeMac: L.bridgeMac, uplinks: [], interval: 100, idleInterval: 50,
  }), /idleInterval/);
});

t.test('IPv6 VTEP addresses: probes and replies between IPv6 uplinks', async (t) => {
  const clock = new ManualClock(1000);
  const fabric = new Fabric(clock);
  const v6 = (h: typeof L, host: number): typeof L => ({ ...h, vteps: { net1: `2001:db8:1::${host}`, net2: `2001:db8:2::${host}` } });
  const L6 = v6(L, 65);
  const R6 = v6(R, 87);
  const hl = fabric.host('l', L6.serviceIp, L6.bridgeMac, L6.vteps);
  const hr = fabric.host('r', R6.serviceIp, R6.bridgeMac, R6.vteps);
  const mk = (h: Host, nonce: bigint): VtepProber => new VtepProber({
    clock, transport: fabric.transport(h), vni: 100, serviceIp: h.serviceIp, bridgeMac: h.bridgeMac,
    uplinks: Object.entries(h.vteps).map(([network, address]) => ({ network, address })), random: () => 0, nonce,
  });
  const l = mk(hl, 1n);
  const r = mk(hr, 2n);
  l.setTargets(targetsTo(L6, R6));
  r.setTargets(targetsTo(R6, L6));
  l.start();
  r.start();
  clock.advance(10);
  t.equal(l.state('net1', '2001:db8:1::87'), 'up');
  t.equal(l.state('net2', '2001:db8:2::87'), 'up');
  t.equal(r.state('net1', '2001:db8:1::65'), 'up');
  const req = hl.sent.find((s) => s.remote === '2001:db8:1::87')!;
  t.equal(req.local, '2001:db8:1::65', 'sent from our IPv6 VTEP on that network');
  t.match(describeDatagram(req.datagram), /request net1 seq \d+ 2001:db8:1::65 -> 2001:db8:1::87$/);
  const reply = hr.sent.find((s) => s.remote === '2001:db8:1::65')!;
  t.equal(reply.local, '2001:db8:1::87', 'answered from the IPv6 address the request was sent to');
  fabric.cutPath('2001:db8:1::65', '2001:db8:1::87');
  clock.advance(1000);
  t.equal(l.state('net1', '2001:db8:1::87'), 'down');
  t.equal(l.state('net2', '2001:db8:2::87'), 'up');
  // A target whose local and remote VTEPs are of different families is refused.
  l.setTargets([{ network: 'net1', localVtep: '2001:db8:1::65', remoteVtep: '192.168.1.87', remoteMac: R.bridgeMac, remoteServiceIp: R.serviceIp }]);
  t.equal(l.state('net1', '192.168.1.87'), undefined);
  l.stop();
  r.stop();
});

/**
 * The fabric's transport made like mmsg.ts: what arrives waits in a queue until the
 * prober polls (at the start of each tick), instead of being handed over at once.
 */
function polled(inner: ProbeTransport): ProbeTransport & { queued: () => number } {
  const queue: Array<[Uint8Array, string]> = [];
  let handler: ((payload: Uint8Array, from: string) => void) | undefined;
  inner.onReceive((payload, from) => { queue.push([payload, from]); });
  return {
    send: (l, r, d) => inner.send(l, r, d.slice()),
    onReceive: (h) => { handler = h; },
    poll: () => { for (const [p, f] of queue.splice(0)) handler?.(p, f); },
    close: () => { handler = undefined; inner.close(); },
    queued: () => queue.length,
  };
}

/** pair() on transports that deliver only when polled. */
function polledPair(opts: Partial<VtepProberOptions> = {}): Pair {
  return pair(opts, 1000, polled);
}

t.test('a polled transport: the full cycle, detection within multiplier x interval + one tick + RTT', async (t) => {
  const times: number[] = [];
  for (let phase = 0; phase < 100; phase += 3) {
    const p = polledPair();
    p.clock.advance(1000 + phase);
    t.equal(p.l.state('net2', '192.168.2.87'), 'up');
    const faultAt = p.clock.now();
    p.fabric.cutPath('192.168.2.65', '192.168.2.87');
    p.clock.advance(1000);
    const d = p.events.find((e) => e.to === 'down');
    t.ok(d, `phase ${phase}: down`);
    if (d) times.push(d.at - faultAt);
    if (phase === 0) {
      p.fabric.heal('192.168.2.65', '192.168.2.87');
      p.clock.advance(200);
      t.equal(p.l.state('net2', '192.168.2.87'), 'holddown');
      p.clock.advance(3100);
      t.equal(p.l.state('net2', '192.168.2.87'), 'up');
      t.same(p.events.filter((e) => e.network === 'net2').map((e) => e.reason), ['first-reply', 'detect-timeout', 'reply-after-down', 'holddown-expired']);
      const st = p.l.status().find((s) => s.network === 'net1')!;
      // 2 ms on the wire, plus the wait for each side's next poll (one tick each at most).
      t.ok(st.rttMs! >= 2 && st.rttMs! <= 2 + 2 * 5, `RTT ${st.rttMs}: from the exact clock, with the polls' wait`);
      t.ok(st.sent - st.replies <= 1, `every request answered but the one in flight: sent ${st.sent}, replies ${st.replies}`);
      t.equal(p.l.counters().repliesReceived, p.l.status().reduce((n, s) => n + s.replies, 0));
      t.same(p.l.counters().dropped, {}, 'the fast reply path drops nothing valid');
    }
    p.l.stop(); p.r.stop();
    p.clock.advance(10); // the fabric's datagrams in flight
    t.equal(p.clock.pending(), 0, 'stop leaves no timer');
  }
  times.sort((a, b) => a - b);
  // Replies are read at the tick after they arrive: one tick (5 ms) on top of the 300 + RTT bound.
  t.ok(times[0]! >= 200, `min ${times[0]}`);
  t.ok(times.at(-1)! <= 300 + 5 + 2, `max ${times.at(-1)}`);
});

t.test('drain first, then decide: a reply waiting in the socket at the deadline keeps the path up', async (t) => {
  const p = polledPair();
  p.fabric.delay = 10; // RTT 20 ms: requests leave on ticks at 1000 + k x 100, replies arrive at +20
  p.clock.advance(1020);
  t.equal(p.l.state('net1', '192.168.1.87'), 'up');
  // The reply to the request of 2000 arrives at 2020 (deadline 2320). The requests of
  // 2100 and 2200 are lost; the one of 2300 gets through and its reply arrives at 2320,
  // exactly at the deadline, before that tick's timers (the fabric's delivery was set first).
  p.fabric.cutPath('192.168.1.65', '192.168.1.87');
  p.clock.advance(2250 - p.clock.now());
  t.equal(p.clock.now(), 2250);
  p.fabric.heal('192.168.1.65', '192.168.1.87');
  p.clock.advance(2320 - 2250 - 1);
  t.equal(p.l.state('net1', '192.168.1.87'), 'up', 'not yet due');
  p.clock.advance(1);
  t.equal(p.l.state('net1', '192.168.1.87'), 'up', 'the reply read at 2320 moved the deadline before it was decided');
  t.same(p.events.filter((e) => e.to === 'down'), [], 'no down');
  // Without that reply the same deadline takes it down: cut for good.
  p.fabric.cutPath('192.168.1.65', '192.168.1.87');
  p.clock.advance(400);
  const down = p.events.find((e) => e.to === 'down');
  t.equal(down?.at, 2620, 'down at the deadline: 300 ms after the last reply (2320)');
  p.l.stop(); p.r.stop();
});
