// OPEN optional parameters and capabilities (RFC 5492, RFC 9072).
//
//   Optional parameter (RFC 4271 §4.2)        Capability (RFC 5492 §4)
//   +-----------+------------+----------+     +------+--------+----------------+
//   | Parm Type | Parm Length| Value    |     | Code | Length | Value (Length) |
//   +-----------+------------+----------+     +------+--------+----------------+
//
// RFC 9072 §2: when the parameters need more than 255 bytes, the Optional
// Parameters Length is 255, followed by a Non-Ext OP Type of 255, a 2-octet
// Extended Optional Parameters Length, and parameters with 2-octet lengths.
import { BgpError, ErrorCode, OpenSubcode } from './errors.js';
import { CapabilityCode, OptParamType } from './iana.js';
import { AS_TRANS, type Capability, type OpenMessage } from './types.js';
import { Reader, WireUnderflow, Writer } from '../wire/bytes.js';

/** Append one capability (code, length, value). */
export function encodeCapability(w: Writer, c: Capability): void {
  switch (c.kind) {
    case 'multiprotocol':
      // RFC 4760 §8: AFI (2), Reserved (1), SAFI (1).
      w.u8(CapabilityCode.Multiprotocol).u8(4).u16(c.afi).u8(0).u8(c.safi);
      return;
    case 'route-refresh':
      w.u8(CapabilityCode.RouteRefresh).u8(0); // RFC 2918 §2: length 0
      return;
    case 'enhanced-route-refresh':
      w.u8(CapabilityCode.EnhancedRouteRefresh).u8(0); // RFC 7313 §3.1: length 0
      return;
    case 'four-octet-as':
      w.u8(CapabilityCode.FourOctetAs).u8(4).u32(c.asn); // RFC 6793 §3
      return;
    case 'graceful-restart': {
      // RFC 4724 §3: Restart Flags (4 bits: R, N) + Restart Time (12 bits),
      // then per family AFI (2), SAFI (1), Flags (1; F = 0x80).
      if (c.restartTime < 0 || c.restartTime > 0xfff) throw new RangeError(`restart time ${c.restartTime} > 4095`);
      w.u8(CapabilityCode.GracefulRestart);
      const at = w.reserve(1);
      const flags = (c.restartState ? 0x8 : 0) | (c.notification ? 0x4 : 0);
      w.u16((flags << 12) | c.restartTime);
      for (const f of c.families) w.u16(f.afi).u8(f.safi).u8(f.forwardingPreserved ? 0x80 : 0);
      w.patchLength(at, 1);
      return;
    }
    case 'extended-next-hop': {
      // RFC 8950 §3: (NLRI AFI (2), NLRI SAFI (2), Nexthop AFI (2)) repeated.
      w.u8(CapabilityCode.ExtendedNextHop);
      const at = w.reserve(1);
      for (const e of c.entries) w.u16(e.afi).u16(e.safi).u16(e.nextHopAfi);
      w.patchLength(at, 1);
      return;
    }
    case 'unknown':
      if (c.value.length > 255) throw new RangeError(`capability ${c.code} value of ${c.value.length} bytes`);
      w.u8(c.code).u8(c.value.length).bytes(c.value);
      return;
  }
}

function malformedCapability(code: number, detail: string): BgpError {
  // RFC 5492 names no subcode for a malformed capability; like FRR and GoBGP we
  // send OPEN Message Error with subcode 0 (Unspecific).
  return new BgpError(ErrorCode.OpenMessage, 0, new Uint8Array(0), `malformed capability ${code}: ${detail}`);
}

/** Decode one capability value (r spans exactly the value). */
export function decodeCapability(code: number, r: Reader): Capability {
  const len = r.remaining;
  switch (code) {
    case CapabilityCode.Multiprotocol: {
      if (len !== 4) throw malformedCapability(code, `length ${len}, expected 4`);
      const afi = r.u16();
      r.skip(1); // reserved, ignored on receipt (RFC 4760 §8)
      return { kind: 'multiprotocol', afi, safi: r.u8() };
    }
    case CapabilityCode.RouteRefresh:
      if (len !== 0) throw malformedCapability(code, `length ${len}, expected 0`);
      return { kind: 'route-refresh' };
    case CapabilityCode.EnhancedRouteRefresh:
      if (len !== 0) throw malformedCapability(code, `length ${len}, expected 0`);
      return { kind: 'enhanced-route-refresh' };
    case CapabilityCode.FourOctetAs: {
      if (len !== 4) throw malformedCapability(code, `length ${len}, expected 4`);
      const asn = r.u32();
      // RFC 7607 §2: AS 0 in the capability is a Bad Peer AS.
      if (asn === 0) throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.BadPeerAs, new Uint8Array(0), 'four-octet AS 0');
      return { kind: 'four-octet-as', asn };
    }
    case CapabilityCode.GracefulRestart: {
      if (len < 2 || (len - 2) % 4 !== 0) throw malformedCapability(code, `length ${len}, expected 2 + 4n`);
      const head = r.u16();
      const families: Array<{ afi: number; safi: number; forwardingPreserved: boolean }> = [];
      while (r.remaining > 0) {
        const afi = r.u16();
        const safi = r.u8();
        families.push({ afi, safi, forwardingPreserved: (r.u8() & 0x80) !== 0 });
      }
      return {
        kind: 'graceful-restart',
        restartState: (head & 0x8000) !== 0,
        notification: (head & 0x4000) !== 0,
        restartTime: head & 0xfff,
        families,
      };
    }
    case CapabilityCode.ExtendedNextHop: {
      if (len === 0 || len % 6 !== 0) throw malformedCapability(code, `length ${len}, expected 6n`);
      const entries: Array<{ afi: number; safi: number; nextHopAfi: number }> = [];
      while (r.remaining > 0) entries.push({ afi: r.u16(), safi: r.u16(), nextHopAfi: r.u16() });
      return { kind: 'extended-next-hop', entries };
    }
    default:
      // RFC 5492 §3: an unrecognized capability is ignored (kept here for display).
      return { kind: 'unknown', code, value: r.bytes(len) };
  }
}

/** Capabilities found in a parameter of type 2 (several may share one parameter). */
function decodeCapabilityParameter(r: Reader, out: Capability[]): void {
  while (r.remaining > 0) {
    if (r.remaining < 2) throw malformedCapability(-1, 'truncated capability header');
    const code = r.u8();
    const len = r.u8();
    if (len > r.remaining) throw malformedCapability(code, `length ${len} overruns the parameter`);
    out.push(decodeCapability(code, r.sub(len)));
  }
}

/**
 * Decode the Optional Parameters of an OPEN, starting at the Optional
 * Parameters Length octet and ending at r.end. Throws BgpError(2, ...).
 */
export function decodeOptionalParameters(r: Reader): Capability[] {
  const caps: Capability[] = [];
  try {
    let total = r.u8();
    let extended = false;
    // RFC 9072 §2: Non-Ext OP Len 255 followed by Non-Ext OP Type 255.
    if (total === 255 && r.remaining > 0 && r.buf[r.pos] === OptParamType.ExtendedLength) {
      r.skip(1);
      total = r.u16();
      extended = true;
    }
    if (total !== r.remaining) {
      throw new BgpError(ErrorCode.OpenMessage, 0, new Uint8Array(0),
        `optional parameters length ${total}, ${r.remaining} bytes present`);
    }
    while (r.remaining > 0) {
      const type = r.u8();
      const len = extended ? r.u16() : r.u8();
      if (len > r.remaining) {
        throw new BgpError(ErrorCode.OpenMessage, 0, new Uint8Array(0), `optional parameter length ${len} overruns`);
      }
      const value = r.sub(len);
      // RFC 4271 §6.2 / RFC 5492 §4: only parameter type 2 is supported.
      if (type !== OptParamType.Capabilities) {
        throw new BgpError(ErrorCode.OpenMessage, OpenSubcode.UnsupportedOptionalParameter, new Uint8Array(0),
          `unsupported optional parameter type ${type}`);
      }
      decodeCapabilityParameter(value, caps);
    }
  } catch (e) {
    if (e instanceof WireUnderflow) {
      throw new BgpError(ErrorCode.OpenMessage, 0, new Uint8Array(0), `optional parameters truncated: ${e.message}`);
    }
    throw e;
  }
  return caps;
}

/**
 * Append the Optional Parameters Length and the parameters. Capabilities are
 * packed into as few type-2 parameters as fit in 255 bytes each; when the
 * total exceeds 255 bytes the RFC 9072 extended format is used.
 */
export function encodeOptionalParameters(w: Writer, caps: readonly Capability[]): void {
  const encoded: Uint8Array[] = [];
  for (const c of caps) {
    const cw = new Writer(16);
    encodeCapability(cw, c);
    encoded.push(cw.finish());
  }
  // Group into parameters of at most 255 value bytes.
  const params: Uint8Array[][] = [];
  let cur: Uint8Array[] = [];
  let curLen = 0;
  for (const e of encoded) {
    if (curLen + e.length > 255 && cur.length > 0) {
      params.push(cur);
      cur = [];
      curLen = 0;
    }
    cur.push(e);
    curLen += e.length;
  }
  if (cur.length > 0) params.push(cur);
  const total = params.reduce((n, p) => n + 2 + p.reduce((m, e) => m + e.length, 0), 0);
  if (total <= 255) {
    w.u8(total);
    for (const p of params) {
      w.u8(OptParamType.Capabilities);
      const at = w.reserve(1);
      for (const e of p) w.bytes(e);
      w.patchLength(at, 1);
    }
    return;
  }
  // RFC 9072 §2: extended format, one parameter per group, 2-octet lengths.
  w.u8(255).u8(OptParamType.ExtendedLength);
  const totalAt = w.reserve(2);
  for (const p of params) {
    w.u8(OptParamType.Capabilities);
    const at = w.reserve(2);
    for (const e of p) w.bytes(e);
    w.patchLength(at, 2);
  }
  w.patchLength(totalAt, 2);
}

/** The value for the OPEN My Autonomous System field (RFC 6793 §4.1: AS_TRANS above 65535). */
export function openAsField(asn: number): number {
  return asn > 0xffff ? AS_TRANS : asn;
}

/** The peer's real AS: the four-octet-as capability if present, else My AS (RFC 6793 §4.1). */
export function peerAsn(open: OpenMessage): number {
  const c = findCapability(open.capabilities, 'four-octet-as');
  return c ? c.asn : open.myAs;
}

/** The first capability of a kind, typed. */
export function findCapability<K extends Capability['kind']>(
  caps: readonly Capability[],
  kind: K,
): Extract<Capability, { kind: K }> | undefined {
  for (const c of caps) if (c.kind === kind) return c as Extract<Capability, { kind: K }>;
  return undefined;
}

/** Families advertised with the multiprotocol capability (RFC 4760 §8). */
export function multiprotocolFamilies(caps: readonly Capability[]): Array<{ afi: number; safi: number }> {
  const out: Array<{ afi: number; safi: number }> = [];
  for (const c of caps) if (c.kind === 'multiprotocol') out.push({ afi: c.afi, safi: c.safi });
  return out;
}
