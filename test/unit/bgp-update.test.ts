// UPDATE: every attribute both ways, MP_REACH / MP_UNREACH (IPv4, IPv6, EVPN),
// PMSI tunnel, pass-through of unknown attributes, extended length, and the
// RFC 7606 actions.
import t from 'tap';
import { ATTRIBUTE_CODECS } from '../../src/bgp/attributes.js';
import { decodeMessage, encodeMessage } from '../../src/bgp/message.js';
import type { CodecContext, PathAttributes, UpdateMessage } from '../../src/bgp/types.js';
import { ZERO_ESI, type MacIpRoute } from '../../src/evpn/types.js';
import {
  attr, cat, encap, evpnImet, evpnMacIp, hex, ip4, ip6, mpReachValue, mpUnreachValue, rdIp, rtAs2, toHex, u16, u24, u32,
  u8, update,
} from '../lib/bytes.js';
import { pair, throwsBgp } from '../lib/assert.js';
import '../../src/evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

const ctx2: CodecContext = { fourOctetAs: false };
const ctx4: CodecContext = { fourOctetAs: true };

function upd(attributes: PathAttributes, more: Partial<UpdateMessage> = {}): UpdateMessage {
  return { type: 'update', withdrawn: [], attributes, nlri: [], ...more };
}

function dec(bytes: Uint8Array, ctx: CodecContext = ctx2): UpdateMessage {
  const m = decodeMessage(bytes, ctx);
  if (m.type !== 'update') throw new Error('not an update');
  return m;
}

// Attributes every well-formed reachable UPDATE below carries.
const ORIGIN_IGP = attr(0x40, 1, '00');
const EMPTY_AS_PATH = attr(0x40, 2);
const NH = attr(0x40, 3, ip4('192.0.2.1'));

t.test('IPv4 UPDATE with every classic attribute, 2-octet AS', (t) => {
  const m = upd({
    origin: 0,
    asPath: [{ type: 'sequence', asns: [65001, 65002] }, { type: 'set', asns: [1, 2] }],
    nextHop: '192.0.2.1',
    med: 50,
    localPref: 200,
    atomicAggregate: true,
    aggregator: { asn: 65001, ip: '10.0.0.1' },
    communities: [0xfde90064, 0xffffff01],
    originatorId: '10.9.9.9',
    clusterList: ['10.0.0.2', '10.0.0.3'],
    as4Path: [{ type: 'sequence', asns: [4200000000, 65002] }],
    as4Aggregator: { asn: 4200000000, ip: '10.0.0.1' },
    unknown: [{ flags: 0xe0, typeCode: 99, value: Uint8Array.of(1, 2, 3) }],
  }, {
    withdrawn: [{ prefix: '10.1.0.0', length: 16 }, { prefix: '0.0.0.0', length: 0 }],
    nlri: [{ prefix: '10.2.3.0', length: 24 }, { prefix: '10.2.3.128', length: 25 }, { prefix: '10.9.9.9', length: 32 }],
  });
  const bytes = update({
    withdrawn: '10 0a01 00',
    attrs: [
      ORIGIN_IGP,
      attr(0x40, 2, '02 02 fde9 fdea', '01 02 0001 0002'),
      NH,
      attr(0x80, 4, u32(50)),
      attr(0x40, 5, u32(200)),
      attr(0x40, 6),
      attr(0xc0, 7, u16(65001), ip4('10.0.0.1')),
      attr(0xc0, 8, 'fde90064 ffffff01'),
      attr(0x80, 9, ip4('10.9.9.9')),
      attr(0x80, 10, ip4('10.0.0.2'), ip4('10.0.0.3')),
      attr(0xc0, 17, '02 02', u32(4200000000), u32(65002)),
      attr(0xc0, 18, u32(4200000000), ip4('10.0.0.1')),
      attr(0xe0, 99, '010203'),
    ],
    nlri: '18 0a0203 19 0a020380 20 0a090909',
  });
  pair(t, 'classic', m, bytes, ctx2);
  t.end();
});

t.test('4-octet AS: AS_PATH and AGGREGATOR carry 4-byte ASNs', (t) => {
  const m = upd({
    origin: 2,
    asPath: [{ type: 'sequence', asns: [4200000000, 65001] }, { type: 'confed-sequence', asns: [7] }, { type: 'confed-set', asns: [8] }],
    nextHop: '192.0.2.1',
    aggregator: { asn: 4200000000, ip: '10.0.0.1' },
  }, { nlri: [{ prefix: '10.0.0.0', length: 8 }] });
  const bytes = update({
    attrs: [
      attr(0x40, 1, '02'),
      attr(0x40, 2, '02 02', u32(4200000000), u32(65001), '03 01', u32(7), '04 01', u32(8)),
      NH,
      attr(0xc0, 7, u32(4200000000), ip4('10.0.0.1')),
    ],
    nlri: '08 0a',
  });
  pair(t, 'as4', m, bytes, ctx4);
  t.end();
});

t.test('2-octet session: ASNs above 65535 are sent as AS_TRANS (RFC 6793 §4.2.2)', (t) => {
  const m = upd({
    origin: 0,
    asPath: [{ type: 'sequence', asns: [4200000000, 65001] }],
    aggregator: { asn: 4200000000, ip: '10.0.0.1' },
  });
  const enc = encodeMessage(m, ctx2);
  t.equal(toHex(enc), toHex(update({
    attrs: [ORIGIN_IGP, attr(0x40, 2, '02 02 5ba0 fde9'), attr(0xc0, 7, '5ba0', ip4('10.0.0.1'))],
  })));
  t.end();
});

t.test('AS_PATH: sequences longer than 255 ASes are split into segments', (t) => {
  const asns = Array.from({ length: 300 }, (_, i) => i + 1);
  const m = upd({ origin: 0, asPath: [{ type: 'sequence', asns }] });
  const back = dec(encodeMessage(m, ctx4), ctx4);
  t.same(back.attributes.asPath, [{ type: 'sequence', asns: asns.slice(0, 255) }, { type: 'sequence', asns: asns.slice(255) }]);
  t.throws(() => encodeMessage(upd({ asPath: [{ type: 'set', asns }] }), ctx4), RangeError);
  t.end();
});

const macIp: MacIpRoute = {
  type: 'mac-ip',
  rd: { type: 1, ip: '192.168.1.87', assigned: 100 },
  esi: ZERO_ESI,
  ethernetTag: 0,
  mac: '52:54:00:12:34:56',
  ip: '192.168.0.87',
  label1: 100,
  label2: null,
};
const macIpBytes = evpnMacIp({ rd: rdIp('192.168.1.87', 100), mac: '52:54:00:12:34:56', ip: '192.168.0.87', label: 100 });

t.test('EVPN UPDATE: MP_REACH first, type-2 route, RT + encapsulation, PMSI tunnel', (t) => {
  const m = upd({
    origin: 0,
    asPath: [],
    localPref: 200,
    extCommunities: [
      { kind: 'route-target', form: 'as2', asn: 65001, local: 100 },
      { kind: 'encapsulation', tunnelType: 8 },
    ],
    pmsiTunnel: { flags: 0, tunnelType: 6, label: 100, tunnelId: Uint8Array.from(ip4('192.168.1.87')) },
    mpReach: {
      afi: 25, safi: 70, nextHop: ['192.168.1.87'],
      nlri: {
        kind: 'evpn',
        routes: [macIp, { type: 'inclusive-multicast', rd: { type: 1, ip: '192.168.1.87', assigned: 100 }, ethernetTag: 0, originatorIp: '192.168.1.87' }],
      },
    },
  });
  const bytes = update({
    attrs: [
      attr(0x80, 14, mpReachValue(25, 70, ip4('192.168.1.87'), cat(macIpBytes, evpnImet({ rd: rdIp('192.168.1.87', 100), ip: '192.168.1.87' })))),
      ORIGIN_IGP,
      EMPTY_AS_PATH,
      attr(0x40, 5, u32(200)),
      attr(0xc0, 16, rtAs2(65001, 100), encap(8)),
      attr(0xc0, 22, '00 06', u24(100), ip4('192.168.1.87')),
    ],
  });
  pair(t, 'evpn reach', m, bytes, ctx4);
  t.end();
});

t.test('EVPN: MP_UNREACH withdrawal, IPv6 next hop, 32-byte next hop', (t) => {
  const w = upd({ mpUnreach: { afi: 25, safi: 70, nlri: { kind: 'evpn', routes: [macIp] } } });
  pair(t, 'evpn unreach', w, update({ attrs: [attr(0x80, 15, mpUnreachValue(25, 70, macIpBytes))] }), ctx4);

  const v6 = upd({
    origin: 0, asPath: [],
    mpReach: { afi: 25, safi: 70, nextHop: ['2001:db8::87'], nlri: { kind: 'evpn', routes: [macIp] } },
  });
  pair(t, 'evpn v6 next hop', v6, update({
    attrs: [attr(0x80, 14, mpReachValue(25, 70, ip6('2001:db8::87'), macIpBytes)), ORIGIN_IGP, EMPTY_AS_PATH],
  }), ctx4);

  const ll = upd({
    origin: 0, asPath: [],
    mpReach: {
      afi: 2, safi: 1, nextHop: ['2001:db8::1', 'fe80::1'],
      nlri: { kind: 'prefix', prefixes: [{ prefix: '2001:db8:1::', length: 48 }, { prefix: '::', length: 0 }] },
    },
  });
  pair(t, 'ipv6 global + link-local', ll, update({
    attrs: [
      attr(0x80, 14, mpReachValue(2, 1, [...ip6('2001:db8::1'), ...ip6('fe80::1')], '30 20010db80001 00')),
      ORIGIN_IGP, EMPTY_AS_PATH,
    ],
  }), ctx4);

  const v4overv6 = upd({
    origin: 0, asPath: [],
    mpReach: { afi: 1, safi: 1, nextHop: ['2001:db8::1'], nlri: { kind: 'prefix', prefixes: [{ prefix: '10.0.0.0', length: 8 }] } },
  });
  pair(t, 'RFC 8950 IPv4 over IPv6 next hop', v4overv6, update({
    attrs: [attr(0x80, 14, mpReachValue(1, 1, ip6('2001:db8::1'), '08 0a')), ORIGIN_IGP, EMPTY_AS_PATH],
  }), ctx4);

  const v6unreach = upd({ mpUnreach: { afi: 2, safi: 1, nlri: { kind: 'prefix', prefixes: [{ prefix: '2001:db8::', length: 32 }] } } });
  pair(t, 'ipv6 unreach', v6unreach, update({ attrs: [attr(0x80, 15, mpUnreachValue(2, 1, '20 20010db8'))] }), ctx4);

  const opaque = upd({
    origin: 0, asPath: [],
    mpReach: { afi: 1, safi: 128, nextHop: ['10.0.0.1'], nlri: { kind: 'opaque', bytes: Uint8Array.of(1, 2, 3) } },
  });
  pair(t, 'other family kept opaque', opaque, update({
    attrs: [attr(0x80, 14, mpReachValue(1, 128, ip4('10.0.0.1'), '010203')), ORIGIN_IGP, EMPTY_AS_PATH],
  }), ctx4);
  t.end();
});

t.test('extended length: set above 255 bytes on encode, accepted either way on decode', (t) => {
  const value = new Uint8Array(300).fill(7);
  const m = upd({ unknown: [{ flags: 0xc0, typeCode: 200, value }] });
  const enc = encodeMessage(m, ctx2);
  t.equal(toHex(enc), toHex(update({ attrs: [attr(0xd0, 200, value)] })));
  t.same(dec(enc).attributes.unknown, [{ flags: 0xd0, typeCode: 200, value }]);

  // A short known attribute with the Extended Length bit: accepted, re-encoded short.
  const longOrigin = update({ attrs: [attr(0x50, 1, '01'), attr(0x50, 2, '02 01 0064')] });
  const got = dec(longOrigin);
  t.same(got.attributes, { origin: 1, asPath: [{ type: 'sequence', asns: [100] }] });
  t.equal(got.attrErrors, undefined);
  t.equal(toHex(encodeMessage(got, ctx2)), toHex(update({ attrs: [attr(0x40, 1, '01'), attr(0x40, 2, '02 01 0064')] })));

  // An unknown attribute keeps its Extended Length bit when passed through.
  const ext = update({ attrs: [attr(0xf0, 201, '0102')] });
  t.equal(toHex(encodeMessage(dec(ext), ctx2)), toHex(ext));

  // A big EVPN MP_REACH gets a 2-octet length.
  const routes = Array.from({ length: 10 }, (_, i) => ({ ...macIp, label1: i }));
  const big = upd({ mpReach: { afi: 25, safi: 70, nextHop: ['192.168.1.87'], nlri: { kind: 'evpn', routes } } });
  const bigEnc = encodeMessage(big, ctx4);
  t.equal(bigEnc[23], 0x90, 'MP_REACH flags with Extended Length');
  t.same(dec(bigEnc, ctx4).attributes.mpReach, big.attributes.mpReach);
  t.end();
});

t.test('the attribute table names an RFC 7606 action for every known attribute', (t) => {
  const actions = Object.fromEntries([...ATTRIBUTE_CODECS].map(([k, c]) => [k, c.onError]));
  t.same(actions, {
    1: 'withdraw', 2: 'withdraw', 3: 'withdraw', 4: 'withdraw', 5: 'withdraw', 6: 'discard', 7: 'discard',
    8: 'withdraw', 9: 'withdraw', 10: 'withdraw', 14: 'reset', 15: 'reset', 16: 'withdraw', 17: 'discard',
    18: 'discard', 22: 'withdraw',
  });
  t.end();
});

/** Decode an UPDATE that has NLRI 10.0.0.0/8 and the given attributes. */
function withNlri(attrs: Uint8Array[], ctx: CodecContext = ctx2): UpdateMessage {
  return dec(update({ attrs, nlri: '08 0a' }), ctx);
}

t.test('RFC 7606 §7: per-attribute malformations and their actions', (t) => {
  const cases: Array<[string, Uint8Array, number, 'withdraw' | 'discard', keyof PathAttributes, CodecContext?]> = [
    ['ORIGIN length 2 (§7.1)', attr(0x40, 1, '0000'), 1, 'withdraw', 'origin'],
    ['ORIGIN value 3 (§7.1)', attr(0x40, 1, '03'), 1, 'withdraw', 'origin'],
    ['AS_PATH segment type 5 (§7.2)', attr(0x40, 2, '05 01 0001'), 2, 'withdraw', 'asPath'],
    ['AS_PATH zero-length segment (§7.2)', attr(0x40, 2, '02 00'), 2, 'withdraw', 'asPath'],
    ['AS_PATH segment overrun (§7.2)', attr(0x40, 2, '02 03 0001 0002'), 2, 'withdraw', 'asPath'],
    ['AS_PATH one trailing octet (§7.2)', attr(0x40, 2, '02 01 0001 02'), 2, 'withdraw', 'asPath'],
    ['AS_PATH 2-octet data on a 4-octet session (§7.2)', attr(0x40, 2, '02 01 0001'), 2, 'withdraw', 'asPath', ctx4],
    ['NEXT_HOP length 5 (§7.3)', attr(0x40, 3, '0102030405'), 3, 'withdraw', 'nextHop'],
    ['MED length 3 (§7.4)', attr(0x80, 4, '000001'), 4, 'withdraw', 'med'],
    ['LOCAL_PREF length 2 (§7.5)', attr(0x40, 5, '0001'), 5, 'withdraw', 'localPref'],
    ['ATOMIC_AGGREGATE length 1 (§7.6)', attr(0x40, 6, '00'), 6, 'discard', 'atomicAggregate'],
    ['AGGREGATOR length 8 on a 2-octet session (§7.7)', attr(0xc0, 7, u32(1), ip4('1.1.1.1')), 7, 'discard', 'aggregator'],
    ['AGGREGATOR length 6 on a 4-octet session (§7.7)', attr(0xc0, 7, u16(1), ip4('1.1.1.1')), 7, 'discard', 'aggregator', ctx4],
    ['COMMUNITIES length 0 (§7.8)', attr(0xc0, 8), 8, 'withdraw', 'communities'],
    ['COMMUNITIES length 5 (§7.8)', attr(0xc0, 8, '0000000001'), 8, 'withdraw', 'communities'],
    ['ORIGINATOR_ID length 3 (§7.9)', attr(0x80, 9, '010203'), 9, 'withdraw', 'originatorId'],
    ['CLUSTER_LIST length 6 (§7.10)', attr(0x80, 10, '010203040506'), 10, 'withdraw', 'clusterList'],
    ['EXTENDED COMMUNITIES length 12 (§7.14)', attr(0xc0, 16, '000200010000006400000000'), 16, 'withdraw', 'extCommunities'],
    ['EXTENDED COMMUNITIES length 0 (§7.14)', attr(0xc0, 16), 16, 'withdraw', 'extCommunities'],
    ['AS4_PATH length 5 (RFC 6793 §6)', attr(0xc0, 17, '0201000001'), 17, 'discard', 'as4Path'],
    ['AS4_PATH zero-length segment (RFC 6793 §6)', attr(0xc0, 17, '0200 00000001'), 17, 'discard', 'as4Path'],
    ['AS4_AGGREGATOR length 6 (RFC 6793 §6)', attr(0xc0, 18, '0001 01010101'), 18, 'discard', 'as4Aggregator'],
    ['PMSI_TUNNEL length 4', attr(0xc0, 22, '00060000'), 22, 'withdraw', 'pmsiTunnel'],
    ['PMSI_TUNNEL ingress replication with a 3-byte endpoint', attr(0xc0, 22, '0006000064 0a0000'), 22, 'withdraw', 'pmsiTunnel'],
  ];
  for (const [name, bad, typeCode, action, field, ctx] of cases) {
    const others = [ORIGIN_IGP, EMPTY_AS_PATH, NH].filter((a) => a[1] !== typeCode);
    const m = withNlri([...others, bad], ctx ?? ctx2);
    t.same(m.attrErrors?.map((e) => [e.typeCode, e.action]), [[typeCode, action]], name);
    t.equal(m.attributes[field], undefined, `${name}: attribute not kept`);
    t.same(m.nlri, [{ prefix: '10.0.0.0', length: 8 }], `${name}: NLRI still decoded`);
  }
  t.end();
});

t.test('RFC 7606 §3 c: Optional/Transitive flags in conflict: treat-as-withdraw', (t) => {
  const m = withNlri([attr(0xc0, 1, '00'), EMPTY_AS_PATH, NH, attr(0xc0, 4, u32(1))]);
  t.same(m.attrErrors?.map((e) => [e.typeCode, e.action]), [[1, 'withdraw'], [4, 'withdraw']]);
  // The Partial bit on a known optional transitive attribute is not a conflict.
  const p = withNlri([ORIGIN_IGP, EMPTY_AS_PATH, NH, attr(0xe0, 8, 'fde90064')]);
  t.equal(p.attrErrors, undefined);
  t.same(p.attributes.communities, [0xfde90064]);
  // AGGREGATOR (discard on a length error) still withdraws on a flags error.
  const a = withNlri([ORIGIN_IGP, EMPTY_AS_PATH, NH, attr(0x40, 7, u16(1), ip4('1.1.1.1'))]);
  t.same(a.attrErrors?.map((e) => [e.typeCode, e.action]), [[7, 'withdraw']]);
  // MP_REACH with a flags error is still parsed so its NLRI can be withdrawn.
  const mp = dec(update({ attrs: [attr(0xc0, 14, mpReachValue(25, 70, ip4('1.1.1.1'), macIpBytes)), ORIGIN_IGP, EMPTY_AS_PATH] }), ctx4);
  t.same(mp.attrErrors?.map((e) => [e.typeCode, e.action]), [[14, 'withdraw']]);
  t.same(mp.attributes.mpReach?.nlri, { kind: 'evpn', routes: [macIp] });
  t.end();
});

t.test('RFC 7606 §3 g: duplicates', (t) => {
  const m = withNlri([ORIGIN_IGP, EMPTY_AS_PATH, NH, attr(0x80, 4, u32(1)), attr(0x80, 4, u32(2)), attr(0xc0, 99, '01'), attr(0xc0, 99, '02')]);
  t.equal(m.attributes.med, 1, 'first MED kept');
  t.same(m.attributes.unknown, [{ flags: 0xc0, typeCode: 99, value: Uint8Array.of(1) }], 'first unknown kept');
  t.same(m.attrErrors?.map((e) => [e.typeCode, e.action]), [[4, 'discard'], [99, 'discard']]);
  const reach = attr(0x80, 14, mpReachValue(25, 70, ip4('1.1.1.1'), macIpBytes));
  throwsBgp(t, () => dec(update({ attrs: [reach, ORIGIN_IGP, EMPTY_AS_PATH, reach] }), ctx4), 3, 1, undefined, 'MP_REACH twice');
  const unreach = attr(0x80, 15, mpUnreachValue(25, 70, macIpBytes));
  throwsBgp(t, () => dec(update({ attrs: [unreach, unreach] }), ctx4), 3, 1, undefined, 'MP_UNREACH twice');
  t.end();
});

t.test('RFC 7606 §3 d: missing well-known attributes only matter with reachable NLRI', (t) => {
  const m = withNlri([EMPTY_AS_PATH]);
  t.same(m.attrErrors?.map((e) => [e.typeCode, e.action]), [[1, 'withdraw'], [3, 'withdraw']]);
  // MP_REACH only: NEXT_HOP is not required (RFC 4760 §3).
  const mp = dec(update({ attrs: [attr(0x80, 14, mpReachValue(25, 70, ip4('1.1.1.1'), macIpBytes)), ORIGIN_IGP] }), ctx4);
  t.same(mp.attrErrors?.map((e) => [e.typeCode, e.action]), [[2, 'withdraw']]);
  // Withdrawal only: nothing is mandatory.
  const un = dec(update({ attrs: [attr(0x80, 15, mpUnreachValue(25, 70, macIpBytes))] }), ctx4);
  t.equal(un.attrErrors, undefined);
  const wd = dec(update({ withdrawn: '08 0a' }));
  t.equal(wd.attrErrors, undefined);
  t.same(wd.withdrawn, [{ prefix: '10.0.0.0', length: 8 }]);
  t.end();
});

t.test('RFC 7606 §5.2: no reachable NLRI plus a non-discard error resets', (t) => {
  throwsBgp(t, () => dec(update({ attrs: [attr(0x40, 1, '0000')] })), 3, 5, undefined, 'bad ORIGIN, no NLRI');
  throwsBgp(t, () => dec(update({ attrs: [attr(0x40, 1, '09')] })), 3, 6, undefined, 'undefined ORIGIN, no NLRI');
  throwsBgp(t, () => dec(update({ attrs: [attr(0x40, 2, '09 01 0001')] })), 3, 11, undefined, 'bad AS_PATH, no NLRI');
  throwsBgp(t, () => dec(update({ attrs: [attr(0x80, 14, mpReachValue(25, 70, ip4('1.1.1.1'), '')), attr(0x80, 4, '01')] }), ctx4),
    3, 5, undefined, 'empty MP_REACH plus bad MED');
  // Attribute-discard alone does not escalate.
  const d = dec(update({ attrs: [attr(0x40, 6, '00')] }));
  t.same(d.attrErrors?.map((e) => [e.typeCode, e.action]), [[6, 'discard']]);
  // MP_UNREACH with a withdraw error elsewhere... only MP_UNREACH present is fine.
  const eor = dec(update({ attrs: [attr(0x80, 15, mpUnreachValue(25, 70, ''))] }), ctx4);
  t.same(eor.attributes, { mpUnreach: { afi: 25, safi: 70, nlri: { kind: 'evpn', routes: [] } } });
  t.end();
});

t.test('RFC 7606 §4: attribute lengths against Total Path Attribute Length', (t) => {
  // The last attribute overruns the field: treat-as-withdraw, NLRI still located.
  const over = dec(update({ attrs: [ORIGIN_IGP, EMPTY_AS_PATH, NH, hex('80 04 08 00000001')], nlri: '08 0a' }));
  t.same(over.attrErrors?.map((e) => [e.typeCode, e.action]), [[4, 'withdraw']]);
  t.same(over.nlri, [{ prefix: '10.0.0.0', length: 8 }]);
  // Fewer than three octets left for a header.
  const short = dec(update({ attrs: [ORIGIN_IGP, EMPTY_AS_PATH, NH, hex('80 04')], nlri: '08 0a' }));
  t.same(short.attrErrors?.map((e) => [e.typeCode, e.action]), [[4, 'withdraw']]);
  const shortExt = dec(update({ attrs: [ORIGIN_IGP, EMPTY_AS_PATH, NH, hex('90 04 00')], nlri: '08 0a' }));
  t.same(shortExt.attrErrors?.map((e) => e.action), ['withdraw']);
  // Without NLRI the same overrun resets (§5.2).
  throwsBgp(t, () => dec(update({ attrs: [ORIGIN_IGP, hex('80 04 08 00000001')] })), 3, 5);
  // Total Path Attribute Length beyond the message: session reset, Malformed Attribute List.
  throwsBgp(t, () => decodeMessage(cat(hex('ffffffffffffffffffffffffffffffff'), u16(27), '02', '0000', '0005', '40010100'), ctx2), 3, 1);
  // Withdrawn Routes Length beyond the message.
  throwsBgp(t, () => decodeMessage(cat(hex('ffffffffffffffffffffffffffffffff'), u16(25), '02', '0005', '08 0a', '0000'), ctx2), 3, 1);
  t.end();
});

t.test('NLRI / withdrawn syntax errors reset (RFC 7606 §5.3, RFC 4271 §6.3)', (t) => {
  throwsBgp(t, () => dec(update({ attrs: [ORIGIN_IGP, EMPTY_AS_PATH, NH], nlri: '21 0a000000 00' })), 3, 10, undefined, 'prefix length 33');
  throwsBgp(t, () => dec(update({ attrs: [ORIGIN_IGP, EMPTY_AS_PATH, NH], nlri: '18 0a00' })), 3, 10, undefined, 'prefix overruns');
  throwsBgp(t, () => dec(update({ withdrawn: '20 0a' })), 3, 10, undefined, 'withdrawn prefix overruns');
  t.end();
});

t.test('MP_REACH / MP_UNREACH malformed: session reset, Optional Attribute Error, data = attribute', (t) => {
  const nh5 = attr(0x80, 14, mpReachValue(25, 70, [1, 2, 3, 4, 5], macIpBytes));
  throwsBgp(t, () => dec(update({ attrs: [nh5, ORIGIN_IGP, EMPTY_AS_PATH] }), ctx4), 3, 9, nh5, 'next hop length 5 (§7.11)');
  const nhOver = attr(0x80, 14, '0019 46 20 01020304');
  throwsBgp(t, () => dec(update({ attrs: [nhOver] }), ctx4), 3, 9, nhOver, 'next hop overruns');
  const tiny = attr(0x80, 14, '0019 46 04');
  throwsBgp(t, () => dec(update({ attrs: [tiny] }), ctx4), 3, 9, tiny, 'MP_REACH of 4 bytes');
  const tinyUn = attr(0x80, 15, '0019');
  throwsBgp(t, () => dec(update({ attrs: [tinyUn] }), ctx4), 3, 9, tinyUn, 'MP_UNREACH of 2 bytes');
  const badEvpn = attr(0x80, 14, mpReachValue(25, 70, ip4('1.1.1.1'), macIpBytes.subarray(0, 20)));
  throwsBgp(t, () => dec(update({ attrs: [badEvpn, ORIGIN_IGP, EMPTY_AS_PATH] }), ctx4), 3, 9, badEvpn, 'EVPN NLRI truncated (§3 j)');
  const badV6 = attr(0x80, 15, mpUnreachValue(2, 1, '81 00'));
  throwsBgp(t, () => dec(update({ attrs: [badV6] }), ctx4), 3, 9, badV6, 'IPv6 prefix length 129');
  t.end();
});

t.test('unrecognized well-known attribute: session reset 3/2 (RFC 4271 §6.3)', (t) => {
  const bad = attr(0x40, 99, '00');
  throwsBgp(t, () => withNlri([ORIGIN_IGP, EMPTY_AS_PATH, NH, bad]), 3, 2, bad);
  t.end();
});

t.test('several errors: all reported, strongest decides (RFC 7606 §3 h)', (t) => {
  const m = withNlri([ORIGIN_IGP, EMPTY_AS_PATH, NH, attr(0x40, 6, '00'), attr(0x80, 4, '00')]);
  t.same(m.attrErrors?.map((e) => [e.typeCode, e.action]), [[6, 'discard'], [4, 'withdraw']]);
  t.ok(m.attrErrors?.every((e) => e.reason.length > 0));
  t.end();
});

t.test('round trip: decode(encode(x)) is x for a mixed UPDATE on both AS sizes', (t) => {
  for (const ctx of [ctx2, ctx4]) {
    const m = upd({
      origin: 1,
      asPath: [{ type: 'sequence', asns: [65001] }],
      med: 0,
      localPref: 0,
      communities: [1],
      extCommunities: [{ kind: 'mac-mobility', sequence: 5, sticky: true }, { kind: 'router-mac', mac: '02:00:00:00:00:01' }],
      pmsiTunnel: { flags: 1, tunnelType: 0, label: 0xffffff, tunnelId: new Uint8Array(0) },
      mpReach: { afi: 25, safi: 70, nextHop: ['10.0.0.1'], nlri: { kind: 'evpn', routes: [macIp, { ...macIp, ip: null, label2: 5000 }] } },
    });
    t.same(dec(encodeMessage(m, ctx), ctx), m);
  }
  t.end();
});

void u8;
