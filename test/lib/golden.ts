// Golden BGP messages: dissection by tshark (Wireshark's BGP dissector, independent of
// our codec) into the JSON shape of test/golden/<impl>/<NAME>.json, and loading of
// the fixtures for tests.
//
// Values tshark shows through an interpretation of its own are taken from the bytes
// it locates instead: EVPN labels (tshark 4.0 prints `label >> 4`, MPLS-style) and
// the PMSI tunnel label are the raw 24-bit field, RDs are formatted from their 8 bytes.
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { fromHex } from './capture.js';

export const GOLDEN_DIR = new URL('../golden/', import.meta.url).pathname;

// ---------------------------------------------------------------------------
// JSON shape

export interface GoldenNlri {
  routeType: number;
  rd?: string;
  esi?: string;
  ethernetTag?: number;
  mac?: string;
  /** Absent when the route carries no IP (IP Address Length 0). */
  ip?: string;
  /** Raw 24-bit label fields as on the wire (VNI 100 sent raw is 100; MPLS-style would be 1601). */
  labels?: number[];
  /** Type 3: the Originating Router's IP. */
  originatorIp?: string;
  /** Anything else: the NLRI bytes in hex. */
  raw?: string;
}

export interface GoldenExtCommunity {
  /** High-order type and subtype octets. */
  type: number;
  subtype: number;
  kind: 'routeTarget' | 'encapsulation' | 'macMobility' | 'routerMac' | 'other';
  /** Route target as "65001:100" / "192.168.1.2:100". */
  value?: string;
  tunnelType?: number;
  sequence?: number;
  sticky?: boolean;
  mac?: string;
  raw: string;
}

export interface GoldenAttributes {
  /** Attribute type codes in wire order. */
  order: number[];
  /** Flags octet per type code ("0x40"). */
  flags: Record<string, string>;
  origin?: 'igp' | 'egp' | 'incomplete';
  /** Segments in order; AS numbers as sent (2 or 4 octets per the session). */
  asPath?: Array<{ type: 'set' | 'sequence' | number; asns: number[] }>;
  med?: number;
  localPref?: number;
  nextHop?: string;
  originatorId?: string;
  clusterList?: string[];
  extendedCommunities?: GoldenExtCommunity[];
  /** Convenience views of extendedCommunities. */
  routeTargets?: string[];
  encapsulation?: number;
  macMobility?: { sequence: number; sticky: boolean };
  pmsiTunnel?: { flags: number; tunnelType: number; label: number; endpoint?: string; raw: string };
  /** Attributes not described above, as hex of the value. */
  other?: Record<string, string>;
}

export interface GoldenCapability { code: number; length: number; value: string; decoded?: Record<string, unknown> }

export interface GoldenJson {
  source: string;
  message: 'open' | 'update' | 'notification' | 'keepalive' | 'route-refresh';
  length: number;
  /** How the message was obtained (who sent it to whom, in which scenario). */
  description?: string;
  open?: { version: number; myAs: number; holdTime: number; bgpId: string; optParamLength: number; capabilities: GoldenCapability[] };
  withdrawnRoutesLength?: number;
  attributes?: GoldenAttributes;
  mpReach?: { afi: number; safi: number; nextHop: string[]; nlri: GoldenNlri[] };
  /** nlri is empty for the End-of-RIB marker (RFC 4724 §2). */
  mpUnreach?: { afi: number; safi: number; nlri: GoldenNlri[]; endOfRib?: boolean };
  notification?: { code: number; subcode: number; data: string };
}

// ---------------------------------------------------------------------------
// tshark

type TVal = string | number | TNode | TVal[];
interface TNode { [k: string]: TVal }

const BGP_OFFSET = 14 + 20 + 20;

/** A pcap with one Ethernet / IPv4 / TCP (to port 179) packet per message. */
export function synthPcap(...msgs: Uint8Array[]): Uint8Array {
  const header = Buffer.alloc(24);
  header.writeUInt32LE(0xa1b2c3d4, 0); header.writeUInt16LE(2, 4); header.writeUInt16LE(4, 6);
  header.writeUInt32LE(262144, 16); header.writeUInt32LE(1, 20);
  const parts: Buffer[] = [header];
  let seq = 1;
  for (const msg of msgs) {
    const ipLen = 20 + 20 + msg.length;
    const frame = Buffer.alloc(14 + ipLen);
    Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x08, 0x00]).copy(frame, 0);
    let o = 14;
    frame[o] = 0x45; frame.writeUInt16BE(ipLen, o + 2); frame[o + 8] = 64; frame[o + 9] = 6;
    Buffer.from([10, 0, 0, 1, 10, 0, 0, 2]).copy(frame, o + 12);
    o += 20;
    frame.writeUInt16BE(40000, o); frame.writeUInt16BE(179, o + 2);
    frame.writeUInt32BE(seq, o + 4); frame.writeUInt32BE(1, o + 8);
    frame[o + 12] = 0x50; frame[o + 13] = 0x18; frame.writeUInt16BE(65535, o + 14);
    Buffer.from(msg).copy(frame, BGP_OFFSET);
    seq += msg.length;
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(frame.length, 8); rec.writeUInt32LE(frame.length, 12);
    parts.push(rec, frame);
  }
  return new Uint8Array(Buffer.concat(parts));
}

/** tshark's JSON trees (`-T json --no-duplicate-keys -x`) of the BGP layer of each message (one tshark run). */
export function tsharkBgp(...msgs: Uint8Array[]): TNode[] {
  const dir = mkdtempSync(join(tmpdir(), 'golden-'));
  try {
    const file = join(dir, 'msgs.pcap');
    writeFileSync(file, synthPcap(...msgs));
    const out = execFileSync('tshark', ['-r', file, '-T', 'json', '--no-duplicate-keys', '-x', '-d', 'tcp.port==179,bgp', '-o', 'tcp.desegment_tcp_streams:FALSE'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 << 20 });
    const pkts = JSON.parse(out) as Array<{ _source: { layers: Record<string, TVal> } }>;
    if (pkts.length !== msgs.length) throw new Error(`tshark returned ${pkts.length} packets for ${msgs.length} messages`);
    return pkts.map((p, i) => {
      const bgp = p._source.layers.bgp;
      const first = node(Array.isArray(bgp) ? bgp[0] : bgp);
      if (first === undefined) throw new Error(`tshark found no BGP message in packet ${i + 1}`);
      return first;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The text of tshark -V for each message, BGP layer only (kept next to the fixture for humans). */
export function tsharkVerbose(...msgs: Uint8Array[]): string[] {
  const dir = mkdtempSync(join(tmpdir(), 'golden-'));
  try {
    const file = join(dir, 'msgs.pcap');
    writeFileSync(file, synthPcap(...msgs));
    const out = execFileSync('tshark', ['-r', file, '-V', '-O', 'bgp', '-d', 'tcp.port==179,bgp', '-o', 'tcp.desegment_tcp_streams:FALSE'],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 256 << 20 });
    const frames = out.split(/^(?=Frame \d+:)/m).filter((f) => f.startsWith('Frame '));
    if (frames.length !== msgs.length) throw new Error(`tshark -V printed ${frames.length} frames for ${msgs.length} messages`);
    return frames.map((f) => {
      const i = f.indexOf('Border Gateway Protocol');
      return i >= 0 ? f.slice(i) : f;
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const arr = (v: TVal | undefined): TVal[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);
const node = (v: TVal | undefined): TNode | undefined => (typeof v === 'object' && !Array.isArray(v) ? v : undefined);
const nodes = (v: TVal | undefined): TNode[] => arr(v).map(node).filter((n): n is TNode => n !== undefined);
function str(n: TNode, k: string): string | undefined {
  const v = n[k];
  return typeof v === 'string' ? v : undefined;
}
function num(n: TNode, k: string): number | undefined {
  const s = str(n, k);
  return s === undefined ? undefined : Number(s);
}
/** Bytes of a field, located by tshark's `<field>_raw` [hex, frameOffset, length, ...]. */
function rawBytes(n: TNode, k: string, msg: Uint8Array): Uint8Array | undefined {
  const r = n[`${k}_raw`];
  if (!Array.isArray(r) || r.length < 3) return undefined;
  const pos = Number(r[1]) - BGP_OFFSET, len = Number(r[2]);
  return msg.subarray(pos, pos + len);
}
/** Offset in `msg` of a field tshark located. */
function rawPos(n: TNode, k: string): number | undefined {
  const r = n[`${k}_raw`];
  if (!Array.isArray(r) || r.length < 3) return undefined;
  return Number(r[1]) - BGP_OFFSET;
}
/** Depth-first search for every value under key `k`. */
function deep(v: TVal | undefined, k: string, out: TVal[] = []): TVal[] {
  if (typeof v !== 'object') return out;
  if (Array.isArray(v)) { for (const x of v) deep(x, k, out); return out; }
  for (const [key, val] of Object.entries(v)) {
    if (key === k) out.push(...arr(val));
    else if (!key.endsWith('_raw')) deep(val, k, out);
  }
  return out;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');
const u16 = (b: Uint8Array, o: number): number => (b[o] << 8) | b[o + 1];
const u24 = (b: Uint8Array, o: number): number => (b[o] << 16) | (b[o + 1] << 8) | b[o + 2];
const u32 = (b: Uint8Array, o: number): number => ((b[o] << 24) >>> 0) + ((b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]);
const ipv4 = (b: Uint8Array, o: number): string => `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
const macStr = (b: Uint8Array, o: number): string => Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');

/** RD text per RFC 4364 §4.2 (types 0, 1, 2). */
export function formatRd(b: Uint8Array): string {
  const t = u16(b, 0);
  if (t === 0) return `${u16(b, 2)}:${u32(b, 4)}`;
  if (t === 1) return `${ipv4(b, 2)}:${u16(b, 6)}`;
  if (t === 2) return `${u32(b, 2)}:${u16(b, 6)}`;
  return hex(b);
}

function evpnNlri(n: TNode, msg: Uint8Array): GoldenNlri {
  const routeType = num(n, 'bgp.evpn.nlri.rt') ?? -1;
  const out: GoldenNlri = { routeType };
  const rd = rawBytes(n, 'bgp.evpn.nlri.rd', msg);
  if (rd) out.rd = formatRd(rd);
  const esi = str(n, 'bgp.evpn.nlri.esi');
  if (esi !== undefined) out.esi = esi;
  const etag = num(n, 'bgp.evpn.nlri.etag');
  if (etag !== undefined) out.ethernetTag = etag;
  if (routeType === 2) {
    out.mac = str(n, 'bgp.evpn.nlri.mac_addr');
    const ip4 = str(n, 'bgp.evpn.nlri.ip.addr'), ip6 = str(n, 'bgp.evpn.nlri.ipv6.addr');
    if (ip4 ?? ip6) out.ip = ip4 ?? ip6;
    const labels: number[] = [];
    for (const k of ['bgp.evpn.nlri.mpls_ls1', 'bgp.evpn.nlri.mpls_ls2']) {
      const b = rawBytes(n, k, msg);
      if (b && b.length === 3) labels.push(u24(b, 0));
    }
    out.labels = labels;
  } else if (routeType === 3) {
    const ip4 = str(n, 'bgp.evpn.nlri.ip.addr'), ip6 = str(n, 'bgp.evpn.nlri.ipv6.addr');
    if (ip4 ?? ip6) out.originatorIp = ip4 ?? ip6;
  } else {
    const at = rawPos(n, 'bgp.evpn.nlri.rt');
    if (at !== undefined) out.raw = hex(msg.subarray(at, at + 2 + msg[at + 1]));
  }
  return out;
}

function extCommunity(b: Uint8Array): GoldenExtCommunity {
  const type = b[0], subtype = b[1];
  const c: GoldenExtCommunity = { type, subtype, kind: 'other', raw: hex(b) };
  if (subtype === 0x02 && (type === 0x00 || type === 0x01 || type === 0x02)) {
    c.kind = 'routeTarget';
    c.value = type === 0x00 ? `${u16(b, 2)}:${u32(b, 4)}` : type === 0x01 ? `${ipv4(b, 2)}:${u16(b, 6)}` : `${u32(b, 2)}:${u16(b, 6)}`;
  } else if (type === 0x03 && subtype === 0x0c) {
    c.kind = 'encapsulation'; c.tunnelType = u16(b, 6);
  } else if (type === 0x06 && subtype === 0x00) {
    c.kind = 'macMobility'; c.sticky = (b[2] & 0x01) !== 0; c.sequence = u32(b, 4);
  } else if (type === 0x06 && subtype === 0x03) {
    c.kind = 'routerMac'; c.mac = macStr(b, 2);
  }
  return c;
}

const ORIGINS = ['igp', 'egp', 'incomplete'] as const;

function attributes(list: TNode[], msg: Uint8Array, g: GoldenJson): GoldenAttributes {
  const a: GoldenAttributes = { order: [], flags: {} };
  for (const at of list) {
    const code = num(at, 'bgp.update.path_attribute.type_code') ?? -1;
    const start = rawPos(at, 'bgp.update.path_attribute.flags');
    if (start === undefined) throw new Error('tshark gave no position for an attribute');
    const flags = msg[start];
    const ext = (flags & 0x10) !== 0;
    const len = ext ? u16(msg, start + 2) : msg[start + 2];
    const v = msg.subarray(start + (ext ? 4 : 3), start + (ext ? 4 : 3) + len);
    a.order.push(code);
    a.flags[String(code)] = `0x${flags.toString(16).padStart(2, '0')}`;
    switch (code) {
      case 1: a.origin = ORIGINS[v[0]]; break;
      case 2: {
        const segs: Array<{ type: 'set' | 'sequence' | number; asns: number[] }> = [];
        for (const s of nodes(deep(at, 'bgp.update.path_attribute.as_path_segment'))) {
          const t = num(s, 'bgp.update.path_attribute.as_path_segment.type') ?? 0;
          const asns = [...deep(s, 'bgp.update.path_attribute.as_path_segment.as4'), ...deep(s, 'bgp.update.path_attribute.as_path_segment.as2')]
            .filter((x): x is string => typeof x === 'string').map(Number);
          segs.push({ type: t === 1 ? 'set' : t === 2 ? 'sequence' : t, asns });
        }
        a.asPath = segs;
        break;
      }
      case 3: a.nextHop = ipv4(v, 0); break;
      case 4: a.med = u32(v, 0); break;
      case 5: a.localPref = u32(v, 0); break;
      case 9: a.originatorId = ipv4(v, 0); break;
      case 10: a.clusterList = deep(at, 'bgp.path_attribute.cluster_id').filter((x): x is string => typeof x === 'string'); break;
      case 16: {
        const ecs: GoldenExtCommunity[] = [];
        for (let o = 0; o + 8 <= v.length; o += 8) ecs.push(extCommunity(v.subarray(o, o + 8)));
        a.extendedCommunities = ecs;
        const rts = ecs.filter((e) => e.kind === 'routeTarget').map((e) => e.value as string);
        if (rts.length) a.routeTargets = rts;
        const enc = ecs.find((e) => e.kind === 'encapsulation');
        if (enc) a.encapsulation = enc.tunnelType;
        const mm = ecs.find((e) => e.kind === 'macMobility');
        if (mm) a.macMobility = { sequence: mm.sequence as number, sticky: mm.sticky as boolean };
        break;
      }
      case 22: {
        const p: NonNullable<GoldenAttributes['pmsiTunnel']> = { flags: v[0], tunnelType: v[1], label: u24(v, 2), raw: hex(v) };
        if (v.length === 9) p.endpoint = ipv4(v, 5);
        else if (v.length === 21) p.endpoint = str(at, 'bgp.update.path_attribute.pmsi.ingress_rep_ip') ?? hex(v.subarray(5));
        a.pmsiTunnel = p;
        break;
      }
      case 14: {
        const afi = u16(v, 0), safi = v[2], nhLen = v[3];
        const nhBytes = v.subarray(4, 4 + nhLen);
        const nextHop: string[] = [];
        if (nhLen === 4) nextHop.push(ipv4(nhBytes, 0));
        else {
          for (const k of ['bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv4', 'bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6',
            'bgp.update.path_attribute.mp_reach_nlri.next_hop.ipv6.link_local']) {
            nextHop.push(...deep(at, k).filter((x): x is string => typeof x === 'string'));
          }
          if (nextHop.length === 0) nextHop.push(hex(nhBytes));
        }
        const nl = nodes(deep(at, 'bgp.evpn.nlri')).map((n) => evpnNlri(n, msg));
        g.mpReach = { afi, safi, nextHop, nlri: nl };
        break;
      }
      case 15: {
        const afi = u16(v, 0), safi = v[2];
        const nl = nodes(deep(at, 'bgp.evpn.nlri')).map((n) => evpnNlri(n, msg));
        g.mpUnreach = { afi, safi, nlri: nl };
        if (v.length === 3) g.mpUnreach.endOfRib = true;
        break;
      }
      default:
        (a.other ??= {})[String(code)] = hex(v);
    }
  }
  return a;
}

function capabilities(bgp: TNode, msg: Uint8Array): GoldenCapability[] {
  const caps: GoldenCapability[] = [];
  for (const c of nodes(deep(bgp, 'bgp.cap'))) {
    const code = num(c, 'bgp.cap.type') ?? -1;
    const start = rawPos(c, 'bgp.cap.type');
    const value = start === undefined ? new Uint8Array() : msg.subarray(start + 2, start + 2 + msg[start + 1]);
    const cap: GoldenCapability = { code, length: value.length, value: hex(value) };
    const d: Record<string, unknown> = {};
    if (code === 1) { d.name = 'multiprotocol'; d.afi = u16(value, 0); d.safi = value[3]; }
    else if (code === 2) d.name = 'route-refresh';
    else if (code === 128) d.name = 'route-refresh (pre-standard, Cisco)';
    else if (code === 70) d.name = 'enhanced-route-refresh';
    else if (code === 6) d.name = 'extended-message';
    else if (code === 65) { d.name = 'four-octet-as'; d.asn = u32(value, 0); }
    else if (code === 64) { d.name = 'graceful-restart'; d.restartFlags = value[0] >> 4; d.restartTime = u16(value, 0) & 0x0fff; d.afis = hex(value.subarray(2)); }
    else if (code === 71) d.name = 'long-lived-graceful-restart';
    else if (code === 69) {
      d.name = 'add-path';
      const l: Array<{ afi: number; safi: number; sendReceive: number }> = [];
      for (let o = 0; o + 4 <= value.length; o += 4) l.push({ afi: u16(value, o), safi: value[o + 2], sendReceive: value[o + 3] });
      d.families = l;
    } else if (code === 73) {
      d.name = 'fqdn';
      const hl = value[0];
      d.hostname = Buffer.from(value.subarray(1, 1 + hl)).toString();
      d.domain = Buffer.from(value.subarray(2 + hl, 2 + hl + value[1 + hl])).toString();
    } else if (code === 5) {
      d.name = 'extended-next-hop';
      const l: Array<{ afi: number; safi: number; nextHopAfi: number }> = [];
      for (let o = 0; o + 6 <= value.length; o += 6) l.push({ afi: u16(value, o), safi: u16(value, o + 2), nextHopAfi: u16(value, o + 4) });
      d.families = l;
    }
    if (Object.keys(d).length) cap.decoded = d;
    caps.push(cap);
  }
  return caps;
}

const TYPES: Record<number, GoldenJson['message']> = { 1: 'open', 2: 'update', 3: 'notification', 4: 'keepalive', 5: 'route-refresh' };

/** Describe one whole BGP message from tshark's dissection. */
export function dissect(msg: Uint8Array, source: string): GoldenJson {
  return dissectAll([msg], () => source)[0];
}

/** Describe many whole BGP messages with one tshark run. */
export function dissectAll(msgs: Uint8Array[], source: (i: number) => string): GoldenJson[] {
  if (msgs.length === 0) return [];
  const trees = tsharkBgp(...msgs);
  return msgs.map((m, i) => describe(trees[i], m, source(i)));
}

function describe(bgp: TNode, msg: Uint8Array, source: string): GoldenJson {
  const type = num(bgp, 'bgp.type') ?? msg[18];
  const g: GoldenJson = { source, message: TYPES[type] ?? 'update', length: num(bgp, 'bgp.length') ?? msg.length };
  if (type === 1) {
    g.open = {
      version: num(bgp, 'bgp.open.version') ?? 0,
      myAs: num(bgp, 'bgp.open.myas') ?? 0,
      holdTime: num(bgp, 'bgp.open.holdtime') ?? 0,
      bgpId: str(bgp, 'bgp.open.identifier') ?? '',
      optParamLength: num(bgp, 'bgp.open.opt.len') ?? 0,
      capabilities: capabilities(bgp, msg),
    };
  } else if (type === 2) {
    g.withdrawnRoutesLength = num(bgp, 'bgp.update.withdrawn_routes.length') ?? 0;
    const attrs = nodes(deep(bgp, 'bgp.update.path_attribute'));
    const a = attributes(attrs, msg, g);
    // Keep mpReach/mpUnreach after attributes in the JSON for readability.
    const { mpReach, mpUnreach } = g;
    delete g.mpReach; delete g.mpUnreach;
    g.attributes = a;
    if (mpReach) g.mpReach = mpReach;
    if (mpUnreach) g.mpUnreach = mpUnreach;
  } else if (type === 3) {
    g.notification = { code: msg[19], subcode: msg[20], data: hex(msg.subarray(21)) };
  }
  return g;
}

// ---------------------------------------------------------------------------
// Loading fixtures (for codec tests)

export interface GoldenFixture { impl: string; name: string; bytes: Uint8Array; json: GoldenJson }

/** Every fixture under test/golden/<impl>/, or of one implementation. */
export function loadGolden(impl?: string): GoldenFixture[] {
  const impls = impl ? [impl] : readdirSync(GOLDEN_DIR, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  const out: GoldenFixture[] = [];
  for (const i of impls) {
    for (const f of readdirSync(join(GOLDEN_DIR, i)).filter((n) => n.endsWith('.hex')).sort()) {
      const name = f.slice(0, -4);
      out.push({
        impl: i, name,
        bytes: fromHex(readFileSync(join(GOLDEN_DIR, i, f), 'utf8')),
        json: JSON.parse(readFileSync(join(GOLDEN_DIR, i, `${name}.json`), 'utf8')) as GoldenJson,
      });
    }
  }
  return out;
}
