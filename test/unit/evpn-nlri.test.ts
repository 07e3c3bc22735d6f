// EVPN NLRI codec: (bytes, struct) pairs in both directions, withdraw forms,
// RFC 7606 error behaviour, truncation at every offset, seeded round trips.
// Expected bytes are hex literals written from RFC 7432 §7 / RFC 9136 §3.1,
// never produced by the encoder under test.
import t from 'tap';
import { BgpError } from '../../src/bgp/errors.js';
import { fromHex, Reader, toHex, Writer } from '../../src/wire/bytes.js';
import { formatIpv6 } from '../../src/wire/addr.js';
import { decodeEvpnRoutes, encodeEvpnRoute } from '../../src/evpn/nlri.js';
import { ZERO_ESI, type EvpnRoute } from '../../src/evpn/types.js';
import { type RouteDistinguisher } from '../../src/bgp/types.js';
import { mulberry32 } from '../lib/prng.js';

const h = (...parts: string[]): Uint8Array => fromHex(parts.join(''));

// RD pieces (RFC 4364 §4.2): type, then 6 value octets.
const RD1 = '0001 c0a80157 0064'; // 192.168.1.87:100
const RD0 = '0000 fde9 00000064'; // 65001:100
const RD2 = '0002 fa56ea00 0064'; // 4200000000:100
const ESI0 = '00000000000000000000';
const rd1: RouteDistinguisher = { type: 1, ip: '192.168.1.87', assigned: 100 };
const rd0: RouteDistinguisher = { type: 0, asn: 65001, assigned: 100 };
const rd2: RouteDistinguisher = { type: 2, asn: 4200000000, assigned: 100 };

function encode(routes: EvpnRoute[]): Uint8Array {
  const w = new Writer(8);
  for (const r of routes) encodeEvpnRoute(w, r);
  return w.finish();
}

function decode(bytes: Uint8Array, withdraw = false): EvpnRoute[] {
  return decodeEvpnRoutes(new Reader(bytes), withdraw);
}

const vectors: Array<{ name: string; hex: string; route: EvpnRoute }> = [
  {
    name: 'type 2 MAC+IPv4, RD type 1, one label (the product route)',
    hex: '0225' + RD1 + ESI0 + '00000000' + '30aabbccddeeff' + '20c0a80057' + '000064',
    route: {
      type: 'mac-ip', rd: rd1, esi: ZERO_ESI, ethernetTag: 0, mac: 'aa:bb:cc:dd:ee:ff', ip: '192.168.0.87', label1: 100, label2: null,
    },
  },
  {
    name: 'type 2 MAC only, RD type 0, non-zero ESI and tag',
    hex: '0221' + RD0 + '00112233445566778899' + '00000005' + '30001122334455' + '00' + '002774',
    route: {
      type: 'mac-ip', rd: rd0, esi: '00:11:22:33:44:55:66:77:88:99', ethernetTag: 5, mac: '00:11:22:33:44:55', ip: null, label1: 10100, label2: null,
    },
  },
  {
    name: 'type 2 MAC+IPv6, RD type 2, label2 present',
    hex: '0234' + RD2 + ESI0 + '00000000' + '30020000000001' + '80' + '20010db8000000000000000000000001' + '000064' + '001388',
    route: {
      type: 'mac-ip', rd: rd2, esi: ZERO_ESI, ethernetTag: 0, mac: '02:00:00:00:00:01', ip: '2001:db8::1', label1: 100, label2: 5000,
    },
  },
  {
    name: 'type 2 MAC+IPv4 with label2, VNI using all 24 bits (RFC 8365 §5.1.3, no shift)',
    hex: '0228' + RD1 + ESI0 + 'ffffffff' + '30aabbccddeeff' + '20c0a80057' + 'ffffff' + '000001',
    route: {
      type: 'mac-ip', rd: rd1, esi: ZERO_ESI, ethernetTag: 0xffffffff, mac: 'aa:bb:cc:dd:ee:ff', ip: '192.168.0.87', label1: 0xffffff, label2: 1,
    },
  },
  {
    name: 'type 1 Ethernet A-D',
    hex: '0119' + RD1 + '0102030405060708090a' + 'ffffffff' + '000064',
    route: { type: 'ethernet-ad', rd: rd1, esi: '01:02:03:04:05:06:07:08:09:0a', ethernetTag: 0xffffffff, label: 100 },
  },
  {
    name: 'type 3 Inclusive Multicast, IPv4 originator',
    hex: '0311' + RD1 + '00000000' + '20' + 'c0a80157',
    route: { type: 'inclusive-multicast', rd: rd1, ethernetTag: 0, originatorIp: '192.168.1.87' },
  },
  {
    name: 'type 3 Inclusive Multicast, IPv6 originator, RD type 0',
    hex: '031d' + RD0 + '00000064' + '80' + '20010db8000000000000000000000002',
    route: { type: 'inclusive-multicast', rd: rd0, ethernetTag: 100, originatorIp: '2001:db8::2' },
  },
  {
    name: 'type 4 Ethernet Segment, IPv4',
    hex: '0417' + RD1 + '00112233445566778899' + '20' + 'c0a80157',
    route: { type: 'ethernet-segment', rd: rd1, esi: '00:11:22:33:44:55:66:77:88:99', originatorIp: '192.168.1.87' },
  },
  {
    name: 'type 4 Ethernet Segment, IPv6',
    hex: '0423' + RD2 + '00112233445566778899' + '80' + 'fe800000000000000000000000000001',
    route: { type: 'ethernet-segment', rd: rd2, esi: '00:11:22:33:44:55:66:77:88:99', originatorIp: 'fe80::1' },
  },
  {
    name: 'type 5 IP Prefix, IPv4 (34 octets)',
    hex: '0522' + RD1 + ESI0 + '00000000' + '18' + 'c0a80000' + '00000000' + '000064',
    route: {
      type: 'ip-prefix', rd: rd1, esi: ZERO_ESI, ethernetTag: 0, prefix: '192.168.0.0', prefixLength: 24, gatewayIp: '0.0.0.0', label: 100,
    },
  },
  {
    name: 'type 5 IP Prefix, IPv6 (58 octets) with gateway',
    hex: '053a' + RD0 + '00112233445566778899' + '00000007' + '40' + '20010db8000100000000000000000000' + '20010db8000000000000000000000001' + '001388',
    route: {
      type: 'ip-prefix', rd: rd0, esi: '00:11:22:33:44:55:66:77:88:99', ethernetTag: 7, prefix: '2001:db8:1::', prefixLength: 64, gatewayIp: '2001:db8::1', label: 5000,
    },
  },
  {
    name: 'unknown route type 7 kept opaque (RFC 7606 §5.4)',
    hex: '0705' + '0102030405',
    route: { type: 'unknown', routeType: 7, value: h('0102030405') },
  },
  {
    name: 'unknown route type with empty value',
    hex: 'ff00',
    route: { type: 'unknown', routeType: 255, value: new Uint8Array(0) },
  },
  {
    name: 'unknown RD type kept as its 6 value octets',
    hex: '0311' + '0003 010203040506' + '00000000' + '20' + 'c0a80157',
    route: {
      type: 'inclusive-multicast', rd: { type: 'unknown', typeCode: 3, value: h('010203040506') }, ethernetTag: 0, originatorIp: '192.168.1.87',
    },
  },
];

t.test('(bytes, struct) pairs decode and encode both ways', async (t) => {
  for (const v of vectors) {
    const bytes = h(v.hex);
    t.same(decode(bytes), [v.route], `decode: ${v.name}`);
    t.equal(toHex(encode([v.route])), toHex(bytes), `encode: ${v.name}`);
  }
  // All together in one NLRI field, in order.
  const all = h(...vectors.map((v) => v.hex));
  t.same(decode(all), vectors.map((v) => v.route), 'a list of every vector');
  t.equal(toHex(encode(vectors.map((v) => v.route))), toHex(all));
  // Decoding inside MP_UNREACH gives the same routes when labels are present.
  t.same(decode(all, true), vectors.map((v) => v.route), 'withdraw=true with labels present');
});

t.test('decoder reads only its window and leaves r.pos at r.end', async (t) => {
  const v = h(vectors[0]!.hex);
  const buf = h('ffff', vectors[0]!.hex, '02ff');
  const r = new Reader(buf, 2, 2 + v.length);
  t.same(decodeEvpnRoutes(r, false), [vectors[0]!.route]);
  t.equal(r.pos, 2 + v.length);
  t.same(decodeEvpnRoutes(new Reader(buf, 2, 2), false), [], 'empty window: no routes');
});

t.test('decoded routes do not alias the receive buffer', async (t) => {
  const buf = h('0705 0102030405', '0311 0003 010203040506 00000000 20 c0a80157');
  const routes = decode(buf);
  buf.fill(0xee);
  t.same(routes[0], { type: 'unknown', routeType: 7, value: h('0102030405') });
  const rd = routes[1]!.type === 'inclusive-multicast' ? routes[1]!.rd : null;
  t.same(rd, { type: 'unknown', typeCode: 3, value: h('010203040506') });
});

t.test('withdrawals: trailing labels may be absent inside MP_UNREACH', async (t) => {
  const macOnly = '021e' + RD1 + ESI0 + '00000000' + '30aabbccddeeff' + '00';
  const v4 = '0222' + RD1 + ESI0 + '00000000' + '30aabbccddeeff' + '20c0a80057';
  const v6 = '022e' + RD1 + ESI0 + '00000000' + '30aabbccddeeff' + '80' + '20010db8000000000000000000000001';
  const ad = '0116' + RD1 + '0102030405060708090a' + '00000000';
  const p4 = '051f' + RD1 + ESI0 + '00000000' + '18' + 'c0a80000' + '00000000';
  const p6 = '0537' + RD1 + ESI0 + '00000000' + '40' + '20010db8000100000000000000000000' + '00000000000000000000000000000000';
  const base = { type: 'mac-ip', rd: rd1, esi: ZERO_ESI, ethernetTag: 0, mac: 'aa:bb:cc:dd:ee:ff', label1: 0, label2: null } as const;
  t.same(decode(h(macOnly, v4, v6, ad, p4, p6), true), [
    { ...base, ip: null },
    { ...base, ip: '192.168.0.87' },
    { ...base, ip: '2001:db8::1' },
    { type: 'ethernet-ad', rd: rd1, esi: '01:02:03:04:05:06:07:08:09:0a', ethernetTag: 0, label: 0 },
    { type: 'ip-prefix', rd: rd1, esi: ZERO_ESI, ethernetTag: 0, prefix: '192.168.0.0', prefixLength: 24, gatewayIp: '0.0.0.0', label: 0 },
    { type: 'ip-prefix', rd: rd1, esi: ZERO_ESI, ethernetTag: 0, prefix: '2001:db8:1::', prefixLength: 64, gatewayIp: '::', label: 0 },
  ]);
  // The same NLRI inside MP_REACH is malformed: a label is mandatory there.
  for (const hex of [macOnly, v4, v6, ad, p4, p6]) {
    t.ok(throwsUpdateOptionalAttrError(() => decode(h(hex), false)), `no label in MP_REACH: ${hex.slice(0, 4)}`);
  }
});

function isUpdateOptionalAttrError(e: unknown): boolean {
  return e instanceof BgpError && e.code === 3 && e.subcode === 9;
}

function throwsUpdateOptionalAttrError(fn: () => unknown): boolean {
  try {
    fn();
    return false;
  } catch (e) {
    return isUpdateOptionalAttrError(e);
  }
}

t.test('malformed NLRI of a known type -> BgpError(UPDATE, Optional Attribute Error)', async (t) => {
  const cases: Array<[string, string]> = [
    ['type 2 shorter than 30', '021d' + RD1 + ESI0 + '00000000' + '30aabbccddeeff'],
    ['type 2 MAC length 47', '0225' + RD1 + ESI0 + '00000000' + '2faabbccddeeff' + '20c0a80057' + '000064'],
    ['type 2 MAC length 0', '021f' + RD1 + ESI0 + '00000000' + '00' + 'aabbccddeeff' + '00' + '00'],
    ['type 2 IP length 24', '0224' + RD1 + ESI0 + '00000000' + '30aabbccddeeff' + '18c0a800' + '000064'],
    ['type 2 IP length 64', '0229' + RD1 + ESI0 + '00000000' + '30aabbccddeeff' + '40c0a80057c0a80057' + '000064'],
    ['type 2 one extra octet', '0226' + RD1 + ESI0 + '00000000' + '30aabbccddeeff' + '20c0a80057' + '000064' + '00'],
    ['type 2 three labels', '022b' + RD1 + ESI0 + '00000000' + '30aabbccddeeff' + '20c0a80057' + '000064000064000064'],
    ['type 2 IPv6 length but IPv4 address', '0225' + RD1 + ESI0 + '00000000' + '30aabbccddeeff' + '80c0a80057' + '000064'],
    ['type 1 length 24', '0118' + RD1 + ESI0 + '00000000' + '0000'],
    ['type 1 length 26', '011a' + RD1 + ESI0 + '00000000' + '00006400'],
    ['type 3 length 12', '030c' + RD1 + '00000000'],
    ['type 3 IP length 32 with 16 octets', '031d' + RD1 + '00000000' + '20' + '20010db8000000000000000000000002'],
    ['type 3 IP length 128 with 4 octets', '0311' + RD1 + '00000000' + '80' + 'c0a80157'],
    ['type 3 IP length 0', '030d' + RD1 + '00000000' + '00'],
    ['type 4 length 22', '0416' + RD1 + ESI0 + '20c0a801'],
    ['type 4 IP length 24', '0416' + RD1 + ESI0 + '18c0a801'],
    ['type 5 length 33', '0521' + RD1 + ESI0 + '00000000' + '18' + 'c0a80000' + '00000000' + '0000'],
    ['type 5 IPv4 prefix length 33', '0522' + RD1 + ESI0 + '00000000' + '21' + 'c0a80000' + '00000000' + '000064'],
    ['type 5 IPv6 prefix length 129', '053a' + RD1 + ESI0 + '00000000' + '81' + '20010db8000100000000000000000000' + '00000000000000000000000000000000' + '000064'],
    ['NLRI length past the end', '0225' + RD1 + ESI0],
    ['lone route type octet', '02'],
    ['valid NLRI then a lone octet', vectors[5]!.hex + '03'],
    ['unknown type whose length runs past the end', '0710' + '0102'],
  ];
  for (const [name, hex] of cases) {
    for (const withdraw of [false, true]) {
      try {
        decode(h(hex), withdraw);
        t.fail(`${name} (withdraw=${withdraw}): no error`);
      } catch (e) {
        t.ok(isUpdateOptionalAttrError(e), `${name} (withdraw=${withdraw}): ${(e as Error).message}`);
      }
    }
  }
});

t.test('truncation at every offset of a valid NLRI list: routes before the cut, or BgpError', async (t) => {
  const list = vectors.map((v) => h(v.hex));
  const all = h(...vectors.map((v) => v.hex));
  const boundaries = new Map<number, number>([[0, 0]]);
  let off = 0;
  list.forEach((b, i) => { off += b.length; boundaries.set(off, i + 1); });
  let errors = 0;
  for (let cut = 0; cut <= all.length; cut++) {
    for (const withdraw of [false, true]) {
      const r = new Reader(all, 0, cut); // the bytes after the cut are still in the buffer
      const whole = boundaries.get(cut);
      try {
        const routes = decodeEvpnRoutes(r, withdraw);
        if (whole === undefined) {
          // A cut inside a route can still frame correctly only when it removes
          // exactly the trailing label of a type 1/2/5 route in MP_UNREACH.
          t.ok(withdraw, `cut ${cut} decoded without error only in withdraw mode`);
        } else {
          t.same(routes, vectors.slice(0, whole).map((v) => v.route));
        }
      } catch (e) {
        if (!isUpdateOptionalAttrError(e)) t.fail(`cut ${cut}: unexpected ${String(e)}`);
        errors++;
        t.equal(whole, undefined, `cut ${cut} at a boundary must not fail`);
      }
    }
  }
  t.ok(errors > all.length, `most cuts fail (${errors})`);
});

t.test('random bytes never raise anything but BgpError', async (t) => {
  const rand = mulberry32(7432);
  let ok = 0;
  let bad = 0;
  for (let i = 0; i < 3000; i++) {
    // Start from a valid list and corrupt a few bytes, or take pure noise.
    const base = h(...vectors.map((v) => v.hex));
    const b = i % 3 === 0 ? randomBytes(rand, Math.floor(rand() * 120)) : base;
    for (let k = 0; k < 3; k++) b[Math.floor(rand() * b.length)] = Math.floor(rand() * 256);
    try {
      decode(b, i % 2 === 0);
      ok++;
    } catch (e) {
      if (!isUpdateOptionalAttrError(e)) {
        t.fail(`unexpected ${String(e)} for ${toHex(b)}`);
        return;
      }
      bad++;
    }
  }
  t.ok(ok > 0 && bad > 0, `both outcomes seen (ok ${ok}, BgpError ${bad})`);
});

t.test('encoder rejects invalid routes with RangeError', async (t) => {
  const good = vectors[0]!.route as Extract<EvpnRoute, { type: 'mac-ip' }>;
  t.throws(() => encode([{ ...good, label1: 0x1000000 }]), RangeError);
  t.throws(() => encode([{ ...good, label2: -1 }]), RangeError);
  t.throws(() => encode([{ ...good, ethernetTag: 2 ** 32 }]), RangeError);
  t.throws(() => encode([{ ...good, mac: 'not-a-mac' }]), RangeError);
  t.throws(() => encode([{ ...good, ip: '300.1.1.1' }]), RangeError);
  t.throws(() => encode([{ ...good, esi: '00:11' }]), Error);
  t.throws(() => encode([{ ...good, rd: { type: 0, asn: 70000, assigned: 1 } }]), RangeError);
  t.throws(() => encode([{
    type: 'ip-prefix', rd: rd1, esi: ZERO_ESI, ethernetTag: 0, prefix: '10.0.0.0', prefixLength: 8, gatewayIp: '::', label: 1,
  }]), RangeError);
  t.throws(() => encode([{
    type: 'ip-prefix', rd: rd1, esi: ZERO_ESI, ethernetTag: 0, prefix: '10.0.0.0', prefixLength: 33, gatewayIp: '0.0.0.0', label: 1,
  }]), RangeError);
  t.throws(() => encode([{ type: 'unknown', routeType: 9, value: new Uint8Array(256) }]), RangeError);
  // A failed encode leaves the Writer as it was.
  const w = new Writer();
  encodeEvpnRoute(w, good);
  t.throws(() => encodeEvpnRoute(w, { ...good, rd: { type: 1, ip: '192.168.1', assigned: 1 } }), RangeError);
  t.throws(() => encodeEvpnRoute(w, { ...good, label2: 0x1000000 }), RangeError);
  encodeEvpnRoute(w, good);
  t.same(decodeEvpnRoutes(new Reader(w.finish()), false), [good, good]);
});

t.test('seeded round trips: random valid routes encode -> decode -> deep-equal', async (t) => {
  const rand = mulberry32(20260101);
  const routes: EvpnRoute[] = [];
  for (let i = 0; i < 2000; i++) routes.push(randomRoute(rand));
  const bytes = encode(routes);
  t.same(decode(bytes, false), routes, '2000 random routes in one NLRI field');
  t.same(decode(bytes, true), routes, 'and inside MP_UNREACH');
  for (const r of routes.slice(0, 200)) t.same(decode(encode([r])), [r]);
});

// --- helpers ---------------------------------------------------------------


function randomBytes(rand: () => number, n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

const int = (rand: () => number, max: number): number => Math.floor(rand() * (max + 1));
const hx = (b: Uint8Array): string => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');

function randomRd(rand: () => number): RouteDistinguisher {
  switch (int(rand, 3)) {
    case 0: return { type: 0, asn: int(rand, 0xffff), assigned: int(rand, 0xffffffff) };
    case 1: return { type: 1, ip: Array.from(randomBytes(rand, 4)).join('.'), assigned: int(rand, 0xffff) };
    case 2: return { type: 2, asn: int(rand, 0xffffffff), assigned: int(rand, 0xffff) };
    default: return { type: 'unknown', typeCode: 3 + int(rand, 0xfffc), value: randomBytes(rand, 6) };
  }
}

function randomEsi(rand: () => number): string {
  return rand() < 0.5 ? ZERO_ESI : hx(randomBytes(rand, 10));
}

function randomIp(rand: () => number, v6: boolean): string {
  if (!v6) return Array.from(randomBytes(rand, 4)).join('.');
  const b = randomBytes(rand, 16);
  // Runs of zero groups exercise the RFC 5952 compression.
  if (rand() < 0.5) b.fill(0, 2 + int(rand, 6) * 2, 12);
  return formatIpv6(b, 0);
}

function randomRoute(rand: () => number): EvpnRoute {
  const rd = randomRd(rand);
  switch (int(rand, 5)) {
    case 0:
      return { type: 'ethernet-ad', rd, esi: randomEsi(rand), ethernetTag: int(rand, 0xffffffff), label: int(rand, 0xffffff) };
    case 1: {
      const kind = int(rand, 2);
      return {
        type: 'mac-ip', rd, esi: randomEsi(rand), ethernetTag: int(rand, 0xffffffff), mac: hx(randomBytes(rand, 6)),
        ip: kind === 0 ? null : randomIp(rand, kind === 2), label1: int(rand, 0xffffff), label2: rand() < 0.3 ? int(rand, 0xffffff) : null,
      };
    }
    case 2:
      return { type: 'inclusive-multicast', rd, ethernetTag: int(rand, 0xffffffff), originatorIp: randomIp(rand, rand() < 0.3) };
    case 3:
      return { type: 'ethernet-segment', rd, esi: randomEsi(rand), originatorIp: randomIp(rand, rand() < 0.3) };
    case 4: {
      const v6 = rand() < 0.5;
      return {
        type: 'ip-prefix', rd, esi: randomEsi(rand), ethernetTag: int(rand, 0xffffffff), prefix: randomIp(rand, v6),
        prefixLength: int(rand, v6 ? 128 : 32), gatewayIp: randomIp(rand, v6), label: int(rand, 0xffffff),
      };
    }
    default:
      return { type: 'unknown', routeType: rand() < 0.5 ? 0 : 6 + int(rand, 249), value: randomBytes(rand, int(rand, 60)) };
  }
}
