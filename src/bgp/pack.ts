// Packing EVPN routes into as few UPDATE messages as fit (RFC 4271 §4.1: 4096
// bytes), End-of-RIB markers (RFC 4724 §2).
//
// RFC 7606 §5.1: an UPDATE carries at most one of withdrawn routes, NLRI,
// MP_REACH_NLRI, MP_UNREACH_NLRI, and MP_REACH / MP_UNREACH comes first; so
// withdrawals travel in MP_UNREACH-only UPDATEs and each announcement group in
// UPDATEs of its own.
import { encodeEvpnRoute } from '../evpn/nlri.js';
import type { EvpnRoute } from '../evpn/types.js';
import { nlriCount } from './attributes.js';
import { IPV4_UNICAST } from './iana.js';
import { encodeMessage } from './message.js';
import {
  AFI,
  BGP_MAX_MESSAGE,
  SAFI,
  type CodecContext,
  type Family,
  type NlriSet,
  type PathAttributes,
  type UpdateMessage,
} from './types.js';
import { Writer } from './wire.js';

/** EVPN routes that share every path attribute and the next hop. */
export interface EvpnAnnouncement {
  /** Shared attributes; mpReach / mpUnreach here are ignored (replaced). */
  attributes: PathAttributes;
  /** One address, or IPv6 global + link-local. */
  nextHop: string | string[];
  routes: readonly EvpnRoute[];
}

export interface PackInput {
  announce?: readonly EvpnAnnouncement[];
  withdraw?: readonly EvpnRoute[];
}

/** Encoded size of each route (type, length, value). */
function routeSizes(routes: readonly EvpnRoute[]): number[] {
  const w = new Writer(64);
  const sizes = new Array<number>(routes.length);
  let before = 0;
  for (let i = 0; i < routes.length; i++) {
    encodeEvpnRoute(w, routes[i]!);
    sizes[i] = w.length - before;
    before = w.length;
  }
  return sizes;
}

/**
 * Split routes into consecutive runs so that each message fits. `base` is the
 * message size with an empty NLRI and `mpValue` the MP attribute value size
 * then; the MP attribute gains one length octet once its value passes 255
 * bytes (RFC 4271 §4.3 Extended Length).
 */
function runs(sizes: readonly number[], base: number, mpValue: number, max: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  let nlri = 0;
  const fits = (n: number) => base + n + (mpValue + n > 255 ? 1 : 0) <= max;
  for (let i = 0; i < sizes.length; i++) {
    const s = sizes[i]!;
    if (!fits(s)) throw new RangeError(`EVPN route of ${s} bytes does not fit in a ${max}-byte UPDATE with these attributes`);
    if (!fits(nlri + s)) {
      out.push([start, i]);
      start = i;
      nlri = 0;
    }
    nlri += s;
  }
  if (start < sizes.length) out.push([start, sizes.length]);
  return out;
}

function evpnSet(routes: EvpnRoute[]): NlriSet {
  return { kind: 'evpn', routes };
}

/**
 * UPDATEs for EVPN withdrawals (MP_UNREACH_NLRI only) followed by each
 * announcement group (MP_REACH_NLRI plus the group's attributes), each filled
 * greedily in input order, which gives the fewest messages for that order.
 * Throws RangeError if a single route cannot fit.
 */
export function packUpdates(input: PackInput, ctx: CodecContext, maxLength: number = BGP_MAX_MESSAGE): UpdateMessage[] {
  const out: UpdateMessage[] = [];
  const withdraw = input.withdraw ?? [];
  if (withdraw.length > 0) {
    const empty: UpdateMessage = {
      type: 'update', withdrawn: [], nlri: [],
      attributes: { mpUnreach: { afi: AFI.L2VPN, safi: SAFI.Evpn, nlri: evpnSet([]) } },
    };
    const base = encodeMessage(empty, ctx).length;
    for (const [a, b] of runs(routeSizes(withdraw), base, 3, maxLength)) {
      out.push({
        type: 'update', withdrawn: [], nlri: [],
        attributes: { mpUnreach: { afi: AFI.L2VPN, safi: SAFI.Evpn, nlri: evpnSet(withdraw.slice(a, b)) } },
      });
    }
  }
  for (const g of input.announce ?? []) {
    if (g.routes.length === 0) continue;
    const nextHop = typeof g.nextHop === 'string' ? [g.nextHop] : [...g.nextHop];
    const { mpReach: _r, mpUnreach: _u, ...shared } = g.attributes;
    const make = (routes: EvpnRoute[]): UpdateMessage => ({
      type: 'update', withdrawn: [], nlri: [],
      attributes: { ...shared, mpReach: { afi: AFI.L2VPN, safi: SAFI.Evpn, nextHop, nlri: evpnSet(routes) } },
    });
    const base = encodeMessage(make([]), ctx).length;
    const nhBytes = nextHop.reduce((n, a) => n + (a.includes(':') ? 16 : 4), 0);
    for (const [a, b] of runs(routeSizes(g.routes), base, 5 + nhBytes, maxLength)) {
      out.push(make(g.routes.slice(a, b)));
    }
  }
  return out;
}

function emptyNlri(f: Family): NlriSet {
  if (f.afi === AFI.L2VPN && f.safi === SAFI.Evpn) return { kind: 'evpn', routes: [] };
  if ((f.afi === AFI.IPv4 || f.afi === AFI.IPv6) && f.safi === SAFI.Unicast) return { kind: 'prefix', prefixes: [] };
  return { kind: 'opaque', bytes: new Uint8Array(0) };
}

/**
 * RFC 4724 §2: the End-of-RIB marker. IPv4 unicast: an UPDATE with no
 * withdrawn routes, no attributes, no NLRI. Other families: an UPDATE with
 * only an empty MP_UNREACH_NLRI for the family.
 */
export function endOfRib(family: Family): UpdateMessage {
  if (family.afi === IPV4_UNICAST.afi && family.safi === IPV4_UNICAST.safi) {
    return { type: 'update', withdrawn: [], attributes: {}, nlri: [] };
  }
  return {
    type: 'update', withdrawn: [], nlri: [],
    attributes: { mpUnreach: { afi: family.afi, safi: family.safi, nlri: emptyNlri(family) } },
  };
}

/** The family whose End-of-RIB this UPDATE is, or null (RFC 4724 §2). */
export function isEndOfRib(u: UpdateMessage): Family | null {
  if (u.withdrawn.length > 0 || u.nlri.length > 0 || (u.attrErrors?.length ?? 0) > 0) return null;
  const keys = Object.keys(u.attributes).filter((k) => u.attributes[k as keyof PathAttributes] !== undefined);
  if (keys.length === 0) return { afi: IPV4_UNICAST.afi, safi: IPV4_UNICAST.safi };
  const un = u.attributes.mpUnreach;
  if (keys.length === 1 && un !== undefined && nlriCount(un.nlri) === 0) return { afi: un.afi, safi: un.safi };
  return null;
}
