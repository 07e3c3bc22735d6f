// `evpn-ha peer`: the --announce route syntax, and the JSON / human output of
// received routes. Pure functions; peer.ts does the I/O.
import { parseIpv4, parseIpv6, ipVersion } from '../wire/addr.js';
import { formatRd } from '../bgp/rd.js';
import { formatRouteTarget, parseRouteTarget } from '../bgp/extcommunity.js';
import { describeRoute, inclusiveMulticastRoute, macIpRoute } from '../evpn/route.js';
import { routeTypeNumber, type EvpnRoute } from '../evpn/types.js';
import { type ExtCommunity, type RouteTarget } from '../bgp/types.js';
import type { PathAttributes, UpdateMessage } from '../bgp/types.js';

/** A command-line mistake: main prints the message on one line and exits 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** What `--announce` produces: exactly what BgpSession.advertise() takes, plus the text. */
export interface AnnouncedRoute {
  route: EvpnRoute;
  nextHop: string;
  attributes: PathAttributes;
  text: string;
}

export const TUNNEL_TYPE_VXLAN = 8; // RFC 9012 §14 / RFC 8365 §5.1.3
export const PMSI_INGRESS_REPLICATION = 6; // RFC 6514 §5

export const ROUTE_SYNTAX =
  'macadv <mac> <ip|-> vni <n> rd <rd> rt <rt> nexthop <addr> [local-pref <n>] [mobility-seq <n>] | ' +
  'multicast <originator-ip> vni <n> rd <rd> rt <rt> nexthop <addr>';

function uint(text: string | undefined, what: string, max: number): number {
  if (text === undefined || !/^\d+$/.test(text)) throw new UsageError(`${what} needs a decimal number, got "${text ?? ''}"`);
  const n = Number(text);
  if (n > max) throw new UsageError(`${what} ${n} out of range (0..${max})`);
  return n;
}

function address(text: string | undefined, what: string): string {
  if (text === undefined || ipVersion(text) === 0) throw new UsageError(`${what} needs an IPv4 or IPv6 address, got "${text ?? ''}"`);
  return text;
}

/**
 * Parse one --announce value (see ROUTE_SYNTAX). Keywords after the positional
 * fields may come in any order; `rt` may repeat. Throws UsageError.
 */
export function parseRouteSpec(text: string): AnnouncedRoute {
  const words = text.trim().split(/\s+/).filter((w) => w !== '');
  const kind = words[0];
  if (kind !== 'macadv' && kind !== 'multicast') {
    throw new UsageError(`bad route "${text}": must start with macadv or multicast (${ROUTE_SYNTAX})`);
  }
  const positional = kind === 'macadv' ? 2 : 1;
  const pos = words.slice(1, 1 + positional);
  if (pos.length < positional) throw new UsageError(`bad route "${text}": ${ROUTE_SYNTAX}`);
  const allowed = kind === 'macadv' ? ['vni', 'rd', 'rt', 'nexthop', 'local-pref', 'mobility-seq'] : ['vni', 'rd', 'rt', 'nexthop'];
  const kv = new Map<string, string[]>();
  const rest = words.slice(1 + positional);
  for (let i = 0; i < rest.length; i += 2) {
    const key = rest[i]!;
    const value = rest[i + 1];
    if (!allowed.includes(key)) throw new UsageError(`bad route "${text}": unknown keyword "${key}" (${ROUTE_SYNTAX})`);
    if (value === undefined) throw new UsageError(`bad route "${text}": "${key}" needs a value`);
    if (key !== 'rt' && kv.has(key)) throw new UsageError(`bad route "${text}": "${key}" given twice`);
    kv.set(key, [...(kv.get(key) ?? []), value]);
  }
  for (const need of ['vni', 'rd', 'rt', 'nexthop']) {
    if (!kv.has(need)) throw new UsageError(`bad route "${text}": missing "${need} <...>"`);
  }
  const one = (k: string): string | undefined => kv.get(k)?.[0];
  const vni = uint(one('vni'), 'vni', 0xffffff);
  const nextHop = address(one('nexthop'), 'nexthop');
  let rts: RouteTarget[];
  try {
    rts = kv.get('rt')!.map((s) => parseRouteTarget(s));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const ext: ExtCommunity[] = [...rts, { kind: 'encapsulation', tunnelType: TUNNEL_TYPE_VXLAN }];
  const attributes: PathAttributes = { origin: 0, extCommunities: ext };
  let route: EvpnRoute;
  try {
    if (kind === 'macadv') {
      const [mac, ip] = pos as [string, string];
      if (ip !== '-') address(ip, 'the IP of macadv');
      route = macIpRoute({ rd: one('rd')!, mac, ip: ip === '-' ? null : ip, vni });
      if (kv.has('local-pref')) attributes.localPref = uint(one('local-pref'), 'local-pref', 0xffffffff);
      if (kv.has('mobility-seq')) {
        ext.push({ kind: 'mac-mobility', sequence: uint(one('mobility-seq'), 'mobility-seq', 0xffffffff), sticky: false });
      }
    } else {
      const originatorIp = address(pos[0], 'the originator IP of multicast');
      route = inclusiveMulticastRoute({ rd: one('rd')!, originatorIp });
      // RFC 8365 §5.1.3: ingress replication, the VNI in the label field, tunnel id = our VTEP address.
      attributes.pmsiTunnel = {
        flags: 0,
        tunnelType: PMSI_INGRESS_REPLICATION,
        label: vni,
        tunnelId: ipVersion(nextHop) === 4 ? parseIpv4(nextHop) : parseIpv6(nextHop),
      };
    }
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`bad route "${text}": ${(e as Error).message}`);
  }
  return { route, nextHop, attributes, text: words.join(' ') };
}

export type RouteEvent = 'update' | 'withdraw';

/** One line of `--json` output for a route (field names are part of the CLI contract). */
export interface RouteRecord {
  event: RouteEvent;
  peer: string;
  routeType: number;
  rd: string | null;
  esi: string | null;
  ethernetTag: number | null;
  mac: string | null;
  ip: string | null;
  originatorIp: string | null;
  vni: number | null;
  nextHop: string | null;
  localPref: number | null;
  originatorId: string | null;
  clusterList: string[] | null;
  routeTargets: string[] | null;
  encapsulation: number | null;
  macMobilitySeq: number | null;
  asPath: number[] | null;
  route: string;
}

function routeFields(route: EvpnRoute): Pick<RouteRecord, 'routeType' | 'rd' | 'esi' | 'ethernetTag' | 'mac' | 'ip' | 'originatorIp' | 'route'> {
  const base = { routeType: routeTypeNumber(route), route: describeRoute(route) };
  switch (route.type) {
    case 'ethernet-ad':
      return { ...base, rd: formatRd(route.rd), esi: route.esi, ethernetTag: route.ethernetTag, mac: null, ip: null, originatorIp: null };
    case 'mac-ip':
      return { ...base, rd: formatRd(route.rd), esi: route.esi, ethernetTag: route.ethernetTag, mac: route.mac, ip: route.ip, originatorIp: null };
    case 'inclusive-multicast':
      return { ...base, rd: formatRd(route.rd), esi: null, ethernetTag: route.ethernetTag, mac: null, ip: null, originatorIp: route.originatorIp };
    case 'ethernet-segment':
      return { ...base, rd: formatRd(route.rd), esi: route.esi, ethernetTag: null, mac: null, ip: null, originatorIp: route.originatorIp };
    case 'ip-prefix':
      return { ...base, rd: formatRd(route.rd), esi: route.esi, ethernetTag: route.ethernetTag, mac: null, ip: `${route.prefix}/${route.prefixLength}`, originatorIp: null };
    case 'unknown':
      return { ...base, rd: null, esi: null, ethernetTag: null, mac: null, ip: null, originatorIp: null };
  }
}

/** The VNI: the label for types 1, 2, 5 (raw 24 bits, RFC 8365 §5.1.3); the PMSI label for type 3. */
function vniOf(route: EvpnRoute, attrs: PathAttributes | null): number | null {
  switch (route.type) {
    case 'mac-ip': return route.label1;
    case 'ethernet-ad':
    case 'ip-prefix': return route.label;
    case 'inclusive-multicast': return attrs?.pmsiTunnel?.label ?? null;
    default: return null;
  }
}

/** A record for one route; `attrs` null for a withdraw. */
export function routeRecord(event: RouteEvent, peer: string, route: EvpnRoute, attrs: PathAttributes | null, nextHop: string | null): RouteRecord {
  const ext = attrs?.extCommunities ?? [];
  const rts = ext.filter((c): c is RouteTarget => c.kind === 'route-target').map(formatRouteTarget);
  const encap = ext.find((c) => c.kind === 'encapsulation');
  const mm = ext.find((c) => c.kind === 'mac-mobility');
  const asPath = attrs?.asPath ? attrs.asPath.flatMap((seg) => seg.asns) : null;
  return {
    event,
    peer,
    ...routeFields(route),
    vni: vniOf(route, attrs),
    nextHop,
    localPref: attrs?.localPref ?? null,
    originatorId: attrs?.originatorId ?? null,
    clusterList: attrs?.clusterList ? [...attrs.clusterList] : null,
    routeTargets: attrs ? rts : null,
    encapsulation: encap?.kind === 'encapsulation' ? encap.tunnelType : null,
    macMobilitySeq: mm?.kind === 'mac-mobility' ? mm.sequence : null,
    asPath,
  };
}

/**
 * Every EVPN route an UPDATE announces or withdraws, as records. An RFC 7606
 * 'withdraw' outcome turns the announced routes into withdrawals.
 */
export function updateRecords(peer: string, u: UpdateMessage): RouteRecord[] {
  const out: RouteRecord[] = [];
  const treatAsWithdraw = (u.attrErrors ?? []).some((e) => e.action === 'withdraw');
  const reach = u.attributes.mpReach;
  if (reach && reach.nlri.kind === 'evpn') {
    for (const r of reach.nlri.routes) {
      out.push(treatAsWithdraw
        ? routeRecord('withdraw', peer, r, null, null)
        : routeRecord('update', peer, r, u.attributes, reach.nextHop[0] ?? null));
    }
  }
  const unreach = u.attributes.mpUnreach;
  if (unreach && unreach.nlri.kind === 'evpn') {
    for (const r of unreach.nlri.routes) out.push(routeRecord('withdraw', peer, r, null, null));
  }
  return out;
}

/** One human-readable row per route. */
export function formatRouteRecord(r: RouteRecord): string {
  if (r.event === 'withdraw') return `withdraw ${r.route}`;
  const parts = [`update   ${r.route}`];
  if (r.routeType === 3 && r.vni !== null) parts.push(`vni ${r.vni}`);
  parts.push(`nh ${r.nextHop ?? '-'}`);
  if (r.routeTargets && r.routeTargets.length > 0) parts.push(`rt ${r.routeTargets.join(',')}`);
  if (r.encapsulation !== null) parts.push(`encap ${r.encapsulation === TUNNEL_TYPE_VXLAN ? 'vxlan' : r.encapsulation}`);
  if (r.localPref !== null) parts.push(`lp ${r.localPref}`);
  if (r.macMobilitySeq !== null) parts.push(`mm ${r.macMobilitySeq}`);
  if (r.asPath && r.asPath.length > 0) parts.push(`as-path ${r.asPath.join(' ')}`);
  if (r.originatorId !== null) parts.push(`originator ${r.originatorId}`);
  if (r.clusterList !== null) parts.push(`cluster-list ${r.clusterList.join(',')}`);
  return parts.join('  ');
}

/** A session event line for --json (established, eor, down). */
export function eventRecord(event: 'established' | 'eor' | 'down', peer: string, extra: Record<string, unknown>): Record<string, unknown> {
  return { event, peer, ...extra };
}
