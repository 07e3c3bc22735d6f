// An in-memory underlay for VTEP probers on a ManualClock: it plays the kernels and
// delivers a probe datagram only if the destination VTEP exists, the path between
// the two VTEP addresses is not cut, and the VXLAN/Ethernet/IPv4 headers are what
// the remote vxlan0 + br-vxlan would accept (VNI, bridge MAC, service address).
// Used by probe-prober.test.ts and the scenario replays (test/lib/scenario.ts).
import type { ManualClock } from '../../src/util/clock.js';
import { decodeProbeFrame } from '../../src/probe/packet.js';
import type { ProbeTransport } from '../../src/probe/transport.js';

export interface Host {
  name: string;
  serviceIp: string;
  bridgeMac: string;
  vteps: Record<string, string>; // network -> address
  handler?: ((payload: Uint8Array, from: string) => void) | undefined;
  sent: Array<{ local: string; remote: string; datagram: Uint8Array }>;
}

export class Fabric {
  readonly hosts: Host[] = [];
  /** Cut paths as "a|b" (both directions). */
  readonly cut = new Set<string>();
  /** One-way delay in ms. */
  delay = 1;
  vni = 100;
  constructor(readonly clock: ManualClock) {}

  host(name: string, serviceIp: string, bridgeMac: string, vteps: Record<string, string>): Host {
    const h: Host = { name, serviceIp, bridgeMac, vteps, sent: [] };
    this.hosts.push(h);
    return h;
  }

  transport(h: Host): ProbeTransport {
    return {
      send: (local, remote, datagram) => {
        h.sent.push({ local, remote, datagram });
        if (!Object.values(h.vteps).includes(local)) return; // EADDRNOTAVAIL
        if (this.cut.has(`${local}|${remote}`) || this.cut.has(`${remote}|${local}`)) return;
        const dst = this.hosts.find((x) => Object.values(x.vteps).includes(remote));
        if (dst === undefined) return;
        const f = decodeProbeFrame(datagram);
        if (!f.ok || f.value.vni !== this.vni || f.value.dstMac !== dst.bridgeMac || f.value.dstIp !== dst.serviceIp) return;
        const { payload, srcIp } = f.value;
        this.clock.setTimer(this.delay, () => dst.handler?.(payload, srcIp));
      },
      onReceive: (fn) => { h.handler = fn; },
      close: () => { h.handler = undefined; },
    };
  }

  cutPath(a: string, b: string): void { this.cut.add(`${a}|${b}`); }
  heal(a: string, b: string): void { this.cut.delete(`${a}|${b}`); }
}
