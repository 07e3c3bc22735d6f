// What we announce, computed from the configuration and the observed links. Pure.
//
// Per uplink and VNI (next hop = the uplink's address, RD/RT from its templates):
//  * a type-2 route (RFC 7432 §7.2) for the bridge MAC with each IPv4 and each
//    non-link-local IPv6 address of the bridge, and one MAC-only type-2 route;
//  * a type-3 route (RFC 7432 §7.3) with PMSI_TUNNEL ingress replication
//    (RFC 6514 §5, RFC 8365 §5.1.3: label = VNI, endpoint = our address), so that
//    FRR-style peers add us to their flood list; unless the uplink's
//    inclusiveMulticastRoute is off (the default on IPv6 uplinks: FRR before 10.7
//    resets the session on a 16-byte PMSI endpoint, docs/interop.md).
// Over an IPv6 uplink the next hop (RFC 4760 §3 / RFC 8365 §5.1.3: 16 bytes), the
// type-3 originating router's IP (RFC 7432 §7.3: 128 bits) and the PMSI tunnel
// endpoint (RFC 6514 §5: the attribute length gives the address family) are IPv6.
// Every route carries its RT and the VXLAN encapsulation community (RFC 9012 §4.1,
// tunnel type 8); type-2 label1 = VNI.
//
// With vnis[].advertiseEndpoints, the local endpoints (endpoints.ts) too: per MAC a
// MAC-only type-2 route and one per IP, built like the bridge's own (one function,
// macIpAdvertisement(), and one hook for what other modules add). A MAC that moved
// here or is sticky also carries the MAC Mobility community (RFC 7432 §7.7) on its MAC
// and MAC/IP routes, from `mobilityOf` (mobility.ts); a static (sticky) endpoint MAC
// carries the sticky flag even when mobility does not track it (§15.2); a MAC marked
// duplicate is not announced (RFC 7432 §15.1).
import type { PathAttributes, ExtCommunity, RouteDistinguisher } from '../bgp/types.js';
import { parseIpv4, parseIpv6 } from '../wire/addr.js';
import type { EvpnRoute } from '../evpn/types.js';
import { inclusiveMulticastRoute, macIpRoute, routeKey } from '../evpn/route.js';
import { formatExtCommunity } from '../bgp/extcommunity.js';
import { IFA_F_DADFAILED, IFA_F_DEPRECATED, IFA_F_TEMPORARY, IFA_F_TENTATIVE } from '../kernel/nl.js';
import type { LinkInfo } from '../kernel/port.js';
import { uplinkRdRt, type Config, type UplinkConfig } from './config.js';
import type { LocalEndpoint } from './endpoints.js';
import { NOT_TRACKED, type MacMobility } from './mobility.js';

/** What mobility says about a local MAC (Mobility.of); without it every MAC is announced plainly. */
export type MobilityOf = (vni: number, mac: string) => MacMobility;

/**
 * The route's extended communities with the MAC Mobility community added when the
 * MAC moved or is sticky (RFC 7432 §7.7: type 0x06, sub-type 0x00, flags bit 0 =
 * sticky, 32-bit sequence); sequence 0 and not sticky: none (as before mobility).
 */
export function withMobility(ext: ExtCommunity[], m: Pick<MacMobility, 'seq' | 'sticky'>): ExtCommunity[] {
  if (m.seq === 0 && !m.sticky) return ext;
  return [...ext, { kind: 'mac-mobility', sticky: m.sticky, sequence: m.seq }];
}

export const TUNNEL_TYPE_VXLAN = 8; // RFC 9012 §4.1 / IANA BGP Tunnel Encapsulation types
export const PMSI_INGRESS_REPLICATION = 6; // RFC 6514 §5

/** One route to announce, as BgpSession.advertise() takes it. */
export interface Advertisement {
  route: EvpnRoute;
  nextHop: string;
  attributes: PathAttributes;
}

export interface Origination {
  /** uplink name -> routes; an uplink without an address has none. */
  perUplink: Map<string, Advertisement[]>;
  /** Uplink name -> its address (null when not known yet). */
  addresses: Map<string, string | null>;
  /** Things that keep something from being announced (missing bridge, no address...). */
  problems: string[];
}

/** IPv6 address flags that disqualify an address as a session source and next hop. */
const UNUSABLE_V6 = IFA_F_TEMPORARY | IFA_F_DEPRECATED | IFA_F_TENTATIVE | IFA_F_DADFAILED;

/**
 * The uplink's address: `address:` as configured, else the first address of
 * `interface` in the uplink's family. IPv6: the first global (scope universe) one
 * that is not temporary (RFC 8981 privacy address), deprecated (preferred lifetime
 * over), tentative (DAD not done: bind() would fail) or DAD-failed.
 */
export function uplinkAddress(u: Pick<UplinkConfig, 'address' | 'interface' | 'family'>, links: readonly LinkInfo[]): string | null {
  if (u.address !== null) return u.address;
  const l = links.find((x) => x.name === u.interface);
  const a = u.family === 6
    ? l?.addresses.find((x) => x.family === 6 && (x.scope ?? 0) === 0 && ((x.flags ?? 0) & UNUSABLE_V6) === 0)
    : l?.addresses.find((x) => x.family === 4);
  return a?.address ?? null;
}

/**
 * The router ID: configured, else the first uplink's address (IPv4 uplinks only: the
 * configuration requires routerId when the uplinks are IPv6).
 */
export function resolveRouterId(cfg: Pick<Config, 'routerId' | 'uplinks'>, links: readonly LinkInfo[]): string | null {
  if (cfg.routerId !== null) return cfg.routerId;
  const first = cfg.uplinks[0];
  return first && first.family === 4 ? uplinkAddress(first, links) : null;
}

/** IPv4 addresses and IPv6 addresses that are not link-local (fe80::/10), in kernel order. */
export function announcedAddresses(link: LinkInfo): string[] {
  return link.addresses
    .filter((a) => a.family === 4 || !/^fe[89ab][0-9a-f]:/i.test(a.address))
    .map((a) => a.address);
}

/** What a type-2 route is about, for the hook. */
export interface MacIpContext {
  vni: number;
  mac: string;
  ip: string | null;
  /** 'bridge': the bridge's own MAC/addresses; 'endpoint': a local endpoint. */
  source: 'bridge' | 'endpoint';
  sticky: boolean;
  uplink: string;
}

/**
 * Changes a type-2 advertisement before it is announced (e.g. adds MAC Mobility,
 * RFC 7432 §7.7), or returns null to keep it back (e.g. a duplicate MAC, §15.1).
 */
export type MacIpHook = (a: Advertisement, ctx: MacIpContext) => Advertisement | null;

/** The local endpoints of advertiseEndpoints VNIs, MAC mobility, and the type-2 hook. */
export interface OriginationExtras {
  endpoints?: (vni: number) => readonly LocalEndpoint[];
  mobilityOf?: MobilityOf;
  macIpHook?: MacIpHook;
}

/** One type-2 advertisement (RFC 7432 §7.2): the only place type-2 routes are built. */
export function macIpAdvertisement(
  ctx: MacIpContext, rd: RouteDistinguisher, nextHop: string, attributes: PathAttributes,
  extras: Pick<OriginationExtras, 'mobilityOf' | 'macIpHook'> = {},
): Advertisement | null {
  const m = (extras.mobilityOf ?? (() => NOT_TRACKED))(ctx.vni, ctx.mac);
  // RFC 7432 §15.1: a duplicate MAC (and its IPs) is not announced.
  if (!m.announce) return null;
  // RFC 7432 §15.2: a static MAC is announced with the sticky flag.
  const ext = attributes.extCommunities ?? [];
  const mobilityExt = withMobility(ext, { seq: m.seq, sticky: m.sticky || ctx.sticky });
  const attrs = mobilityExt === ext ? attributes : { ...attributes, extCommunities: mobilityExt };
  const hook = extras.macIpHook;
  const a: Advertisement = { route: macIpRoute({ rd, mac: ctx.mac, ip: ctx.ip, vni: ctx.vni }), nextHop, attributes: attrs };
  return hook ? hook(a, ctx) : a;
}

export function originate(
  cfg: Pick<Config, 'vnis' | 'uplinks' | 'routerId'>, links: readonly LinkInfo[], extras: OriginationExtras = {},
): Origination {
  const routerId = resolveRouterId(cfg, links);
  const perUplink = new Map<string, Advertisement[]>();
  const addresses = new Map<string, string | null>();
  const problems: string[] = [];
  const byName = new Map(links.map((l) => [l.name, l]));
  for (const u of cfg.uplinks) {
    const addr = uplinkAddress(u, links);
    addresses.set(u.name, addr);
    const out: Advertisement[] = [];
    perUplink.set(u.name, out);
    if (addr === null) {
      problems.push(`uplink ${u.name}: ${u.interface ?? '?'} has no ${u.family === 6 ? 'usable global IPv6' : 'IPv4'} address; nothing announced`);
      continue;
    }
    if (routerId === null && (u.rd.includes('{routerId}') || u.routeTarget.includes('{routerId}'))) {
      problems.push(`uplink ${u.name}: no router ID yet for {routerId} in its RD or route target; nothing announced`);
      continue;
    }
    for (const v of cfg.vnis) {
      const br = byName.get(v.bridge);
      const { rd, routeTarget } = uplinkRdRt(u, v.vni, addr, routerId ?? addr);
      const ext: ExtCommunity[] = [routeTarget, { kind: 'encapsulation', tunnelType: TUNNEL_TYPE_VXLAN }];
      const attributes: PathAttributes = { origin: 0, asPath: [], extCommunities: ext };
      if (!br || br.mac === null) {
        if (u === cfg.uplinks[0]) problems.push(`VNI ${v.vni}: bridge ${v.bridge} ${br ? 'has no MAC address' : 'not found'}; no MAC/IP route`);
      } else {
        for (const ip of [...announcedAddresses(br), null]) {
          const a = macIpAdvertisement({ vni: v.vni, mac: br.mac, ip, source: 'bridge', sticky: false, uplink: u.name }, rd, addr, attributes, extras);
          if (a) out.push(a);
        }
      }
      if (v.advertiseEndpoints && extras.endpoints) {
        for (const ep of extras.endpoints(v.vni)) {
          if (ep.mac === br?.mac) continue;
          for (const ip of [null, ...ep.ips]) {
            const ctx: MacIpContext = { vni: v.vni, mac: ep.mac, ip, source: 'endpoint', sticky: ep.sticky, uplink: u.name };
            const a = macIpAdvertisement(ctx, rd, addr, attributes, extras);
            if (a) out.push(a);
          }
        }
      }
      if (!u.inclusiveMulticastRoute) continue;
      out.push({
        route: inclusiveMulticastRoute({ rd, originatorIp: addr }),
        nextHop: addr,
        attributes: {
          ...attributes,
          pmsiTunnel: { flags: 0, tunnelType: PMSI_INGRESS_REPLICATION, label: v.vni, tunnelId: ipBytes(addr) },
        },
      });
    }
  }
  return { perUplink, addresses, problems };
}

function ipBytes(ip: string): Uint8Array {
  return ip.includes(':') ? parseIpv6(ip) : parseIpv4(ip);
}

/** A string that changes when anything announced about the route changes. */
export function advertisementSignature(a: Advertisement): string {
  const at = a.attributes;
  const pmsi = at.pmsiTunnel
    ? `${at.pmsiTunnel.flags}/${at.pmsiTunnel.tunnelType}/${at.pmsiTunnel.label}/${[...at.pmsiTunnel.tunnelId].join('.')}`
    : '';
  const ext = (at.extCommunities ?? []).map(formatExtCommunity).join(',');
  const label = a.route.type === 'mac-ip' ? `${a.route.label1}/${a.route.label2 ?? ''}/${a.route.esi}` : '';
  return `${a.nextHop}|${at.origin ?? ''}|${ext}|${pmsi}|${label}`;
}

export interface AdvertisementDiff {
  withdraw: EvpnRoute[];
  /** New routes and routes whose attributes or next hop changed (re-announced: implicit replace). */
  advertise: Advertisement[];
}

/** What to send to go from announcing `old` to announcing `next` over one session. */
export function diffAdvertisements(old: readonly Advertisement[], next: readonly Advertisement[]): AdvertisementDiff {
  const before = new Map(old.map((a) => [routeKey(a.route), a]));
  const after = new Map(next.map((a) => [routeKey(a.route), a]));
  const withdraw: EvpnRoute[] = [];
  const advertise: Advertisement[] = [];
  for (const [k, a] of before) if (!after.has(k)) withdraw.push(a.route);
  for (const [k, a] of after) {
    const b = before.get(k);
    if (!b || advertisementSignature(b) !== advertisementSignature(a)) advertise.push(a);
  }
  return { withdraw, advertise };
}
