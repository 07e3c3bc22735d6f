// Framer (split at every offset, one byte at a time, random splits, many
// messages per chunk, header errors), UPDATE packing and End-of-RIB.
import t, { type Test } from 'tap';
import { BgpError } from '../../src/bgp/errors.js';
import { Framer } from '../../src/bgp/framer.js';
import { IPV4_UNICAST, IPV6_UNICAST, L2VPN_EVPN } from '../../src/bgp/iana.js';
import { decodeMessage, encodeMessage } from '../../src/bgp/message.js';
import { endOfRib, isEndOfRib, packUpdates } from '../../src/bgp/pack.js';
import type { CodecContext, PathAttributes, UpdateMessage } from '../../src/bgp/types.js';
import { ZERO_ESI, type EvpnRoute, type MacIpRoute } from '../../src/evpn/types.js';
import { attr, cat, hex, MARKER, message, mpReachValue, rdIp, toHex, u16, u32, update, evpnMacIp, ip4 } from '../lib/bytes.js';
import { mulberry32 as rng } from '../lib/prng.js';
import '../../src/evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

const ctx4: CodecContext = { fourOctetAs: true };


const evpnUpdate = update({
  attrs: [
    attr(0x90, 14, mpReachValue(25, 70, ip4('192.168.1.87'),
      cat(...Array.from({ length: 20 }, (_, i) => evpnMacIp({ rd: rdIp('192.168.1.87', 100), mac: `52:54:00:00:00:${i.toString(16).padStart(2, '0')}`, ip: `192.168.0.${i}`, label: 100 }))))),
    attr(0x40, 1, '00'),
    attr(0x40, 2),
  ],
});

const corpus: Uint8Array[] = [
  message(1, '04 fde9 005a c0a80157 08 02 06 01 04 0019 00 46'),
  hex(`${MARKER} 0013 04`),
  evpnUpdate,
  message(5, '0019 00 46'),
  hex(`${MARKER} 0013 04`),
  message(3, '06 02'),
  update({}),
];
const stream = cat(...corpus);

function feed(f: Framer, chunks: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const c of chunks) out.push(...f.push(c));
  return out;
}

function sameMessages(tt: Test, got: Uint8Array[], name: string): void {
  tt.same(got.map(toHex), corpus.map(toHex), name);
}

t.test('framer: all messages in one chunk, then one byte at a time', (t) => {
  sameMessages(t, new Framer().push(stream), 'one chunk');
  const f = new Framer();
  const bytes = Array.from(stream, (b) => Uint8Array.of(b));
  sameMessages(t, feed(f, bytes), 'byte by byte');
  t.equal(f.buffered, 0);
  t.end();
});

t.test('framer: split at every offset', (t) => {
  let bad = 0;
  for (let i = 0; i <= stream.length; i++) {
    const got = feed(new Framer(), [stream.subarray(0, i), stream.subarray(i)]);
    if (got.map(toHex).join() !== corpus.map(toHex).join()) bad++;
  }
  t.equal(bad, 0, `${stream.length + 1} two-way splits`);
  // Three-way splits around each message boundary.
  let bad3 = 0;
  for (let i = 0; i < stream.length; i += 7) {
    for (let j = i; j <= Math.min(stream.length, i + 40); j++) {
      const got = feed(new Framer(), [stream.subarray(0, i), stream.subarray(i, j), stream.subarray(j)]);
      if (got.map(toHex).join() !== corpus.map(toHex).join()) bad3++;
    }
  }
  t.equal(bad3, 0, 'three-way splits');
  t.end();
});

t.test('framer: random splits, many streams', (t) => {
  const rand = rng(42);
  let bad = 0;
  for (let round = 0; round < 300; round++) {
    const chunks: Uint8Array[] = [];
    let at = 0;
    while (at < stream.length) {
      const n = 1 + Math.floor(rand() * (rand() < 0.5 ? 30 : 3000));
      chunks.push(stream.slice(at, at + n));
      at += n;
    }
    const got = feed(new Framer(), chunks);
    if (got.map(toHex).join() !== corpus.map(toHex).join()) bad++;
  }
  t.equal(bad, 0);
  t.end();
});

t.test('framer: messages decode after framing', (t) => {
  const kinds = new Framer().push(stream).map((m) => decodeMessage(m, ctx4).type);
  t.same(kinds, ['open', 'keepalive', 'update', 'route-refresh', 'keepalive', 'notification', 'update']);
  t.end();
});

function framingError(tt: Test, chunks: Uint8Array[], subcode: number, data: string, name: string): void {
  const f = new Framer();
  let err: unknown = null;
  let delivered = 0;
  try {
    for (const c of chunks) delivered += f.push(c).length;
  } catch (e) {
    err = e;
  }
  tt.ok(err instanceof BgpError, `${name}: BgpError`);
  if (err instanceof BgpError) {
    tt.same([err.code, err.subcode, toHex(err.data)], [1, subcode, data], name);
    tt.throws(() => f.push(hex(`${MARKER} 0013 04`)), BgpError, `${name}: the framer stays failed`);
  }
  void delivered;
}

t.test('framer: header errors (RFC 4271 §6.1)', (t) => {
  const ka = hex(`${MARKER} 0013 04`);
  const badMarker = ka.slice();
  badMarker[0] = 0;
  framingError(t, [badMarker], 1, '', 'marker');
  framingError(t, [cat(ka, badMarker)], 1, '', 'marker in the second message');
  framingError(t, Array.from(cat(ka, badMarker), (b) => Uint8Array.of(b)), 1, '', 'marker, byte by byte');
  framingError(t, [hex(`${MARKER} 0012 04`)], 2, '0012', 'length 18');
  framingError(t, [hex(`${MARKER} 1001 02`)], 2, '1001', 'length 4097');
  framingError(t, [hex(`${MARKER} 00`), hex('00 04')], 2, '0000', 'length 0 split across chunks');
  // Messages before the bad one are delivered by the pushes that completed them.
  const f = new Framer();
  t.equal(f.push(ka).length, 1);
  t.throws(() => f.push(hex(`${MARKER} ffff 02`)), BgpError);
  // A larger limit (RFC 8654) accepts longer messages.
  const big = new Framer(65535);
  t.equal(big.push(cat(MARKER, u16(5000), '02', new Uint8Array(4981))).length, 1);
  t.end();
});

t.test('framer + decode on Node Buffers: decoded data does not alias the socket buffer', (t) => {
  const note = message(3, '06 02 03 627965');
  const buf = Buffer.from(cat(note, note.subarray(0, 10)));
  const frames = new Framer().push(buf);
  t.equal(frames.length, 1);
  t.equal(Object.getPrototypeOf(frames[0]), Uint8Array.prototype, 'plain Uint8Array view');
  const m = decodeMessage(frames[0]!, ctx4);
  const direct = decodeMessage(Buffer.from(note), ctx4);
  buf.fill(0);
  t.same(m, { type: 'notification', code: 6, subcode: 2, data: Uint8Array.of(3, 0x62, 0x79, 0x65) });
  t.same(direct, m);
  t.end();
});

// ---------------------------------------------------------------- packing

function route(i: number): MacIpRoute {
  return {
    type: 'mac-ip',
    rd: { type: 1, ip: '192.168.1.87', assigned: 100 },
    esi: ZERO_ESI,
    ethernetTag: 0,
    mac: `52:54:00:${((i >> 16) & 0xff).toString(16).padStart(2, '0')}:${((i >> 8) & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`,
    ip: `10.${(i >> 16) & 0xff}.${(i >> 8) & 0xff}.${i & 0xff}`,
    label1: 100,
    label2: null,
  };
}

const shared: PathAttributes = {
  origin: 0,
  asPath: [],
  localPref: 200,
  extCommunities: [{ kind: 'route-target', form: 'as2', asn: 65001, local: 100 }, { kind: 'encapsulation', tunnelType: 8 }],
};

function routesOf(msgs: UpdateMessage[], which: 'reach' | 'unreach'): EvpnRoute[] {
  const out: EvpnRoute[] = [];
  for (const m of msgs) {
    const set = which === 'reach' ? m.attributes.mpReach?.nlri : m.attributes.mpUnreach?.nlri;
    if (set?.kind === 'evpn') out.push(...set.routes);
  }
  return out;
}

/** Encoded size, or Infinity when above the 4096-byte limit. */
function encodedLength(m: UpdateMessage): number {
  try {
    return encodeMessage(m, ctx4).length;
  } catch {
    return Infinity;
  }
}

t.test('packUpdates: fills each UPDATE, never above the limit, keeps every route in order', (t) => {
  const routes = Array.from({ length: 500 }, (_, i) => route(i));
  const withdraw = Array.from({ length: 300 }, (_, i) => route(10000 + i));
  for (const max of [4096, 1000, 300, 200]) {
    const msgs = packUpdates({ announce: [{ attributes: shared, nextHop: '192.168.1.87', routes }], withdraw }, ctx4, max);
    const enc = msgs.map((m) => encodeMessage(m, ctx4));
    t.ok(enc.every((e) => e.length <= max), `max ${max}: all within the limit`);
    const decoded = enc.map((e) => decodeMessage(e, ctx4) as UpdateMessage);
    t.same(routesOf(decoded, 'reach'), routes, `max ${max}: announced routes in order`);
    t.same(routesOf(decoded, 'unreach'), withdraw, `max ${max}: withdrawn routes in order`);
    // RFC 7606 §5.1: one kind of NLRI per UPDATE.
    t.ok(decoded.every((m) => (m.attributes.mpReach ? 1 : 0) + (m.attributes.mpUnreach ? 1 : 0) === 1), `max ${max}: one MP attribute each`);
    t.ok(decoded.filter((m) => m.attributes.mpReach).every((m) => m.attributes.localPref === 200 && m.attrErrors === undefined));
    // Greedy: the first route of the next message would not have fitted.
    let maximal = true;
    for (let i = 0; i + 1 < msgs.length; i++) {
      const a = msgs[i]!.attributes;
      const b = msgs[i + 1]!.attributes;
      if (a.mpReach && b.mpReach && a.mpReach.nlri.kind === 'evpn' && b.mpReach.nlri.kind === 'evpn') {
        const grown: UpdateMessage = { ...msgs[i]!, attributes: { ...a, mpReach: { ...a.mpReach, nlri: { kind: 'evpn', routes: [...a.mpReach.nlri.routes, b.mpReach.nlri.routes[0]!] } } } };
        if (encodedLength(grown) <= max) maximal = false;
      }
      if (a.mpUnreach && b.mpUnreach && a.mpUnreach.nlri.kind === 'evpn' && b.mpUnreach.nlri.kind === 'evpn') {
        const grown: UpdateMessage = { ...msgs[i]!, attributes: { mpUnreach: { ...a.mpUnreach, nlri: { kind: 'evpn', routes: [...a.mpUnreach.nlri.routes, b.mpUnreach.nlri.routes[0]!] } } } };
        if (encodedLength(grown) <= max) maximal = false;
      }
    }
    t.ok(maximal, `max ${max}: each message is full`);
  }
  // 4096 bytes hold (4096 - 19 - 4 - 4 - 3) / 39 = 104 withdrawn MAC/IP routes.
  const w = packUpdates({ withdraw: Array.from({ length: 104 }, (_, i) => route(i)) }, ctx4);
  t.equal(w.length, 1);
  t.equal(packUpdates({ withdraw: Array.from({ length: 105 }, (_, i) => route(i)) }, ctx4).length, 2);
  t.end();
});

t.test('packUpdates: groups, IPv6 next hop, empty input, oversized attributes', (t) => {
  const msgs = packUpdates({
    announce: [
      { attributes: shared, nextHop: '192.168.1.87', routes: [route(1), route(2)] },
      { attributes: { ...shared, localPref: 100 }, nextHop: ['2001:db8::87'], routes: [route(3)] },
      { attributes: shared, nextHop: '192.168.1.87', routes: [] },
    ],
  }, ctx4);
  t.equal(msgs.length, 2);
  t.same(msgs[1]!.attributes.mpReach?.nextHop, ['2001:db8::87']);
  t.equal(msgs[1]!.attributes.localPref, 100);
  t.same(packUpdates({}, ctx4), []);
  const huge: PathAttributes = { ...shared, unknown: [{ flags: 0xc0, typeCode: 250, value: new Uint8Array(4040) }] };
  t.throws(() => packUpdates({ announce: [{ attributes: huge, nextHop: '10.0.0.1', routes: [route(1)] }] }, ctx4), RangeError);
  t.end();
});

t.test('End-of-RIB markers (RFC 4724 §2)', (t) => {
  const v4 = encodeMessage(endOfRib(IPV4_UNICAST), ctx4);
  t.equal(toHex(v4), toHex(update({})));
  const evpn = encodeMessage(endOfRib(L2VPN_EVPN), ctx4);
  t.equal(toHex(evpn), toHex(update({ attrs: [attr(0x80, 15, '0019 46')] })));
  const v6 = encodeMessage(endOfRib(IPV6_UNICAST), ctx4);
  t.equal(toHex(v6), toHex(update({ attrs: [attr(0x80, 15, '0002 01')] })));
  const other = encodeMessage(endOfRib({ afi: 1, safi: 133 }), ctx4);
  t.equal(toHex(other), toHex(update({ attrs: [attr(0x80, 15, '0001 85')] })));
  t.same(isEndOfRib(decodeMessage(v4, ctx4) as UpdateMessage), { afi: 1, safi: 1 });
  t.same(isEndOfRib(decodeMessage(evpn, ctx4) as UpdateMessage), { afi: 25, safi: 70 });
  t.same(isEndOfRib(decodeMessage(v6, ctx4) as UpdateMessage), { afi: 2, safi: 1 });
  t.same(isEndOfRib(decodeMessage(other, ctx4) as UpdateMessage), { afi: 1, safi: 133 });
  // Not End-of-RIB: a withdrawal, an announcement, MP_UNREACH with other attributes.
  const wd = packUpdates({ withdraw: [route(1)] }, ctx4)[0]!;
  t.equal(isEndOfRib(wd), null);
  t.equal(isEndOfRib(packUpdates({ announce: [{ attributes: shared, nextHop: '10.0.0.1', routes: [route(1)] }] }, ctx4)[0]!), null);
  t.equal(isEndOfRib(decodeMessage(update({ attrs: [attr(0x80, 15, '0019 46'), attr(0x40, 1, '00')] }), ctx4) as UpdateMessage), null);
  t.equal(isEndOfRib(decodeMessage(update({ withdrawn: '08 0a' }), ctx4) as UpdateMessage), null);
  t.equal(isEndOfRib({ type: 'update', withdrawn: [], nlri: [], attributes: {}, attrErrors: [{ typeCode: 6, action: 'discard', reason: 'x' }] }), null);
  t.end();
});

void u32;
