// BGP messages (RFC 4271 §4): the 19-byte header and the five message types.
//
//   +-------------------------------------------+
//   |   Marker (16 octets, all ones)            |
//   +----------------------+----------+---------+
//   |   Length (2)         | Type (1) |  body...
//   +----------------------+----------+
//
// decodeMessage checks what a message says about itself (syntax, RFC 4271
// §6.1-§6.3, RFC 7606); checks that need configuration or session state (peer
// AS, minimum hold time, local BGP Identifier, required capabilities, message
// allowed in this state) belong to the FSM. See docs/bgp.md.
import { decodeAttributes, encodeAttributes } from './attributes.js';
import { decodePrefixes, encodePrefix } from './nlri.js';
import { decodeOptionalParameters, encodeOptionalParameters, openAsField } from './capabilities.js';
import {
  BgpError,
  ErrorCode,
  HeaderSubcode,
  OpenSubcode,
  RouteRefreshSubcode,
  UpdateSubcode,
} from './errors.js';
import {
  AFI,
  BGP_HEADER_LENGTH,
  BGP_MAX_MESSAGE,
  MessageType,
  type CodecContext,
  type IpPrefix,
  type Message,
  type NotificationMessage,
  type OpenMessage,
  type RouteRefreshMessage,
  type UpdateMessage,
} from './types.js';
import { plainBytes, Reader, WireUnderflow, Writer } from '../wire/bytes.js';

/** Smallest legal message of each type, RFC 4271 §4.2-§4.5, RFC 2918 §3. */
const MIN_LENGTH: Record<number, number> = { 1: 29, 2: 23, 3: 21, 4: 19, 5: 23 };

const BGP_VERSION = 4;

function u16Bytes(v: number): Uint8Array {
  return Uint8Array.of((v >> 8) & 0xff, v & 0xff);
}

/** Encode a whole message, header included. Throws RangeError if it would exceed 4096 bytes. */
export function encodeMessage(m: Message, ctx: CodecContext): Uint8Array {
  const w = new Writer(m.type === 'update' ? 4096 : 64);
  for (let i = 0; i < 16; i++) w.u8(0xff); // RFC 4271 §4.1: Marker, all ones
  const lenAt = w.reserve(2);
  w.u8(MessageType[m.type]);
  switch (m.type) {
    case 'open':
      encodeOpen(w, m);
      break;
    case 'update':
      encodeUpdate(w, m, ctx);
      break;
    case 'notification':
      w.u8(m.code).u8(m.subcode).bytes(m.data); // RFC 4271 §4.5
      break;
    case 'keepalive':
      break; // RFC 4271 §4.4: header only
    case 'route-refresh':
      w.u16(m.afi).u8(m.subtype).u8(m.safi); // RFC 2918 §3, RFC 7313 §3.2
      break;
  }
  if (w.length > BGP_MAX_MESSAGE) throw new RangeError(`${m.type} message of ${w.length} bytes exceeds ${BGP_MAX_MESSAGE}`);
  w.setU16(lenAt, w.length);
  return w.finish();
}

/** RFC 4271 §4.2: Version, My AS, Hold Time, BGP Identifier, Optional Parameters. */
function encodeOpen(w: Writer, m: OpenMessage): void {
  w.u8(m.version).u16(openAsField(m.myAs)).u16(m.holdTime).ipv4(m.bgpId);
  encodeOptionalParameters(w, m.capabilities);
}

/** RFC 4271 §4.3: Withdrawn Routes, Path Attributes, NLRI (IPv4 unicast). */
function encodeUpdate(w: Writer, m: UpdateMessage, ctx: CodecContext): void {
  const wdAt = w.reserve(2);
  for (const p of m.withdrawn) encodeIpv4Prefix(w, p);
  w.patchLength(wdAt, 2);
  const attrAt = w.reserve(2);
  encodeAttributes(w, m.attributes, ctx);
  w.patchLength(attrAt, 2);
  for (const p of m.nlri) encodeIpv4Prefix(w, p);
}

function encodeIpv4Prefix(w: Writer, p: IpPrefix): void {
  if (p.prefix.includes(':')) throw new RangeError(`IPv6 prefix ${p.prefix} outside MP_REACH/MP_UNREACH`);
  encodePrefix(w, p);
}

/**
 * Decode one whole message (header included). Throws only BgpError, carrying
 * the NOTIFICATION code, subcode and data to send.
 */
export function decodeMessage(input: Uint8Array, ctx: CodecContext): Message {
  const buf = plainBytes(input);
  // RFC 4271 §6.1: Message Header error checks.
  if (buf.length < BGP_HEADER_LENGTH) {
    throw new BgpError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength,
      buf.length >= 18 ? buf.slice(16, 18) : new Uint8Array(0), `message of ${buf.length} bytes`);
  }
  for (let i = 0; i < 16; i++) {
    if (buf[i] !== 0xff) throw new BgpError(ErrorCode.MessageHeader, HeaderSubcode.ConnectionNotSynchronized);
  }
  const length = (buf[16]! << 8) | buf[17]!;
  const type = buf[18]!;
  if (length !== buf.length || length < BGP_HEADER_LENGTH || length > BGP_MAX_MESSAGE) {
    throw new BgpError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength, u16Bytes(length),
      `length field ${length}, ${buf.length} bytes`);
  }
  const min = MIN_LENGTH[type];
  if (min === undefined) {
    throw new BgpError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageType, Uint8Array.of(type), `message type ${type}`);
  }
  if (type === MessageType['route-refresh']) {
    // RFC 7313 §5: a ROUTE-REFRESH of another length than 23 is ROUTE-REFRESH
    // Message Error / Invalid Message Length, data = the complete message.
    if (length !== 23) {
      throw new BgpError(ErrorCode.RouteRefresh, RouteRefreshSubcode.InvalidMessageLength, buf.slice(),
        `ROUTE-REFRESH of ${length} bytes`);
    }
  } else if (length < min || (type === MessageType.keepalive && length !== min)) {
    throw new BgpError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength, u16Bytes(length),
      `type ${type} message of ${length} bytes`);
  }
  const r = new Reader(buf, BGP_HEADER_LENGTH);
  try {
    switch (type) {
      case MessageType.open:
        return decodeOpen(r);
      case MessageType.update:
        return decodeUpdate(r, ctx);
      case MessageType.notification:
        return decodeNotification(r);
      case MessageType.keepalive:
        return { type: 'keepalive' };
      default:
        return decodeRouteRefresh(r);
    }
  } catch (e) {
    if (e instanceof WireUnderflow) {
      // Every length is checked before use, so this means a bug; still, the
      // peer sent something we cannot read: report it as a malformed message.
      const code = type === MessageType.open ? ErrorCode.OpenMessage : ErrorCode.UpdateMessage;
      throw new BgpError(code, 0, new Uint8Array(0), `truncated ${type}: ${e.message}`);
    }
    throw e;
  }
}

/** RFC 4271 §4.2 and the context-free checks of §6.2. */
function decodeOpen(r: Reader): OpenMessage {
  const version = r.u8();
  if (version !== BGP_VERSION) {
    // RFC 4271 §6.2: data = the largest supported version below the bid, or
    // the smallest supported one; we support 4 only.
    throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.UnsupportedVersionNumber, u16Bytes(BGP_VERSION),
      `version ${version}`);
  }
  const myAs = r.u16();
  // RFC 7607 §2: AS 0 in My Autonomous System is a Bad Peer AS.
  if (myAs === 0) throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.BadPeerAs, new Uint8Array(0), 'My AS 0');
  const holdTime = r.u16();
  // RFC 4271 §6.2: Hold Time of one or two seconds MUST be rejected.
  if (holdTime === 1 || holdTime === 2) {
    throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.UnacceptableHoldTime, new Uint8Array(0), `hold time ${holdTime}`);
  }
  const idBytes = r.buf.subarray(r.pos, r.pos + 4);
  const bgpId = r.ipv4();
  // RFC 6286 §2.2: a BGP Identifier of 0 is invalid (equality with the local
  // one is checked by the FSM).
  if (idBytes[0] === 0 && idBytes[1] === 0 && idBytes[2] === 0 && idBytes[3] === 0) {
    throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.BadBgpIdentifier, new Uint8Array(0), 'BGP Identifier 0.0.0.0');
  }
  const capabilities = decodeOptionalParameters(r);
  return { type: 'open', version, myAs, holdTime, bgpId, capabilities };
}

/** RFC 4271 §4.3 with the length checks of §6.3 and RFC 7606 §4, §5.3. */
function decodeUpdate(r: Reader, ctx: CodecContext): UpdateMessage {
  const wdLen = r.u16();
  if (wdLen + 2 > r.remaining) {
    throw new BgpError(ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList, new Uint8Array(0),
      `withdrawn routes length ${wdLen} overruns the message`);
  }
  const withdrawn = decodePrefixes(r.sub(wdLen), AFI.IPv4, UpdateSubcode.InvalidNetworkField);
  const attrLen = r.u16();
  if (attrLen > r.remaining) {
    throw new BgpError(ErrorCode.UpdateMessage, UpdateSubcode.MalformedAttributeList, new Uint8Array(0),
      `total path attribute length ${attrLen} overruns the message`);
  }
  const attrReader = r.sub(attrLen);
  const nlri = decodePrefixes(r, AFI.IPv4, UpdateSubcode.InvalidNetworkField);
  const { attributes, attrErrors } = decodeAttributes(attrReader, ctx, nlri.length > 0);
  const m: UpdateMessage = { type: 'update', withdrawn, attributes, nlri };
  if (attrErrors.length > 0) m.attrErrors = attrErrors;
  return m;
}

function decodeNotification(r: Reader): NotificationMessage {
  const code = r.u8();
  const subcode = r.u8();
  return { type: 'notification', code, subcode, data: r.bytes(r.remaining) };
}

/** RFC 2918 §3 / RFC 7313 §3.2: AFI (2), Message Subtype (1), SAFI (1). */
function decodeRouteRefresh(r: Reader): RouteRefreshMessage {
  const afi = r.u16();
  const subtype = r.u8();
  // RFC 7313 §5: subtypes other than 0-2 are ignored by the receiver (FSM).
  return { type: 'route-refresh', afi, subtype, safi: r.u8() };
}

/** The NOTIFICATION that reports a BgpError (RFC 4271 §6). */
export function notificationFor(e: BgpError): NotificationMessage {
  return { type: 'notification', code: e.code, subcode: e.subcode, data: e.data };
}
