// Fakes for driving the Agent directly. FakeSession: a BGP session that records
// what the agent advertises and withdraws, and plays the peer's side through the
// agent's handlers, so a test decides exactly when routes arrive and sessions fail.
import type { UpdateMessage } from '../../src/bgp/types.js';
import { routeKey } from '../../src/evpn/route.js';
import type { EvpnRoute } from '../../src/evpn/types.js';
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
