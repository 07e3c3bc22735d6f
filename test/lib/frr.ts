// FRR helpers for the namespace tests. Starting FRR and its configuration
// generators live in src/lab/frr.ts (the demo ships them) and are re-exported
// here; the EVPN table queries below are test-only.
import { type FrrHandle } from '../../src/lab/frr.js';
import type { EvpnPathView } from './routes.js';

export * from '../../src/lab/frr.js';

/** All EVPN routes of `show bgp l2vpn evpn json`, flattened to (rd, prefix, paths). */
export interface FrrEvpnRoute { rd: string; prefix: string; paths: unknown[] }

export function frrEvpnRoutes(frr: FrrHandle): FrrEvpnRoute[] {
  const j = frr.vtyshJson('show bgp l2vpn evpn') as Record<string, unknown>;
  const out: FrrEvpnRoute[] = [];
  for (const [rd, v] of Object.entries(j)) {
    if (typeof v !== 'object' || v === null || !/^\d/.test(rd)) continue;
    for (const [prefix, p] of Object.entries(v as Record<string, unknown>)) {
      if (typeof p !== 'object' || p === null || !('paths' in p)) continue;
      const paths = (p as { paths: unknown }).paths;
      out.push({ rd, prefix, paths: Array.isArray(paths) ? (paths as unknown[]).flat() : [] });
    }
  }
  return out;
}

interface FrrJsonPath {
  valid?: boolean; bestpath?: boolean; routeType?: number; mac?: string; ip?: string; locPrf?: number;
  peerId?: string; path?: string; originatorId?: string; clusterList?: { list?: string[] };
  extendedCommunity?: { string?: string }; nexthops?: Array<{ ip?: string }>;
}

/** Every EVPN path in FRR's global table (`show bgp l2vpn evpn json`), flattened. */
export function frrEvpnPaths(frr: FrrHandle): EvpnPathView[] {
  const out: EvpnPathView[] = [];
  for (const r of frrEvpnRoutes(frr)) {
    for (const raw of r.paths) {
      const p = raw as FrrJsonPath;
      const ec = p.extendedCommunity?.string ?? '';
      const view: EvpnPathView = {
        routeType: p.routeType ?? Number(/^\[(\d+)\]/.exec(r.prefix)?.[1] ?? -1),
        rd: r.rd,
        routeTargets: [...ec.matchAll(/RT:(\S+)/g)].map((m) => m[1]),
        best: p.bestpath === true,
        valid: p.valid === true,
      };
      if (p.mac) view.mac = p.mac;
      if (p.ip) view.ip = p.ip;
      if (p.nexthops?.[0]?.ip) view.nextHop = p.nexthops[0].ip;
      if (p.locPrf !== undefined) view.localPref = p.locPrf;
      if (p.originatorId) view.originatorId = p.originatorId;
      if (p.clusterList?.list) view.clusterList = p.clusterList.list;
      if (p.path !== undefined) view.asPath = p.path;
      if (p.peerId && p.peerId !== '(unspec)') view.from = p.peerId;
      out.push(view);
    }
  }
  return out;
}
