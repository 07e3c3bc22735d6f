// Fake BGP sessions and route builders for driving the Agent directly (unit tests on
// FakeKernel, namespace tests on the real rtnetlink port): the peer's side is a
// method call, so a test decides exactly when routes arrive and sessions fail.
import type { UpdateMessage, ExtCommunity } from '../../src/bgp/types.js';
import { macIpRoute, routeKey } from '../../src/evpn/route.js';
import type { EvpnRoute, MacIpRoute } from '../../src/evpn/types.js';
import type { AgentSession, SessionHandlers, SessionSpec } from '../../src/agent/agent.js';
import type { Advertisement } from '../../src/agent/origination.js';

export class FakeSession implements AgentSession {
  started = false;
  stopped: string | null = null;
  readonly adjOut = new Map<string, Advertisement>();
  readonly withdrawn: EvpnRoute[] = [];
  constructor(readonly spec: SessionSpec, readonly h: SessionHandlers) {}
  refreshes = 0;
  start(): void { this.started = true; }
  refresh(): boolean { this.refreshes++; return true; }
  stop(reason: string): void { this.stopped = reason; }
  advertise(routes: Advertisement[]): void { for (const r of routes) this.adjOut.set(routeKey(r.route), r); }
  withdraw(routes: EvpnRoute[]): void {
    for (const r of routes) {
      this.adjOut.delete(routeKey(r));
      this.withdrawn.push(r);
    }
  }
  // The peer's side:
  up(peerRouterId: string): void { this.h.established({ peerRouterId }); }
  down(reason = 'Hold Timer Expired'): void { this.h.down(reason); }
  send(u: UpdateMessage): void { this.h.update(u); }
  eor(): void { this.h.endOfRib({ afi: 25, safi: 70 }); }
}

const RT = (asn: number): ExtCommunity => ({ kind: 'route-target', form: 'as2', asn, local: 100 });

/** The i-th MAC of remote server `server` (1..255): 02:00:00:<server>:<i/256>:<i%256>. */
export function macOf(server: number, i: number): string {
  const h = (n: number): string => n.toString(16).padStart(2, '0');
  return `02:00:00:${h(server)}:${h((i >> 8) & 0xff)}:${h(i & 0xff)}`;
}

/** A type-2 route of remote server `server` over network `net` (VTEP 192.168.<net>.<server>). */
export function serverRoute(net: 1 | 2, server: number, mac: string, ip: string | null = null): MacIpRoute {
  return macIpRoute({ rd: `192.168.${net}.${server}:100`, mac, ip, vni: 100 });
}

/** An UPDATE from network `net`'s reflector (RT <65000+net>:100), next hop the server's VTEP there. */
export function announceFrom(net: 1 | 2, server: number, routes: MacIpRoute[]): UpdateMessage {
  return {
    type: 'update', withdrawn: [], nlri: [],
    attributes: {
      origin: 0, asPath: [],
      extCommunities: [RT(65000 + net), { kind: 'encapsulation', tunnelType: 8 }],
      mpReach: { afi: 25, safi: 70, nextHop: [`192.168.${net}.${server}`], nlri: { kind: 'evpn', routes } },
    },
  };
}

export function withdrawRoutes(routes: MacIpRoute[]): UpdateMessage {
  return { type: 'update', withdrawn: [], nlri: [], attributes: { mpUnreach: { afi: 25, safi: 70, nlri: { kind: 'evpn', routes } } } };
}

/** The reference configuration: net1 primary (localPref 200), net2 backup. */
export function twoUplinkConfig(kernelExtra = ''): string {
  return `
vnis: [{vni: 100, bridge: br-vxlan, vxlan: vxlan0}]
uplinks:
  - {name: net1, interface: eth1, peer: 192.168.1.2, localAs: 65001, localPref: 200}
  - {name: net2, interface: eth2, peer: 192.168.2.2, localAs: 65002, localPref: 100}
vtepProbe: false
kernel: {withdrawDelay: 0${kernelExtra}}
`;
}
