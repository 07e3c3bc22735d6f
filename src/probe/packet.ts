// VTEP probe wire format: pure encode/decode of the bytes a probe datagram carries
// to `<remote VTEP>:4789`, and of the probe message inside it.
//
// The outer IPv4 or IPv6 / UDP headers are the kernel's (a dgram socket bound to the
// local VTEP address sends them; over IPv6 with the UDP checksum RFC 8200 §8.1
// makes mandatory); everything below is built here, so the remote kernel's
// vxlan0 decapsulates it like any other VXLAN packet and its bridge delivers the
// inner datagram to the evpn-ha probe socket.
//
//   outer UDP payload
//   +----------------------------------------------+
//   | VXLAN header (8)          RFC 7348 §5        |
//   +----------------------------------------------+
//   | inner Ethernet II (14)    dst = remote br MAC |
//   |                           src = local br MAC  |
//   |                           type 0x0800         |
//   +----------------------------------------------+
//   | inner IPv4 (20)           RFC 791 §3.1        |
//   |   local service IP -> remote service IP      |
//   +----------------------------------------------+
//   | inner UDP (8)             RFC 768             |
//   |   probe port -> probe port                    |
//   +----------------------------------------------+
//   | probe message (52 + name) see ProbeMessage    |
//   +----------------------------------------------+
//
// Decoders never throw: they return `{ ok: false, error }` with a typed kind.
import { formatIpv4, formatIpv6, formatMac, ipv4Bytes, ipv6Bytes, macBytes } from '../wire/addr.js';

/** IANA-assigned UDP destination port for VXLAN (RFC 7348 §5). */
export const VXLAN_PORT = 4789;
/**
 * Default inner UDP port of the probe socket; configurable, the same on all
 * servers. Not 4790 (VXLAN-GPE) nor 4791 (RoCEv2), which sit next to VXLAN's 4789.
 */
export const DEFAULT_PROBE_PORT = 4799;
export const VXLAN_HEADER_LENGTH = 8;
export const ETHERNET_HEADER_LENGTH = 14;
export const IPV4_HEADER_LENGTH = 20;
export const UDP_HEADER_LENGTH = 8;
/** Bytes from the start of the VXLAN header to the start of the inner UDP payload. */
export const ENCAP_OVERHEAD = VXLAN_HEADER_LENGTH + ETHERNET_HEADER_LENGTH + IPV4_HEADER_LENGTH + UDP_HEADER_LENGTH;

/** RFC 7348 §5: "I" flag, the only flag defined; it MUST be set for a valid VNI. */
const VXLAN_FLAG_I = 0x08;
const ETHERTYPE_IPV4 = 0x0800;
const IPPROTO_UDP = 17;
/** RFC 791 §3.1 flags: Don't Fragment. */
const IPV4_FLAG_DF = 0x4000;

// ---------------------------------------------------------------------------
// Addresses

// Parsers returning undefined on bad text, and the MAC formatter: the address module's.
export { ipv4Bytes as parseIpv4, macBytes as parseMac, formatMac, formatIpv4 };

/**
 * A VTEP (underlay) address, IPv4 dotted quad or IPv6 text, to 4 or 16 bytes;
 * undefined if it is neither.
 */
export function parseVtep(s: string): Uint8Array | undefined {
  return s.includes(':') ? ipv6Bytes(s) : ipv4Bytes(s);
}

function mustIpv4(s: string, what: string): Uint8Array {
  const b = ipv4Bytes(s);
  if (b === undefined) throw new RangeError(`${what}: not an IPv4 address: ${JSON.stringify(s)}`);
  return b;
}

function mustMac(s: string, what: string): Uint8Array {
  const b = macBytes(s);
  if (b === undefined) throw new RangeError(`${what}: not a MAC address: ${JSON.stringify(s)}`);
  return b;
}

// ---------------------------------------------------------------------------
// Checksums

/** RFC 1071 ones' complement sum of 16-bit words (odd trailing byte padded with zero), not yet complemented. */
function onesSum(buf: Uint8Array, start: number, end: number, initial = 0): number {
  let sum = initial;
  let i = start;
  for (; i + 1 < end; i += 2) sum += (buf[i]! << 8) | buf[i + 1]!;
  if (i < end) sum += buf[i]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** RFC 791 §3.1 header checksum over `buf[start, end)` (the checksum field counted as it is). */
export function internetChecksum(buf: Uint8Array, start = 0, end = buf.length, initial = 0): number {
  return ~onesSum(buf, start, end, initial) & 0xffff;
}

/**
 * RFC 768 pseudo-header sum: source, destination, zero, protocol, UDP length;
 * the addresses are read from the IPv4 header at b[ip..].
 */
function udpPseudoSum(b: Uint8Array, ip: number, udpLength: number): number {
  const a = ip + 12; // source address; the destination follows at ip + 16
  return (
    ((b[a]! << 8) | b[a + 1]!) + ((b[a + 2]! << 8) | b[a + 3]!) +
    ((b[a + 4]! << 8) | b[a + 5]!) + ((b[a + 6]! << 8) | b[a + 7]!) +
    IPPROTO_UDP + udpLength
  );
}

// ---------------------------------------------------------------------------
// VXLAN + Ethernet + IPv4 + UDP

/** The encapsulation around a probe message, as the sender builds it. */
export interface ProbeFrame {
  /** VXLAN Network Identifier, 24 bits (RFC 7348 §5). */
  vni: number;
  /** Inner Ethernet destination: the remote br-vxlan MAC. */
  dstMac: string;
  /** Inner Ethernet source: the local br-vxlan MAC. */
  srcMac: string;
  /** Inner IPv4 source: the local service address. */
  srcIp: string;
  /** Inner IPv4 destination: the remote service address. */
  dstIp: string;
  srcPort: number;
  dstPort: number;
  /** Inner IPv4 TTL; default 64. */
  ttl?: number;
  /** Inner IPv4 Identification; default 0 (DF is set, so it is not used for reassembly). */
  ipId?: number;
  /** Inner IPv4 TOS byte (DSCP << 2 | ECN); default 0. */
  tos?: number;
  /** Inner UDP payload (the probe message). */
  payload: Uint8Array;
}

/** A decoded probe frame: every field as received, payload copied. */
export interface DecodedFrame {
  vni: number;
  dstMac: string;
  srcMac: string;
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  ttl: number;
  ipId: number;
  tos: number;
  /** False if the inner UDP checksum field was 0 ("no checksum", RFC 768). */
  udpChecksummed: boolean;
  payload: Uint8Array;
}

export type FrameErrorKind =
  | 'truncated'          // shorter than the headers it announces
  | 'vxlan-flags'        // I flag clear: no valid VNI (RFC 7348 §5: "MUST be set to 1 for a valid VNI")
  | 'not-ipv4'           // inner EtherType other than 0x0800
  | 'ip-version'         // IPv4 version field != 4
  | 'ip-header-length'   // IHL < 5
  | 'ip-checksum'        // RFC 791 header checksum mismatch
  | 'ip-total-length'    // total length larger than the frame or smaller than the header
  | 'fragment'           // MF set or non-zero fragment offset
  | 'not-udp'            // protocol != 17
  | 'udp-length'         // UDP length inconsistent with the IPv4 payload
  | 'udp-checksum';      // RFC 768 checksum mismatch

export interface FrameError {
  kind: FrameErrorKind;
  detail: string;
}

export type Decoded<T, E> = { ok: true; value: T } | { ok: false; error: E };

/** Build the outer UDP payload (VXLAN header onwards) carrying `f.payload`. Throws RangeError on invalid input. */
export function encodeProbeFrame(f: ProbeFrame): Uint8Array {
  if (!Number.isInteger(f.vni) || f.vni < 0 || f.vni > 0xffffff) throw new RangeError(`vni out of range: ${f.vni}`);
  for (const [k, v] of [['srcPort', f.srcPort], ['dstPort', f.dstPort]] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new RangeError(`${k} out of range: ${v}`);
  }
  const ttl = f.ttl ?? 64;
  const ipId = f.ipId ?? 0;
  const tos = f.tos ?? 0;
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > 255) throw new RangeError(`ttl out of range: ${ttl}`);
  if (!Number.isInteger(ipId) || ipId < 0 || ipId > 0xffff) throw new RangeError(`ipId out of range: ${ipId}`);
  if (!Number.isInteger(tos) || tos < 0 || tos > 255) throw new RangeError(`tos out of range: ${tos}`);
  const dstMac = mustMac(f.dstMac, 'dstMac');
  const srcMac = mustMac(f.srcMac, 'srcMac');
  const srcIp = mustIpv4(f.srcIp, 'srcIp');
  const dstIp = mustIpv4(f.dstIp, 'dstIp');
  const udpLength = UDP_HEADER_LENGTH + f.payload.length;
  const ipTotal = IPV4_HEADER_LENGTH + udpLength;
  if (ipTotal > 0xffff) throw new RangeError(`payload too long: ${f.payload.length}`);

  const out = new Uint8Array(ENCAP_OVERHEAD + f.payload.length);
  const v = new DataView(out.buffer);
  // RFC 7348 §5: flags (8) | reserved (24) | VNI (24) | reserved (8).
  out[0] = VXLAN_FLAG_I;
  v.setUint32(4, (f.vni << 8) >>> 0);
  // Ethernet II.
  const p = VXLAN_HEADER_LENGTH;
  out.set(dstMac, p);
  out.set(srcMac, p + 6);
  v.setUint16(p + 12, ETHERTYPE_IPV4);
  // RFC 791 §3.1.
  const ip = p + ETHERNET_HEADER_LENGTH;
  out[ip] = 0x45;
  out[ip + 1] = tos;
  v.setUint16(ip + 2, ipTotal);
  v.setUint16(ip + 4, ipId);
  v.setUint16(ip + 6, IPV4_FLAG_DF);
  out[ip + 8] = ttl;
  out[ip + 9] = IPPROTO_UDP;
  out.set(srcIp, ip + 12);
  out.set(dstIp, ip + 16);
  v.setUint16(ip + 10, internetChecksum(out, ip, ip + IPV4_HEADER_LENGTH));
  // RFC 768.
  const udp = ip + IPV4_HEADER_LENGTH;
  v.setUint16(udp, f.srcPort);
  v.setUint16(udp + 2, f.dstPort);
  v.setUint16(udp + 4, udpLength);
  out.set(f.payload, udp + UDP_HEADER_LENGTH);
  let ck = internetChecksum(out, udp, udp + udpLength, udpPseudoSum(out, ip, udpLength));
  // RFC 768: a computed zero is transmitted as all ones (zero means "no checksum").
  if (ck === 0) ck = 0xffff;
  v.setUint16(udp + 6, ck);
  return out;
}

/** Parse and validate an outer UDP payload (VXLAN header onwards). Never throws. */
export function decodeProbeFrame(buf: Uint8Array): Decoded<DecodedFrame, FrameError> {
  const fail = (kind: FrameErrorKind, detail: string): Decoded<DecodedFrame, FrameError> => ({ ok: false, error: { kind, detail } });
  if (buf.length < ENCAP_OVERHEAD) return fail('truncated', `${buf.length} bytes, need at least ${ENCAP_OVERHEAD}`);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if ((buf[0]! & VXLAN_FLAG_I) === 0) return fail('vxlan-flags', `flags 0x${buf[0]!.toString(16).padStart(2, '0')}: I flag clear`);
  const vni = v.getUint32(4) >>> 8;
  const eth = VXLAN_HEADER_LENGTH;
  const etherType = v.getUint16(eth + 12);
  if (etherType !== ETHERTYPE_IPV4) return fail('not-ipv4', `EtherType 0x${etherType.toString(16).padStart(4, '0')}`);
  const ip = eth + ETHERNET_HEADER_LENGTH;
  const version = buf[ip]! >> 4;
  if (version !== 4) return fail('ip-version', `version ${version}`);
  const ihl = (buf[ip]! & 0x0f) * 4;
  if (ihl < IPV4_HEADER_LENGTH) return fail('ip-header-length', `IHL ${ihl / 4}`);
  if (buf.length < ip + ihl) return fail('truncated', `IPv4 header of ${ihl} bytes does not fit`);
  if (internetChecksum(buf, ip, ip + ihl) !== 0) return fail('ip-checksum', `header checksum 0x${v.getUint16(ip + 10).toString(16)} does not verify`);
  const total = v.getUint16(ip + 2);
  if (total < ihl || ip + total > buf.length) return fail('ip-total-length', `total length ${total}, ${buf.length - ip} bytes present`);
  const fragField = v.getUint16(ip + 6);
  if ((fragField & 0x2000) !== 0 || (fragField & 0x1fff) !== 0) return fail('fragment', `flags/offset 0x${fragField.toString(16)}`);
  if (buf[ip + 9] !== IPPROTO_UDP) return fail('not-udp', `protocol ${buf[ip + 9]}`);
  const udp = ip + ihl;
  const ipPayload = total - ihl;
  if (ipPayload < UDP_HEADER_LENGTH) return fail('truncated', `IPv4 payload of ${ipPayload} bytes cannot hold a UDP header`);
  const udpLength = v.getUint16(udp + 4);
  if (udpLength < UDP_HEADER_LENGTH || udpLength > ipPayload) return fail('udp-length', `UDP length ${udpLength}, IPv4 payload ${ipPayload}`);
  const udpCk = v.getUint16(udp + 6);
  if (udpCk !== 0 && internetChecksum(buf, udp, udp + udpLength, udpPseudoSum(buf, ip, udpLength)) !== 0) {
    return fail('udp-checksum', `checksum 0x${udpCk.toString(16)} does not verify`);
  }
  return {
    ok: true,
    value: {
      vni,
      dstMac: formatMac(buf, eth),
      srcMac: formatMac(buf, eth + 6),
      srcIp: formatIpv4(buf, ip + 12),
      dstIp: formatIpv4(buf, ip + 16),
      srcPort: v.getUint16(udp),
      dstPort: v.getUint16(udp + 2),
      ttl: buf[ip + 8]!,
      ipId: v.getUint16(ip + 4),
      tos: buf[ip + 1]!,
      udpChecksummed: udpCk !== 0,
      payload: buf.slice(udp + UDP_HEADER_LENGTH, udp + udpLength),
    },
  };
}

// ---------------------------------------------------------------------------
// Probe message
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                     Magic "EHPR" 0x45485052                   |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |    Version    |     Type      |  Name Length  |   Reserved    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                           Sequence                            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                        Nonce (64 bits)                        |
// +                                                               +
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |        Transmit Time (IEEE 754 binary64, ms, sender clock)    |
// +                                                               +
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |   Echoed Time (binary64: the request's Transmit Time; 0 in    |
// +   a request)                                                  +
// |                                                               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |        Sender VTEP address (version 1: IPv4, 4 bytes;         |
// |                         version 2: IPv6, 16 bytes)            |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |        Target VTEP address (as long as the sender's)          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |             Sender bridge MAC (48 bits)                       |
// +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                               |         Reserved (0)          |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |     Network name (Name Length bytes, UTF-8) ...               |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Reply: Sequence and Nonce echo the request's; Transmit Time is the responder's;
// Sender VTEP is the responder's address on that network, Target VTEP the
// requester's. Bytes after the name are ignored (room for later TLVs).
//
// The version gives the VTEP address family, so an IPv4 probe is byte for byte what
// it always was (version 1, 52 fixed bytes) and an IPv6 one (version 2, 76 fixed
// bytes) is refused as 'bad-version' by an older agent rather than misread.

export const PROBE_MAGIC = 0x45485052; // "EHPR"
/** Version 1: IPv4 VTEP addresses. */
export const PROBE_VERSION = 1;
/** Version 2: IPv6 VTEP addresses. */
export const PROBE_VERSION_IPV6 = 2;
/** Fixed part of a version 1 (IPv4) message. */
export const PROBE_FIXED_LENGTH = 52;
/** Fixed part of a version 2 (IPv6) message. */
export const PROBE_FIXED_LENGTH_IPV6 = 76;
export const PROBE_NAME_MAX = 255;

export const ProbeTypeCode = { request: 1, reply: 2 } as const;
export type ProbeType = keyof typeof ProbeTypeCode;

export interface ProbeMessage {
  type: ProbeType;
  sequence: number;
  /** 64-bit nonce chosen by the requester, echoed in the reply. */
  nonce: bigint;
  /** Sender's clock (ms) when sent. */
  txTime: number;
  /** In a reply: the request's txTime. 0 in a request. */
  echoTime: number;
  /** Sender's VTEP (uplink) address on `network`. */
  senderVtep: string;
  /** The VTEP address the message is sent to. */
  targetVtep: string;
  /** Sender's br-vxlan MAC (the responder's inner Ethernet destination). */
  senderMac: string;
  /** Name of the underlay network both ends call it ("net1"). */
  network: string;
}

export type ProbeErrorKind =
  | 'truncated'     // shorter than the fixed part or the announced name
  | 'bad-magic'
  | 'bad-version'   // a version this implementation does not speak
  | 'bad-type'
  | 'bad-name';     // network name not valid UTF-8

export interface ProbeError {
  kind: ProbeErrorKind;
  detail: string;
}

const utf8 = new TextEncoder();
const utf8Strict = new TextDecoder('utf-8', { fatal: true });

export function encodeProbeMessage(m: ProbeMessage): Uint8Array {
  const name = utf8.encode(m.network);
  if (name.length > PROBE_NAME_MAX) throw new RangeError(`network name longer than ${PROBE_NAME_MAX} bytes`);
  if (!Number.isInteger(m.sequence) || m.sequence < 0 || m.sequence > 0xffffffff) throw new RangeError(`sequence out of range: ${m.sequence}`);
  if (m.nonce < 0n || m.nonce > 0xffffffffffffffffn) throw new RangeError('nonce out of range');
  const sender = parseVtep(m.senderVtep);
  const target = parseVtep(m.targetVtep);
  if (sender === undefined) throw new RangeError(`senderVtep: not an IP address: ${JSON.stringify(m.senderVtep)}`);
  if (target === undefined) throw new RangeError(`targetVtep: not an IP address: ${JSON.stringify(m.targetVtep)}`);
  if (sender.length !== target.length) throw new RangeError(`senderVtep ${m.senderVtep} and targetVtep ${m.targetVtep} are of different families`);
  const mac = mustMac(m.senderMac, 'senderMac');
  const v6 = sender.length === 16;
  const fixed = v6 ? PROBE_FIXED_LENGTH_IPV6 : PROBE_FIXED_LENGTH;
  const out = new Uint8Array(fixed + name.length);
  const v = new DataView(out.buffer);
  v.setUint32(0, PROBE_MAGIC);
  out[4] = v6 ? PROBE_VERSION_IPV6 : PROBE_VERSION;
  out[5] = ProbeTypeCode[m.type];
  out[6] = name.length;
  v.setUint32(8, m.sequence);
  v.setBigUint64(12, m.nonce);
  v.setFloat64(20, m.txTime);
  v.setFloat64(28, m.echoTime);
  out.set(sender, 36);
  out.set(target, 36 + sender.length);
  out.set(mac, 36 + 2 * sender.length);
  out.set(name, fixed);
  return out;
}

export function decodeProbeMessage(buf: Uint8Array): Decoded<ProbeMessage, ProbeError> {
  const fail = (kind: ProbeErrorKind, detail: string): Decoded<ProbeMessage, ProbeError> => ({ ok: false, error: { kind, detail } });
  if (buf.length < PROBE_FIXED_LENGTH) return fail('truncated', `${buf.length} bytes, need ${PROBE_FIXED_LENGTH}`);
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const magic = v.getUint32(0);
  if (magic !== PROBE_MAGIC) return fail('bad-magic', `0x${magic.toString(16).padStart(8, '0')}`);
  if (buf[4] !== PROBE_VERSION && buf[4] !== PROBE_VERSION_IPV6) return fail('bad-version', `version ${buf[4]}`);
  const v6 = buf[4] === PROBE_VERSION_IPV6;
  const fixed = v6 ? PROBE_FIXED_LENGTH_IPV6 : PROBE_FIXED_LENGTH;
  if (buf.length < fixed) return fail('truncated', `${buf.length} bytes, need ${fixed}`);
  const alen = v6 ? 16 : 4;
  const addr = (at: number): string => (v6 ? formatIpv6(buf, at) : formatIpv4(buf, at));
  const typeCode = buf[5];
  const type: ProbeType | undefined = typeCode === 1 ? 'request' : typeCode === 2 ? 'reply' : undefined;
  if (type === undefined) return fail('bad-type', `type ${typeCode}`);
  const nameLength = buf[6]!;
  if (buf.length < fixed + nameLength) return fail('truncated', `name of ${nameLength} bytes does not fit`);
  let network: string;
  try {
    network = utf8Strict.decode(buf.subarray(fixed, fixed + nameLength));
  } catch {
    return fail('bad-name', 'network name is not valid UTF-8');
  }
  return {
    ok: true,
    value: {
      type,
      sequence: v.getUint32(8),
      nonce: v.getBigUint64(12),
      txTime: v.getFloat64(20),
      echoTime: v.getFloat64(28),
      senderVtep: addr(36),
      targetVtep: addr(36 + alen),
      senderMac: formatMac(buf, 36 + 2 * alen),
      network,
    },
  };
}

// ---------------------------------------------------------------------------
// Pre-encoded requests

/** Offsets inside an encoded frame: UDP header and the probe message's fields. */
const FRAME_UDP = VXLAN_HEADER_LENGTH + ETHERNET_HEADER_LENGTH + IPV4_HEADER_LENGTH;
const FRAME_MSG = FRAME_UDP + UDP_HEADER_LENGTH;
const MSG_SEQUENCE = 8;
const MSG_TX_TIME = 20;

/**
 * A request frame encoded once per target (encodeProbeFrame + encodeProbeMessage),
 * of which each send changes only the Sequence and the Transmit Time: stamp()
 * writes both in place and recomputes the inner UDP checksum (RFC 768; the IPv4
 * header, RFC 791 §3.1, does not change). The result is byte for byte what
 * encoding the request afresh gives, without allocating.
 */
export class ProbeRequestTemplate {
  readonly bytes: Uint8Array;
  private readonly view: DataView;
  private readonly udpLength: number;

  constructor(frame: Omit<ProbeFrame, 'payload'>, request: Omit<ProbeMessage, 'type' | 'sequence' | 'txTime' | 'echoTime'>) {
    const payload = encodeProbeMessage({ ...request, type: 'request', sequence: 0, txTime: 0, echoTime: 0 });
    this.bytes = encodeProbeFrame({ ...frame, payload });
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
    this.udpLength = UDP_HEADER_LENGTH + payload.length;
  }

  /** The frame for this sequence number and transmit time (the same buffer each time). */
  stamp(sequence: number, txTime: number): Uint8Array {
    const v = this.view;
    v.setUint32(FRAME_MSG + MSG_SEQUENCE, sequence >>> 0);
    v.setFloat64(FRAME_MSG + MSG_TX_TIME, txTime);
    v.setUint16(FRAME_UDP + 6, 0);
    const ip = FRAME_UDP - IPV4_HEADER_LENGTH;
    let ck = internetChecksum(this.bytes, FRAME_UDP, FRAME_UDP + this.udpLength, udpPseudoSum(this.bytes, ip, this.udpLength));
    if (ck === 0) ck = 0xffff; // RFC 768: a computed zero is sent as all ones
    v.setUint16(FRAME_UDP + 6, ck);
    return this.bytes;
  }
}
