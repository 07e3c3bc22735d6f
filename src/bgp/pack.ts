// Packing the routes of one multiprotocol family (EVPN by default) into as few
// UPDATE messages as fit (RFC 4271 §4.1: 4096 bytes), End-of-RIB markers
// (RFC 4724 §2). The family's NLRI codec comes from the registry (nlri.ts).
//
// RFC 7606 §5.1: an UPDATE carries at most one of withdrawn routes, NLRI,
// MP_REACH_NLRI, MP_UNREACH_NLRI, and MP_REACH / MP_UNREACH comes first; so
// withdrawals travel in MP_UNREACH-only UPDATEs and each announcement group in
// UPDATEs of its own.
import { IPV4_UNICAST } from './iana.js';
import { encodeMessage } from './message.js';
import { DEFAULT_FAMILIES } from './negotiate.js';
import { emptyNlriSet, nlriCodec, nlriCount, routeSet, type NlriCodec } from './nlri.js';
import {
  BGP_MAX_MESSAGE,
  type CodecContext,
  type Family,
  type NlriRoute,
  type PathAttributes,
  type UpdateMessage,
} from './types.js';
import { Writer } from '../wire/bytes.js';

/** Routes that share every path attribute and the next hop. */
export interface Announcement {
  /** Shared attributes; mpReach / mpUnreach here are ignored (replaced). */
  attributes: PathAttributes;
  /** One address, or IPv6 global + link-local. */
  nextHop: string | string[];
  routes: readonly NlriRoute[];
}

export interface PackInput {
  /** The routes' family; default the first of DEFAULT_FAMILIES (L2VPN/EVPN). */
  family?: Family;
  announce?: readonly Announcement[];
  withdraw?: readonly NlriRoute[];
}

/** The registered codec of a family; throws when no module registered one. */
export function familyCodec(family: Family): NlriCodec {
  const c = nlriCodec(family);
  if (!c) throw new Error(`no NLRI codec registered for AFI ${family.afi} / SAFI ${family.safi}`);
  return c;
}

/** Encoded size of each route (type, length, value). */
function routeSizes(codec: NlriCodec, routes: readonly NlriRoute[]): number[] {
  const w = new Writer(64);
  const sizes = new Array<number>(routes.length);
  let before = 0;
  for (let i = 0; i < routes.length; i++) {
    codec.encode(w, routes[i]!);
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
function runs(name: string, sizes: readonly number[], base: number, mpValue: number, max: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let start = 0;
  let nlri = 0;
  const fits = (n: number) => base + n + (mpValue + n > 255 ? 1 : 0) <= max;
  for (let i = 0; i < sizes.length; i++) {
    const s = sizes[i]!;
    if (!fits(s)) throw new RangeError(`${name} route of ${s} bytes does not fit in a ${max}-byte UPDATE with these attributes`);
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

/**
 * UPDATEs for the family's withdrawals (MP_UNREACH_NLRI only) followed by each
 * announcement group (MP_REACH_NLRI plus the group's attributes), each filled
 * greedily in input order, which gives the fewest messages for that order.
 * Throws RangeError if a single route cannot fit.
 */
export function packUpdates(input: PackInput, ctx: CodecContext, maxLength: number = BGP_MAX_MESSAGE): UpdateMessage[] {
  const out: UpdateMessage[] = [];
  const family = input.family ?? DEFAULT_FAMILIES[0]!;
  const { afi, safi } = family;
  const codec = familyCodec(family);
  const withdraw = input.withdraw ?? [];
  if (withdraw.length > 0) {
    const empty: UpdateMessage = {
      type: 'update', withdrawn: [], nlri: [],
      attributes: { mpUnreach: { afi, safi, nlri: routeSet(codec, []) } },
    };
    const base = encodeMessage(empty, ctx).length;
    for (const [a, b] of runs(codec.name, routeSizes(codec, withdraw), base, 3, maxLength)) {
      out.push({
        type: 'update', withdrawn: [], nlri: [],
        attributes: { mpUnreach: { afi, safi, nlri: routeSet(codec, withdraw.slice(a, b)) } },
      });
    }
  }
  for (const g of input.announce ?? []) {
    if (g.routes.length === 0) continue;
    const nextHop = typeof g.nextHop === 'string' ? [g.nextHop] : [...g.nextHop];
    const { mpReach: _r, mpUnreach: _u, ...shared } = g.attributes;
    const make = (routes: NlriRoute[]): UpdateMessage => ({
      type: 'update', withdrawn: [], nlri: [],
      attributes: { ...shared, mpReach: { afi, safi, nextHop, nlri: routeSet(codec, routes) } },
    });
    const base = encodeMessage(make([]), ctx).length;
    const nhBytes = nextHop.reduce((n, a) => n + (a.includes(':') ? 16 : 4), 0);
    for (const [a, b] of runs(codec.name, routeSizes(codec, g.routes), base, 5 + nhBytes, maxLength)) {
      out.push(make(g.routes.slice(a, b)));
    }
  }
  return out;
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
    attributes: { mpUnreach: { afi: family.afi, safi: family.safi, nlri: emptyNlriSet(family) } },
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
