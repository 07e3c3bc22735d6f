// The kernel layer's contract. Everything above it (agent, RIB, tests) talks to a
// KernelPort; `rtnetlink.ts` is the real one, `fake.ts` the in-memory one.
//
// What the agent writes, for each remote MAC/IP (same as FRR zebra for a remote MAC):
//
//   neigh:  RTM_NEWNEIGH AF_INET/AF_INET6  ifindex=<bridge>  IP -> MAC
//           state NUD_NOARP, flags NTF_EXT_LEARNED, NDA_PROTOCOL=<ours>
//           `ip neigh`:  192.168.0.87 dev br-vxlan lladdr <mac> extern_learn NOARP proto 231
//   fdb:    RTM_NEWNEIGH AF_BRIDGE  ifindex=<vxlan>  MAC, NDA_DST=<remote VTEP>
//           state NUD_REACHABLE, flags NTF_SELF|NTF_MASTER|NTF_EXT_LEARNED, NDA_PROTOCOL=<ours>
//           one message, two kernel entries:
//           `bridge fdb`: <mac> dev vxlan0 extern_learn master br-vxlan        (bridge table)
//                         <mac> dev vxlan0 dst 192.168.1.87 self extern_learn  (vxlan table)
//
// With FDB nexthop groups (kernel >= 5.8, docs/kernel.md) the vxlan half carries
// NDA_NH_ID=<group> instead of NDA_DST, and the remote VTEP lives in two nexthop
// objects (RTM_NEWNEXTHOP, nexthop.h), both with nh_protocol=<ours>:
//   nexthop: `ip nexthop add id <n> via <VTEP> fdb proto 231`
//   group:   `ip nexthop add id <g> group <n> fdb proto 231`
// A failover replaces the group's member: one message for every MAC behind it.
//
// Every write is create-or-replace (NLM_F_CREATE|NLM_F_REPLACE): a change of best
// path is one replace, never delete + add.
//
// Flood list (vnis[].flood, RFC 7432 §11 / RFC 8365 §9 ingress replication): an
// 'fdb' entry with MAC 00:00:00:00:00:00 (FLOOD_MAC, never with nhid): one
// all-zeros entry per remote VTEP on the vxlan device only, appended (NLM_F_APPEND: the
// kernel keeps a list of remotes under the all-zeros MAC and sends BUM frames to each):
//   RTM_NEWNEIGH AF_BRIDGE ifindex=<vxlan> MAC 00:00:00:00:00:00, NDA_DST=<VTEP>
//   state NUD_NOARP|NUD_PERMANENT, flags NTF_SELF|NTF_EXT_LEARNED
//   `bridge fdb`: 00:00:00:00:00:00 dev vxlan0 dst 192.168.1.87 self extern_learn permanent
// Deleting one (RTM_DELNEIGH with NDA_DST) removes only that remote.

/** NDA_PROTOCOL value stamped on every entry we write (0xE7 = 231, "evpn-ha"). */
export const EVPN_HA_PROTOCOL = 0xe7;

/** Desired state, as the agent computes it. MACs are lower-case `aa:bb:cc:dd:ee:ff`. */
export type KernelEntry =
  /** `ip neigh replace IP dev <ifname> lladdr MAC nud noarp extern_learn`; ifname is the bridge. */
  | { kind: 'neigh'; ifname: string; ip: string; mac: string }
  /**
   * Bridge FDB (master) + vxlan FDB (self, dst) for MAC; ifname is the vxlan device.
   * With MAC FLOOD_MAC: a flood-list remote, vxlan half only, keyed by dst (see above).
   * With `nhid` the vxlan half points at that FDB nexthop group (NDA_NH_ID) instead of
   * `dst`; `dst` then only says which VTEP the group led to when the entry was planned.
   */
  | { kind: 'fdb'; ifname: string; mac: string; dst: string; nhid?: number }
  /** An FDB nexthop: `ip nexthop replace id ID via DST fdb proto <ours>`. */
  | { kind: 'nexthop'; id: number; dst: string }
  /** An FDB nexthop group: `ip nexthop replace id ID group M1/M2.. fdb proto <ours>`. */
  | { kind: 'nhgroup'; id: number; members: number[] };

/** The MAC of flood-list entries (the vxlan device's default destination list). */
export const FLOOD_MAC = '00:00:00:00:00:00';

/** Entries that live on a device (neighbour, FDB). */
export type DeviceEntry = Extract<KernelEntry, { kind: 'neigh' | 'fdb' }>;
/** Nexthop objects (not on a device). */
export type NexthopEntry = Extract<KernelEntry, { kind: 'nexthop' | 'nhgroup' }>;

/** Which FDB an observed AF_BRIDGE entry lives in. */
export type FdbTable = 'bridge' | 'vxlan' | 'self';

/** An entry as the kernel reports it (dump or event). */
export type ObservedEntry = ObservedNeigh | ObservedFdb | ObservedNexthop;
/** What dump() reports: entries on devices. */
export type ObservedDeviceEntry = ObservedNeigh | ObservedFdb;

/** A nexthop object (single nexthop or group) as the kernel reports it. */
export interface ObservedNexthop {
  kind: 'nexthop';
  id: number;
  /** NHA_GATEWAY of a single nexthop, null for a group or a blackhole. */
  dst: string | null;
  /** Member ids of a group (NHA_GROUP), null for a single nexthop. */
  group: number[] | null;
  /** NHA_FDB: usable by FDB entries only. */
  fdb: boolean;
  /** nh_protocol. */
  protocol: number | null;
}

export interface ObservedNeigh {
  kind: 'neigh';
  ifname: string;
  ifindex: number;
  family: 4 | 6;
  ip: string;
  /** null for INCOMPLETE/FAILED entries without a link-layer address. */
  mac: string | null;
  /** NUD_* bitmask (ndm_state). */
  state: number;
  /** NTF_* bitmask (ndm_flags). */
  flags: number;
  /** NDA_PROTOCOL, null when absent. */
  protocol: number | null;
  externLearned: boolean;
}

export interface ObservedFdb {
  kind: 'fdb';
  /** The port device (for us: the vxlan device). */
  ifname: string;
  ifindex: number;
  mac: string;
  /**
   * 'bridge': the master's (bridge) FDB entry pointing at this port (NDA_MASTER set).
   * 'vxlan':  the vxlan device's own FDB entry (NTF_SELF with NDA_DST).
   * 'self':   any other device's own entry (e.g. the bridge's local addresses).
   */
  table: FdbTable;
  /** Remote VTEP for 'vxlan' entries, otherwise null (also null for an entry with `nhid`). */
  dst: string | null;
  /** NDA_NH_ID: the FDB nexthop group a 'vxlan' entry points at; null or absent otherwise. */
  nhid?: number | null;
  /** VLAN id (NDA_VLAN), null when absent. */
  vlan: number | null;
  /** Bridge name for 'bridge' entries (NDA_MASTER), otherwise null. */
  master: string | null;
  state: number;
  flags: number;
  protocol: number | null;
  externLearned: boolean;
}

export type KernelOp =
  /** Create or replace (NLM_F_CREATE|NLM_F_REPLACE). */
  | { op: 'replace'; entry: KernelEntry }
  /**
   * Delete. For 'fdb', removes the bridge and the vxlan entry (`dst` is ignored), or
   * only one of them with `only`. Deleting an entry that is already gone succeeds.
   */
  | { op: 'delete'; entry: KernelEntry; only?: 'bridge' | 'vxlan' };

/** Errno name from the kernel (e.g. 'ENODEV', 'ENOENT', 'EINVAL') or a local failure. */
export type KernelErrorCode = string;

export type KernelOpResult =
  | { ok: true; op: KernelOp }
  | { ok: false; op: KernelOp; code: KernelErrorCode; errno: number; message: string };

export interface LinkAddress {
  family: 4 | 6;
  address: string;
  prefixLen: number;
  /** IFA_F_* bits (temporary, deprecated, tentative...); absent means none. */
  flags?: number;
  /** ifa_scope (0 global, 253 link, 254 host); absent means global. */
  scope?: number;
}

export interface VxlanInfo {
  vni: number | null;
  /** UDP destination port (IFLA_VXLAN_PORT), null if not reported. */
  port: number | null;
  /** IFLA_VXLAN_LOCAL (v4 or v6), null if not set. */
  local: string | null;
  learning: boolean | null;
}

export interface LinkInfo {
  name: string;
  index: number;
  /** null for links without an Ethernet address. */
  mac: string | null;
  /** IFF_UP: administratively up. */
  up: boolean;
  /** IFF_LOWER_UP: carrier. */
  carrier: boolean;
  /** IFLA_OPERSTATE as text: 'up', 'down', 'unknown', 'lowerlayerdown', ... */
  operstate: string;
  mtu: number;
  /** Index of the master (bridge) device, null if none. */
  masterIndex: number | null;
  /** Name of the master device, null if none or not found. */
  master: string | null;
  /** IFLA_INFO_KIND: 'bridge', 'vxlan', 'veth', ...; null for plain devices (lo, eth). */
  kind: string | null;
  /** Present for kind 'vxlan'. */
  vxlan: VxlanInfo | null;
  addresses: LinkAddress[];
}

export type KernelEvent =
  /** A neigh/fdb entry was added or changed (RTM_NEWNEIGH). */
  | { type: 'entry'; action: 'new'; entry: ObservedEntry }
  /** A neigh/fdb entry went away (RTM_DELNEIGH). */
  | { type: 'entry'; action: 'del'; entry: ObservedEntry }
  /** A link was added or changed (RTM_NEWLINK); `addresses` is empty here. */
  | { type: 'link'; action: 'new'; link: LinkInfo }
  | { type: 'link'; action: 'del'; link: LinkInfo }
  /** An address was added or removed on a link. */
  | { type: 'addr'; action: 'new' | 'del'; ifindex: number; ifname: string | null; address: LinkAddress }
  /**
   * Events were lost (the event socket overflowed, ENOBUFS). The subscriber's view is
   * stale: dump and reconcile again.
   */
  | { type: 'overflow' };

export interface KernelPort {
  /**
   * Can this kernel hold FDB nexthop groups (Linux >= 5.8)? Answered by a probe
   * (create and delete one of our own nexthops). Ports without it: no.
   */
  nexthopSupport?(): Promise<{ supported: boolean; reason: string }>;
  /** Every nexthop object in the namespace (ports without nexthop support: none). */
  dumpNexthops?(): Promise<ObservedNexthop[]>;
  /** All links with their addresses. */
  links(): Promise<LinkInfo[]>;
  /**
   * neigh_suppress of a bridge port (IFLA_BRPORT_NEIGH_SUPPRESS): null when `ifname`
   * is not a bridge port or the kernel does not report it. Ports without it: absent.
   */
  neighSuppress?(ifname: string): Promise<boolean | null>;
  /** Turn neigh_suppress on a bridge port on or off; rejects with the kernel's errno `code`. */
  setNeighSuppress?(ifname: string, on: boolean): Promise<void>;
  /**
   * Neigh and FDB entries on the given devices: neighbours whose device is in
   * `ifnames`, FDB entries whose port device is in `ifnames`. Unknown names are ignored.
   */
  dump(ifnames: string[]): Promise<ObservedDeviceEntry[]>;
  /**
   * The address family a vxlan device sends over, which is the only family the
   * kernel takes as its FDB `dst` (the other fails EAFNOSUPPORT): 6 for a device
   * created with an IPv6 `local` (`::` included) or `remote`/`group`, 4 otherwise.
   * null: no such device, or not a vxlan one. Changes nothing in the kernel.
   */
  vxlanFamily(ifname: string): Promise<4 | 6 | null>;
  /** Carry out the operations (pipelined); one result per op, in order. Never rejects. */
  apply(ops: KernelOp[]): Promise<KernelOpResult[]>;
  /** Receive neigh, nexthop, link and address events until the returned function is called. */
  subscribe(cb: (ev: KernelEvent) => void): () => void;
  close(): Promise<void>;
}

/**
 * Key of an entry (without the changeable part: the MAC of a neigh, the dst of an
 * fdb). Compares equal to observedKey() only for canonical text (lower-case MAC,
 * RFC 5952 IPv6): pass entries through reconcile.normalizeEntry() first if unsure.
 */
export function entryKey(e: KernelEntry): string {
  switch (e.kind) {
    case 'neigh': return `neigh|${e.ifname}|${e.ip}`;
    case 'fdb': return e.mac === FLOOD_MAC ? floodKey(e.ifname, e.dst) : `fdb|${e.ifname}|${e.mac}`;
    default: return nexthopKey(e.id);
  }
}

/** Key of a nexthop object (single or group: one id space). */
export function nexthopKey(id: number): string {
  return `nh|${id}`;
}

/** Key of a flood-list entry (one per vxlan device and remote VTEP). */
export function floodKey(ifname: string, dst: string): string {
  return `flood|${ifname}|${dst}`;
}

/** An observed all-zeros vxlan entry (a flood-list remote)? */
export function isFloodObserved(o: ObservedEntry): boolean {
  return o.kind === 'fdb' && o.table === 'vxlan' && o.mac === FLOOD_MAC && o.dst !== null;
}

/** Key of an observed entry comparable with entryKey(); null for entries we never write. */
export function observedKey(o: ObservedEntry): string | null {
  if (o.kind === 'neigh') return `neigh|${o.ifname}|${o.ip}`;
  if (o.kind === 'nexthop') return nexthopKey(o.id);
  if (o.table === 'self') return null;
  if (isFloodObserved(o) && o.dst !== null) return floodKey(o.ifname, o.dst);
  return `fdb|${o.ifname}|${o.mac}`;
}

/** One line for logs: `neigh 192.168.0.87 dev br-vxlan lladdr ..` / `fdb <mac> dev vxlan0 dst ..`. */
export function describeEntry(e: KernelEntry): string {
  switch (e.kind) {
    case 'neigh': return `neigh ${e.ip} dev ${e.ifname} lladdr ${e.mac}`;
    case 'fdb': return e.mac === FLOOD_MAC ? `fdb ${FLOOD_MAC} dev ${e.ifname} dst ${e.dst} (flood list)` : e.nhid !== undefined ? `fdb ${e.mac} dev ${e.ifname} nhid ${e.nhid}` : `fdb ${e.mac} dev ${e.ifname} dst ${e.dst}`;
    case 'nexthop': return `nexthop id ${e.id} via ${e.dst} fdb`;
    case 'nhgroup': return `nexthop id ${e.id} group ${e.members.join('/')} fdb`;
  }
}
