// BFD Control packet codec (RFC 5880 §4.1), pure functions over bytes.
//
//  0                   1                   2                   3
//  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |Vers |  Diag   |Sta|P|F|C|A|D|M|  Detect Mult  |    Length     |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                       My Discriminator                        |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                      Your Discriminator                       |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                    Desired Min TX Interval                    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                   Required Min RX Interval                    |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
// |                 Required Min Echo RX Interval                 |
// +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//
// Authentication (the A bit and the optional section after byte 24) is not
// supported: packets with A set are rejected, as §6.8.6 requires when no
// authentication is configured.
import { u32At } from '../wire/bytes.js';

/** RFC 5880 §4.1 "Version": this document defines protocol version 1. */
export const BFD_VERSION = 1;
/** RFC 5880 §6.8.6: minimum Length with the A bit clear. */
export const BFD_CONTROL_LENGTH = 24;
/** RFC 5880 §6.8.6: minimum Length with the A bit set (mandatory section + auth header). */
export const BFD_CONTROL_LENGTH_AUTH = 26;

/** RFC 5880 §4.1 "State (Sta)" codes. */
export const SessionStateCode = { AdminDown: 0, Down: 1, Init: 2, Up: 3 } as const;
export type SessionState = keyof typeof SessionStateCode;
const STATE_BY_CODE: readonly SessionState[] = ['AdminDown', 'Down', 'Init', 'Up'];

/** RFC 5880 §4.1 "Diagnostic (Diag)" codes; 9-31 are reserved. */
export const Diag = {
  NoDiagnostic: 0,
  ControlDetectionTimeExpired: 1,
  EchoFunctionFailed: 2,
  NeighborSignaledSessionDown: 3,
  ForwardingPlaneReset: 4,
  PathDown: 5,
  ConcatenatedPathDown: 6,
  AdministrativelyDown: 7,
  ReverseConcatenatedPathDown: 8,
} as const;
export type Diag = number; // 0..31 on the wire; values outside `Diag` are reserved but carried as-is.

const DIAG_NAMES: Readonly<Record<number, string>> = Object.fromEntries(
  Object.entries(Diag).map(([k, v]) => [v, k]),
);

/** Operator-facing name of a diagnostic code ("ControlDetectionTimeExpired", "Reserved(12)"). */
export function diagName(d: Diag): string {
  return DIAG_NAMES[d] ?? `Reserved(${d})`;
}

/** The mandatory section of a BFD Control packet. Intervals in microseconds, as on the wire. */
export interface ControlPacket {
  diag: Diag;
  state: SessionState;
  /** P: Poll (§6.5). */
  poll: boolean;
  /** F: Final (§6.5). */
  final: boolean;
  /** C: Control Plane Independent. */
  controlPlaneIndependent: boolean;
  /** D: Demand. */
  demand: boolean;
  detectMult: number;
  myDiscriminator: number;
  yourDiscriminator: number;
  desiredMinTxUs: number;
  requiredMinRxUs: number;
  requiredMinEchoRxUs: number;
}

/** Why a received packet was discarded; one value per RFC 5880 §6.8.6 rule we apply. */
export type BfdPacketErrorKind =
  | 'truncated'           // fewer than 24 bytes of payload
  | 'version'             // Vers != 1
  | 'length'              // Length < 24 (26 with A), or > payload size
  | 'authentication'      // A bit set, no authentication configured
  | 'detectMult'          // Detect Mult == 0
  | 'multipoint'          // M bit set
  | 'myDiscriminator'     // My Discriminator == 0
  | 'yourDiscriminator'   // Your Discriminator == 0 with State not Down/AdminDown
  | 'pollAndFinal';       // P and F both set (§6.5)

export class BfdPacketError extends Error {
  override readonly name = 'BfdPacketError';
  constructor(readonly kind: BfdPacketErrorKind, message: string) {
    super(message);
  }
}

function u32(n: number, what: string): number {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`${what} ${n} is not a 32-bit unsigned integer`);
  return n;
}

/** Encode the mandatory section (24 bytes, A bit clear). Throws RangeError on out-of-range fields. */
export function encodeControl(p: ControlPacket): Buffer {
  if (!Number.isInteger(p.diag) || p.diag < 0 || p.diag > 31) throw new RangeError(`diag ${p.diag} out of range 0..31`);
  if (!Number.isInteger(p.detectMult) || p.detectMult < 1 || p.detectMult > 255) {
    throw new RangeError(`detectMult ${p.detectMult} out of range 1..255`); // §6.8.6: zero is invalid
  }
  if (p.poll && p.final) throw new RangeError('P and F must not both be set (RFC 5880 §6.5)');
  const b = Buffer.alloc(BFD_CONTROL_LENGTH);
  b[0] = (BFD_VERSION << 5) | p.diag;
  b[1] = (SessionStateCode[p.state] << 6)
    | (p.poll ? 0x20 : 0)
    | (p.final ? 0x10 : 0)
    | (p.controlPlaneIndependent ? 0x08 : 0)
    // A (0x04) clear: no authentication section.
    | (p.demand ? 0x02 : 0);
    // M (0x01) clear: §4.1 "MUST be zero on transmit".
  b[2] = p.detectMult;
  b[3] = BFD_CONTROL_LENGTH;
  b.writeUInt32BE(u32(p.myDiscriminator, 'myDiscriminator'), 4);
  b.writeUInt32BE(u32(p.yourDiscriminator, 'yourDiscriminator'), 8);
  b.writeUInt32BE(u32(p.desiredMinTxUs, 'desiredMinTxUs'), 12);
  b.writeUInt32BE(u32(p.requiredMinRxUs, 'requiredMinRxUs'), 16);
  b.writeUInt32BE(u32(p.requiredMinEchoRxUs, 'requiredMinEchoRxUs'), 20);
  return b;
}

/**
 * Decode and validate a received Control packet (the UDP payload). Applies the
 * packet-local checks of RFC 5880 §6.8.6; the session-dependent ones (Your
 * Discriminator selects no session) belong to the demultiplexer. Throws
 * BfdPacketError; a caller discards the packet.
 */
export function decodeControl(buf: Uint8Array): ControlPacket {
  if (buf.length < BFD_CONTROL_LENGTH) {
    throw new BfdPacketError('truncated', `packet has ${buf.length} bytes, need at least ${BFD_CONTROL_LENGTH}`);
  }
  const version = buf[0]! >> 5;
  // §6.8.6: "If the version number is not correct (1), the packet MUST be discarded."
  if (version !== BFD_VERSION) throw new BfdPacketError('version', `version ${version}, expected ${BFD_VERSION}`);
  const flags = buf[1]!;
  const auth = (flags & 0x04) !== 0;
  const length = buf[3]!;
  // §6.8.6: Length below the minimum for the A bit, or beyond the payload, is discarded.
  const minLength = auth ? BFD_CONTROL_LENGTH_AUTH : BFD_CONTROL_LENGTH;
  if (length < minLength) throw new BfdPacketError('length', `Length ${length} < ${minLength}`);
  if (length > buf.length) throw new BfdPacketError('length', `Length ${length} > payload ${buf.length}`);
  // §6.8.6: A bit set and bfd.AuthType is zero (we never configure authentication): discard.
  if (auth) throw new BfdPacketError('authentication', 'A bit set; authentication is not supported');
  const detectMult = buf[2]!;
  // §6.8.6: "If the Detect Mult field is zero, the packet MUST be discarded."
  if (detectMult === 0) throw new BfdPacketError('detectMult', 'Detect Mult is zero');
  // §6.8.6: "If the Multipoint (M) bit is nonzero, the packet MUST be discarded."
  if ((flags & 0x01) !== 0) throw new BfdPacketError('multipoint', 'M bit set');
  const myDiscriminator = u32At(buf, 4);
  // §6.8.6: "If the My Discriminator field is zero, the packet MUST be discarded."
  if (myDiscriminator === 0) throw new BfdPacketError('myDiscriminator', 'My Discriminator is zero');
  const yourDiscriminator = u32At(buf, 8);
  const state = STATE_BY_CODE[flags >> 6]!;
  // §6.8.6: Your Discriminator zero is only valid in State Down or AdminDown.
  if (yourDiscriminator === 0 && state !== 'Down' && state !== 'AdminDown') {
    throw new BfdPacketError('yourDiscriminator', `Your Discriminator is zero in state ${state}`);
  }
  const poll = (flags & 0x20) !== 0;
  const final = (flags & 0x10) !== 0;
  // §6.5: "A BFD Control packet MUST NOT have both the Poll (P) and Final (F) bits set."
  if (poll && final) throw new BfdPacketError('pollAndFinal', 'P and F both set');
  return {
    diag: buf[0]! & 0x1f,
    state,
    poll,
    final,
    controlPlaneIndependent: (flags & 0x08) !== 0,
    demand: (flags & 0x02) !== 0,
    detectMult,
    myDiscriminator,
    yourDiscriminator,
    desiredMinTxUs: u32At(buf, 12),
    requiredMinRxUs: u32At(buf, 16),
    requiredMinEchoRxUs: u32At(buf, 20),
  };
}
