import t from 'tap';
import { ManualClock } from '../../src/util/clock.js';
import { encodeControl, type ControlPacket } from '../../src/bfd/packet.js';
import {
  BFD_MULTIHOP_PORT, BFD_SINGLE_HOP_PORT, BFD_SOURCE_PORT_MAX, BFD_SOURCE_PORT_MIN,
  canonicalAddress, sessionKey, toTimers, type BfdDownEvent,
} from '../../src/bfd/types.js';
import { BfdManager } from '../../src/bfd/manager.js';
import { capture, FakeNet, flush, lcg } from '../lib/bfd-fakes.js';

function setup(): { clock: ManualClock; net: FakeNet; a: BfdManager; b: BfdManager; logA: ReturnType<typeof capture> } {
  const clock = new ManualClock();
  const net = new FakeNet(clock);
  net.addresses.add('192.168.1.65');
  net.addresses.add('192.168.1.2');
  const logA = capture();
  const a = new BfdManager({ clock, transport: net.transport(), logger: logA.logger, random: lcg(1) });
  const b = new BfdManager({ clock, transport: net.transport(), logger: capture().logger, random: lcg(2) });
  return { clock, net, a, b, logA };
}

t.test('toTimers: defaults 300/300/3, ms to µs, range checks', (t) => {
  t.same(toTimers({}), { desiredMinTxUs: 300_000, requiredMinRxUs: 300_000, detectMult: 3 });
  t.same(toTimers({ minTx: 100, minRx: 50.5, multiplier: 5 }), { desiredMinTxUs: 100_000, requiredMinRxUs: 50_500, detectMult: 5 });
  t.throws(() => toTimers({ minTx: 0 }), RangeError);
  t.throws(() => toTimers({ minRx: NaN }), RangeError);
  t.throws(() => toTimers({ multiplier: 0 }), RangeError);
  t.throws(() => toTimers({ multiplier: 2.5 }), RangeError);
  t.end();
});

t.test('canonicalAddress and session keys', (t) => {
  t.equal(canonicalAddress('2001:DB8:0:0::1'), '2001:db8::1');
  t.equal(canonicalAddress('fe80::1%eth1'), 'fe80::1');
  t.equal(canonicalAddress('::ffff:192.168.1.2'), '192.168.1.2');
  t.equal(canonicalAddress(' 192.168.1.2 '), '192.168.1.2');
  t.equal(sessionKey('192.168.1.65', '192.168.1.2'), '192.168.1.65|192.168.1.2|sh');
  t.equal(sessionKey('2001:db8::0:1', '2001:db8::2', true), '2001:db8::1|2001:db8::2|mh');
  t.end();
});

t.test('two managers come Up, detect a silent peer (diag 1), recover; events exactly once', async (t) => {
  const { clock, net, a, b } = setup();
  const sa = a.add({ local: '192.168.1.65', remote: '192.168.1.2', minTx: 100, minRx: 100 });
  const sb = b.add({ local: '192.168.1.2', remote: '192.168.1.65', minTx: 100, minRx: 100 });
  const events: string[] = [];
  const downs: BfdDownEvent[] = [];
  sa.on('up', () => events.push(`up@${clock.now()}`));
  sa.on('down', (e) => { events.push(`down@${clock.now()}`); downs.push(e); });
  t.equal(sa.state, 'Down');
  await flush();
  clock.advance(3000);
  t.equal(sa.state, 'Up');
  t.equal(sb.state, 'Up');
  t.equal(sa.remoteDiscriminator, sb.localDiscriminator);
  t.equal(events.length, 1);
  // Packets: right port, source port in range, same source port throughout (RFC 5881 §4).
  const fromA = net.sent.filter((p) => p.from === '192.168.1.65');
  t.ok(fromA.every((p) => p.dport === BFD_SINGLE_HOP_PORT && p.to === '192.168.1.2'));
  t.equal(new Set(fromA.map((p) => p.sport)).size, 1);
  t.ok(fromA[0]!.sport >= BFD_SOURCE_PORT_MIN && fromA[0]!.sport <= BFD_SOURCE_PORT_MAX);
  const info = sa.snapshot();
  t.match(info, { state: 'Up', txIntervalMs: 100, detectTimeMs: 300, remoteMultiplier: 3, sourcePort: fromA[0]!.sport });
  t.ok(info.counters.rxPackets > 10 && info.counters.txPackets > 10);

  net.blocked.add('192.168.1.2');
  const cutAt = clock.now();
  clock.advance(1000);
  t.equal(sa.state, 'Down');
  t.equal(downs.length, 1);
  t.match(downs[0], { diag: 1, diagName: 'ControlDetectionTimeExpired' });
  const downAt = Number(events[1]!.split('@')[1]);
  t.ok(downAt - cutAt <= 301, `down ${downAt - cutAt} ms after the cut (detection time 300 ms)`);
  clock.advance(10_000);
  t.equal(downs.length, 1, 'no repeated down events while the peer stays silent');
  net.blocked.delete('192.168.1.2');
  clock.advance(4000);
  t.equal(sa.state, 'Up');
  t.same(events.map((e) => e.split('@')[0]), ['up', 'down', 'up']);
  a.close();
  b.close();
  t.equal(net.listeners.size, 0, 'receive sockets released');
  t.equal(clock.pending(), 2, 'only the two in-flight AdminDown datagrams remain');
});

t.test('a peer that never answers: Down, no events, no warnings, 1 packet/s', async (t) => {
  const { clock, net, a, logA } = setup();
  const s = a.add({ local: '192.168.1.65', remote: '192.168.1.99' });
  let events = 0;
  s.on('up', () => events++);
  s.on('down', () => events++);
  s.on('stateChange', () => events++);
  await flush();
  clock.advance(120_000);
  t.equal(s.state, 'Down');
  t.equal(events, 0);
  t.equal(logA.lines.filter((l) => l.level >= 40).length, 0, 'nothing at warn or above');
  const n = net.sent.length;
  t.ok(n >= 120 && n <= 161, `${n} packets in 120 s`);
  a.close({ adminDown: false });
  t.equal(clock.pending(), 0, 'no timers left after close');
});

t.test('local address missing at start: one warning, quiet retries, then Up', async (t) => {
  const { clock, net, a, b, logA } = setup();
  net.addresses.delete('192.168.1.65');
  const sa = a.add({ local: '192.168.1.65', remote: '192.168.1.2' });
  b.add({ local: '192.168.1.2', remote: '192.168.1.65' });
  await flush();
  for (let i = 0; i < 6; i++) { clock.advance(5000); await flush(); }
  t.equal(sa.state, 'Down');
  t.equal(logA.lines.filter((l) => l.msg === 'bfd cannot open sockets, retrying' && l.level === 40).length, 1, 'warned once');
  t.ok(logA.lines.filter((l) => l.msg === 'bfd cannot open sockets, retrying').length >= 6, 'retried');
  net.addresses.add('192.168.1.65');
  clock.advance(5000);
  await flush();
  clock.advance(4000);
  t.equal(sa.state, 'Up');
  t.ok(logA.lines.some((l) => l.msg === 'bfd sockets open'));
  a.close();
  b.close();
});

t.test('demultiplexing: by Your Discriminator, by address when zero; drops counted', async (t) => {
  const { clock, net, a, b } = setup();
  net.addresses.add('192.168.2.65');
  const s1 = a.add({ local: '192.168.1.65', remote: '192.168.1.2' });
  const s2 = a.add({ local: '192.168.1.65', remote: '192.168.1.3' });
  const s3 = a.add({ local: '192.168.2.65', remote: '192.168.2.2', multihop: true });
  t.equal(a.add({ local: '192.168.1.65', remote: '192.168.1.2' }), s1, 'add is idempotent per key');
  t.equal(a.get('192.168.1.65', '192.168.1.2'), s1);
  t.equal(a.get('192.168.2.65', '192.168.2.2'), undefined, 'multihop is part of the key');
  t.equal(a.get('192.168.2.65', '192.168.2.2', true), s3);
  t.equal(a.sessions().length, 3);
  t.not(s1.localDiscriminator, s2.localDiscriminator);
  await flush();
  t.ok(net.listeners.has(`192.168.1.65|${BFD_SINGLE_HOP_PORT}`), 'one shared single-hop socket');
  t.ok(net.listeners.has(`192.168.2.65|${BFD_MULTIHOP_PORT}`), 'multihop socket on 4784');
  t.equal(net.listeners.size, 2);

  const pkt = (extra: Partial<ControlPacket>): Buffer => encodeControl({
    diag: 0, state: 'Down', poll: false, final: false, controlPlaneIndependent: false, demand: false, detectMult: 3,
    myDiscriminator: 4242, yourDiscriminator: 0, desiredMinTxUs: 1_000_000, requiredMinRxUs: 300_000, requiredMinEchoRxUs: 0, ...extra,
  });
  // Your Discriminator 0: selected by source address.
  net.inject('192.168.1.3', '192.168.1.65', BFD_SINGLE_HOP_PORT, pkt({}));
  t.equal(s2.state, 'Init');
  t.equal(s1.state, 'Down');
  t.equal(s2.remoteDiscriminator, 4242);
  // Unknown source with discriminator 0.
  net.inject('192.168.1.77', '192.168.1.65', BFD_SINGLE_HOP_PORT, pkt({}));
  // Unknown Your Discriminator.
  net.inject('192.168.1.2', '192.168.1.65', BFD_SINGLE_HOP_PORT, pkt({ yourDiscriminator: 12345 }));
  // s1's discriminator, but from s2's peer address.
  net.inject('192.168.1.3', '192.168.1.65', BFD_SINGLE_HOP_PORT, pkt({ state: 'Init', yourDiscriminator: s1.localDiscriminator }));
  // s3's discriminator arriving on the single-hop port.
  net.inject('192.168.2.2', '192.168.1.65', BFD_SINGLE_HOP_PORT, pkt({ yourDiscriminator: s3.localDiscriminator }));
  // Malformed.
  const bad = pkt({});
  bad[0] = 0x40;
  net.inject('192.168.1.2', '192.168.1.65', BFD_SINGLE_HOP_PORT, bad);
  net.inject('192.168.1.2', '192.168.1.65', BFD_SINGLE_HOP_PORT, Buffer.alloc(3));
  t.same(a.drops, { noSession: 1, unknownDiscriminator: 1, addressMismatch: 2, version: 1, truncated: 1 });
  t.equal(s1.state, 'Down');
  t.equal(s3.state, 'Down');
  // By discriminator from the right address: s2 goes Up.
  net.inject('192.168.1.3', '192.168.1.65', BFD_SINGLE_HOP_PORT, pkt({ state: 'Up', yourDiscriminator: s2.localDiscriminator }));
  t.equal(s2.state, 'Up');

  a.remove(s1);
  t.ok(net.listeners.has(`192.168.1.65|${BFD_SINGLE_HOP_PORT}`), 'shared socket kept while s2 uses it');
  a.remove(s2);
  t.notOk(net.listeners.has(`192.168.1.65|${BFD_SINGLE_HOP_PORT}`), 'released with the last session');
  a.remove(s2);
  a.close();
  b.close();
  t.equal(net.listeners.size, 0);
  clock.advance(10);
});

t.test('remove() tells the peer AdminDown; the peer emits peerAdminDown, not down (RFC 5882 §3.2)', async (t) => {
  const { clock, a, b } = setup();
  const sa = a.add({ local: '192.168.1.65', remote: '192.168.1.2' });
  const sb = b.add({ local: '192.168.1.2', remote: '192.168.1.65' });
  await flush();
  clock.advance(3000);
  t.equal(sb.state, 'Up');
  const downs: BfdDownEvent[] = [];
  let realDowns = 0;
  sb.on('peerAdminDown', (e) => downs.push(e));
  sb.on('down', () => realDowns++);
  let adminDowns = 0;
  sa.on('adminDown', () => adminDowns++);
  a.remove(sa);
  t.equal(adminDowns, 1);
  t.equal(sa.state, 'AdminDown');
  clock.advance(5);
  t.equal(downs.length, 1);
  t.match(downs[0], { diag: 3, diagName: 'NeighborSignaledSessionDown' });
  t.equal(realDowns, 0);
  t.equal(sb.state, 'Down');
  b.close();
});

t.test('event handlers may call back into the session (re-entrancy)', async (t) => {
  const { clock, a, b } = setup();
  const sa = a.add({ local: '192.168.1.65', remote: '192.168.1.2' });
  b.add({ local: '192.168.1.2', remote: '192.168.1.65' });
  const seen: string[] = [];
  sa.on('stateChange', (from, to) => seen.push(`${from}>${to}`));
  sa.on('up', () => sa.adminDown());
  await flush();
  clock.advance(3000);
  t.equal(sa.state, 'AdminDown');
  t.equal(seen.at(-1), 'Up>AdminDown', 'adminDown() from the up handler ran after the Up transition');
  sa.removeAllListeners('up');
  sa.adminUp();
  clock.advance(4000);
  t.equal(sa.state, 'Up');
  sa.setOptions({ minTx: 1000, minRx: 1000, multiplier: 5 });
  clock.advance(5000);
  t.match(sa.snapshot(), { state: 'Up', txIntervalMs: 1000 });
  a.close();
  b.close();
});

t.test('afterIo: an expired detection timer lets pending reads run first; a packet read meanwhile keeps the session Up', async (t) => {
  const clock = new ManualClock();
  const net = new FakeNet(clock);
  net.addresses.add('192.168.1.65');
  net.addresses.add('192.168.1.2');
  const io: Array<() => void> = [];
  const a = new BfdManager({ clock, transport: net.transport(), logger: capture().logger, random: lcg(1), afterIo: (fn) => { io.push(fn); } });
  const b = new BfdManager({ clock, transport: net.transport(), logger: capture().logger, random: lcg(2) });
  const sa = a.add({ local: '192.168.1.65', remote: '192.168.1.2', minTx: 100, minRx: 100 });
  b.add({ local: '192.168.1.2', remote: '192.168.1.65', minTx: 100, minRx: 100 });
  await flush();
  clock.advance(3000);
  t.equal(sa.state, 'Up');
  io.splice(0).forEach((fn) => fn());
  // Our loop "busy": b's packets wait unread (not delivered) past the detection time.
  net.blocked.add('192.168.1.2');
  clock.advance(400);
  t.equal(sa.state, 'Up', 'the expired timer only queued a check behind pending I/O');
  t.equal(io.length, 1);
  // The pending read: one of b's packets, then the queued check.
  const late = [...net.sent].reverse().find((p) => p.from === '192.168.1.2')!;
  net.inject('192.168.1.2', '192.168.1.65', BFD_SINGLE_HOP_PORT, late.bytes);
  io.splice(0).forEach((fn) => fn());
  t.equal(sa.state, 'Up', 'a packet read before the check re-armed detection');
  // Really silent: the check finds no packet and the session goes Down.
  clock.advance(400);
  io.splice(0).forEach((fn) => fn());
  t.equal(sa.state, 'Down', 'no packet before the check: Down');
  a.close();
  b.close();
});
