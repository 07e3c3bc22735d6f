// The Adj-RIB-Out of one session (RFC 4271 §3.2): the routes we advertise with
// what we say about them, keyed by their family's NLRI key, and how they become
// UPDATEs: export attributes (RFC 4271 §5.1, RFC 4456 §7), routes with equal
// next hop and attributes grouped, packed by pack.ts. Pure: session.ts sends.
import { familyCodec, packUpdates, type Announcement } from './pack.js';
import type { NlriCodec } from './nlri.js';
import type { CodecContext, Family, NlriRoute, OutRoute, PathAttributes, UpdateMessage } from './types.js';

/**
 * The attributes we send for a route: RFC 4271 §5.1 well-known mandatory ones
 * are added; iBGP: empty AS_PATH and LOCAL_PREF (default 100); eBGP: our AS
 * prepended, no LOCAL_PREF (§5.1.5). Reflection attributes (RFC 4456 §7) are
 * sent only by a reflector (`reflection`) and only to iBGP peers.
 */
export function exportAttributes(a: PathAttributes, localAs: number, peerAs: number, reflection = false): PathAttributes {
  const out: PathAttributes = { ...a };
  delete out.mpReach;
  delete out.mpUnreach;
  if (!reflection || localAs !== peerAs) {
    delete out.originatorId;
    delete out.clusterList;
  }
  out.origin = a.origin ?? 0;
  const path = (a.asPath ?? []).map((s) => ({ type: s.type, asns: [...s.asns] }));
  if (localAs === peerAs) {
    out.asPath = path;
    out.localPref = a.localPref ?? 100;
  } else {
    const first = path[0];
    if (first && first.type === 'sequence' && first.asns.length < 255) first.asns.unshift(localAs);
    else path.unshift({ type: 'sequence', asns: [localAs] });
    out.asPath = path;
    delete out.localPref;
  }
  return out;
}

/** A stable text form of attributes, for grouping routes that can share an UPDATE. */
function attributesKey(a: PathAttributes): string {
  return JSON.stringify(a, (_k, v: unknown) => (v instanceof Uint8Array ? `0x${Buffer.from(v).toString('hex')}` : v));
}

export class AdjRibOut {
  private readonly routes = new Map<string, OutRoute>();
  private readonly codec: NlriCodec;

  constructor(readonly family: Family) {
    this.codec = familyCodec(family);
  }

  /** Add or replace routes; returns the entries stored. */
  set(routes: readonly OutRoute[]): OutRoute[] {
    const changed: OutRoute[] = [];
    for (const r of routes) {
      const entry = { route: r.route, nextHop: r.nextHop, attributes: r.attributes };
      this.routes.set(this.codec.key(r.route), entry);
      changed.push(entry);
    }
    return changed;
  }

  /** Remove routes; returns the stored routes that were removed. */
  delete(routes: readonly NlriRoute[]): NlriRoute[] {
    const gone: NlriRoute[] = [];
    for (const r of routes) {
      const key = this.codec.key(r);
      const had = this.routes.get(key);
      if (had && this.routes.delete(key)) gone.push(had.route);
    }
    return gone;
  }

  all(): OutRoute[] {
    return [...this.routes.values()];
  }

  /**
   * UPDATEs announcing `routes` to a peer of AS `peerAs`: routes with the same
   * next hop and exported attributes share UPDATEs. Throws RangeError when a
   * route cannot be packed (pack.ts).
   */
  announcements(routes: readonly OutRoute[], localAs: number, peerAs: number, reflection: boolean, ctx: CodecContext): UpdateMessage[] {
    const groups = new Map<string, Announcement & { routes: NlriRoute[] }>();
    for (const r of routes) {
      const attributes = exportAttributes(r.attributes, localAs, peerAs, reflection);
      const key = `${r.nextHop}|${attributesKey(attributes)}`;
      const g = groups.get(key);
      if (g) g.routes.push(r.route);
      else groups.set(key, { attributes, nextHop: r.nextHop, routes: [r.route] });
    }
    return packUpdates({ family: this.family, announce: [...groups.values()] }, ctx);
  }

  /** UPDATEs withdrawing `routes` (MP_UNREACH_NLRI only). */
  withdrawals(routes: readonly NlriRoute[], ctx: CodecContext): UpdateMessage[] {
    return packUpdates({ family: this.family, withdraw: routes }, ctx);
  }
}
