// Extended communities (RFC 4360 and the EVPN RFCs): (bytes, struct) pairs in
// both directions, route-target text forms, display text. Expected bytes are
// hex literals, never produced by the encoder under test.
import t from 'tap';
import { BgpError } from '../../src/bgp/errors.js';
import { fromHex, Reader, toHex, Writer } from '../../src/wire/bytes.js';
import {
  decodeExtCommunity,
  encodeExtCommunity,
  formatExtCommunity,
  formatRouteTarget,
  parseRouteTarget,
} from '../../src/bgp/extcommunity.js';
import type { ExtCommunity } from '../../src/bgp/types.js';
import { mulberry32 } from '../lib/prng.js';

const vectors: Array<[string, string, ExtCommunity, string]> = [
  ['RT 2-octet AS (RFC 4360 §4)', '0002 fde9 00000064', { kind: 'route-target', form: 'as2', asn: 65001, local: 100 }, 'RT:65001:100'],
  ['RT 2-octet AS, 32-bit local', '0002 ffff ffffffff', { kind: 'route-target', form: 'as2', asn: 65535, local: 4294967295 }, 'RT:65535:4294967295'],
  ['RT IPv4 (RFC 4360 §4)', '0102 c0000201 0064', { kind: 'route-target', form: 'ip4', ip: '192.0.2.1', local: 100 }, 'RT:192.0.2.1:100'],
  ['RT 4-octet AS (RFC 5668 §2)', '0202 fa56ea00 0064', { kind: 'route-target', form: 'as4', asn: 4200000000, local: 100 }, 'RT:4200000000:100'],
  ['encapsulation VXLAN (RFC 9012 §4.1)', '030c 00000000 0008', { kind: 'encapsulation', tunnelType: 8 }, 'ET:8(VXLAN)'],
  ['encapsulation, unnamed tunnel type', '030c 00000000 1234', { kind: 'encapsulation', tunnelType: 0x1234 }, 'ET:4660'],
  ['MAC mobility sticky (RFC 7432 §7.7)', '0600 01 00 00000005', { kind: 'mac-mobility', sticky: true, sequence: 5 }, 'MM:5, sticky MAC'],
  ['MAC mobility, max sequence', '0600 00 00 ffffffff', { kind: 'mac-mobility', sticky: false, sequence: 4294967295 }, 'MM:4294967295'],
  ['default gateway (RFC 7432 §7.8)', '030d 000000000000', { kind: 'default-gateway' }, 'Default Gateway'],
  ['router MAC (RFC 9135 §8.1)', '0603 aabbccddeeff', { kind: 'router-mac', mac: 'aa:bb:cc:dd:ee:ff' }, 'Rmac:aa:bb:cc:dd:ee:ff'],
  ['non-transitive 2-octet AS RT-like: opaque', '4002 fde9 00000064', { kind: 'unknown', bytes: fromHex('4002fde900000064') }, '0x4002fde900000064'],
  ['ESI label (RFC 7432 §7.5): opaque', '0601 01 0000 000064', { kind: 'unknown', bytes: fromHex('0601010000000064') }, '0x0601010000000064'],
  ['route origin (0x00/0x03): opaque', '0003 fde9 00000064', { kind: 'unknown', bytes: fromHex('0003fde900000064') }, '0x0003fde900000064'],
];

t.test('(bytes, struct) pairs both ways, and display text', async (t) => {
  for (const [name, hex, c, text] of vectors) {
    const bytes = fromHex(hex);
    const r = new Reader(bytes);
    t.same(decodeExtCommunity(r), c, `decode: ${name}`);
    t.equal(r.pos, 8, `consumed 8 octets: ${name}`);
    const w = new Writer(1);
    encodeExtCommunity(w, c);
    t.equal(toHex(w.finish()), toHex(bytes), `encode: ${name}`);
    t.equal(formatExtCommunity(c), text, `format: ${name}`);
  }
});

t.test('reserved and flag bits ignored on receipt', async (t) => {
  // MAC mobility: only the low-order flag bit means sticky; reserved octet ignored.
  t.same(decodeExtCommunity(new Reader(fromHex('0600 fe ff 00000001'))), { kind: 'mac-mobility', sticky: false, sequence: 1 });
  // Encapsulation: the 4 reserved octets are ignored (RFC 9012 §4.1).
  t.same(decodeExtCommunity(new Reader(fromHex('030c ffffffff 0008'))), { kind: 'encapsulation', tunnelType: 8 });
  t.same(decodeExtCommunity(new Reader(fromHex('030d 000000000001'))), { kind: 'default-gateway' });
});

t.test('a sequence of communities, and a truncated one', async (t) => {
  const bytes = fromHex(vectors.map((v) => v[1]).join(''));
  const r = new Reader(bytes);
  const got: ExtCommunity[] = [];
  while (r.remaining > 0) got.push(decodeExtCommunity(r));
  t.same(got, vectors.map((v) => v[2]));
  for (let n = 0; n < 8; n++) {
    try {
      decodeExtCommunity(new Reader(fromHex('0002fde900000064'), 0, n));
      t.fail(`${n} octets: no error`);
    } catch (e) {
      t.ok(e instanceof BgpError && e.code === 3 && e.subcode === 5, `${n} octets: BgpError(UPDATE, Attribute Length Error)`);
    }
  }
});

t.test('decoded unknown communities do not alias the buffer', async (t) => {
  const buf = fromHex('4002fde900000064');
  const c = decodeExtCommunity(new Reader(buf));
  buf.fill(0);
  t.same(c, { kind: 'unknown', bytes: fromHex('4002fde900000064') });
});

t.test('encoder rejects out-of-range fields', async (t) => {
  const enc = (c: ExtCommunity) => encodeExtCommunity(new Writer(), c);
  t.throws(() => enc({ kind: 'route-target', form: 'as2', asn: 65536, local: 1 }), RangeError);
  t.throws(() => enc({ kind: 'route-target', form: 'as4', asn: 1, local: 65536 }), RangeError);
  t.throws(() => enc({ kind: 'route-target', form: 'ip4', ip: '1.2.3', local: 1 }), RangeError);
  t.throws(() => enc({ kind: 'mac-mobility', sticky: false, sequence: -1 }), RangeError);
  t.throws(() => enc({ kind: 'encapsulation', tunnelType: 65536 }), RangeError);
  t.throws(() => enc({ kind: 'unknown', bytes: new Uint8Array(7) }), RangeError);
  const w = new Writer();
  t.throws(() => encodeExtCommunity(w, { kind: 'route-target', form: 'ip4', ip: '10.0.0.256', local: 1 }), RangeError);
  t.equal(w.length, 0, 'nothing half-written');
});

t.test('route target text: parse and format', async (t) => {
  const cases: Array<[string, ExtCommunity, string]> = [
    ['65001:100', { kind: 'route-target', form: 'as2', asn: 65001, local: 100 }, '65001:100'],
    ['65535:4294967295', { kind: 'route-target', form: 'as2', asn: 65535, local: 4294967295 }, '65535:4294967295'],
    ['0:0', { kind: 'route-target', form: 'as2', asn: 0, local: 0 }, '0:0'],
    ['65536:100', { kind: 'route-target', form: 'as4', asn: 65536, local: 100 }, '65536:100'],
    ['4200000000:100', { kind: 'route-target', form: 'as4', asn: 4200000000, local: 100 }, '4200000000:100'],
    ['65001L:100', { kind: 'route-target', form: 'as4', asn: 65001, local: 100 }, '65001:100'],
    ['192.0.2.1:100', { kind: 'route-target', form: 'ip4', ip: '192.0.2.1', local: 100 }, '192.0.2.1:100'],
    ['rt:65002:100', { kind: 'route-target', form: 'as2', asn: 65002, local: 100 }, '65002:100'],
    ['RT:192.168.1.87:65535', { kind: 'route-target', form: 'ip4', ip: '192.168.1.87', local: 65535 }, '192.168.1.87:65535'],
  ];
  for (const [text, rt, back] of cases) {
    const got = parseRouteTarget(text);
    t.same(got, rt, `parse ${text}`);
    t.equal(formatRouteTarget(got), back, `format ${text}`);
  }
  t.same(parseRouteTarget('65001:100', { as4: true }), { kind: 'route-target', form: 'as4', asn: 65001, local: 100 });
  const bad = [
    '', '65001', ':100', '65001:', 'abc:1', '65001:x', '-1:5', '65001:100:', '1.2.3:4', '256.1.1.1:1', '1.2.3.4:65536',
    '4200000000:65536', '65001:4294967296', '4294967296:1', '65001 :100', '65001:1e3',
  ];
  for (const text of bad) t.throws(() => parseRouteTarget(text), { message: /invalid route target/ }, `rejects "${text}"`);
  t.throws(() => parseRouteTarget('65001:70000', { as4: true }), { message: /up to 65535/ });
});

t.test('seeded round trips of random communities', async (t) => {
  const rand = mulberry32(4360);
  const int = (max: number): number => Math.floor(rand() * (max + 1));
  const byte = (): string => int(255).toString(16).padStart(2, '0');
  const all: ExtCommunity[] = [];
  for (let i = 0; i < 1000; i++) {
    switch (int(7)) {
      case 0: all.push({ kind: 'route-target', form: 'as2', asn: int(0xffff), local: int(0xffffffff) }); break;
      case 1: all.push({ kind: 'route-target', form: 'ip4', ip: `${int(255)}.${int(255)}.${int(255)}.${int(255)}`, local: int(0xffff) }); break;
      case 2: all.push({ kind: 'route-target', form: 'as4', asn: int(0xffffffff), local: int(0xffff) }); break;
      case 3: all.push({ kind: 'encapsulation', tunnelType: int(0xffff) }); break;
      case 4: all.push({ kind: 'mac-mobility', sticky: rand() < 0.5, sequence: int(0xffffffff) }); break;
      case 5: all.push({ kind: 'default-gateway' }); break;
      case 6: all.push({ kind: 'router-mac', mac: [byte(), byte(), byte(), byte(), byte(), byte()].join(':') }); break;
      default: all.push({ kind: 'unknown', bytes: fromHex(`0a${byte()}${byte()}${byte()}${byte()}${byte()}${byte()}${byte()}`) });
    }
  }
  const w = new Writer();
  for (const c of all) encodeExtCommunity(w, c);
  const r = new Reader(w.finish());
  const back: ExtCommunity[] = [];
  while (r.remaining > 0) back.push(decodeExtCommunity(r));
  t.same(back, all);
});
