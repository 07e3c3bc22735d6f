// Route distinguishers (RFC 4364 §4.2), ESIs (RFC 7432 §5), the fast MAC/IPv4
// text helpers (checked against wire.ts) and the route helpers: builders,
// routeKey (RFC 7432 §7.1-7.4, RFC 9136 §3.1), describeRoute.
import t from 'tap';
import { fromHex, Reader, toHex, Writer } from '../../src/wire/bytes.js';
import { parseIpv4, parseMac, ipv4Value, readMac, writeIpv4, writeMac } from '../../src/wire/addr.js';
import { normalizeEsi, parseEsi, readEsi } from '../../src/evpn/esi.js';
import { decodeEvpnRoutes, encodeEvpnRoute } from '../../src/evpn/nlri.js';
import { decodeRd, encodeRd, formatRd, parseRd, rdKey } from '../../src/bgp/rd.js';
import { describeRoute, inclusiveMulticastRoute, macIpRoute, routeKey } from '../../src/evpn/route.js';
import { ZERO_ESI, type EvpnRoute } from '../../src/evpn/types.js';
import { type RouteDistinguisher } from '../../src/bgp/types.js';

const rdVectors: Array<[string, string, RouteDistinguisher, string]> = [
  ['type 0', '0000 fde9 00000064', { type: 0, asn: 65001, assigned: 100 }, '65001:100'],
  ['type 0, 32-bit assigned', '0000 ffff ffffffff', { type: 0, asn: 65535, assigned: 4294967295 }, '65535:4294967295'],
  ['type 1', '0001 c0a80157 0064', { type: 1, ip: '192.168.1.87', assigned: 100 }, '192.168.1.87:100'],
  ['type 2', '0002 fa56ea00 0064', { type: 2, asn: 4200000000, assigned: 100 }, '4200000000:100'],
  ['type 2, small AS', '0002 0000fde9 0064', { type: 2, asn: 65001, assigned: 100 }, '65001:100'],
  ['unknown type', '0003 010203040506', { type: 'unknown', typeCode: 3, value: fromHex('010203040506') }, 'type3:0x010203040506'],
];

t.test('RD (bytes, struct, text) in both directions', async (t) => {
  for (const [name, hex, rd, text] of rdVectors) {
    const r = new Reader(fromHex(hex));
    t.same(decodeRd(r), rd, `decode ${name}`);
    t.equal(r.pos, 8);
    const w = new Writer(2);
    encodeRd(w, rd);
    t.equal(toHex(w.finish()), toHex(fromHex(hex)), `encode ${name}`);
    t.equal(formatRd(rd), text, `format ${name}`);
  }
  t.throws(() => decodeRd(new Reader(fromHex('00000000'))), 'short input throws');
  t.not(rdKey({ type: 0, asn: 65001, assigned: 100 }), rdKey({ type: 2, asn: 65001, assigned: 100 }), 'rdKey keeps type 0 and type 2 apart');
  t.throws(() => encodeRd(new Writer(), { type: 0, asn: 65536, assigned: 1 }), RangeError);
  t.throws(() => encodeRd(new Writer(), { type: 1, ip: '10.0.0.1', assigned: 65536 }), RangeError);
  t.throws(() => encodeRd(new Writer(), { type: 2, asn: 2 ** 32, assigned: 1 }), RangeError);
  t.throws(() => encodeRd(new Writer(), { type: 'unknown', typeCode: 3, value: new Uint8Array(5) }), RangeError);
});

t.test('parseRd: text forms of FRR / GoBGP, and clear errors', async (t) => {
  const good: Array<[string, RouteDistinguisher]> = [
    ['192.168.1.87:100', { type: 1, ip: '192.168.1.87', assigned: 100 }],
    ['65001:100', { type: 0, asn: 65001, assigned: 100 }],
    ['65001:4294967295', { type: 0, asn: 65001, assigned: 4294967295 }],
    ['4200000000:100', { type: 2, asn: 4200000000, assigned: 100 }],
    ['65536:0', { type: 2, asn: 65536, assigned: 0 }],
    ['65001L:100', { type: 2, asn: 65001, assigned: 100 }],
    ['0:0', { type: 0, asn: 0, assigned: 0 }],
  ];
  for (const [text, rd] of good) {
    t.same(parseRd(text), rd, text);
    if (!text.includes('L')) t.equal(formatRd(parseRd(text)), text, `${text} formats back`);
  }
  const bad = [
    '', '100', ':100', '65001:', 'x:1', '65001:y', '1.2.3:4', '1.2.3.256:4', '192.168.1.87:65536',
    '4200000000:65536', '65001:4294967296', '4294967296:1', '-5:1', '65001:-1', '65001 :1',
  ];
  for (const text of bad) t.throws(() => parseRd(text), { message: /invalid route distinguisher/ }, `rejects "${text}"`);
});

t.test('ESI text', async (t) => {
  const b = fromHex('00112233445566778899');
  t.equal(readEsi(b, 0), '00:11:22:33:44:55:66:77:88:99');
  t.equal(readEsi(new Uint8Array(12), 1), ZERO_ESI);
  t.equal(toHex(parseEsi('00:11:22:33:44:55:66:77:88:99')), '00112233445566778899');
  t.equal(normalizeEsi('0-11-22-33-44-55-66-77-88-AA'), '00:11:22:33:44:55:66:77:88:aa');
  for (const bad of ['', '00:11', '00:11:22:33:44:55:66:77:88:99:aa', '00:11:22:33:44:55:66:77:88:zz', '000:11:22:33:44:55:66:77:88:99']) {
    t.throws(() => parseEsi(bad), { message: /invalid ESI/ }, `rejects "${bad}"`);
  }
});

t.test('readMac: every byte value in every position', async (t) => {
  const b = new Uint8Array(256 + 6);
  for (let i = 0; i < b.length; i++) b[i] = i & 0xff;
  let bad = 0;
  for (let p = 0; p <= 256; p++) {
    const want = Array.from(b.subarray(p, p + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
    if (readMac(b, p) !== want) bad++;
  }
  t.equal(bad, 0);
  t.equal(readMac(fromHex('00000aabbcff'), 0), '00:00:0a:ab:bc:ff');
});

t.test('writeIpv4 / writeMac agree with wire.ts on valid and invalid text', async (t) => {
  const ipv4 = [
    '0.0.0.0', '255.255.255.255', '192.168.1.87', '10.0.0.1', '010.001.000.1', '1.2.3.4',
    '256.1.1.1', '1.2.3', '1.2.3.4.5', '1..2.3', '.1.2.3', '1.2.3.', '1.2.3.4 ', ' 1.2.3.4', '1.2.3.x', '1234.1.1.1',
    '0001.1.1.1', '', '1.2.3.-4', '1.2.3.+4', '::1', '1.2.3.2555',
  ];
  for (const text of ipv4) {
    let want: string;
    try { want = toHex(parseIpv4(text)); } catch { want = 'RangeError'; }
    const w = new Writer();
    let got: string;
    try { writeIpv4(w, text); got = toHex(w.finish()); } catch (e) { got = e instanceof RangeError ? 'RangeError' : String(e); }
    t.equal(got, want, `ipv4 "${text}"`);
    t.equal(ipv4Value(text) >= 0, want !== 'RangeError', `ipv4Value "${text}"`);
  }
  const macs = [
    'aa:bb:cc:dd:ee:ff', 'AA-BB-CC-DD-EE-FF', '00:00:00:00:00:00', 'ff:ff:ff:ff:ff:ff', '2:0:0:0:0:1', '0a:1B:2c:3D:4e:5F',
    'aa:bb:cc:dd:ee', 'aa:bb:cc:dd:ee:ff:00', 'aa:bb:cc:dd:ee:fg', 'aa.bb.cc.dd.ee.ff', 'aabbccddeeff', 'aa:bb:cc:dd:ee:f', '',
    'aa:bb:cc:dd:ee:fff', 'aa::bb:cc:dd:ee:ff', 'gg:bb:cc:dd:ee:ff',
  ];
  for (const text of macs) {
    let want: string;
    try { want = toHex(parseMac(text)); } catch { want = 'RangeError'; }
    const w = new Writer();
    let got: string;
    try { writeMac(w, text); got = toHex(w.finish()); } catch (e) { got = e instanceof RangeError ? 'RangeError' : String(e); }
    t.equal(got, want, `mac "${text}"`);
  }
  // Every octet value in every position, through both directions.
  for (let v = 0; v < 256; v++) {
    const text = `${v}.${255 - v}.${v >> 1}.${v & 7}`;
    t.equal(ipv4Value(text), ((v << 24) | ((255 - v) << 16) | ((v >> 1) << 8) | (v & 7)) >>> 0);
  }
  let bad = 0;
  for (let v = 0; v < 256; v++) {
    const b = new Uint8Array([v, 255 - v, v ^ 0x5a, v >> 1, (v * 7) & 255, 0xff - (v >> 2)]);
    const w = new Writer();
    writeMac(w, readMac(b, 0));
    if (toHex(w.finish()) !== toHex(b)) bad++;
    const up = new Writer();
    writeMac(up, readMac(b, 0).toUpperCase());
    if (toHex(up.finish()) !== toHex(b)) bad++;
  }
  t.equal(bad, 0, 'readMac -> writeMac round trips');
});

t.test('macIpRoute / inclusiveMulticastRoute build canonical routes', async (t) => {
  const r = macIpRoute({ rd: '192.168.1.87:100', mac: 'AA-BB-CC-DD-EE-FF', ip: '192.168.0.87', vni: 100 });
  t.same(r, {
    type: 'mac-ip', rd: { type: 1, ip: '192.168.1.87', assigned: 100 }, esi: ZERO_ESI, ethernetTag: 0,
    mac: 'aa:bb:cc:dd:ee:ff', ip: '192.168.0.87', label1: 100, label2: null,
  });
  const v6 = macIpRoute({
    rd: { type: 0, asn: 65001, assigned: 1 }, mac: '2:0:0:0:0:1', ip: '2001:DB8:0:0:0:0:0:1', vni: 0xffffff,
    esi: '01:02:03:04:05:06:07:08:09:0A', ethernetTag: 7,
  });
  t.equal(v6.mac, '02:00:00:00:00:01');
  t.equal(v6.ip, '2001:db8::1');
  t.equal(v6.esi, '01:02:03:04:05:06:07:08:09:0a');
  t.equal(v6.ethernetTag, 7);
  t.equal(macIpRoute({ rd: '65001:1', mac: '02:00:00:00:00:01', ip: null, vni: 1 }).ip, null);
  // A built route and the same route decoded from the wire have one key.
  const w = new Writer();
  encodeEvpnRoute(w, v6);
  const [back] = decodeEvpnRoutes(new Reader(w.finish()), false);
  t.same(back, v6);
  t.equal(routeKey(back!), routeKey(v6));
  t.throws(() => macIpRoute({ rd: '65001:1', mac: '02:00:00:00:00:01', ip: null, vni: 0x1000000 }), RangeError);
  t.throws(() => macIpRoute({ rd: 'nonsense', mac: '02:00:00:00:00:01', ip: null, vni: 1 }), { message: /route distinguisher/ });
  t.throws(() => macIpRoute({ rd: '65001:1', mac: '02:00:00:00:00', ip: null, vni: 1 }), RangeError);
  t.throws(() => macIpRoute({ rd: '65001:1', mac: '02:00:00:00:00:01', ip: '1.2.3.4.5', vni: 1 }), RangeError);
  t.same(inclusiveMulticastRoute({ rd: '192.168.2.87:100', originatorIp: '192.168.2.87' }), {
    type: 'inclusive-multicast', rd: { type: 1, ip: '192.168.2.87', assigned: 100 }, ethernetTag: 0, originatorIp: '192.168.2.87',
  });
  t.equal(inclusiveMulticastRoute({ rd: '65001:1', originatorIp: 'FE80:0:0::1', ethernetTag: 3 }).originatorIp, 'fe80::1');
});

t.test('routeKey holds exactly the route key fields', async (t) => {
  const base = macIpRoute({ rd: '192.168.1.87:100', mac: 'aa:bb:cc:dd:ee:ff', ip: '192.168.0.87', vni: 100 });
  const k = routeKey(base);
  // RFC 7432 §7.2: ESI and labels are attributes, not part of the route.
  t.equal(routeKey({ ...base, label1: 200, label2: 5000 }), k, 'labels excluded');
  t.equal(routeKey({ ...base, esi: '00:11:22:33:44:55:66:77:88:99' }), k, 'ESI excluded for type 2');
  const differs: EvpnRoute[] = [
    { ...base, rd: { type: 1, ip: '192.168.2.87', assigned: 100 } },
    { ...base, rd: { type: 0, asn: 65001, assigned: 100 } },
    { ...base, ethernetTag: 1 },
    { ...base, mac: 'aa:bb:cc:dd:ee:fe' },
    { ...base, ip: null },
    { ...base, ip: '192.168.0.88' },
  ];
  for (const d of differs) t.not(routeKey(d), k, describeRoute(d));
  t.not(
    routeKey({ ...base, rd: { type: 0, asn: 65001, assigned: 100 } }),
    routeKey({ ...base, rd: { type: 2, asn: 65001, assigned: 100 } }),
    'RD type is part of the key',
  );
  // RFC 7432 §7.1: label excluded, ESI included.
  const ad: EvpnRoute = { type: 'ethernet-ad', rd: base.rd, esi: ZERO_ESI, ethernetTag: 0, label: 1 };
  t.equal(routeKey({ ...ad, label: 2 }), routeKey(ad));
  t.not(routeKey({ ...ad, esi: '00:11:22:33:44:55:66:77:88:99' }), routeKey(ad));
  // RFC 7432 §7.4: ESI included.
  const es: EvpnRoute = { type: 'ethernet-segment', rd: base.rd, esi: ZERO_ESI, originatorIp: '192.168.1.87' };
  t.not(routeKey({ ...es, esi: '00:11:22:33:44:55:66:77:88:99' }), routeKey(es));
  // RFC 9136 §3.1: RD, tag, prefix length and prefix only.
  const p5: EvpnRoute = {
    type: 'ip-prefix', rd: base.rd, esi: ZERO_ESI, ethernetTag: 0, prefix: '10.0.0.0', prefixLength: 8, gatewayIp: '0.0.0.0', label: 1,
  };
  t.equal(routeKey({ ...p5, gatewayIp: '10.0.0.1', label: 9, esi: '00:11:22:33:44:55:66:77:88:99' }), routeKey(p5));
  t.not(routeKey({ ...p5, prefixLength: 9 }), routeKey(p5));
  // Every route type has a distinct key space.
  const im = inclusiveMulticastRoute({ rd: '192.168.1.87:100', originatorIp: '192.168.1.87' });
  const keys = new Set([k, routeKey(ad), routeKey(es), routeKey(p5), routeKey(im), routeKey({ type: 'unknown', routeType: 9, value: fromHex('00') })]);
  t.equal(keys.size, 6);
});

t.test('describeRoute: one FRR-style line', async (t) => {
  const rd1: RouteDistinguisher = { type: 1, ip: '192.168.1.87', assigned: 100 };
  t.equal(
    describeRoute(macIpRoute({ rd: '192.168.1.87:100', mac: 'aa:bb:cc:dd:ee:ff', ip: '192.168.0.87', vni: 100 })),
    '[2]:[0]:[48]:[aa:bb:cc:dd:ee:ff]:[32]:[192.168.0.87] rd 192.168.1.87:100 vni 100',
  );
  t.equal(
    describeRoute({ ...macIpRoute({ rd: '65001:1', mac: '02:00:00:00:00:01', ip: '2001:db8::1', vni: 10, esi: '00:11:22:33:44:55:66:77:88:99' }), label2: 5000 }),
    '[2]:[0]:[48]:[02:00:00:00:00:01]:[128]:[2001:db8::1] rd 65001:1 vni 10 l3vni 5000 esi 00:11:22:33:44:55:66:77:88:99',
  );
  t.equal(describeRoute(macIpRoute({ rd: '65001:1', mac: '02:00:00:00:00:01', ip: null, vni: 10 })), '[2]:[0]:[48]:[02:00:00:00:00:01] rd 65001:1 vni 10');
  t.equal(describeRoute(inclusiveMulticastRoute({ rd: rd1, originatorIp: '192.168.1.87' })), '[3]:[0]:[32]:[192.168.1.87] rd 192.168.1.87:100');
  t.equal(describeRoute({ type: 'ethernet-ad', rd: rd1, esi: ZERO_ESI, ethernetTag: 4294967295, label: 7 }),
    `[1]:[4294967295]:[${ZERO_ESI}] rd 192.168.1.87:100 label 7`);
  t.equal(describeRoute({ type: 'ethernet-segment', rd: rd1, esi: ZERO_ESI, originatorIp: 'fe80::1' }), `[4]:[${ZERO_ESI}]:[128]:[fe80::1] rd 192.168.1.87:100`);
  t.equal(describeRoute({ type: 'ip-prefix', rd: rd1, esi: ZERO_ESI, ethernetTag: 0, prefix: '10.0.0.0', prefixLength: 8, gatewayIp: '0.0.0.0', label: 5000 }),
    '[5]:[0]:[8]:[10.0.0.0] rd 192.168.1.87:100 gw 0.0.0.0 label 5000');
  t.equal(describeRoute({ type: 'unknown', routeType: 9, value: fromHex('0102') }), '[9]:[0102]');
});
