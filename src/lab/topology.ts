// Small topology builders on top of Lab: a switch namespace with a Linux bridge that
// every node's eth1 is plugged into, and a VXLAN VTEP (br-vxlan + vxlan0) as in the
// design brief.
import { ip, sh, type Lab } from './netns.js';

/** A one-bridge L2 segment living in its own namespace. */
export class Switch {
  readonly ns: string;
  private ports = 0;
  constructor(private readonly lab: Lab, name: string) {
    this.ns = lab.ns(name);
    ip(this.ns, 'link', 'add', 'sw0', 'type', 'bridge');
    ip(this.ns, 'link', 'set', 'sw0', 'up');
  }

  /** Plug `ns` in: its interface `ifName` (default eth1) gets `addr` (CIDR). Returns the switch-side port name. */
  plug(ns: string, addr?: string, ifName = 'eth1'): string {
    const port = `p${this.ports++}`;
    this.lab.veth(ns, ifName, this.ns, port, addr);
    ip(this.ns, 'link', 'set', port, 'master', 'sw0');
    return port;
  }

  /** Take a port down/up (a link failure as the attached node sees it). */
  setPort(port: string, up: boolean): void {
    ip(this.ns, 'link', 'set', port, up ? 'up' : 'down');
  }
}

export interface VtepOptions {
  /** Local VTEP address (the vxlan device's `local`); omit for no fixed local address. */
  local?: string;
  vni?: number;
  /** Address of br-vxlan (CIDR), e.g. 192.168.0.87/24. */
  svi?: string;
  /** MAC of br-vxlan. */
  sviMac?: string;
  /** Underlay device for vxlan0 (`dev`), optional. */
  dev?: string;
}

/** br-vxlan + vxlan0 (VNI 100, dstport 4789, nolearning) in `ns`, as in the design brief. */
export function addVtep(ns: string, o: VtepOptions = {}): void {
  ip(ns, 'link', 'add', 'br-vxlan', 'type', 'bridge');
  if (o.sviMac) ip(ns, 'link', 'set', 'br-vxlan', 'address', o.sviMac);
  ip(ns, 'link', 'add', 'vxlan0', 'type', 'vxlan', 'id', String(o.vni ?? 100), 'dstport', '4789', 'nolearning',
    ...(o.local ? ['local', o.local] : []), ...(o.dev ? ['dev', o.dev] : []));
  ip(ns, 'link', 'set', 'vxlan0', 'master', 'br-vxlan');
  sh('ip', ['netns', 'exec', ns, 'bridge', 'link', 'set', 'dev', 'vxlan0', 'learning', 'off']);
  if (o.svi) ip(ns, 'addr', 'add', o.svi, 'dev', 'br-vxlan');
  ip(ns, 'link', 'set', 'vxlan0', 'up');
  ip(ns, 'link', 'set', 'br-vxlan', 'up');
}

/** `bridge` inside a namespace. */
export function bridge(ns: string, ...args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, 'bridge', ...args]);
}
