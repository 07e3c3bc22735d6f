// rtnetlink wire format for the messages the kernel layer uses: neighbour (incl.
// AF_BRIDGE FDB), link and address. Pure functions over bytes; no sockets here.
// Layouts from include/uapi/linux/{netlink,rtnetlink,neighbour,if_link,if_addr}.h.
// Netlink uses host byte order (little-endian on every platform we build for,
// checked at load), except where noted (IFLA_VXLAN_PORT is network order).
import { endianness } from 'node:os';
import { formatIp, formatIpv4, formatIpv6, formatMac } from '../wire/addr.js';

if (endianness() !== 'LE') throw new Error('src/kernel/nl.ts assumes a little-endian host');

// --- netlink (netlink.h) ---
export const NLMSG_HDRLEN = 16;
export const NLMSG_NOOP = 1;
export const NLMSG_ERROR = 2;
export const NLMSG_DONE = 3;
export const NLMSG_OVERRUN = 4;

export const NLM_F_REQUEST = 0x01;
export const NLM_F_MULTI = 0x02;
export const NLM_F_ACK = 0x04;
export const NLM_F_DUMP_INTR = 0x10;
export const NLM_F_DUMP = 0x300;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
export const NLM_F_APPEND = 0x800;

// --- rtnetlink.h ---
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;
export const RTM_NEWADDR = 20;
export const RTM_DELADDR = 21;
export const RTM_GETADDR = 22;
export const RTM_NEWNEIGH = 28;
export const RTM_DELNEIGH = 29;
export const RTM_GETNEIGH = 30;
// Nexthop objects (kernel >= 5.3; FDB nexthops >= 5.8): rtnetlink.h.
export const RTM_NEWNEXTHOP = 104;
export const RTM_DELNEXTHOP = 105;
export const RTM_GETNEXTHOP = 106;

/** Multicast group numbers (for NETLINK_ADD_MEMBERSHIP, not bitmasks). */
export const RTNLGRP_LINK = 1;
export const RTNLGRP_NEIGH = 3;
export const RTNLGRP_IPV4_IFADDR = 5;
export const RTNLGRP_IPV6_IFADDR = 9;
export const RTNLGRP_NEXTHOP = 32;

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_BRIDGE = 7;
export const AF_INET6 = 10;

// --- neighbour.h ---
export const NDA_DST = 1;
export const NDA_LLADDR = 2;
export const NDA_VLAN = 5;
export const NDA_PORT = 6;
export const NDA_VNI = 7;
export const NDA_IFINDEX = 8;
export const NDA_MASTER = 9;
export const NDA_PROTOCOL = 12;
export const NDA_NH_ID = 13;
export const NDA_FLAGS_EXT = 15;

export const NTF_USE = 0x01;
export const NTF_SELF = 0x02;
export const NTF_MASTER = 0x04;
export const NTF_PROXY = 0x08;
export const NTF_EXT_LEARNED = 0x10;
export const NTF_OFFLOADED = 0x20;
export const NTF_STICKY = 0x40;
export const NTF_ROUTER = 0x80;

export const NUD_INCOMPLETE = 0x01;
export const NUD_REACHABLE = 0x02;
export const NUD_STALE = 0x04;
export const NUD_DELAY = 0x08;
export const NUD_PROBE = 0x10;
export const NUD_FAILED = 0x20;
export const NUD_NOARP = 0x40;
export const NUD_PERMANENT = 0x80;

// --- nexthop.h (checked against /usr/include/linux/nexthop.h, linux-libc-dev 6.x) ---
/** struct nhmsg: family u8, scope u8, protocol u8, resvd u8, flags u32. */
export const NHMSG_LEN = 8;
export const NHA_ID = 1;
/** Array of struct nexthop_grp { u32 id; u8 weight; u8 resvd1; u16 resvd2 } (8 bytes each). */
export const NHA_GROUP = 2;
export const NHA_GROUP_TYPE = 3;
export const NHA_BLACKHOLE = 4;
export const NHA_OIF = 5;
export const NHA_GATEWAY = 6;
/** Flag: the nexthop (or group) belongs to a bridge FDB. */
export const NHA_FDB = 11;
export const NEXTHOP_GRP_LEN = 8;

// --- if_link.h / if.h ---
export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_MASTER = 10;
export const IFLA_OPERSTATE = 16;
export const IFLA_LINKINFO = 18;
/** Bridge port attributes, nested (AF_BRIDGE messages; linux/if_link.h IFLA_BRPORT_*). */
export const IFLA_PROTINFO = 12;
export const IFLA_BRPORT_NEIGH_SUPPRESS = 32;
export const NLA_F_NESTED = 0x8000;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const IFLA_VXLAN_ID = 1;
export const IFLA_VXLAN_LOCAL = 4;
export const IFLA_VXLAN_LEARNING = 7;
export const IFLA_VXLAN_PORT = 15;
export const IFLA_VXLAN_LOCAL6 = 17;
export const IFF_UP = 0x1;
export const IFF_LOWER_UP = 0x10000;

const OPERSTATES = ['unknown', 'notpresent', 'down', 'lowerlayerdown', 'testing', 'dormant', 'up'] as const;

// --- if_addr.h ---
export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
/** u32 flags, superseding ifa_flags (linux/if_addr.h). */
export const IFA_FLAGS = 8;
// ifa_flags bits (linux/if_addr.h)
export const IFA_F_TEMPORARY = 0x01;
export const IFA_F_DADFAILED = 0x08;
export const IFA_F_DEPRECATED = 0x20;
export const IFA_F_TENTATIVE = 0x40;

const NLA_TYPE_MASK = 0x3fff;

export class NetlinkDecodeError extends Error {
  override name = 'NetlinkDecodeError';
}

/** One netlink message: header fields plus its payload (a view, not a copy). */
export interface NlMsg {
  type: number;
  flags: number;
  seq: number;
  pid: number;
  payload: Buffer;
}

const align4 = (n: number): number => (n + 3) & ~3;

/** Split a datagram into messages. Throws NetlinkDecodeError on a malformed length. */
export function splitMessages(buf: Buffer): NlMsg[] {
  const out: NlMsg[] = [];
  let off = 0;
  while (off + NLMSG_HDRLEN <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN || off + len > buf.length) {
      throw new NetlinkDecodeError(`bad nlmsg_len ${len} at offset ${off} of ${buf.length}`);
    }
    out.push({
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
    });
    off += align4(len);
  }
  return out;
}

/** Attributes by type (last one wins); values are views into the buffer. */
export function parseAttrs(buf: Buffer, start = 0): Map<number, Buffer> {
  const attrs = new Map<number, Buffer>();
  let off = start;
  while (off + 4 <= buf.length) {
    const len = buf.readUInt16LE(off);
    if (len < 4 || off + len > buf.length) {
      throw new NetlinkDecodeError(`bad nla_len ${len} at offset ${off} of ${buf.length}`);
    }
    attrs.set(buf.readUInt16LE(off + 2) & NLA_TYPE_MASK, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return attrs;
}

/** NLMSG_ERROR payload: errno (positive; 0 = ACK) and the sequence number of the request. */
export function parseError(m: NlMsg): { errno: number; seq: number } {
  if (m.payload.length < 4) throw new NetlinkDecodeError('short NLMSG_ERROR');
  return { errno: -m.payload.readInt32LE(0), seq: m.seq };
}

// --- encoding ---

/** A netlink attribute: type and raw value (encoded with padding by the message writer). */
export interface Attr {
  type: number;
  value: Uint8Array;
}

export function u8Attr(type: number, v: number): Attr {
  return { type, value: Uint8Array.of(v) };
}

export function u32Attr(type: number, v: number): Attr {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0, 0);
  return { type, value: b };
}

function attrsLength(attrs: Attr[]): number {
  let n = 0;
  for (const a of attrs) n += align4(4 + a.value.length);
  return n;
}

function writeAttrs(buf: Buffer, off: number, attrs: Attr[]): number {
  for (const a of attrs) {
    buf.writeUInt16LE(4 + a.value.length, off);
    buf.writeUInt16LE(a.type, off + 2);
    buf.set(a.value, off + 4);
    off += align4(4 + a.value.length);
  }
  return off;
}

/** A complete message: header, fixed part (ndmsg/ifinfomsg/...), attributes. */
export function encodeMessage(type: number, flags: number, seq: number, fixed: Buffer, attrs: Attr[] = []): Buffer {
  const len = NLMSG_HDRLEN + align4(fixed.length) + attrsLength(attrs);
  // From the pool (a write of 50,000 entries encodes 100,000+ of these), zeroed for the padding.
  const buf = Buffer.allocUnsafe(len).fill(0);
  buf.writeUInt32LE(len, 0);
  buf.writeUInt16LE(type, 4);
  buf.writeUInt16LE(flags, 6);
  buf.writeUInt32LE(seq >>> 0, 8);
  buf.writeUInt32LE(0, 12);
  fixed.copy(buf, NLMSG_HDRLEN);
  writeAttrs(buf, NLMSG_HDRLEN + align4(fixed.length), attrs);
  return buf;
}

/** Write the sequence number of an already encoded message (to reuse a template). */
export function setSeq(msg: Buffer, seq: number): void {
  msg.writeUInt32LE(seq >>> 0, 8);
}

/** Set or clear NLM_F_ACK on an encoded message. */
export function setAck(msg: Buffer, ack: boolean): void {
  const f = msg.readUInt16LE(6);
  msg.writeUInt16LE(ack ? f | NLM_F_ACK : f & ~NLM_F_ACK, 6);
}

/** struct ndmsg (12 bytes). */
export function ndmsg(family: number, ifindex: number, state: number, flags: number, type = 0): Buffer {
  const b = Buffer.allocUnsafe(12).fill(0);
  b.writeUInt8(family, 0);
  b.writeInt32LE(ifindex, 4);
  b.writeUInt16LE(state, 8);
  b.writeUInt8(flags, 10);
  b.writeUInt8(type, 11);
  return b;
}

/** struct ifinfomsg (16 bytes). */
export function ifinfomsg(family = AF_UNSPEC, index = 0): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt8(family, 0);
  b.writeInt32LE(index, 4);
  return b;
}

/** struct ifaddrmsg (8 bytes). */
export function ifaddrmsg(family = AF_UNSPEC, index = 0): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt8(family, 0);
  b.writeUInt32LE(index, 4);
  return b;
}

// --- decoding of the three message kinds ---

export interface RawNeigh {
  family: number;
  ifindex: number;
  state: number;
  flags: number;
  /** NDA_DST as text (neigh: the IP; vxlan fdb: the remote VTEP), null if absent. */
  dst: string | null;
  /** NDA_LLADDR as text, null if absent. */
  lladdr: string | null;
  master: number | null;
  vlan: number | null;
  vni: number | null;
  protocol: number | null;
  /** NDA_NH_ID (FDB entry pointing at a nexthop group), null if absent. */
  nhid: number | null;
}

export function decodeNeigh(payload: Buffer): RawNeigh {
  if (payload.length < 12) throw new NetlinkDecodeError('short ndmsg');
  // The attributes walked in place (last one wins, as parseAttrs): every event of a
  // 50,000-entry write comes through here, and a Map plus a Buffer view per
  // attribute was most of its cost.
  let dst: string | null = null;
  let lladdr: string | null = null;
  let master: number | null = null;
  let vlan: number | null = null;
  let vni: number | null = null;
  let protocol: number | null = null;
  let nhid: number | null = null;
  let off = 12;
  const end = payload.length;
  while (off + 4 <= end) {
    const len = payload.readUInt16LE(off);
    if (len < 4 || off + len > end) {
      throw new NetlinkDecodeError(`bad nla_len ${len} at offset ${off} of ${end}`);
    }
    const type = payload.readUInt16LE(off + 2) & NLA_TYPE_MASK;
    const at = off + 4;
    const n = len - 4;
    switch (type) {
      case NDA_DST: dst = n === 4 ? formatIpv4(payload, at) : n === 16 ? formatIpv6(payload, at) : null; break;
      case NDA_LLADDR: lladdr = n === 6 ? formatMac(payload, at) : null; break;
      case NDA_MASTER: master = n >= 4 ? payload.readUInt32LE(at) : null; break;
      case NDA_VLAN: vlan = n >= 2 ? payload.readUInt16LE(at) : null; break;
      case NDA_VNI: vni = n >= 4 ? payload.readUInt32LE(at) : null; break;
      case NDA_PROTOCOL: protocol = n >= 1 ? payload.readUInt8(at) : null; break;
      case NDA_NH_ID: nhid = n >= 4 ? payload.readUInt32LE(at) : null; break;
      default: break;
    }
    off += align4(len);
  }
  return {
    family: payload.readUInt8(0),
    ifindex: payload.readInt32LE(4),
    state: payload.readUInt16LE(8),
    flags: payload.readUInt8(10),
    dst, lladdr, master, vlan, vni, protocol, nhid,
  };
}

/** struct nhmsg (8 bytes, nexthop.h). */
export function nhmsg(family: number, protocol = 0, flags = 0): Buffer {
  const b = Buffer.alloc(NHMSG_LEN);
  b.writeUInt8(family, 0);
  b.writeUInt8(protocol, 2);
  b.writeUInt32LE(flags, 4);
  return b;
}

/** NHA_GROUP value: one struct nexthop_grp per member, weight 0 (= 1). */
export function nexthopGroupValue(members: readonly number[]): Buffer {
  const b = Buffer.alloc(NEXTHOP_GRP_LEN * members.length);
  members.forEach((id, i) => b.writeUInt32LE(id >>> 0, i * NEXTHOP_GRP_LEN));
  return b;
}

export interface RawNexthop {
  id: number;
  family: number;
  protocol: number;
  flags: number;
  /** NHA_GATEWAY as text, null if absent (groups, blackholes). */
  gateway: string | null;
  /** Member ids of a group (NHA_GROUP), null for a single nexthop. */
  group: number[] | null;
  /** NHA_FDB present. */
  fdb: boolean;
  /** NHA_OIF, null if absent. */
  oif: number | null;
  blackhole: boolean;
}

export function decodeNexthop(payload: Buffer): RawNexthop {
  if (payload.length < NHMSG_LEN) throw new NetlinkDecodeError('short nhmsg');
  const a = parseAttrs(payload, NHMSG_LEN);
  const id = a.get(NHA_ID);
  const gw = a.get(NHA_GATEWAY);
  const grp = a.get(NHA_GROUP);
  const oif = a.get(NHA_OIF);
  let group: number[] | null = null;
  if (grp) {
    group = [];
    for (let off = 0; off + NEXTHOP_GRP_LEN <= grp.length; off += NEXTHOP_GRP_LEN) group.push(grp.readUInt32LE(off));
  }
  return {
    id: id && id.length >= 4 ? id.readUInt32LE(0) : 0,
    family: payload.readUInt8(0),
    protocol: payload.readUInt8(2),
    flags: payload.readUInt32LE(4),
    gateway: gw && (gw.length === 4 || gw.length === 16) ? formatIp(gw) : null,
    group,
    fdb: a.has(NHA_FDB),
    oif: oif && oif.length >= 4 ? oif.readUInt32LE(0) : null,
    blackhole: a.has(NHA_BLACKHOLE),
  };
}

export interface RawLink {
  index: number;
  flags: number;
  name: string;
  mac: string | null;
  mtu: number;
  master: number | null;
  operstate: string;
  kind: string | null;
  vxlan: { vni: number | null; port: number | null; local: string | null; learning: boolean | null } | null;
}

function cString(b: Buffer): string {
  const z = b.indexOf(0);
  return b.toString('utf8', 0, z < 0 ? b.length : z);
}

export function decodeLink(payload: Buffer): RawLink {
  if (payload.length < 16) throw new NetlinkDecodeError('short ifinfomsg');
  const a = parseAttrs(payload, 16);
  const name = a.get(IFLA_IFNAME);
  const addr = a.get(IFLA_ADDRESS);
  const mtu = a.get(IFLA_MTU);
  const master = a.get(IFLA_MASTER);
  const oper = a.get(IFLA_OPERSTATE);
  let kind: string | null = null;
  let vxlan: RawLink['vxlan'] = null;
  const linkinfo = a.get(IFLA_LINKINFO);
  if (linkinfo) {
    const li = parseAttrs(linkinfo);
    const k = li.get(IFLA_INFO_KIND);
    if (k) kind = cString(k);
    const data = li.get(IFLA_INFO_DATA);
    if (kind === 'vxlan' && data) {
      const v = parseAttrs(data);
      const id = v.get(IFLA_VXLAN_ID);
      const port = v.get(IFLA_VXLAN_PORT);
      const local = v.get(IFLA_VXLAN_LOCAL) ?? v.get(IFLA_VXLAN_LOCAL6);
      const learning = v.get(IFLA_VXLAN_LEARNING);
      const localText = local && (local.length === 4 || local.length === 16) ? formatIp(local) : null;
      vxlan = {
        vni: id && id.length >= 4 ? id.readUInt32LE(0) : null,
        port: port && port.length >= 2 ? port.readUInt16BE(0) : null,
        local: localText === '0.0.0.0' || localText === '::' ? null : localText,
        learning: learning && learning.length >= 1 ? learning.readUInt8(0) !== 0 : null,
      };
    }
  }
  const op = oper && oper.length >= 1 ? oper.readUInt8(0) : 0;
  return {
    index: payload.readInt32LE(4),
    flags: payload.readUInt32LE(8),
    name: name ? cString(name) : '',
    mac: addr && addr.length === 6 ? formatMac(addr) : null,
    mtu: mtu && mtu.length >= 4 ? mtu.readUInt32LE(0) : 0,
    master: master && master.length >= 4 && master.readUInt32LE(0) !== 0 ? master.readUInt32LE(0) : null,
    operstate: OPERSTATES[op] ?? String(op),
    kind,
    vxlan,
  };
}

export interface RawAddr {
  family: 4 | 6;
  prefixLen: number;
  index: number;
  address: string;
  /** IFA_F_* (IFA_FLAGS when present, else ifa_flags). */
  flags: number;
  /** ifa_scope: 0 universe (global), 253 link, 254 host. */
  scope: number;
}

/** null for families other than IPv4/IPv6 or a message without an address. */
export function decodeAddr(payload: Buffer): RawAddr | null {
  if (payload.length < 8) throw new NetlinkDecodeError('short ifaddrmsg');
  const family = payload.readUInt8(0);
  if (family !== AF_INET && family !== AF_INET6) return null;
  const a = parseAttrs(payload, 8);
  // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer on point-to-point links.
  const addr = a.get(IFA_LOCAL) ?? a.get(IFA_ADDRESS);
  if (!addr || (addr.length !== 4 && addr.length !== 16)) return null;
  return {
    family: family === AF_INET ? 4 : 6,
    prefixLen: payload.readUInt8(1),
    index: payload.readUInt32LE(4),
    address: formatIp(addr),
    flags: a.get(IFA_FLAGS)?.readUInt32LE(0) ?? payload.readUInt8(2),
    scope: payload.readUInt8(3),
  };
}

/** A nested attribute: its members encoded as the value. */
export function nestedAttr(type: number, members: Attr[]): Attr {
  const value = Buffer.alloc(attrsLength(members));
  writeAttrs(value, 0, members);
  return { type: type | NLA_F_NESTED, value };
}

/**
 * RTM_SETLINK on a bridge port (family AF_BRIDGE, IFLA_PROTINFO): turn
 * neigh_suppress on or off (the bridge answers ARP requests and neighbour
 * solicitations from its neighbour table; kernel >= 4.15).
 */
export function encodeNeighSuppress(index: number, on: boolean, seq = 0): Buffer {
  return encodeMessage(RTM_SETLINK, NLM_F_REQUEST | NLM_F_ACK, seq, ifinfomsg(AF_BRIDGE, index), [
    nestedAttr(IFLA_PROTINFO, [u8Attr(IFLA_BRPORT_NEIGH_SUPPRESS, on ? 1 : 0)]),
  ]);
}

/** A bridge port from an AF_BRIDGE RTM_NEWLINK: its index and neigh_suppress (null if not reported). */
export function decodeBridgePort(payload: Buffer): { index: number; neighSuppress: boolean | null } {
  if (payload.length < 16) throw new NetlinkDecodeError('short ifinfomsg');
  const a = parseAttrs(payload, 16);
  const info = a.get(IFLA_PROTINFO);
  const ns = info ? parseAttrs(info).get(IFLA_BRPORT_NEIGH_SUPPRESS) : undefined;
  return { index: payload.readInt32LE(4), neighSuppress: ns && ns.length >= 1 ? ns.readUInt8(0) !== 0 : null };
}
