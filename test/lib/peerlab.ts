// The interop topology of peer-frr.test.ts and peer-gobgp.test.ts: a route
// reflector rr (192.168.1.2) and two `evpn-ha peer` clients, a (192.168.1.65)
// announcing one type-2 and one type-3 route, and b (192.168.1.87) listening.
import type { Lab } from './netns.js';
import { peerCli, type EvpnHaCli } from './evpnha.js';
import { Switch } from './topology.js';

export const RR = '192.168.1.2';
/** A's routes (reflector-frr.test.ts's client at the same address announces them too). */
export const T2 = 'macadv aa:bb:cc:00:00:65 192.168.0.65 vni 100 rd 192.168.1.65:100 rt 65001:100 nexthop 192.168.1.65';
export const T3 = 'multicast 192.168.1.65 vni 100 rd 192.168.1.65:100 rt 65001:100 nexthop 192.168.1.65';

/** Namespaces rr, a and b on one switch. */
export function reflectorLab(lab: Lab): { rr: string; a: string; b: string } {
  const sw = new Switch(lab, 'sw');
  const rr = lab.ns('rr');
  const a = lab.ns('a');
  const b = lab.ns('b');
  sw.plug(rr, `${RR}/24`);
  sw.plug(a, '192.168.1.65/24');
  sw.plug(b, '192.168.1.87/24');
  return { rr, a, b };
}

/** A announces T2 and T3 to the reflector; B announces nothing. */
export function peerClients(lab: Lab, a: string, b: string): { A: EvpnHaCli; B: EvpnHaCli } {
  const A = peerCli(lab, a, [RR, '--local-as', '65001', '--local-address', '192.168.1.65', '--announce', T2, '--announce', T3]);
  const B = peerCli(lab, b, [RR, '--local-as', '65001', '--local-address', '192.168.1.87']);
  return { A, B };
}
