// The mutation fuzzer shared by the unit test (test/unit/fuzz.test.ts, 100k BGP
// mutants) and `npm run fuzz` (scripts/fuzz.ts, 10M mutants of every decoder
// input). One seed corpus per target, one mutator, one checker per target that
// knows the decoder's contract:
//   bgp          Framer + decodeMessage: a message or a BgpError (RFC 4271 §6);
//                whatever decodes re-encodes and decodes to the same message.
//   bfd          decodeControl: a packet or a BfdPacketError (RFC 5880 §6.8.6).
//   probe-frame  decodeProbeFrame: never throws, returns { ok: false } instead.
//   probe        decodeProbeMessage: never throws either.
// Anything else thrown is an escape. Inputs that ever escaped (or hung) are kept
// in test/golden/fuzz/ and replayed by test/unit/fuzz-corpus.test.ts.
import { isDeepStrictEqual } from 'node:util';
import { BfdPacketError, decodeControl, encodeControl } from '../../src/bfd/packet.js';
import { BgpError } from '../../src/bgp/errors.js';
import { Framer } from '../../src/bgp/framer.js';
import { L2VPN_EVPN } from '../../src/bgp/iana.js';
import { decodeMessage, encodeMessage } from '../../src/bgp/message.js';
import { endOfRib } from '../../src/bgp/pack.js';
import type { CodecContext, Message, PathAttributes } from '../../src/bgp/types.js';
import { ZERO_ESI, type EvpnRoute } from '../../src/evpn/types.js';
import {
  decodeProbeFrame, decodeProbeMessage, encodeProbeFrame, encodeProbeMessage, internetChecksum,
} from '../../src/probe/packet.js';
import { hex, MARKER, message } from './bytes.js';
import '../../src/evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

export const ctx2: CodecContext = { fourOctetAs: false };
export const ctx4: CodecContext = { fourOctetAs: true };

// ---------------------------------------------------------------------------
// Seed corpora

const rd = { type: 1 as const, ip: '192.168.1.87', assigned: 100 };

/** EVPN routes of every type (RFC 7432 §7.1-7.4, RFC 9136 §3) and an unknown one (RFC 7606 §5.4). */
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

/** Valid messages of every type, each with the context it is encoded for. */
export const bgpStructs: Array<[Message, CodecContext]> = [
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

/** The BGP seed corpus of the unit test: the messages above, encoded, plus three built by hand. */
export const bgpCorpus: Uint8Array[] = [
  ...bgpStructs.map(([m, c]) => encodeMessage(m, c)),
  // Hand-built: RFC 9072 OPEN, an UPDATE with an extended-length short attribute.
  message(1, '04 fde9 005a c0a80157', 'ff ff 000b 02 0008 01 04 0019 00 46 02 00'),
  message(2, '0000 000b 50 01 0001 00 40 02 00 40 03 04 0a000001', '08 0a'),
  hex(`${MARKER} 0013 04`),
];

/** BFD Control packets (RFC 5880 §4.1) in each state, with P and F, and one with an authentication section. */
export const bfdCorpus: Uint8Array[] = ([
  encodeControl({ diag: 0, state: 'Down', poll: false, final: false, controlPlaneIndependent: false, demand: false, detectMult: 3,
    myDiscriminator: 1, yourDiscriminator: 0, desiredMinTxUs: 1_000_000, requiredMinRxUs: 300_000, requiredMinEchoRxUs: 0 }),
  encodeControl({ diag: 1, state: 'Init', poll: true, final: false, controlPlaneIndependent: true, demand: false, detectMult: 5,
    myDiscriminator: 0x12345678, yourDiscriminator: 7, desiredMinTxUs: 300_000, requiredMinRxUs: 300_000, requiredMinEchoRxUs: 50_000 }),
  encodeControl({ diag: 3, state: 'Up', poll: false, final: true, controlPlaneIndependent: false, demand: true, detectMult: 255,
    myDiscriminator: 0xffffffff, yourDiscriminator: 0xffffffff, desiredMinTxUs: 0xffffffff, requiredMinRxUs: 0, requiredMinEchoRxUs: 0 }),
  hex('20 44 03 23 00000001 00000002 000f4240 000f4240 00000000 01 0b 01 70617373776f7264'),
] as Uint8Array[]).map((b) => new Uint8Array(b));

/**
 * Mostly set a mutated BFD packet's Length field (RFC 5880 §4.1) to its size,
 * so that mutants get past the length check to the fields behind it.
 */
export function fixBfd(b: Uint8Array, rand: () => number): void {
  if (b.length >= 4 && rand() < 0.85) b[3] = Math.min(b.length, 255);
}

const probeMessages: Uint8Array[] = [
  encodeProbeMessage({ type: 'request', sequence: 1, nonce: 0x0123456789abcdefn, txTime: 1234.5, echoTime: 0,
    senderVtep: '192.168.1.65', targetVtep: '192.168.1.87', senderMac: '02:00:00:00:00:65', network: 'net1' }),
  encodeProbeMessage({ type: 'reply', sequence: 0xffffffff, nonce: 0xffffffffffffffffn, txTime: 99, echoTime: 1234.5,
    senderVtep: '192.168.2.87', targetVtep: '192.168.2.65', senderMac: '02:00:00:00:00:87', network: 'underlay-ä' }),
];

/** Probe messages (src/probe/packet.ts) on their own. */
export const probeCorpus: Uint8Array[] = probeMessages;

/** Probe frames: VXLAN (RFC 7348 §5) + Ethernet + IPv4 + UDP around a probe message. */
export const probeFrameCorpus: Uint8Array[] = probeMessages.map((payload, i) => encodeProbeFrame({
  vni: i === 0 ? 100 : 0xffffff, dstMac: '02:00:00:00:00:87', srcMac: '02:00:00:00:00:65', srcIp: '192.168.0.65',
  dstIp: '192.168.0.87', srcPort: 49152 + i, dstPort: 4790, ttl: 64, ipId: i, tos: i * 4, payload,
}));

export type Target = 'bgp' | 'bfd' | 'probe-frame' | 'probe';
export const TARGETS: readonly Target[] = ['bgp', 'bfd', 'probe-frame', 'probe'];

// ---------------------------------------------------------------------------
// The mutator

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
export function join(...parts: Uint8Array[]): Uint8Array {
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

/**
 * One mutant of `src`: 1-3 rounds of bit flips, byte changes, truncations,
 * length-field edits, duplicated attributes, insertions, deletions and splices
 * of a piece of another message from `pool`. With `bgp` (the default) the BGP
 * header is respected: byte changes spare the marker, the header length is
 * edited, and mostly kept consistent so that mutants reach the body decoders.
 */
export function mutate(src: Uint8Array, rand: () => number, pool: readonly Uint8Array[], bgp = true): Uint8Array {
  let b: Uint8Array = new Uint8Array(src); // a copy (Buffer.prototype.slice would be a view)
  const pick = (n: number) => Math.floor(rand() * n);
  const bodyFrom = bgp ? 19 : 0;
  const rounds = 1 + pick(3);
  for (let k = 0; k < rounds; k++) {
    if (b.length === 0) break;
    switch (pick(10)) {
      case 0: // bit flips
        for (let i = 1 + pick(3); i > 0; i--) b[pick(b.length)]! ^= 1 << pick(8);
        break;
      case 1: // byte change, biased to interesting values
        b[bodyFrom + pick(Math.max(1, b.length - bodyFrom))] = [0, 1, 2, 0x7f, 0x80, 0xff, pick(256)][pick(7)]!;
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
        if (bgp && b.length >= 18) setU16(b, 16, [0, 18, 19, 4096, 4097, 0xffff, b.length + 1, b.length - 1][pick(8)]! & 0xffff);
        break;
      default: { // splice a piece of another corpus message
        const other = pool[pick(pool.length)]!;
        const from = pick(other.length);
        const piece = other.subarray(from, from + 1 + pick(40));
        const at = pick(b.length + 1);
        b = join(b.subarray(0, at), piece, b.subarray(Math.min(b.length, at + pick(piece.length + 1))));
      }
    }
  }
  // Mostly keep the header length consistent so mutations reach the body decoders.
  if (bgp && b.length >= 18 && rand() < 0.85) setU16(b, 16, Math.min(b.length, 0xffff));
  return b;
}

/**
 * Mostly make a mutated probe frame's IPv4 header checksum verify again and
 * clear its UDP checksum (RFC 768: zero means none), so that mutants get past
 * the checksums to the fields behind them.
 */
export function fixProbeFrame(b: Uint8Array, rand: () => number): void {
  const ip = 8 + 14; // VXLAN header + Ethernet header (RFC 7348 §5)
  if (b.length < ip + 20 || rand() < 0.2) return;
  const ihl = (b[ip]! & 0x0f) * 4;
  if (ihl < 20 || b.length < ip + ihl) return;
  setU16(b, ip + 10, 0);
  setU16(b, ip + 10, internetChecksum(b, ip, ip + ihl)); // RFC 791 §3.1
  if (b.length >= ip + ihl + 8 && rand() < 0.8) setU16(b, ip + ihl + 6, 0);
}

// ---------------------------------------------------------------------------
// The checkers: a decoder's contract, per target

/** An input that broke a decoder's contract. */
export interface Finding {
  target: Target;
  /** 'escape' (something other than the contract's error was thrown), 'hang' (over the time budget) or 'mismatch' (no round trip). */
  kind: 'escape' | 'hang' | 'mismatch';
  /** Where: framer, decode, re-encode, re-decode. */
  stage: string;
  /** The thrown value (name: message), or what did not match. */
  error: string;
  /** Stack of the thrown value when stack traces were on. */
  stack?: string;
  fourOctetAs?: boolean;
  input: Uint8Array;
}

export interface Tally {
  stats: { decoded: number; bgpErrors: number; framed: number; framerErrors: number; reencoded: number; tooBig: number; withAttrErrors: number };
  /** NOTIFICATION code/subcode of each BgpError thrown by decodeMessage. */
  codes: Map<string, number>;
  escaped: Finding[];
  mismatched: Finding[];
}

export function newTally(): Tally {
  return {
    stats: { decoded: 0, bgpErrors: 0, framed: 0, framerErrors: 0, reencoded: 0, tooBig: 0, withAttrErrors: 0 },
    codes: new Map(),
    escaped: [],
    mismatched: [],
  };
}

const KEEPALIVE = hex(`${MARKER} 0013 04`);

function thrown(e: unknown): { error: string; stack?: string } {
  if (e instanceof Error) return { error: `${e.name}: ${e.message}`, ...(e.stack ? { stack: e.stack } : {}) };
  return { error: `non-Error thrown: ${String(e)}` };
}

function strip(m: Message): Message {
  if (m.type !== 'update' || m.attrErrors === undefined) return m;
  const { attrErrors: _e, ...rest } = m;
  return rest;
}

/**
 * A BGP input: through the Framer (followed by a KEEPALIVE, split at `cut` in
 * [0, 1)), then decodeMessage on the input and on the first framed message.
 * Only BgpError may be thrown; whatever decodes must re-encode and decode again
 * to the same message.
 */
export function checkBgp(m: Uint8Array, ctx: CodecContext, cut: number, tally: Tally): void {
  const { stats } = tally;
  const fourOctetAs = ctx.fourOctetAs;
  const stream = join(m, KEEPALIVE);
  const at = Math.floor(cut * (stream.length + 1));
  const framer = new Framer();
  const frames: Uint8Array[] = [];
  try {
    frames.push(...framer.push(stream.subarray(0, at)), ...framer.push(stream.subarray(at)));
  } catch (e) {
    if (e instanceof BgpError) stats.framerErrors++;
    else tally.escaped.push({ target: 'bgp', kind: 'escape', stage: 'framer', ...thrown(e), input: m });
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
        tally.codes.set(k, (tally.codes.get(k) ?? 0) + 1);
      } else {
        tally.escaped.push({ target: 'bgp', kind: 'escape', stage: 'decode', ...thrown(e), fourOctetAs, input });
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
      tally.escaped.push({ target: 'bgp', kind: 'escape', stage: 're-encode', ...thrown(e), fourOctetAs, input });
      continue;
    }
    stats.reencoded++;
    try {
      const back = decodeMessage(again, ctx);
      if (!isDeepStrictEqual(strip(back), strip(decoded))) {
        tally.mismatched.push({ target: 'bgp', kind: 'mismatch', stage: 're-decode', error: 'decoded message differs after re-encoding', fourOctetAs, input });
      }
    } catch (e) {
      tally.mismatched.push({ target: 'bgp', kind: 'mismatch', stage: 're-decode', ...thrown(e), fourOctetAs, input });
    }
  }
}

/** A BFD Control packet: decodeControl returns a packet or throws BfdPacketError. */
export function checkBfd(b: Uint8Array, tally: Tally): void {
  try {
    decodeControl(b);
    tally.stats.decoded++;
  } catch (e) {
    if (e instanceof BfdPacketError) tally.stats.bgpErrors++;
    else tally.escaped.push({ target: 'bfd', kind: 'escape', stage: 'decode', ...thrown(e), input: b });
  }
}

/** A probe frame or message: the decoders never throw. */
export function checkProbe(target: 'probe-frame' | 'probe', b: Uint8Array, tally: Tally): void {
  try {
    let ok: boolean;
    if (target === 'probe') ok = decodeProbeMessage(b).ok;
    else {
      const f = decodeProbeFrame(b);
      ok = f.ok && decodeProbeMessage(f.value.payload).ok;
    }
    if (ok) tally.stats.decoded++;
    else tally.stats.bgpErrors++;
  } catch (e) {
    tally.escaped.push({ target, kind: 'escape', stage: 'decode', ...thrown(e), input: b });
  }
}

/** One line per finding: what, where, and the input in hex (what reproduces it). */
export function describeFinding(f: Finding): string {
  const ctx = f.fourOctetAs === undefined ? '' : ` fourOctetAs=${f.fourOctetAs}`;
  return `${f.target} ${f.kind} in ${f.stage}: ${f.error}${ctx} ${Buffer.from(f.input).toString('hex')}`;
}

/**
 * Check one input against its target's contract. A BGP input is decoded in
 * both codec contexts and framed split at every offset (the fuzzer drew one
 * context and one split; a replay does not know which).
 */
export function checkInput(target: Target, b: Uint8Array, tally: Tally): void {
  switch (target) {
    case 'bgp': {
      checkBgp(b, ctx2, 0, tally);
      checkBgp(b, ctx4, 0.5, tally);
      const stream = join(b, KEEPALIVE);
      for (let at = 0; at <= stream.length; at++) {
        try {
          const f = new Framer();
          f.push(stream.subarray(0, at));
          f.push(stream.subarray(at));
        } catch (e) {
          if (!(e instanceof BgpError)) tally.escaped.push({ target, kind: 'escape', stage: `framer split at ${at}`, ...thrown(e), input: b });
        }
      }
      break;
    }
    case 'bfd':
      checkBfd(b, tally);
      break;
    default:
      checkProbe(target, b, tally);
  }
}
