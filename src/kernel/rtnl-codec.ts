// rtnetlink message codec for the KernelPort: KernelOps to netlink requests
// (encodeOp), decoded kernel messages to the port's observed types (toLinkInfo,
// toObserved, toObservedNexthop), and errno naming. Pure functions; the wire
// layout itself (headers, attributes) is in nl.ts.
import { constants as osConstants } from 'node:os';
import { parseIp as ipBytes, parseMac as macBytes } from '../wire/addr.js';

// Netlink attributes are Buffers: the address module's parsers, as Buffers.
const parseIp = (text: string): Buffer => Buffer.from(ipBytes(text));
const parseMac = (text: string): Buffer => fastMac(text) ?? Buffer.from(macBytes(text));

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * "aa:bb:cc:dd:ee:ff" (':' or '-' separators, any case; what the RIB hands us) to
 * six bytes without a split and six regular expressions per entry; null for any
 * other spelling (the general parser takes it, and reports the error).
 */
function fastMac(text: string): Buffer | null {
  if (text.length !== 17) return null;
  const b = Buffer.allocUnsafe(6);
  for (let i = 0; i < 6; i++) {
    const hi = hexDigit(text.charCodeAt(3 * i));
    const lo = hexDigit(text.charCodeAt(3 * i + 1));
    if (hi < 0 || lo < 0) return null;
    if (i < 5) {
      const sep = text.charCodeAt(3 * i + 2);
      if (sep !== 58 /* : */ && sep !== 45 /* - */) return null;
    }
    b[i] = (hi << 4) | lo;
  }
  return b;
}
import * as nl from './nl.js';
import {
  FLOOD_MAC,
  type KernelOp,
  type LinkAddress,
  type LinkInfo,
  type ObservedDeviceEntry,
  type ObservedNexthop,
} from './port.js';

const ERRNO_NAMES = new Map<number, string>(
  Object.entries(osConstants.errno).map(([name, num]) => [num, name]),
);

/** 'ENOENT' for 2, 'E<n>' when unknown. */
export function errnoName(errno: number): string {
  return ERRNO_NAMES.get(errno) ?? `E${errno}`;
}

interface ErrnoLike {
  errno?: unknown;
  code?: unknown;
  message?: unknown;
}

export function errnoOf(e: unknown): { errno: number; code: string; message: string } {
  const x = (e ?? {}) as ErrnoLike;
  const errno = typeof x.errno === 'number' ? Math.abs(x.errno) : 0;
  const code = typeof x.code === 'string' ? x.code : errno ? errnoName(errno) : 'EIO';
  return { errno, code, message: typeof x.message === 'string' ? x.message : String(e) };
}

export interface Failure {
  code: string;
  errno: number;
  message: string;
}

/** One request on the wire and the op it belongs to. */
export interface WireRequest {
  buf: Buffer;
  opIndex: number;
  /** ENOENT on this request means the goal (absence) is already reached. */
  enoentOk: boolean;
}

/** The MAC of the FDB request vxlanFamily() sends (never created: no NLM_F_CREATE). */
export const FAMILY_PROBE_MAC = '02:00:00:e7:fa:06';

/** An encoded op: its requests, or a local failure (e.g. unknown device). */
export type Encoded = { requests: WireRequest[] } | { error: { code: string; errno: number; message: string } };

export interface EncodeOptions {
  /**
   * A whole FDB delete (both halves) as one request with NTF_MASTER|NTF_SELF
   * instead of two. The kernel (rtnl_fdb_del) deletes the bridge half, then the
   * vxlan half; when the bridge half is missing it stops with ENOENT and leaves the
   * vxlan half in place: that request fails with ENOENT (not tolerated), and the
   * caller sends the op again as two requests (isWholeFdbDelete).
   */
  fdbDeleteAsOne?: boolean;
}

/** A delete of both halves of a (non flood-list) FDB entry. */
export function isWholeFdbDelete(op: KernelOp): boolean {
  return op.op === 'delete' && op.only === undefined && op.entry.kind === 'fdb' && op.entry.mac !== FLOOD_MAC;
}

/** Build the request(s) for one op. `index` resolves a device name to its ifindex. */
export function encodeOp(
  op: KernelOp,
  opIndex: number,
  index: (ifname: string) => number | undefined,
  protocol: number,
  opts: EncodeOptions = {},
): Encoded {
  const e = op.entry;
  const req0 = (buf: Buffer, enoentOk = false): WireRequest => ({ buf, opIndex, enoentOk });
  if (e.kind === 'nexthop' || e.kind === 'nhgroup') {
    // nexthop.h: struct nhmsg + NHA_ID, and NHA_GATEWAY (single) or NHA_GROUP (group), NHA_FDB.
    const id = nl.u32Attr(nl.NHA_ID, e.id);
    if (op.op === 'delete') {
      return { requests: [req0(nl.encodeMessage(nl.RTM_DELNEXTHOP, nl.NLM_F_REQUEST, 0, nl.nhmsg(nl.AF_UNSPEC), [id]), true)] };
    }
    const fdb = { type: nl.NHA_FDB, value: new Uint8Array(0) };
    const flags = nl.NLM_F_REQUEST | nl.NLM_F_CREATE | nl.NLM_F_REPLACE;
    if (e.kind === 'nhgroup') {
      return { requests: [req0(nl.encodeMessage(nl.RTM_NEWNEXTHOP, flags, 0, nl.nhmsg(nl.AF_UNSPEC, protocol),
        [id, { type: nl.NHA_GROUP, value: nl.nexthopGroupValue(e.members) }, fdb]))] };
    }
    let gw: Buffer;
    try { gw = parseIp(e.dst); } catch (err) {
      return { error: { code: 'EINVAL', errno: osConstants.errno.EINVAL, message: String((err as Error).message) } };
    }
    return { requests: [req0(nl.encodeMessage(nl.RTM_NEWNEXTHOP, flags, 0, nl.nhmsg(gw.length === 4 ? nl.AF_INET : nl.AF_INET6, protocol),
      [id, { type: nl.NHA_GATEWAY, value: gw }, fdb]))] };
  }
  const ifindex = index(e.ifname);
  if (ifindex === undefined) {
    return { error: { code: 'ENODEV', errno: osConstants.errno.ENODEV, message: `no device ${e.ifname}` } };
  }
  let mac: Buffer;
  let ip: Buffer | null = null;
  try {
    mac = parseMac(e.mac);
    if (e.kind === 'neigh') ip = parseIp(e.ip);
    else if ((op.op === 'replace' && e.nhid === undefined) || e.mac === FLOOD_MAC) ip = parseIp(e.dst);
  } catch (err) {
    return { error: { code: 'EINVAL', errno: osConstants.errno.EINVAL, message: String((err as Error).message) } };
  }
  const proto = nl.u8Attr(nl.NDA_PROTOCOL, protocol);
  const req = (buf: Buffer, enoentOk = false): WireRequest => ({ buf, opIndex, enoentOk });
  if (e.kind === 'neigh') {
    const family = ip!.length === 4 ? nl.AF_INET : nl.AF_INET6;
    const dst = { type: nl.NDA_DST, value: ip! };
    if (op.op === 'replace') {
      return { requests: [req(nl.encodeMessage(
        nl.RTM_NEWNEIGH, nl.NLM_F_REQUEST | nl.NLM_F_CREATE | nl.NLM_F_REPLACE, 0,
        nl.ndmsg(family, ifindex, nl.NUD_NOARP, nl.NTF_EXT_LEARNED),
        [dst, { type: nl.NDA_LLADDR, value: mac }, proto],
      ))] };
    }
    return { requests: [req(nl.encodeMessage(
      nl.RTM_DELNEIGH, nl.NLM_F_REQUEST, 0, nl.ndmsg(family, ifindex, 0, 0), [dst],
    ), true)] };
  }
  const lladdr = { type: nl.NDA_LLADDR, value: mac };
  if (e.mac === FLOOD_MAC) {
    // Flood list (port.ts): the vxlan half only, one remote per message; NLM_F_APPEND
    // adds a remote to the all-zeros entry, a delete with NDA_DST removes only that one.
    const dst = { type: nl.NDA_DST, value: ip! };
    if (op.op === 'replace') {
      return { requests: [req(nl.encodeMessage(
        nl.RTM_NEWNEIGH, nl.NLM_F_REQUEST | nl.NLM_F_CREATE | nl.NLM_F_APPEND, 0,
        nl.ndmsg(nl.AF_BRIDGE, ifindex, nl.NUD_NOARP | nl.NUD_PERMANENT, nl.NTF_SELF | nl.NTF_EXT_LEARNED),
        [lladdr, dst, proto],
      ))] };
    }
    return { requests: [req(nl.encodeMessage(
      nl.RTM_DELNEIGH, nl.NLM_F_REQUEST, 0, nl.ndmsg(nl.AF_BRIDGE, ifindex, 0, nl.NTF_SELF), [lladdr, dst],
    ), true)] };
  }
  if (op.op === 'replace') {
    // As zebra does for a remote MAC: one message, the bridge creates its entry
    // (NTF_MASTER) and the vxlan device its own (NTF_SELF) with the remote VTEP, or
    // with NDA_NH_ID (neighbour.h) pointing at an FDB nexthop group.
    const remote = e.nhid !== undefined ? nl.u32Attr(nl.NDA_NH_ID, e.nhid) : { type: nl.NDA_DST, value: ip! };
    return { requests: [req(nl.encodeMessage(
      nl.RTM_NEWNEIGH, nl.NLM_F_REQUEST | nl.NLM_F_CREATE | nl.NLM_F_REPLACE, 0,
      nl.ndmsg(nl.AF_BRIDGE, ifindex, nl.NUD_REACHABLE, nl.NTF_SELF | nl.NTF_MASTER | nl.NTF_EXT_LEARNED),
      [lladdr, remote, proto],
    ))] };
  }
  // Delete the two halves separately: with NTF_SELF|NTF_MASTER in one message the
  // kernel stops at the first missing half and leaves the other in place.
  const del = (flags: number): WireRequest =>
    req(nl.encodeMessage(nl.RTM_DELNEIGH, nl.NLM_F_REQUEST, 0, nl.ndmsg(nl.AF_BRIDGE, ifindex, 0, flags), [lladdr]), true);
  const only = op.op === 'delete' ? op.only : undefined;
  if (only === undefined && opts.fdbDeleteAsOne) {
    return { requests: [req(nl.encodeMessage(nl.RTM_DELNEIGH, nl.NLM_F_REQUEST, 0,
      nl.ndmsg(nl.AF_BRIDGE, ifindex, 0, nl.NTF_MASTER | nl.NTF_SELF), [lladdr]))] };
  }
  const requests: WireRequest[] = [];
  if (only !== 'vxlan') requests.push(del(nl.NTF_MASTER));
  if (only !== 'bridge') requests.push(del(nl.NTF_SELF));
  return { requests };
}

/** Links by ifindex, as the port keeps them (dumps and link events). */
export type LinkTable = ReadonlyMap<number, nl.RawLink>;

export function toLinkInfo(links: LinkTable, l: nl.RawLink, addresses: LinkAddress[]): LinkInfo {
  return {
    name: l.name,
    index: l.index,
    mac: l.mac,
    up: (l.flags & nl.IFF_UP) !== 0,
    carrier: (l.flags & nl.IFF_LOWER_UP) !== 0,
    operstate: l.operstate,
    mtu: l.mtu,
    masterIndex: l.master,
    master: l.master !== null ? links.get(l.master)?.name ?? null : null,
    kind: l.kind,
    vxlan: l.vxlan,
    addresses,
  };
}

export function toObserved(links: LinkTable, r: nl.RawNeigh): ObservedDeviceEntry | null {
  const ifname = links.get(r.ifindex)?.name ?? `if${r.ifindex}`;
  const externLearned = (r.flags & nl.NTF_EXT_LEARNED) !== 0;
  if (r.family === nl.AF_INET || r.family === nl.AF_INET6) {
    if (r.dst === null) return null;
    return {
      kind: 'neigh', ifname, ifindex: r.ifindex, family: r.family === nl.AF_INET ? 4 : 6,
      ip: r.dst, mac: r.lladdr, state: r.state, flags: r.flags, protocol: r.protocol, externLearned,
    };
  }
  if (r.family !== nl.AF_BRIDGE || r.lladdr === null) return null;
  const isVxlan = links.get(r.ifindex)?.kind === 'vxlan' || r.dst !== null || r.nhid !== null;
  const table = r.master !== null ? 'bridge' : isVxlan ? 'vxlan' : 'self';
  return {
    kind: 'fdb', ifname, ifindex: r.ifindex, mac: r.lladdr, table,
    dst: table === 'vxlan' ? r.dst : null,
    nhid: table === 'vxlan' ? r.nhid : null,
    vlan: r.vlan,
    master: r.master !== null ? links.get(r.master)?.name ?? `if${r.master}` : null,
    state: r.state, flags: r.flags, protocol: r.protocol, externLearned,
  };
}

export function toObservedNexthop(r: nl.RawNexthop): ObservedNexthop {
  return { kind: 'nexthop', id: r.id, dst: r.gateway, group: r.group, fdb: r.fdb, protocol: r.protocol };
}
