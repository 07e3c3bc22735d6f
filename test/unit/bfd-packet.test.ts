import t from 'tap';
import { BfdPacketError, decodeControl, diagName, encodeControl, type ControlPacket } from '../../src/bfd/packet.js';

// Expected bytes written out by hand from the RFC 5880 §4.1 diagram, not by the encoder.
const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex');

const upPoll: ControlPacket = {
  diag: 0, state: 'Up', poll: true, final: false, controlPlaneIndependent: false, demand: false,
  detectMult: 3, myDiscriminator: 0x11223344, yourDiscriminator: 0x55667788,
  desiredMinTxUs: 300_000, requiredMinRxUs: 300_000, requiredMinEchoRxUs: 0,
};
// 0x20 = vers 1, diag 0; 0xe0 = Up(3)<<6 | P; mult 3; len 24; 300000 = 0x000493e0
const upPollBytes = hex('20 e0 03 18  11223344  55667788  000493e0  000493e0  00000000');

const downDetect: ControlPacket = {
  diag: 1, state: 'Down', poll: false, final: false, controlPlaneIndependent: false, demand: false,
  detectMult: 5, myDiscriminator: 1, yourDiscriminator: 0,
  desiredMinTxUs: 1_000_000, requiredMinRxUs: 100_000, requiredMinEchoRxUs: 50_000,
};
// 0x21 = vers 1, diag 1; 0x40 = Down(1)<<6; 1000000 = 0x000f4240, 100000 = 0x000186a0, 50000 = 0x0000c350
const downDetectBytes = hex('21 40 05 18  00000001  00000000  000f4240  000186a0  0000c350');

// Captured shape of an FRR bfdd 8.4 packet: Init, Final, C bit, 1 s slow tx.
const initFinalCpi: ControlPacket = {
  diag: 0, state: 'Init', poll: false, final: true, controlPlaneIndependent: true, demand: false,
  detectMult: 3, myDiscriminator: 0xdeadbeef, yourDiscriminator: 7,
  desiredMinTxUs: 1_000_000, requiredMinRxUs: 100_000, requiredMinEchoRxUs: 50_000,
};
// 0x98 = Init(2)<<6 | F(0x10) | C(0x08)
const initFinalCpiBytes = hex('20 98 03 18  deadbeef  00000007  000f4240  000186a0  0000c350');

t.test('encode matches hand-built bytes; decode gives the struct back', (t) => {
  for (const [name, pkt, bytes] of [
    ['Up+P', upPoll, upPollBytes],
    ['Down diag 1', downDetect, downDetectBytes],
    ['Init+F+C', initFinalCpi, initFinalCpiBytes],
  ] as const) {
    t.same(encodeControl(pkt), bytes, `encode ${name}`);
    t.same(decodeControl(bytes), pkt, `decode ${name}`);
  }
  t.end();
});

t.test('decode tolerates a Length larger than 24 within the payload and trailing bytes', (t) => {
  const b = Buffer.concat([upPollBytes, hex('00000000')]);
  b[3] = 28;
  t.same(decodeControl(b), upPoll);
  t.same(decodeControl(Buffer.concat([upPollBytes, hex('ffff')])), upPoll, 'payload longer than Length');
  // Works on a view into a larger buffer (byteOffset != 0).
  const big = Buffer.concat([hex('aabbcc'), upPollBytes]);
  t.same(decodeControl(big.subarray(3)), upPoll);
  t.end();
});

t.test('decode D bit and reserved diag values', (t) => {
  const b = Buffer.from(downDetectBytes);
  b[0] = 0x20 | 17;
  b[1] = 0x40 | 0x02;
  const p = decodeControl(b);
  t.equal(p.demand, true);
  t.equal(p.diag, 17);
  t.equal(diagName(17), 'Reserved(17)');
  t.equal(diagName(1), 'ControlDetectionTimeExpired');
  t.end();
});

t.test('§6.8.6 validation: each bad packet is rejected with its own kind', (t) => {
  const mutate = (base: Buffer, f: (b: Buffer) => void): Buffer => { const b = Buffer.from(base); f(b); return b; };
  const cases: Array<[string, Buffer, string]> = [
    ['truncated', upPollBytes.subarray(0, 23), 'truncated'],
    ['empty', Buffer.alloc(0), 'truncated'],
    ['version 0', mutate(upPollBytes, (b) => { b[0] = 0x00; }), 'version'],
    ['version 2', mutate(upPollBytes, (b) => { b[0] = 0x40; }), 'version'],
    ['length 23', mutate(upPollBytes, (b) => { b[3] = 23; }), 'length'],
    ['length > payload', mutate(upPollBytes, (b) => { b[3] = 25; }), 'length'],
    ['A bit, length 24', mutate(upPollBytes, (b) => { b[1]! |= 0x04; }), 'length'],
    ['A bit, length 26', Buffer.concat([mutate(upPollBytes, (b) => { b[1]! |= 0x04; b[3] = 26; }), hex('0102')]), 'authentication'],
    ['detect mult 0', mutate(upPollBytes, (b) => { b[2] = 0; }), 'detectMult'],
    ['M bit', mutate(upPollBytes, (b) => { b[1]! |= 0x01; }), 'multipoint'],
    ['my discr 0', mutate(upPollBytes, (b) => { b.writeUInt32BE(0, 4); }), 'myDiscriminator'],
    ['your discr 0 in Up', mutate(upPollBytes, (b) => { b.writeUInt32BE(0, 8); }), 'yourDiscriminator'],
    ['your discr 0 in Init', mutate(initFinalCpiBytes, (b) => { b.writeUInt32BE(0, 8); }), 'yourDiscriminator'],
    ['P and F', mutate(upPollBytes, (b) => { b[1]! |= 0x10; }), 'pollAndFinal'],
  ];
  for (const [name, bytes, kind] of cases) {
    t.throws(() => decodeControl(bytes), { name: 'BfdPacketError', kind }, name);
  }
  // Your Discriminator zero is fine in Down and AdminDown.
  t.equal(decodeControl(downDetectBytes).yourDiscriminator, 0);
  const adminDown = Buffer.from(downDetectBytes);
  adminDown[1] = 0x00;
  t.equal(decodeControl(adminDown).state, 'AdminDown');
  t.end();
});

t.test('encode rejects values the wire cannot carry', (t) => {
  t.throws(() => encodeControl({ ...upPoll, detectMult: 0 }), RangeError);
  t.throws(() => encodeControl({ ...upPoll, detectMult: 256 }), RangeError);
  t.throws(() => encodeControl({ ...upPoll, diag: 32 }), RangeError);
  t.throws(() => encodeControl({ ...upPoll, final: true }), RangeError);
  t.throws(() => encodeControl({ ...upPoll, myDiscriminator: 2 ** 32 }), RangeError);
  t.throws(() => encodeControl({ ...upPoll, desiredMinTxUs: -1 }), RangeError);
  t.throws(() => encodeControl({ ...upPoll, requiredMinRxUs: 1.5 }), RangeError);
  t.end();
});

t.test('decode never throws anything but BfdPacketError on arbitrary bytes', (t) => {
  // Deterministic pseudo-random corpus (xorshift), no Math.random.
  let x = 0x2545f491;
  const next = (): number => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return (x >>> 0) & 0xff; };
  let ok = 0;
  for (let i = 0; i < 5000; i++) {
    const len = next() % 40;
    const b = Buffer.alloc(len);
    for (let j = 0; j < len; j++) b[j] = next();
    if (len >= 4 && i % 2 === 0) { b[0] = 0x20 | (b[0]! & 0x1f); b[3] = Math.min(len, 24 + (b[3]! % 4)); b[1]! &= ~0x05; }
    try {
      const p = decodeControl(b);
      ok++;
      t.same(decodeControl(encodeControl(p)), p);
    } catch (e) {
      if (!(e instanceof BfdPacketError)) t.fail(`unexpected ${String(e)}`);
    }
  }
  t.ok(ok > 0, `some random packets decoded (${ok})`);
  t.end();
});

// Captured with tcpdump from FRR bfdd 8.4.4 (peer 100/100/3) talking to our session.
const frr = {
  down: '20 40 03 18  22ff348f  00000000  000f4240  000f4240  0000c350',
  init: '20 80 03 18  22ff348f  7e074ae8  000f4240  000f4240  0000c350',
  upPoll: '20 e0 03 18  22ff348f  7e074ae8  000186a0  000186a0  0000c350',
  upFinal: '20 d0 03 18  22ff348f  7e074ae8  000186a0  000186a0  0000c350',
};
// Ours in the same capture: Down at 1 s slow tx, Required Min RX 100 ms, no echo.
const oursDown = '20 40 03 18  7e074ae8  00000000  000f4240  000186a0  00000000';

t.test('FRR bfdd golden packets decode and re-encode byte for byte', (t) => {
  const d = decodeControl(hex(frr.down));
  t.match(d, { state: 'Down', diag: 0, detectMult: 3, myDiscriminator: 0x22ff348f, yourDiscriminator: 0, desiredMinTxUs: 1_000_000, requiredMinRxUs: 1_000_000, requiredMinEchoRxUs: 50_000 });
  t.match(decodeControl(hex(frr.init)), { state: 'Init', yourDiscriminator: 0x7e074ae8 });
  t.match(decodeControl(hex(frr.upPoll)), { state: 'Up', poll: true, final: false, desiredMinTxUs: 100_000 });
  t.match(decodeControl(hex(frr.upFinal)), { state: 'Up', poll: false, final: true });
  for (const [name, h] of Object.entries({ ...frr, oursDown })) {
    t.same(encodeControl(decodeControl(hex(h))), hex(h), `${name} round trip`);
  }
  t.end();
});
