// Seeded mutation fuzzing of Framer + decodeMessage. From a corpus of valid
// messages (OPEN, KEEPALIVE, NOTIFICATION, ROUTE-REFRESH, IPv4 and EVPN
// UPDATEs), each iteration applies bit flips, byte changes, truncations,
// length-field edits, duplicated attributes, insertions, deletions and
// splices, then checks that only BgpError escapes, and that whatever decodes
// re-encodes and decodes again to the same message.
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { BgpError } from '../../src/bgp/errors.js';
import { Framer } from '../../src/bgp/framer.js';
import { L2VPN_EVPN } from '../../src/bgp/iana.js';
import { decodeMessage, encodeMessage } from '../../src/bgp/message.js';
import { endOfRib } from '../../src/bgp/pack.js';
import type { CodecContext, Message, PathAttributes } from '../../src/bgp/types.js';
import { ZERO_ESI, type EvpnRoute } from '../../src/evpn/types.js';
import { hex, MARKER, message } from '../lib/bytes.js';
import { mulberry32 as rng } from '../lib/prng.js';

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);


const ctx2: CodecContext = { fourOctetAs: false };
const ctx4: CodecContext = { fourOctetAs: true };
const rd = { type: 1 as const, ip: '192.168.1.87', assigned: 100 };

const evpnRoutes: EvpnRoute[] = [
  { type: 'mac-ip', rd, esi: ZERO_ESI, ethernetTag: 0, mac: '52:54:00:12:34:56', ip: '192.168.0.87', label1: 100, label2: null },
  { type: 'mac-ip', rd, esi: '00:11:22:33:44:55:66:77:88:99', ethernetTag: 7, mac: '52:54:00:12:34:57', ip: null, label1: 100, label2: null },
  { type: 'mac-ip', rd: { type: 0, asn: 65001, assigned: 7 }, esi: ZERO_ESI, ethernetTag: 0, mac: '52:54:00:12:34:58', ip: '2001:db8::58', label1: 100, label2: 5000 },
  { type: 'inclusive-multicast', rd, ethernetTag: 0, originatorIp: '192.168.1.87' },
  { type: 'ethernet-ad', rd: { type: 2, asn: 4200000000, assigned: 1 }, esi: '01:02:03:04:05:06:07:08:09:0a', ethernetTag: 0xffffffff, label: 0 },
  { type: 'ethernet-segment', rd, esi: '01:02:03:04:05:06:07:08:09:0a', originatorIp: '2001:db8::1' },
  { type: 'ip-prefix', rd, esi: ZERO_ESI, ethernetTag: 0, prefix: '10.1.0.0', prefixLength: 16, gatewayIp: '0.0.0.0', label: 200 },
  { type: 'unknown', routeType: 9, value: Uint8Array.of(1, 2, 3) },
];

const evpnAttrs: PathAttributes = {
  origin: 0,
  asPath: [{ type: 'sequence', asns: [65001, 4200000000] }],
  localPref: 200,
  med: 5,
  extCommunities: [
    { kind: 'route-target', form: 'as2', asn: 65001, local: 100 },
    { kind: 'encapsulation', tunnelType: 8 },
    { kind: 'mac-mobility', sequence: 3, sticky: false },
    { kind: 'unknown', bytes: Uint8Array.of(0x80, 1, 2, 3, 4, 5, 6, 7) },
  ],
  pmsiTunnel: { flags: 0, tunnelType: 6, label: 100, tunnelId: Uint8Array.of(192, 168, 1, 87) },
  mpReach: { afi: 25, safi: 70, nextHop: ['192.168.1.87'], nlri: { kind: 'evpn', routes: evpnRoutes } },
};

const structs: Array<[Message, CodecContext]> = [
  [{
    type: 'open', version: 4, myAs: 65001, holdTime: 9, bgpId: '192.168.1.87',
    capabilities: [
      { kind: 'multiprotocol', afi: 25, safi: 70 }, { kind: 'route-refresh' }, { kind: 'enhanced-route-refresh' },
      { kind: 'four-octet-as', asn: 65001 },
      { kind: 'graceful-restart', restartState: true, notification: false, restartTime: 120, families: [{ afi: 25, safi: 70, forwardingPreserved: false }] },
      { kind: 'extended-next-hop', entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] },
      { kind: 'unknown', code: 73, value: Uint8Array.of(3, 0x61, 0x62, 0x63, 0) },
    ],
  }, ctx2],
  [{
    type: 'open', version: 4, myAs: 23456, holdTime: 90, bgpId: '10.0.0.1',
    capabilities: Array.from({ length: 70 }, (_, i) => ({ kind: 'multiprotocol' as const, afi: 1 + (i % 3), safi: i })),
  }, ctx2],
  [{ type: 'keepalive' }, ctx2],
  [{ type: 'notification', code: 6, subcode: 2, data: Uint8Array.of(4, 0x62, 0x79, 0x65, 0x21) }, ctx2],
  [{ type: 'route-refresh', afi: 25, safi: 70, subtype: 1 }, ctx2],
  [{ type: 'update', withdrawn: [], nlri: [], attributes: evpnAttrs }, ctx4],
  [{ type: 'update', withdrawn: [], nlri: [], attributes: { ...evpnAttrs, mpReach: { ...evpnAttrs.mpReach!, nextHop: ['2001:db8::1', 'fe80::1'] } } }, ctx2],
  [{ type: 'update', withdrawn: [], nlri: [], attributes: { mpUnreach: { afi: 25, safi: 70, nlri: { kind: 'evpn', routes: evpnRoutes } } } }, ctx4],
  [{
    type: 'update',
    withdrawn: [{ prefix: '10.1.0.0', length: 16 }],
    nlri: [{ prefix: '10.2.3.0', length: 24 }, { prefix: '10.2.3.128', length: 25 }],
    attributes: {
      origin: 1, asPath: [{ type: 'sequence', asns: [65001, 65002] }, { type: 'set', asns: [1, 2] }], nextHop: '192.0.2.1',
      med: 50, localPref: 200, atomicAggregate: true, aggregator: { asn: 65001, ip: '10.0.0.1' }, communities: [1, 2],
      originatorId: '10.9.9.9', clusterList: ['10.0.0.2'], as4Path: [{ type: 'sequence', asns: [4200000000] }],
      as4Aggregator: { asn: 4200000000, ip: '10.0.0.1' }, unknown: [{ flags: 0xe0, typeCode: 99, value: Uint8Array.of(1, 2) }],
    },
  }, ctx2],
  [{
    type: 'update', withdrawn: [], nlri: [],
    attributes: {
      origin: 0, asPath: [],
      mpReach: { afi: 2, safi: 1, nextHop: ['2001:db8::1'], nlri: { kind: 'prefix', prefixes: [{ prefix: '2001:db8:1::', length: 48 }] } },
      mpUnreach: { afi: 1, safi: 1, nlri: { kind: 'prefix', prefixes: [{ prefix: '10.0.0.0', length: 8 }] } },
    },
  }, ctx4],
  [endOfRib(L2VPN_EVPN), ctx4],
];

const corpus: Uint8Array[] = [
  ...structs.map(([m, c]) => encodeMessage(m, c)),
  // Hand-built: RFC 9072 OPEN, an UPDATE with an extended-length short attribute.
  message(1, '04 fde9 005a c0a80157', 'ff ff 000b 02 0008 01 04 0019 00 46 02 00'),
  message(2, '0000 000b 50 01 0001 00 40 02 00 40 03 04 0a000001', '08 0a'),
  hex(`${MARKER} 0013 04`),
];

const KEEPALIVE = hex(`${MARKER} 0013 04`);

interface Scan {
  attrTotalAt: number;
  attrs: Array<{ at: number; lenAt: number; lenSize: number; end: number }>;
}

/** Locate the attribute fields of a (possibly mangled) UPDATE, as far as they parse. */
function scanUpdate(b: Uint8Array): Scan | null {
  if (b.length < 23 || b[18] !== 2) return null;
  const wd = (b[19]! << 8) | b[20]!;
  const attrTotalAt = 21 + wd;
  if (attrTotalAt + 2 > b.length) return null;
  const total = (b[attrTotalAt]! << 8) | b[attrTotalAt + 1]!;
  const start = attrTotalAt + 2;
  const end = Math.min(b.length, start + total);
  const attrs: Scan['attrs'] = [];
  let p = start;
  while (p + 3 <= end) {
    const ext = (b[p]! & 0x10) !== 0;
    const lenSize = ext ? 2 : 1;
    if (p + 2 + lenSize > end) break;
    const len = ext ? (b[p + 2]! << 8) | b[p + 3]! : b[p + 2]!;
    const e = p + 2 + lenSize + len;
    if (e > end) break;
    attrs.push({ at: p, lenAt: p + 2, lenSize, end: e });
    p = e;
  }
  return { attrTotalAt, attrs };
}

/** Concatenation without the hex parsing of test/lib/bytes.ts cat (hot loop). */
function join(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function setU16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >> 8) & 0xff;
  b[at + 1] = v & 0xff;
}

function mutate(src: Uint8Array, rand: () => number): Uint8Array {
  let b: Uint8Array = src.slice();
  const pick = (n: number) => Math.floor(rand() * n);
  const rounds = 1 + pick(3);
  for (let k = 0; k < rounds; k++) {
    if (b.length === 0) break;
    switch (pick(10)) {
      case 0: // bit flips
        for (let i = 1 + pick(3); i > 0; i--) b[pick(b.length)]! ^= 1 << pick(8);
        break;
      case 1: // byte change, biased to interesting values
        b[19 + pick(Math.max(1, b.length - 19))] = [0, 1, 2, 0x7f, 0x80, 0xff, pick(256)][pick(7)]!;
        break;
      case 2: // truncation
        b = b.slice(0, pick(b.length + 1));
        break;
      case 3: { // an attribute's length field +-
        const s = scanUpdate(b);
        if (!s || s.attrs.length === 0) break;
        const a = s.attrs[pick(s.attrs.length)]!;
        const at = a.lenAt + a.lenSize - 1;
        b[at] = (b[at]! + [1, -1, 2, -2, 8, -8, 0x80][pick(7)]!) & 0xff;
        break;
      }
      case 4: { // withdrawn / total attribute length +-
        const s = scanUpdate(b);
        const at = s && rand() < 0.7 ? s.attrTotalAt : 19;
        if (at + 2 > b.length) break;
        setU16(b, at, (((b[at]! << 8) | b[at + 1]!) + [1, -1, 3, -3, 40, -40][pick(6)]!) & 0xffff);
        break;
      }
      case 5: { // duplicate an attribute
        const s = scanUpdate(b);
        if (!s || s.attrs.length === 0) break;
        const a = s.attrs[pick(s.attrs.length)]!;
        const copy = b.slice(a.at, a.end);
        const insertAt = s.attrs[pick(s.attrs.length)]!.end;
        b = join(b.subarray(0, insertAt), copy, b.subarray(insertAt));
        const total = (b[s.attrTotalAt]! << 8) | b[s.attrTotalAt + 1]!;
        setU16(b, s.attrTotalAt, (total + copy.length) & 0xffff);
        break;
      }
      case 6: { // insert random bytes
        const at = pick(b.length + 1);
        const extra = Uint8Array.from({ length: 1 + pick(8) }, () => pick(256));
        b = join(b.subarray(0, at), extra, b.subarray(at));
        break;
      }
      case 7: { // delete a range
        const at = pick(b.length);
        b = join(b.subarray(0, at), b.subarray(Math.min(b.length, at + 1 + pick(12))));
        break;
      }
      case 8: // header length field
        if (b.length >= 18) setU16(b, 16, [0, 18, 19, 4096, 4097, 0xffff, b.length + 1, b.length - 1][pick(8)]! & 0xffff);
        break;
      default: { // splice a piece of another corpus message
        const other = corpus[pick(corpus.length)]!;
        const from = pick(other.length);
        const piece = other.subarray(from, from + 1 + pick(40));
        const at = pick(b.length + 1);
        b = join(b.subarray(0, at), piece, b.subarray(Math.min(b.length, at + pick(piece.length + 1))));
      }
    }
  }
  // Mostly keep the header length consistent so mutations reach the body decoders.
  if (b.length >= 18 && rand() < 0.85) setU16(b, 16, Math.min(b.length, 0xffff));
  return b;
}

function strip(m: Message): Message {
  if (m.type !== 'update' || m.attrErrors === undefined) return m;
  const { attrErrors: _e, ...rest } = m;
  return rest;
}

t.test(`fuzz: ${ITERATIONS} mutated messages through Framer and decodeMessage`, (t) => {
  const rand = rng(SEED);
  // Stack traces are most of the cost of a thrown BgpError; the hex input is
  // what reproduces a failure, so capture none during the loop.
  const stackLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  t.teardown(() => {
    Error.stackTraceLimit = stackLimit;
  });
  const started = performance.now();
  const escaped: string[] = [];
  const mismatched: string[] = [];
  const stats = { decoded: 0, bgpErrors: 0, framed: 0, framerErrors: 0, reencoded: 0, tooBig: 0, withAttrErrors: 0 };
  const codes = new Map<string, number>();
  const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

  for (let i = 0; i < ITERATIONS; i++) {
    const src = corpus[i % corpus.length]!;
    const m = mutate(src, rand);
    const ctx = rand() < 0.5 ? ctx2 : ctx4;

    // Framer: the mutated message followed by a KEEPALIVE, split at a random offset.
    const stream = join(m, KEEPALIVE);
    const cut = Math.floor(rand() * (stream.length + 1));
    const framer = new Framer();
    const frames: Uint8Array[] = [];
    try {
      frames.push(...framer.push(stream.subarray(0, cut)), ...framer.push(stream.subarray(cut)));
    } catch (e) {
      if (e instanceof BgpError) stats.framerErrors++;
      else escaped.push(`framer ${String(e)} ${hexOf(m)}`);
    }
    stats.framed += frames.length;

    for (const input of [m, ...frames.slice(0, 1)]) {
      let decoded: Message;
      try {
        decoded = decodeMessage(input, ctx);
      } catch (e) {
        if (e instanceof BgpError) {
          stats.bgpErrors++;
          const k = `${e.code}/${e.subcode}`;
          codes.set(k, (codes.get(k) ?? 0) + 1);
        } else {
          escaped.push(`decode ${e instanceof Error ? e.stack : String(e)} ctx4=${ctx.fourOctetAs} ${hexOf(input)}`);
        }
        continue;
      }
      stats.decoded++;
      if (decoded.type === 'update' && decoded.attrErrors) stats.withAttrErrors++;
      let again: Uint8Array;
      try {
        again = encodeMessage(decoded, ctx);
      } catch (e) {
        // Withdrawn EVPN routes without labels gain 3 bytes each when re-encoded.
        if (e instanceof RangeError && e.message.includes('exceeds 4096')) {
          stats.tooBig++;
          continue;
        }
        escaped.push(`re-encode ${e instanceof Error ? e.stack : String(e)} ctx4=${ctx.fourOctetAs} ${hexOf(input)}`);
        continue;
      }
      stats.reencoded++;
      try {
        const back = decodeMessage(again, ctx);
        if (!isDeepStrictEqual(strip(back), strip(decoded))) mismatched.push(`ctx4=${ctx.fourOctetAs} ${hexOf(input)}`);
      } catch (e) {
        mismatched.push(`re-decode ${String(e)} ctx4=${ctx.fourOctetAs} ${hexOf(input)}`);
      }
    }
  }
  const seconds = (performance.now() - started) / 1000;
  Error.stackTraceLimit = stackLimit;
  t.comment(`seed ${SEED}: ${ITERATIONS} iterations in ${seconds.toFixed(1)} s; ${JSON.stringify(stats)}`);
  t.comment(`NOTIFICATIONs: ${[...codes].sort().map(([k, v]) => `${k}:${v}`).join(' ')}`);
  t.same(escaped.slice(0, 5), [], 'nothing but BgpError escapes');
  t.equal(escaped.length, 0);
  t.same(mismatched.slice(0, 5), [], 'decoded messages re-encode to the same message');
  t.ok(stats.decoded > ITERATIONS / 20, 'a fair share of mutants still decode');
  t.ok(stats.bgpErrors > ITERATIONS / 20, 'a fair share of mutants are rejected');
  t.end();
});
