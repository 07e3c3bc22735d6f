import t from 'tap';
import { ManualClock, type Timer } from '../../src/util/clock.js';
import {
  SLOW_TX_US, detectionTimeUs, initialState, jitteredUs, step, txIntervalUs,
  type BfdFsmState, type BfdInput, type BfdOutput, type BfdTimers,
} from '../../src/bfd/fsm.js';
import { Diag, decodeControl, encodeControl, type ControlPacket, type SessionState } from '../../src/bfd/packet.js';

const ms = (n: number): number => n * 1000;
const timers = (tx: number, rx: number, mult: number): BfdTimers => ({ desiredMinTxUs: ms(tx), requiredMinRxUs: ms(rx), detectMult: mult });

/** Deterministic [0,1) sequence for jitter. */
function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 2 ** 32; };
}

interface Sent { at: number; packet: ControlPacket }
interface Change { at: number; from: SessionState; to: SessionState; diag: number }

/** One FSM run by a tiny shell on a ManualClock; packets travel over a link with 1 ms delay. */
class Node {
  state: BfdFsmState;
  peer!: Node;
  sent: Sent[] = [];
  received: Sent[] = [];
  changes: Change[] = [];
  /** Packets this node sends are lost while false. */
  linkUp = true;
  private timers = new Map<string, Timer>();
  private readonly random: () => number;

  constructor(readonly name: string, readonly clock: ManualClock, discr: number, cfg: BfdTimers, seed: number) {
    this.state = initialState(discr, cfg);
    this.random = lcg(seed);
  }

  input(i: BfdInput): BfdOutput[] {
    const r = step(this.state, i, this.random);
    this.state = r.state;
    for (const o of r.outputs) this.apply(o);
    return r.outputs;
  }

  private apply(o: BfdOutput): void {
    switch (o.type) {
      case 'send': {
        const at = this.clock.now();
        this.sent.push({ at, packet: o.packet });
        if (!this.linkUp) return;
        const bytes = encodeControl(o.packet); // through the codec, like the real shell
        this.clock.setTimer(1, () => {
          const p = decodeControl(bytes);
          this.peer.received.push({ at: this.clock.now(), packet: p });
          this.peer.input({ type: 'receive', packet: p });
        });
        return;
      }
      case 'armTimer':
        this.timers.get(o.timer)?.cancel();
        this.timers.set(o.timer, this.clock.setTimer(o.afterUs / 1000, () => {
          this.timers.delete(o.timer);
          this.input({ type: 'timer', timer: o.timer });
        }));
        return;
      case 'cancelTimer':
        this.timers.get(o.timer)?.cancel();
        this.timers.delete(o.timer);
        return;
      case 'stateChange':
        this.changes.push({ at: this.clock.now(), from: o.from, to: o.to, diag: o.diag });
        return;
    }
  }

  armed(timer: string): boolean {
    return this.timers.has(timer);
  }
}

function pair(cfgA = timers(300, 300, 3), cfgB = timers(300, 300, 3)): { clock: ManualClock; a: Node; b: Node } {
  const clock = new ManualClock();
  const a = new Node('a', clock, 0x0a, cfgA, 1);
  const b = new Node('b', clock, 0x0b, cfgB, 2);
  a.peer = b;
  b.peer = a;
  return { clock, a, b };
}

function gaps(sent: Sent[], from: number, to = Infinity): number[] {
  const xs = sent.filter((s) => s.at >= from && s.at <= to && !s.packet.final).map((s) => s.at);
  return xs.slice(1).map((x, i) => x - xs[i]!);
}

t.test('three-way handshake, step by step (§6.2)', (t) => {
  let a = initialState(100, timers(300, 300, 3));
  let b = initialState(200, timers(300, 300, 3));
  const sendOf = (outs: BfdOutput[]): ControlPacket => {
    const s = outs.filter((o): o is Extract<BfdOutput, { type: 'send' }> => o.type === 'send');
    t.equal(s.length, 1, 'one packet');
    return s[0]!.packet;
  };
  let r = step(a, { type: 'start' }, () => 0);
  a = r.state;
  const aDown = sendOf(r.outputs);
  t.match(aDown, { state: 'Down', myDiscriminator: 100, yourDiscriminator: 0, desiredMinTxUs: SLOW_TX_US, requiredMinRxUs: ms(300), detectMult: 3, poll: false });
  t.same(r.outputs.find((o) => o.type === 'armTimer'), { type: 'armTimer', timer: 'tx', afterUs: 750_000 }, 'slow tx, jitter 75% with random 0');

  r = step(b, { type: 'start' }, () => 0);
  b = r.state;
  r = step(b, { type: 'receive', packet: aDown });
  b = r.state;
  t.equal(b.sessionState, 'Init');
  t.equal(b.remoteDiscr, 100);
  t.same(r.outputs.find((o) => o.type === 'stateChange'), { type: 'stateChange', from: 'Down', to: 'Init', diag: 0, remoteState: 'Down' });
  const bInit = sendOf(r.outputs);
  t.match(bInit, { state: 'Init', yourDiscriminator: 100, myDiscriminator: 200 });
  t.same(r.outputs.find((o) => o.type === 'armTimer' && o.timer === 'detect'), { type: 'armTimer', timer: 'detect', afterUs: 3 * SLOW_TX_US });

  r = step(a, { type: 'receive', packet: bInit });
  a = r.state;
  t.equal(a.sessionState, 'Up');
  const aUp = sendOf(r.outputs);
  t.match(aUp, { state: 'Up', yourDiscriminator: 200, poll: true, desiredMinTxUs: ms(300) }, 'Up starts a poll for the fast rate (§6.8.3)');
  t.equal(txIntervalUs(a), ms(300), 'a decrease of Desired Min TX applies at once');

  r = step(b, { type: 'receive', packet: aUp });
  b = r.state;
  t.equal(b.sessionState, 'Up');
  const finals = r.outputs.filter((o) => o.type === 'send' && o.packet.final);
  t.equal(finals.length, 1, 'poll answered with a Final at once (§6.8.7)');
  t.end();
});

t.test('bring-up on the clock, poll/final to the fast rate, steady 225-300 ms gaps', (t) => {
  const { clock, a, b } = pair();
  a.input({ type: 'start' });
  clock.advance(400);
  b.input({ type: 'start' });
  clock.advance(3000);
  t.equal(a.state.sessionState, 'Up');
  t.equal(b.state.sessionState, 'Up');
  t.same(a.changes.map((c) => c.to), ['Up'], 'a: Down -> Up directly (it saw Init)');
  t.same(b.changes.map((c) => c.to), ['Init', 'Up']);
  t.notOk(a.state.pollActive, 'poll finished');
  t.notOk(b.state.pollActive);
  t.equal(txIntervalUs(a.state), ms(300));
  t.equal(detectionTimeUs(a.state), ms(900));
  const g = gaps(a.sent, 2000);
  t.ok(g.length >= 3);
  for (const x of g) t.ok(x >= 225 && x <= 300, `gap ${x} in [225, 300]`);
  t.ok(a.sent.filter((s) => s.packet.poll).every((s) => !s.packet.final), 'never P and F together');
  t.end();
});

t.test('detection timeout: Down with diag 1 within the Detection Time, then slow tx, then recovery', (t) => {
  const { clock, a, b } = pair();
  a.input({ type: 'start' });
  b.input({ type: 'start' });
  clock.advance(5000);
  t.equal(a.state.sessionState, 'Up');
  // Cut b -> a: a stops hearing b.
  b.linkUp = false;
  const lastHeard = a.received.at(-1)!.at;
  clock.advance(2000);
  const down = a.changes.at(-1)!;
  t.match(down, { from: 'Up', to: 'Down', diag: Diag.ControlDetectionTimeExpired });
  t.ok(down.at - lastHeard <= 900 && down.at - lastHeard >= 899, `down ${down.at - lastHeard} ms after the last packet`);
  t.equal(a.state.remoteDiscr, 0, '§6.8.1: RemoteDiscr reset after Detection Time');
  t.equal(a.state.desiredMinTxUs, SLOW_TX_US, 'back to 1 s advertised');
  // b hears a's Down and goes Down with diag 3.
  t.match(b.changes.find((c) => c.at > lastHeard), { from: 'Up', to: 'Down', diag: Diag.NeighborSignaledSessionDown });
  // a hears nothing more and stays Down; b goes Init on a's Down packets, then times out.
  const changesBefore = a.changes.length;
  const sentBefore = a.sent.length;
  clock.advance(20_000);
  t.equal(a.changes.length, changesBefore, 'a: no further state changes while the peer is silent');
  const n = a.sent.length - sentBefore;
  t.ok(n >= 20 && n <= 27, `a sends slowly while Down: ${n} packets in 20 s`);
  for (const x of gaps(a.sent, down.at + 1)) t.ok(x >= 750 && x <= 1000, `slow gap ${x}`);
  t.ok(a.sent.slice(sentBefore).every((s) => s.packet.state === 'Down' && s.packet.diag === 1), 'keeps reporting diag 1');
  // Heal.
  b.linkUp = true;
  clock.advance(4000);
  t.equal(a.state.sessionState, 'Up');
  t.equal(b.state.sessionState, 'Up');
  t.equal(a.state.localDiag, 0, 'diag cleared on Up');
  t.end();
});

t.test('a peer that never answers: Down forever, 1 packet/s, no detect timer, no state changes', (t) => {
  const clock = new ManualClock();
  const a = new Node('a', clock, 1, timers(100, 100, 3), 3);
  a.linkUp = false;
  a.peer = a;
  a.input({ type: 'start' });
  clock.advance(60_000);
  t.equal(a.state.sessionState, 'Down');
  t.equal(a.changes.length, 0);
  t.notOk(a.armed('detect'));
  t.ok(a.sent.length >= 60 && a.sent.length <= 81, `${a.sent.length} packets in 60 s`);
  t.ok(a.sent.every((s) => s.packet.desiredMinTxUs === SLOW_TX_US && s.packet.requiredMinRxUs === ms(100)));
  t.equal(clock.pending(), 1, 'only the tx timer is pending');
  t.end();
});

t.test('timer negotiation with asymmetric parameters (§6.8.2, §6.8.4)', (t) => {
  const { clock, a, b } = pair(timers(100, 100, 3), timers(300, 500, 5));
  a.input({ type: 'start' });
  b.input({ type: 'start' });
  clock.advance(6000);
  t.equal(a.state.sessionState, 'Up');
  t.equal(b.state.sessionState, 'Up');
  // a transmits at max(a.DesiredMinTx 100, b.RequiredMinRx 500) = 500 ms.
  t.equal(txIntervalUs(a.state), ms(500));
  // b transmits at max(300, a.RequiredMinRx 100) = 300 ms.
  t.equal(txIntervalUs(b.state), ms(300));
  // a detects: b.DetectMult 5 * max(a.RequiredMinRx 100, b.DesiredMinTx 300) = 1500 ms.
  t.equal(detectionTimeUs(a.state), ms(1500));
  // b detects: a.DetectMult 3 * max(b.RequiredMinRx 500, a.DesiredMinTx 100) = 1500 ms.
  t.equal(detectionTimeUs(b.state), ms(1500));
  for (const x of gaps(a.sent, 4000)) t.ok(x >= 375 && x <= 500, `a gap ${x}`);
  for (const x of gaps(b.sent, 4000)) t.ok(x >= 225 && x <= 300, `b gap ${x}`);
  t.end();
});

t.test('poll/final on a parameter change while Up (§6.5, §6.8.3)', (t) => {
  const { clock, a, b } = pair();
  a.input({ type: 'start' });
  b.input({ type: 'start' });
  clock.advance(5000);
  t.equal(a.state.sessionState, 'Up');
  const sentBefore = a.sent.length;

  // Increase Desired Min TX and decrease Required Min RX in one go; hold the link b->a
  // so the Final is lost and the poll stays open for a while.
  b.linkUp = false;
  a.input({ type: 'setTimers', timers: timers(600, 100, 3) });
  t.ok(a.state.pollActive);
  t.equal(a.state.desiredMinTxUs, ms(600), 'advertised at once');
  t.equal(txIntervalUs(a.state), ms(300), 'increase of Desired Min TX deferred until the poll ends');
  t.equal(a.state.detectRequiredMinRxUs, ms(300), 'decrease of Required Min RX deferred for the Detection Time');
  clock.advance(500);
  const polls = a.sent.slice(sentBefore);
  t.ok(polls.length >= 2 && polls.every((s) => s.packet.poll), 'periodic packets carry P until a Final comes');
  t.ok(b.sent.some((s) => s.packet.final), 'b answered with Final (lost)');
  b.linkUp = true;
  clock.advance(400);
  t.notOk(a.state.pollActive, 'Final received: poll over');
  t.equal(txIntervalUs(a.state), ms(600));
  t.equal(a.state.detectRequiredMinRxUs, ms(100));
  t.equal(detectionTimeUs(a.state), ms(900), 'b still sends at 300: 3 * max(100, 300)');
  t.equal(detectionTimeUs(b.state), ms(1800), 'b detects a: 3 * max(300, 600)');
  clock.advance(3000);
  for (const x of gaps(a.sent, clock.now() - 2500)) t.ok(x >= 450 && x <= 600, `a gap ${x}`);
  t.equal(a.state.sessionState, 'Up', 'no flap across the change');
  t.equal(b.state.sessionState, 'Up');

  // A change during a poll queues another poll.
  b.linkUp = false;
  a.input({ type: 'setTimers', timers: timers(200, 100, 3) });
  a.input({ type: 'setTimers', timers: timers(250, 100, 4) });
  t.ok(a.state.pollActive && a.state.pollPending);
  const finalPkt = { ...b.sent.at(-1)!.packet, poll: false, final: true, yourDiscriminator: a.state.localDiscr };
  a.input({ type: 'receive', packet: finalPkt });
  t.ok(a.state.pollActive, 'second poll started');
  t.notOk(a.state.pollPending);
  a.input({ type: 'receive', packet: finalPkt });
  t.notOk(a.state.pollActive);
  t.equal(txIntervalUs(a.state), ms(300), 'max(250, b.RequiredMinRx 300)');
  t.equal(a.state.detectMult, 4);
  t.end();
});

t.test('received Poll is answered by a Final without P even during our own poll', (t) => {
  let s = initialState(5, timers(300, 300, 3));
  s = step(s, { type: 'start' }, () => 0.5).state;
  const peer = (state: SessionState, extra: Partial<ControlPacket> = {}): ControlPacket => ({
    diag: 0, state, poll: false, final: false, controlPlaneIndependent: false, demand: false, detectMult: 3,
    myDiscriminator: 9, yourDiscriminator: 5, desiredMinTxUs: ms(300), requiredMinRxUs: ms(300), requiredMinEchoRxUs: 0, ...extra,
  });
  s = step(s, { type: 'receive', packet: peer('Init') }).state;
  t.equal(s.sessionState, 'Up');
  t.ok(s.pollActive);
  const r = step(s, { type: 'receive', packet: peer('Up', { poll: true }) });
  const sends = r.outputs.filter((o): o is Extract<BfdOutput, { type: 'send' }> => o.type === 'send');
  t.equal(sends.length, 1);
  t.match(sends[0]!.packet, { final: true, poll: false, state: 'Up' });
  t.notOk(r.outputs.some((o) => o.type === 'armTimer' && o.timer === 'tx'), 'the Final does not disturb the tx timer');
  t.end();
});

t.test('AdminDown: local (diag 7) and signalled by the peer (diag 3)', (t) => {
  const { clock, a, b } = pair();
  a.input({ type: 'start' });
  b.input({ type: 'start' });
  clock.advance(5000);
  a.input({ type: 'adminDown' });
  t.equal(a.state.sessionState, 'AdminDown');
  t.match(a.changes.at(-1), { to: 'AdminDown', diag: Diag.AdministrativelyDown });
  t.notOk(a.armed('detect'));
  clock.advance(10);
  t.match(b.changes.at(-1), { from: 'Up', to: 'Down', diag: Diag.NeighborSignaledSessionDown });
  t.equal(b.state.remoteSessionState, 'AdminDown');
  clock.advance(10_000);
  t.equal(a.state.sessionState, 'AdminDown', 'received packets are discarded in AdminDown');
  t.equal(b.state.sessionState, 'Down', 'b does not leave Down while a is AdminDown');
  t.ok(a.sent.slice(-3).every((s) => s.packet.state === 'AdminDown' && s.packet.diag === 7));
  t.same(step(a.state, { type: 'adminDown' }).outputs, [], 'adminDown twice is a no-op');
  a.input({ type: 'adminUp' });
  t.equal(a.state.sessionState, 'Down');
  t.same(step(a.state, { type: 'adminUp' }).outputs, [], 'adminUp when not AdminDown is a no-op');
  clock.advance(4000);
  t.equal(a.state.sessionState, 'Up');
  t.equal(b.state.sessionState, 'Up');
  t.end();
});

t.test('reception rules: wrong Your Discriminator, Up peer while Down, remote Min RX 0', (t) => {
  let s = step(initialState(5, timers(300, 300, 3)), { type: 'start' }, () => 0).state;
  const pkt = (extra: Partial<ControlPacket>): ControlPacket => ({
    diag: 0, state: 'Down', poll: false, final: false, controlPlaneIndependent: false, demand: false, detectMult: 3,
    myDiscriminator: 9, yourDiscriminator: 0, desiredMinTxUs: ms(1000), requiredMinRxUs: ms(300), requiredMinEchoRxUs: 0, ...extra,
  });
  const wrong = step(s, { type: 'receive', packet: pkt({ yourDiscriminator: 77 }) });
  t.same(wrong.outputs, []);
  t.equal(wrong.state, s, 'state untouched');
  // §6.8.6: Down ignores a peer claiming Up (stays Down, but learns its variables).
  let r = step(s, { type: 'receive', packet: pkt({ state: 'Up', yourDiscriminator: 5 }) });
  t.equal(r.state.sessionState, 'Down');
  t.equal(r.state.remoteDiscr, 9);
  // Remote Required Min RX 0: §6.8.7 stop periodic transmission.
  r = step(s, { type: 'receive', packet: pkt({ requiredMinRxUs: 0 }) });
  s = r.state;
  t.equal(s.sessionState, 'Init');
  t.ok(r.outputs.some((o) => o.type === 'cancelTimer' && o.timer === 'tx'));
  t.notOk(r.outputs.some((o) => o.type === 'send'), 'nothing sent, not even the state change');
  t.same(step(s, { type: 'timer', timer: 'tx' }).outputs, [], 'a stale tx timer does nothing');
  // It asks again: periodic transmission resumes.
  r = step(s, { type: 'receive', packet: pkt({ state: 'Init', yourDiscriminator: 5, requiredMinRxUs: ms(300) }) });
  t.equal(r.state.sessionState, 'Up');
  t.ok(r.outputs.some((o) => o.type === 'armTimer' && o.timer === 'tx'));
  t.end();
});

t.test('detect timer in Down clears RemoteDiscr without a state change; stale timers ignored', (t) => {
  let s = step(initialState(5, timers(300, 300, 3)), { type: 'start' }, () => 0).state;
  s = step(s, { type: 'receive', packet: {
    diag: 0, state: 'AdminDown', poll: false, final: false, controlPlaneIndependent: false, demand: false, detectMult: 3,
    myDiscriminator: 9, yourDiscriminator: 0, desiredMinTxUs: ms(1000), requiredMinRxUs: ms(300), requiredMinEchoRxUs: 0,
  } }).state;
  t.equal(s.sessionState, 'Down', 'AdminDown from the peer while Down: stay Down');
  t.equal(s.remoteDiscr, 9);
  const r = step(s, { type: 'timer', timer: 'detect' });
  t.equal(r.state.remoteDiscr, 0);
  t.notOk(r.outputs.some((o) => o.type === 'stateChange'));
  t.same(step(r.state, { type: 'timer', timer: 'detect' }).outputs, [], 'second (stale) detect fire is ignored');
  t.same(step(s, { type: 'start' }).outputs.length, 0, 'start twice is a no-op');
  t.end();
});

t.test('setTimers while not Up keeps the 1 s floor; invalid values rejected', (t) => {
  let s = initialState(5, timers(300, 300, 3));
  s = step(s, { type: 'setTimers', timers: timers(2000, 50, 7) }).state;
  t.equal(s.desiredMinTxUs, ms(2000));
  s = step(s, { type: 'setTimers', timers: timers(10, 50, 7) }).state;
  t.equal(s.desiredMinTxUs, SLOW_TX_US);
  t.equal(s.requiredMinRxUs, ms(50));
  t.equal(s.detectMult, 7);
  t.notOk(s.pollActive);
  t.throws(() => step(s, { type: 'setTimers', timers: timers(10, 50, 0) }), RangeError);
  t.throws(() => initialState(0, timers(300, 300, 3)), RangeError);
  t.throws(() => initialState(1, timers(0, 300, 3)), RangeError);
  t.throws(() => initialState(1, timers(300, 0, 3)), RangeError);
  t.end();
});

t.test('jitter stays within 75-100% (75-90% with Detect Mult 1) (§6.8.7)', (t) => {
  t.equal(jitteredUs(1_000_000, 3, () => 0), 750_000);
  t.equal(jitteredUs(1_000_000, 3, () => 0.999999), 999_999);
  t.equal(jitteredUs(1_000_000, 1, () => 0.999999), 899_999);
  t.equal(jitteredUs(1_000_000, 3, () => 5), 1_000_000, 'a misbehaving random source is clamped');
  const r = lcg(42);
  for (let i = 0; i < 1000; i++) {
    const j = jitteredUs(300_000, 3, r);
    if (j < 225_000 || j > 300_000) t.fail(`jitter ${j}`);
  }
  t.end();
});

t.test('replay of the FRR bfdd 8.4 handshake captured on the wire', (t) => {
  const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');
  let s = initialState(0x7e074ae8, timers(100, 100, 3));
  let r = step(s, { type: 'start' }, () => 0);
  s = r.state;
  // Our first packet is byte-identical to what tcpdump saw from us.
  const first = r.outputs.find((o): o is Extract<BfdOutput, { type: 'send' }> => o.type === 'send')!;
  t.same(encodeControl(first.packet), hex('20 40 03 18  7e074ae8  00000000  000f4240  000186a0  00000000'));
  // FRR answers Init: we go Up and poll for 100 ms.
  r = step(s, { type: 'receive', packet: decodeControl(hex('20 80 03 18  22ff348f  7e074ae8  000f4240  000f4240  0000c350')) });
  s = r.state;
  t.equal(s.sessionState, 'Up');
  const upPoll = r.outputs.find((o): o is Extract<BfdOutput, { type: 'send' }> => o.type === 'send')!;
  t.same(encodeControl(upPoll.packet), hex('20 e0 03 18  7e074ae8  22ff348f  000186a0  000186a0  00000000'));
  t.equal(txIntervalUs(s), ms(1000), 'FRR still asks for 1 s until its own poll');
  t.equal(detectionTimeUs(s), ms(3000));
  // FRR goes Up and polls with 100 ms: we answer Final.
  r = step(s, { type: 'receive', packet: decodeControl(hex('20 e0 03 18  22ff348f  7e074ae8  000186a0  000186a0  0000c350')) });
  s = r.state;
  const fin = r.outputs.find((o): o is Extract<BfdOutput, { type: 'send' }> => o.type === 'send')!;
  t.same(encodeControl(fin.packet), hex('20 d0 03 18  7e074ae8  22ff348f  000186a0  000186a0  00000000'));
  t.equal(txIntervalUs(s), ms(100), 'FRR now accepts 100 ms');
  t.ok(r.outputs.some((o) => o.type === 'armTimer' && o.timer === 'tx' && o.afterUs <= 100_000), 'tx re-armed at the faster rate');
  // FRR's Final ends our poll.
  s = step(s, { type: 'receive', packet: decodeControl(hex('20 d0 03 18  22ff348f  7e074ae8  000186a0  000186a0  0000c350')) }).state;
  t.notOk(s.pollActive);
  t.equal(detectionTimeUs(s), ms(300));
  t.end();
});
