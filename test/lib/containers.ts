// "Containers" behind the servers of the two-network lab (issue 11 §6): creating and
// moving them lives in src/lab/containers.ts (the demo ships it); tests import it from
// here, with what only tests need (FRR's view of a MAC).
import { frrEvpnRoutes, type FrrHandle } from './frr.js';

export { bridgeOnPort, container, liveMove, removeOld, type ContainerLab, type Endpoint, type Placed } from '../../src/lab/containers.js';

/** FRR's paths for a MAC (`show bgp l2vpn evpn json`): next hop, MAC Mobility sequence (`MM:<seq>` in its text, 0 without), IP. */
export function frrMacPaths(frr: FrrHandle, mac: string): Array<{ nextHop: string; seq: number; ip: string | null }> {
  return frrEvpnRoutes(frr)
    .flatMap((r) => r.paths.map((raw) => raw as { mac?: string; ip?: string; nexthops?: Array<{ ip?: string }>; extendedCommunity?: { string?: string } }))
    .filter((p) => p.mac === mac)
    .map((p) => ({ nextHop: p.nexthops?.[0]?.ip ?? '?', seq: Number(/MM:(\d+)/.exec(p.extendedCommunity?.string ?? '')?.[1] ?? 0), ip: p.ip ?? null }));
}
