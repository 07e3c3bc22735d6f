// A route generator for the scale benchmarks (bench/scale.ts, bench/soak.ts): a
// minimal BGP speaker built from our own codecs that peers with a route reflector
// as an iBGP client and announces N type-2 MAC+IP routes (RFC 7432 §7.2) from K
// remote VTEP addresses, pre-encoded into UPDATEs packed with as many NLRI as fit
// (RFC 4271 §4.3; pack.ts), so that sending is one socket write per batch.
//
// Route i: MAC 02:ab:<i, 32 bits>, IP 10.<i / 250 / 256>.<i / 250 % 256>.<1 + i % 250>,
// VNI 100 (label1, RFC 8365 §5.1.3), behind VTEP <vtepBase>.<first + i % K> on the
// network, RD <vtep>:100 (RFC 7432 §7.9), RT <rtAs>:100, encapsulation VXLAN
// (RFC 9012 §4.1). The same MAC is announced on each network, so every MAC has
// one path per network.
import { connect, type Socket } from 'node:net';
import { Framer } from '../bgp/framer.js';
import { encodeMessage } from '../bgp/message.js';
import { packUpdates, type Announcement } from '../bgp/pack.js';
import { AFI, SAFI, type CodecContext, type OpenMessage } from '../bgp/types.js';
import { parseRd } from '../bgp/rd.js';
import { macIpRoute } from '../evpn/route.js';
import type { MacIpRoute } from '../evpn/types.js';

/** First two octets of every generated MAC (locally administered). */
export const GEN_MAC_PREFIX = [0x02, 0xab] as const;
export const GEN_VNI = 100;
const CTX: CodecContext = { fourOctetAs: true };

export function genMac(i: number): string {
  const b = [GEN_MAC_PREFIX[0], GEN_MAC_PREFIX[1], (i >>> 24) & 0xff, (i >>> 16) & 0xff, (i >>> 8) & 0xff, i & 0xff];
  return b.map((x) => x.toString(16).padStart(2, '0')).join(':');
}

/** 10.x.y.z, never .0 or .255 in the last octet. */
export function genIp(i: number): string {
  const net = Math.floor(i / 250);
  return `10.${(net >>> 8) & 0xff}.${net & 0xff}.${1 + (i % 250)}`;
}

export interface GenNetwork {
  /** Remote VTEPs are `${vtepPrefix}${vtepFirst + k}`, k < vteps. */
  vtepPrefix: string;
  vtepFirst: number;
  /** AS of the route target (the network's AS). */
  rtAs: number;
}

export function genVtep(net: GenNetwork, k: number): string {
  return `${net.vtepPrefix}${net.vtepFirst + k}`;
}

/** The N routes of one network, grouped by VTEP (route i behind VTEP i mod K). */
export function genRoutes(net: GenNetwork, n: number, vteps: number, first = 0): Array<{ vtep: string; routes: MacIpRoute[] }> {
  const groups = Array.from({ length: Math.min(vteps, n) }, (_, k) => {
    const vtep = genVtep(net, k);
    return { vtep, rd: parseRd(`${vtep}:${GEN_VNI}`), routes: [] as MacIpRoute[] };
  });
  for (let i = first; i < first + n; i++) {
    const g = groups[i % groups.length]!;
    g.routes.push(macIpRoute({ rd: g.rd, mac: genMac(i), ip: genIp(i), vni: GEN_VNI }));
  }
  return groups.map(({ vtep, routes }) => ({ vtep, routes }));
}

/** Concatenate encoded messages into chunks of about `chunk` bytes (one write each). */
function chunked(msgs: Uint8Array[], chunk = 256 * 1024): Buffer[] {
  const out: Buffer[] = [];
  let cur: Uint8Array[] = [];
  let size = 0;
  for (const m of msgs) {
    cur.push(m);
    size += m.length;
    if (size >= chunk) { out.push(Buffer.concat(cur)); cur = []; size = 0; }
  }
  if (cur.length) out.push(Buffer.concat(cur));
  return out;
}

export interface Encoded {
  chunks: Buffer[];
  updates: number;
  bytes: number;
}

/** Pre-encoded announcement of N routes (RFC 4760 §3 MP_REACH_NLRI, one group per VTEP). */
export function encodeAnnounce(net: GenNetwork, n: number, vteps: number, localPref = 100,
  groups: Array<{ vtep: string; routes: MacIpRoute[] }> = genRoutes(net, n, vteps)): Encoded {
  const announce: Announcement[] = groups.map((g) => ({
    nextHop: g.vtep,
    routes: g.routes,
    attributes: {
      origin: 0, asPath: [], localPref,
      extCommunities: [
        { kind: 'route-target', form: 'as2', asn: net.rtAs, local: GEN_VNI },
        { kind: 'encapsulation', tunnelType: 8 },
      ],
    },
  }));
  const msgs = packUpdates({ announce }, CTX).map((u) => encodeMessage(u, CTX));
  return { chunks: chunked(msgs), updates: msgs.length, bytes: msgs.reduce((s, m) => s + m.length, 0) };
}

/** Pre-encoded withdrawal of the same N routes (RFC 4760 §4 MP_UNREACH_NLRI). */
export function encodeWithdraw(net: GenNetwork, n: number, vteps: number,
  groups: Array<{ vtep: string; routes: MacIpRoute[] }> = genRoutes(net, n, vteps)): Encoded {
  const withdraw = groups.flatMap((g) => g.routes);
  const msgs = packUpdates({ withdraw }, CTX).map((u) => encodeMessage(u, CTX));
  return { chunks: chunked(msgs), updates: msgs.length, bytes: msgs.reduce((s, m) => s + m.length, 0) };
}

export interface GenPeerOptions {
  local: string;
  remote: string;
  asn: number;
  port?: number;
  /** Hold time we offer (RFC 4271 §4.2); keepalives go every hold / 3 s (at most 1 s). */
  holdTime?: number;
}

/**
 * One BGP session to a reflector: OPEN with MP L2VPN EVPN and 4-octet AS
 * (RFC 4760 §8, RFC 6793), KEEPALIVEs; every message received is framed and only
 * its type looked at (what the reflector sends us does not matter here).
 */
export class GenPeer {
  private socket: Socket | null = null;
  private readonly framer = new Framer();
  private ka: NodeJS.Timeout | null = null;
  state: 'idle' | 'connect' | 'opensent' | 'established' | 'closed' = 'idle';
  error: string | null = null;
  received = 0;

  constructor(readonly opts: GenPeerOptions) {}

  start(onEstablished: () => void, onClosed: (why: string) => void): void {
    const o = this.opts;
    this.state = 'connect';
    const s = connect({ host: o.remote, port: o.port ?? 179, localAddress: o.local });
    this.socket = s;
    s.setNoDelay(true);
    s.on('connect', () => {
      const open: OpenMessage = {
        type: 'open', version: 4, myAs: o.asn <= 0xffff ? o.asn : 23456, holdTime: o.holdTime ?? 90, bgpId: o.local,
        capabilities: [
          { kind: 'multiprotocol', afi: AFI.L2VPN, safi: SAFI.Evpn },
          { kind: 'route-refresh' },
          { kind: 'four-octet-as', asn: o.asn },
        ],
      };
      s.write(encodeMessage(open, CTX));
      this.state = 'opensent';
    });
    s.on('data', (d: Buffer) => {
      let msgs: Uint8Array[];
      try { msgs = this.framer.push(d); } catch (e) { this.fail(`framing: ${String(e)}`, onClosed); return; }
      for (const m of msgs) {
        this.received++;
        const type = m[18];
        if (type === 1) {
          s.write(encodeMessage({ type: 'keepalive' }, CTX));
        } else if (type === 4 && this.state === 'opensent') {
          this.state = 'established';
          this.ka = setInterval(() => { s.write(encodeMessage({ type: 'keepalive' }, CTX)); }, 1000);
          onEstablished();
        } else if (type === 3) {
          this.fail(`NOTIFICATION ${m[19]}/${m[20]}`, onClosed);
          return;
        }
      }
    });
    s.on('error', (e) => this.fail(e.message, onClosed));
    s.on('close', () => this.fail('closed', onClosed));
  }

  /** Write pre-encoded messages; resolves when the kernel has taken them all. */
  send(e: Encoded): Promise<void> {
    const s = this.socket;
    if (s === null || this.state !== 'established') return Promise.reject(new Error(`session to ${this.opts.remote} not established`));
    for (let i = 0; i < e.chunks.length - 1; i++) s.write(e.chunks[i]!);
    return new Promise((res, rej) => {
      const last = e.chunks.at(-1);
      if (last === undefined) { res(); return; }
      s.write(last, (err) => (err ? rej(err) : res()));
    });
  }

  private fail(why: string, onClosed: (why: string) => void): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.error = why;
    if (this.ka) clearInterval(this.ka);
    this.socket?.destroy();
    onClosed(why);
  }

  close(): void {
    if (this.ka) clearInterval(this.ka);
    this.state = 'closed';
    this.socket?.destroy();
  }
}
