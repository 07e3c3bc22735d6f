// EVPN NLRI codec (RFC 7432 §7, RFC 9136 §3). CONTRACT STUB: implementation pending.
import type { Reader, Writer } from '../bgp/wire.js';
import type { EvpnRoute } from './types.js';

/** Append one EVPN NLRI (route type, length, value) to w. */
export function encodeEvpnRoute(w: Writer, route: EvpnRoute): void {
  void w; void route;
  throw new Error('not implemented');
}

/**
 * Decode every EVPN NLRI from r's position to r.end. `withdraw` is true inside
 * MP_UNREACH_NLRI (labels may be absent or meaningless there).
 */
export function decodeEvpnRoutes(r: Reader, withdraw: boolean): EvpnRoute[] {
  void r; void withdraw;
  throw new Error('not implemented');
}
