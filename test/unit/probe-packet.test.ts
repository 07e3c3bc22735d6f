// Probe wire format: (bytes, struct) pairs whose bytes are written out by hand
// from RFC 7348 §5, RFC 791 §3.1 and RFC 768, checksums computed independently
// (worked sums in the comments); every decoder rejection; no decoder throws.
import t from 'tap';
import {
  decodeProbeFrame,
  decodeProbeMessage,
  encodeProbeFrame,
  encodeProbeMessage,
  formatIpv4,
  formatMac,
  internetChecksum,
  parseIpv4,
  parseMac,
  ProbeRequestTemplate,
  type ProbeMessage,
} from '../../src/probe/packet.js';

const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s.replace(/[\s|]/g, ''), 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

// 192.168.0.65:4790 -> 192.168.0.87:4790, payload "hi", VNI 100.
//
// IPv4 header words: 4500 001e 0000 4000 4011 [cksum] c0a8 0041 c0a8 0057
//   sum = 0x24717 -> fold 0x4719 -> complement 0xb8e6
// UDP pseudo header + datagram: c0a8 0041 c0a8 0057 0011 000a | 12b6 12b6 000a [0] 6869
//   sum = 0x20fe2 -> fold 0x0fe4 -> complement 0xf01b
const FRAME_HI = hex(`
  08 000000 000064 00
  020000000087 020000000065 0800
  45 00 001e 0000 4000 40 11 b8e6 c0a80041 c0a80057
  12b6 12b6 000a f01b
  6869
`);

const frameHi = {
  vni: 100,
  dstMac: '02:00:00:00:00:87',
  srcMac: '02:00:00:00:00:65',
  srcIp: '192.168.0.65',
  dstIp: '192.168.0.87',
  srcPort: 4790,
  dstPort: 4790,
  payload: Uint8Array.from([0x68, 0x69]),
};

t.test('frame: encode matches hand-built bytes, decode gives the struct back', async (t) => {
  t.equal(toHex(encodeProbeFrame(frameHi)), toHex(FRAME_HI));
  const d = decodeProbeFrame(FRAME_HI);
  t.ok(d.ok);
  if (!d.ok) return;
  t.same(d.value, { ...frameHi, ttl: 64, ipId: 0, tos: 0, udpChecksummed: true });
  // Decoders copy what they keep.
  const buf = FRAME_HI.slice();
  const d2 = decodeProbeFrame(buf);
  buf.fill(0);
  t.same(d2.ok && [...d2.value.payload], [0x68, 0x69]);
});

t.test('frame: computed UDP checksum 0 is sent as 0xffff (RFC 768)', async (t) => {
  // Sum of everything but the payload folds to 0xa77a; payload 0x5885 makes 0xffff -> complement 0.
  const f = encodeProbeFrame({ ...frameHi, payload: Uint8Array.from([0x58, 0x85]) });
  t.equal(toHex(f.subarray(8 + 14 + 20 + 6, 8 + 14 + 20 + 8)), 'ffff');
  t.ok(decodeProbeFrame(f).ok);
});

t.test('frame: options and VNI edges', async (t) => {
  const f = encodeProbeFrame({ ...frameHi, vni: 0xffffff, ttl: 1, ipId: 0xbeef, tos: 0xc0 });
  t.equal(toHex(f.subarray(0, 8)), '08000000ffffff00');
  const d = decodeProbeFrame(f);
  t.ok(d.ok && d.value.vni === 0xffffff && d.value.ttl === 1 && d.value.ipId === 0xbeef && d.value.tos === 0xc0);
  // IPv4 header still verifies with the new fields.
  t.equal(internetChecksum(f, 22, 42), 0);
  t.throws(() => encodeProbeFrame({ ...frameHi, vni: 0x1000000 }), RangeError);
  t.throws(() => encodeProbeFrame({ ...frameHi, srcIp: '192.168.0' }), RangeError);
  t.throws(() => encodeProbeFrame({ ...frameHi, dstMac: '02:00:00:00:00' }), RangeError);
  t.throws(() => encodeProbeFrame({ ...frameHi, srcPort: 70000 }), RangeError);
  t.throws(() => encodeProbeFrame({ ...frameHi, ttl: 256 }), RangeError);
  t.throws(() => encodeProbeFrame({ ...frameHi, payload: new Uint8Array(0x10000) }), RangeError);
});

t.test('frame: a zero UDP checksum means "none" and is accepted', async (t) => {
  const f = FRAME_HI.slice();
  f[48] = 0; f[49] = 0;
  const d = decodeProbeFrame(f);
  t.ok(d.ok && !d.value.udpChecksummed);
});

t.test('frame: every rejection has its own kind', async (t) => {
  const mutate = (fn: (b: Uint8Array) => void): Uint8Array => { const b = FRAME_HI.slice(); fn(b); return b; };
  // Fix the IPv4 checksum after editing a header byte, so only the intended check fails.
  const fixIp = (b: Uint8Array): void => { b[32] = 0; b[33] = 0; const c = internetChecksum(b, 22, 42); b[32] = c >> 8; b[33] = c & 0xff; };
  const cases: Array<[string, Uint8Array]> = [
    ['truncated', FRAME_HI.subarray(0, 49)],
    ['vxlan-flags', mutate((b) => { b[0] = 0x00; })],
    ['not-ipv4', mutate((b) => { b[20] = 0x86; b[21] = 0xdd; })],
    ['ip-version', mutate((b) => { b[22] = 0x65; })],
    ['ip-header-length', mutate((b) => { b[22] = 0x44; })],
    ['truncated', mutate((b) => { b[22] = 0x4f; })],
    ['ip-checksum', mutate((b) => { b[30] = 0x3f; })],
    ['ip-total-length', mutate((b) => { b[25] = 0x1f; fixIp(b); })],
    ['ip-total-length', mutate((b) => { b[25] = 0x13; fixIp(b); })],
    ['truncated', mutate((b) => { b[25] = 0x1a; fixIp(b); })],
    ['fragment', mutate((b) => { b[28] = 0x20; fixIp(b); })],
    ['fragment', mutate((b) => { b[28] = 0x40; b[29] = 0x01; fixIp(b); })],
    ['not-udp', mutate((b) => { b[31] = 6; fixIp(b); })],
    ['udp-length', mutate((b) => { b[47] = 0x0b; })],
    ['udp-length', mutate((b) => { b[47] = 0x07; })],
    ['udp-checksum', mutate((b) => { b[51] = 0x6a; })],
  ];
  for (const [kind, bytes] of cases) {
    const d = decodeProbeFrame(bytes);
    t.equal(d.ok ? 'ok' : d.error.kind, kind, `${kind}: ${toHex(bytes)}`);
  }
  // Reserved VXLAN bits are ignored on receipt (RFC 7348 §5).
  t.ok(decodeProbeFrame(mutate((b) => { b[0] = 0xff; b[1] = 0xff; b[7] = 0xff; })).ok);
  // Trailing Ethernet padding after the IPv4 datagram is ignored.
  const padded = new Uint8Array(FRAME_HI.length + 10);
  padded.set(FRAME_HI);
  t.ok(decodeProbeFrame(padded).ok);
});

// request, seq 1, nonce 0x0102030405060708, tx 1.5 ms (binary64 0x3ff8000000000000),
// 192.168.1.65 -> 192.168.1.87, MAC 02:00:00:00:00:65, network "net1".
const MSG_REQ = hex(`
  45485052 01 01 04 00
  00000001
  0102030405060708
  3ff8000000000000
  0000000000000000
  c0a80141
  c0a80157
  020000000065 0000
  6e657431
`);

const msgReq: ProbeMessage = {
  type: 'request',
  sequence: 1,
  nonce: 0x0102030405060708n,
  txTime: 1.5,
  echoTime: 0,
  senderVtep: '192.168.1.65',
  targetVtep: '192.168.1.87',
  senderMac: '02:00:00:00:00:65',
  network: 'net1',
};

// reply, seq 0xfffffffe, nonce all ones, tx 2 (0x4000000000000000), echo 1.5,
// 192.168.2.87 -> 192.168.2.65, MAC 02:00:00:00:00:87, network "réseau-2" (UTF-8, 9 bytes).
const MSG_REP = hex(`
  45485052 01 02 09 00
  fffffffe
  ffffffffffffffff
  4000000000000000
  3ff8000000000000
  c0a80257
  c0a80241
  020000000087 0000
  72 c3a9 73 65 61 75 2d 32
`);

const msgRep: ProbeMessage = {
  type: 'reply',
  sequence: 0xfffffffe,
  nonce: 0xffffffffffffffffn,
  txTime: 2,
  echoTime: 1.5,
  senderVtep: '192.168.2.87',
  targetVtep: '192.168.2.65',
  senderMac: '02:00:00:00:00:87',
  network: 'réseau-2',
};

t.test('message: (bytes, struct) pairs both ways', async (t) => {
  for (const [bytes, msg] of [[MSG_REQ, msgReq], [MSG_REP, msgRep]] as const) {
    t.equal(toHex(encodeProbeMessage(msg)), toHex(bytes));
    const d = decodeProbeMessage(bytes);
    t.same(d, { ok: true, value: msg });
  }
  // Bytes after the name are ignored (later versions may append TLVs).
  const longer = new Uint8Array(MSG_REQ.length + 4);
  longer.set(MSG_REQ);
  t.same(decodeProbeMessage(longer), { ok: true, value: msgReq });
});

// Version 2: IPv6 VTEP addresses, 16 bytes each, so the MAC is at 68 and the name at 76.
const MSG_REQ6 = hex(`
  45485052 02 01 04 00
  00000007
  0000000000001111
  408f400000000000
  0000000000000000
  20010db8000100000000000000000065
  20010db8000100000000000000000087
  020000000065 0000
  6e657431
`);

const msgReq6: ProbeMessage = {
  type: 'request',
  sequence: 7,
  nonce: 0x1111n,
  txTime: 1000,
  echoTime: 0,
  senderVtep: '2001:db8:1::65',
  targetVtep: '2001:db8:1::87',
  senderMac: '02:00:00:00:00:65',
  network: 'net1',
};

t.test('message: IPv6 VTEP addresses (version 2)', async (t) => {
  t.equal(toHex(encodeProbeMessage(msgReq6)), toHex(MSG_REQ6));
  t.same(decodeProbeMessage(MSG_REQ6), { ok: true, value: msgReq6 });
  t.same(decodeProbeMessage(encodeProbeMessage({ ...msgReq6, senderVtep: '2001:DB8:1:0:0:0:0:65' })), { ok: true, value: msgReq6 },
    'addresses come back in RFC 5952 text');
  for (let n = 0; n < MSG_REQ6.length; n++) t.notOk(decodeProbeMessage(MSG_REQ6.subarray(0, n)).ok, `cut at ${n}`);
  t.throws(() => encodeProbeMessage({ ...msgReq6, targetVtep: '192.168.1.87' }), /different families/);
  t.throws(() => encodeProbeMessage({ ...msgReq6, senderVtep: '2001:db8::zz' }), RangeError);
  t.equal(toHex(encodeProbeMessage(msgReq)), toHex(MSG_REQ), 'IPv4 probes stay version 1, byte for byte');
});

t.test('message: rejections', async (t) => {
  const mutate = (fn: (b: Uint8Array) => void): Uint8Array => { const b = MSG_REQ.slice(); fn(b); return b; };
  const cases: Array<[string, Uint8Array]> = [
    ['truncated', MSG_REQ.subarray(0, 51)],
    ['truncated', MSG_REQ.subarray(0, 55)],
    ['bad-magic', mutate((b) => { b[0] = 0x46; })],
    ['bad-version', mutate((b) => { b[4] = 3; })],
    ['truncated', mutate((b) => { b[4] = 2; })], // version 2 needs 76 fixed bytes
    ['bad-type', mutate((b) => { b[5] = 0; })],
    ['bad-type', mutate((b) => { b[5] = 3; })],
    ['bad-name', mutate((b) => { b[52] = 0xff; })],
  ];
  for (const [kind, bytes] of cases) {
    const d = decodeProbeMessage(bytes);
    t.equal(d.ok ? 'ok' : d.error.kind, kind, `${kind}: ${toHex(bytes)}`);
  }
  t.throws(() => encodeProbeMessage({ ...msgReq, network: 'x'.repeat(256) }), RangeError);
  t.throws(() => encodeProbeMessage({ ...msgReq, sequence: -1 }), RangeError);
  t.throws(() => encodeProbeMessage({ ...msgReq, nonce: 1n << 64n }), RangeError);
  t.throws(() => encodeProbeMessage({ ...msgReq, senderVtep: '1.2.3.256' }), RangeError);
});

t.test('whole datagram round trip, and decoders never throw', async (t) => {
  const msg = encodeProbeMessage(msgReq);
  const dg = encodeProbeFrame({ ...frameHi, payload: msg });
  const f = decodeProbeFrame(dg);
  t.ok(f.ok);
  if (f.ok) t.same(decodeProbeMessage(f.value.payload), { ok: true, value: msgReq });
  // Every truncation is a typed error.
  for (let n = 0; n < dg.length; n++) {
    const d = decodeProbeFrame(dg.subarray(0, n));
    t.notOk(d.ok, `frame cut at ${n}`);
  }
  for (let n = 0; n < msg.length; n++) t.notOk(decodeProbeMessage(msg.subarray(0, n)).ok, `message cut at ${n}`);
  // Random garbage (deterministic LCG) and single-bit flips.
  let seed = 12345;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) >>> 0; return seed >>> 16; };
  let threw = 0;
  for (let i = 0; i < 2000; i++) {
    const b = new Uint8Array(rnd() % 160);
    for (let j = 0; j < b.length; j++) b[j] = rnd() & 0xff;
    if (i % 2 === 0 && b.length > 0) b[0] = 0x08;
    try { decodeProbeFrame(b); decodeProbeMessage(b); } catch { threw++; }
  }
  for (let bit = 0; bit < dg.length * 8; bit++) {
    const b = dg.slice();
    b[bit >> 3]! ^= 1 << (bit & 7);
    try { const d = decodeProbeFrame(b); if (d.ok) decodeProbeMessage(d.value.payload); } catch { threw++; }
  }
  t.equal(threw, 0);
});

t.test('address helpers', async (t) => {
  t.same(parseIpv4('192.168.1.65'), Uint8Array.from([192, 168, 1, 65]));
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '01.2.3.4', 'a.b.c.d', '1.2.3.-4']) t.equal(parseIpv4(bad), undefined, bad);
  t.equal(formatIpv4(Uint8Array.from([10, 0, 0, 1])), '10.0.0.1');
  t.same(parseMac('02-00-00-AA-bb-01'), Uint8Array.from([2, 0, 0, 0xaa, 0xbb, 1]));
  for (const bad of ['', '02:00:00:00:00', '02:00:00:00:00:0g', '02:00:00:00:00:001']) t.equal(parseMac(bad), undefined, bad);
  // One MAC parser everywhere (src/wire/addr.ts): 1-2 hex digits per octet.
  t.same(parseMac('2:0:0:0:0:1'), Uint8Array.from([2, 0, 0, 0, 0, 1]));
  t.equal(formatMac(Uint8Array.from([2, 0, 0, 0xaa, 0xbb, 1])), '02:00:00:aa:bb:01');
});

t.test('request template: stamp() gives the bytes of a fresh encoding, checksums included', async (t) => {
  const frame = { vni: 100, dstMac: '02:00:00:00:00:87', srcMac: '02:00:00:00:00:65', srcIp: '192.168.0.65', dstIp: '192.168.0.87', srcPort: 4799, dstPort: 4799 };
  const req = { nonce: 0x0123456789abcdefn, senderVtep: '192.168.1.65', targetVtep: '192.168.1.87', senderMac: '02:00:00:00:00:65', network: 'net1' };
  const tpl = new ProbeRequestTemplate(frame, req);
  const first = tpl.stamp(1, 0);
  for (const [sequence, txTime] of [[1, 0], [2, 1000.25], [0xffffffff, 123456789.5], [77, 1e12], [3, 0.1]] as const) {
    const fresh = encodeProbeFrame({ ...frame, payload: encodeProbeMessage({ ...req, type: 'request', sequence, txTime, echoTime: 0 }) });
    const got = tpl.stamp(sequence, txTime);
    t.equal(toHex(got), toHex(fresh), `seq ${sequence} tx ${txTime}`);
    t.equal(got, first, 'the same buffer every time (no allocation)');
    const d = decodeProbeFrame(got);
    t.ok(d.ok && d.value.udpChecksummed, 'the inner UDP checksum verifies');
    const m = d.ok ? decodeProbeMessage(d.value.payload) : null;
    t.same(m?.ok && [m.value.sequence, m.value.txTime], [sequence, txTime]);
  }
});
