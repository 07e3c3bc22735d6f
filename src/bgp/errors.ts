// BGP error codes (RFC 4271 §4.5, §6) and the single error type that every
// decoder throws. A BgpError carries exactly what goes into the NOTIFICATION.

/** NOTIFICATION error codes, RFC 4271 §4.5 and RFC 4486 / RFC 7313. */
export const ErrorCode = {
  MessageHeader: 1,
  OpenMessage: 2,
  UpdateMessage: 3,
  HoldTimerExpired: 4,
  FsmError: 5,
  Cease: 6,
  RouteRefresh: 7,
} as const;

/** RFC 4271 §6.1 */
export const HeaderSubcode = {
  ConnectionNotSynchronized: 1,
  BadMessageLength: 2,
  BadMessageType: 3,
} as const;

/** RFC 4271 §6.2, RFC 5492 §5 */
export const OpenSubcode = {
  UnsupportedVersionNumber: 1,
  BadPeerAs: 2,
  BadBgpIdentifier: 3,
  UnsupportedOptionalParameter: 4,
  UnacceptableHoldTime: 6,
  UnsupportedCapability: 7,
} as const;

/** RFC 4271 §6.3 */
export const UpdateSubcode = {
  MalformedAttributeList: 1,
  UnrecognizedWellKnownAttribute: 2,
  MissingWellKnownAttribute: 3,
  AttributeFlagsError: 4,
  AttributeLengthError: 5,
  InvalidOriginAttribute: 6,
  InvalidNextHopAttribute: 8,
  OptionalAttributeError: 9,
  InvalidNetworkField: 10,
  MalformedAsPath: 11,
} as const;

/** RFC 6608 §3: FSM error subcodes. */
export const FsmSubcode = {
  Unspecified: 0,
  UnexpectedMessageInOpenSent: 1,
  UnexpectedMessageInOpenConfirm: 2,
  UnexpectedMessageInEstablished: 3,
} as const;

/** RFC 4486 §4: Cease subcodes. */
export const CeaseSubcode = {
  MaximumPrefixes: 1,
  AdministrativeShutdown: 2,
  PeerDeconfigured: 3,
  AdministrativeReset: 4,
  ConnectionRejected: 5,
  OtherConfigurationChange: 6,
  ConnectionCollisionResolution: 7,
  OutOfResources: 8,
  /** RFC 8538 §5. */
  HardReset: 9,
  /** RFC 9384 §4. */
  BfdDown: 10,
} as const;

/** RFC 7313 §5: ROUTE-REFRESH message error subcode. */
export const RouteRefreshSubcode = {
  InvalidMessageLength: 1,
} as const;

/** An error that ends the session with a NOTIFICATION (code, subcode, data). */
export class BgpError extends Error {
  constructor(
    readonly code: number,
    readonly subcode: number,
    readonly data: Uint8Array = new Uint8Array(0),
    detail?: string,
  ) {
    super(detail ?? describeNotification(code, subcode));
    this.name = 'BgpError';
  }
}

/**
 * What RFC 7606 says to do with a malformed attribute, weakest first; when an
 * UPDATE carries several errors the strongest action wins (RFC 7606 §3 h).
 */
export type AttrAction = 'discard' | 'withdraw' | 'reset';

const ACTION_RANK: Record<AttrAction, number> = { discard: 0, withdraw: 1, reset: 2 };

export function strongerAction(a: AttrAction, b: AttrAction): AttrAction {
  return ACTION_RANK[a] >= ACTION_RANK[b] ? a : b;
}

/** A recoverable attribute error found while decoding an UPDATE (RFC 7606). */
export interface AttrError {
  typeCode: number;
  action: Exclude<AttrAction, 'reset'>;
  reason: string;
}

const CODE_NAMES: Record<number, string> = {
  1: 'Message Header Error',
  2: 'OPEN Message Error',
  3: 'UPDATE Message Error',
  4: 'Hold Timer Expired',
  5: 'Finite State Machine Error',
  6: 'Cease',
  7: 'ROUTE-REFRESH Message Error',
};

const SUBCODE_NAMES: Record<number, Record<number, string>> = {
  1: { 1: 'Connection Not Synchronized', 2: 'Bad Message Length', 3: 'Bad Message Type' },
  2: {
    1: 'Unsupported Version Number', 2: 'Bad Peer AS', 3: 'Bad BGP Identifier',
    4: 'Unsupported Optional Parameter', 6: 'Unacceptable Hold Time', 7: 'Unsupported Capability',
    11: 'Role Mismatch',
  },
  3: {
    1: 'Malformed Attribute List', 2: 'Unrecognized Well-known Attribute', 3: 'Missing Well-known Attribute',
    4: 'Attribute Flags Error', 5: 'Attribute Length Error', 6: 'Invalid ORIGIN Attribute',
    8: 'Invalid NEXT_HOP Attribute', 9: 'Optional Attribute Error', 10: 'Invalid Network Field',
    11: 'Malformed AS_PATH',
  },
  5: {
    0: 'Unspecified Error', 1: 'Receive Unexpected Message in OpenSent State',
    2: 'Receive Unexpected Message in OpenConfirm State', 3: 'Receive Unexpected Message in Established State',
  },
  6: {
    1: 'Maximum Number of Prefixes Reached', 2: 'Administrative Shutdown', 3: 'Peer De-configured',
    4: 'Administrative Reset', 5: 'Connection Rejected', 6: 'Other Configuration Change',
    7: 'Connection Collision Resolution', 8: 'Out of Resources', 9: 'Hard Reset', 10: 'BFD Down',
  },
  7: { 1: 'Invalid Message Length' },
};

/** Human text for a NOTIFICATION, e.g. "Cease / Administrative Shutdown". */
export function describeNotification(code: number, subcode: number): string {
  const c = CODE_NAMES[code] ?? `code ${code}`;
  const s = SUBCODE_NAMES[code]?.[subcode] ?? (subcode === 0 ? 'Unspecific' : `subcode ${subcode}`);
  return `${c} / ${s}`;
}
