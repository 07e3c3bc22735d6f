// The real KernelPort: rtnetlink over the `netlink` package's raw socket, with our
// own encoding (nl.ts). Two sockets: one for requests (dumps and writes), one for
// multicast events, so a burst of events never delays or drops an acknowledgement.
//
// This file keeps the port's state (the link table) and its KernelPort methods; the
// pieces it is built from each do one thing:
//   rtnl-codec.ts     KernelOps to requests, kernel messages to observed entries
//   rtnl-requests.ts  the request socket: dumps and pipelined writes with their ACKs
//   rtnl-events.ts    the event socket's supervisor (event pump process or inline)
import { constants as osConstants } from 'node:os';
import type { Logger } from 'pino';
import { parseIp as ipBytes, parseMac as macBytes } from '../wire/addr.js';

// Netlink attributes are Buffers: the address module's parsers, as Buffers.
const parseIp = (text: string): Buffer => Buffer.from(ipBytes(text));
const parseMac = (text: string): Buffer => Buffer.from(macBytes(text));
import * as nl from './nl.js';
import {
  EVPN_HA_PROTOCOL,
  type KernelEvent,
  type KernelOp,
  type KernelOpResult,
  type KernelPort,
  type LinkAddress,
  type LinkInfo,
  type ObservedDeviceEntry,
  type ObservedNexthop,
} from './port.js';
import {
  encodeOp,
  errnoOf,
  FAMILY_PROBE_MAC,
  isWholeFdbDelete,
  type EncodeOptions,
  toLinkInfo,
  toObserved,
  toObservedNexthop,
  type Failure,
  type WireRequest,
} from './rtnl-codec.js';
import { directEventsAvailable, openDirectEvents } from './event-socket.js';
import { openInlineEvents, startEventPump, type EventSource, type EventSupervisorOptions } from './rtnl-events.js';
import { RequestChannel } from './rtnl-requests.js';

export { encodeOp, errnoName } from './rtnl-codec.js';

export interface RtnetlinkOptions {
  /** NDA_PROTOCOL stamped on our entries (default EVPN_HA_PROTOCOL, 0xE7). */
  protocol?: number;
  /** Most write requests in flight at once (default 1024). */
  window?: number;
  /** Requests per datagram (default 64). */
  chunk?: number;
  /** SO_RCVBUF for both sockets in bytes (default 4 MiB; the kernel caps it at rmem_max). */
  recvBufferSize?: number;
  /**
   * A write batch without an answer, or a dump without a new message, for this long
   * fails with ETIMEDOUT (default 10 s).
   */
  timeoutMs?: number;
  logger?: Logger;
  /**
   * Where the event socket lives. 'direct' (the default where it works: Linux on a
   * 64-bit platform with koffi): in this process, read through libc
   * (event-socket.ts); 'process': a child process running the netlink addon's socket
   * (event-pump.ts; the default elsewhere, and the fallback when 'direct' cannot make
   * its socket); 'inline': the addon's socket in this process, which a netlink 0.3.0
   * bug can abort when the socket overflows.
   */
  events?: 'direct' | 'process' | 'inline';
  /** Command that runs the event pump (default: this Node with event-pump.js). */
  eventPumpCommand?: string[];
}

export class RtnetlinkPort implements KernelPort {
  private readonly cmd: RequestChannel;
  private events: EventSource | null = null;
  private readonly eventMode: 'direct' | 'process' | 'inline';
  private readonly pumpCmd: string[] | undefined;
  private readonly subscribers = new Set<(ev: KernelEvent) => void>();
  private closed = false;
  private readonly protocol: number;
  private readonly recvBufferSize: number;
  private readonly log: Logger | undefined;
  /** ifindex -> link, kept current by link dumps and link events. */
  private readonly linksByIndex = new Map<number, nl.RawLink>();
  private readonly indexByName = new Map<string, number>();

  constructor(opts: RtnetlinkOptions = {}) {
    this.protocol = opts.protocol ?? EVPN_HA_PROTOCOL;
    this.recvBufferSize = opts.recvBufferSize ?? 4 * 1024 * 1024;
    this.log = opts.logger;
    this.eventMode = opts.events ?? (directEventsAvailable() ? 'direct' : 'process');
    this.pumpCmd = opts.eventPumpCommand;
    this.cmd = new RequestChannel({
      window: Math.max(1, opts.window ?? 1024),
      ...(opts.chunk !== undefined ? { chunk: opts.chunk } : {}),
      recvBufferSize: this.recvBufferSize,
      timeoutMs: opts.timeoutMs ?? 10_000,
      ...(this.log ? { logger: this.log } : {}),
    });
  }

  /** Requests in flight at most, after capping by the receive buffer. */
  get pipelineWindow(): number {
    return this.cmd.pipelineWindow;
  }

  private dumpRaw(type: number, fixed: Buffer): Promise<nl.NlMsg[]> {
    return this.cmd.dump(type, fixed);
  }

  private sendPipelined(requests: WireRequest[], failures: Array<Failure | null>): Promise<void> {
    return this.cmd.sendPipelined(requests, failures);
  }

  // --- links ---

  private async refreshLinks(): Promise<nl.RawLink[]> {
    const msgs = await this.dumpRaw(nl.RTM_GETLINK, nl.ifinfomsg());
    const links: nl.RawLink[] = [];
    for (const m of msgs) {
      if (m.type !== nl.RTM_NEWLINK) continue;
      links.push(nl.decodeLink(m.payload));
    }
    this.linksByIndex.clear();
    this.indexByName.clear();
    for (const l of links) this.rememberLink(l);
    return links;
  }

  private rememberLink(l: nl.RawLink): void {
    const old = this.linksByIndex.get(l.index);
    if (old && old.name !== l.name && this.indexByName.get(old.name) === l.index) this.indexByName.delete(old.name);
    this.linksByIndex.set(l.index, l);
    this.indexByName.set(l.name, l.index);
  }

  private forgetLink(index: number): void {
    const old = this.linksByIndex.get(index);
    if (!old) return;
    this.linksByIndex.delete(index);
    if (this.indexByName.get(old.name) === index) this.indexByName.delete(old.name);
  }

  private toLinkInfo(l: nl.RawLink, addresses: LinkAddress[]): LinkInfo {
    return toLinkInfo(this.linksByIndex, l, addresses);
  }

  async links(): Promise<LinkInfo[]> {
    await this.eventsReady();
    const raw = await this.refreshLinks();
    const addrMsgs = await this.dumpRaw(nl.RTM_GETADDR, nl.ifaddrmsg());
    const byIndex = new Map<number, LinkAddress[]>();
    for (const m of addrMsgs) {
      if (m.type !== nl.RTM_NEWADDR) continue;
      const a = nl.decodeAddr(m.payload);
      if (!a) continue;
      let list = byIndex.get(a.index);
      if (!list) byIndex.set(a.index, (list = []));
      list.push({ family: a.family, address: a.address, prefixLen: a.prefixLen, flags: a.flags, scope: a.scope });
    }
    return raw.map((l) => this.toLinkInfo(l, byIndex.get(l.index) ?? []));
  }

  // --- neigh / fdb ---

  private toObserved(r: nl.RawNeigh): ObservedDeviceEntry | null {
    return toObserved(this.linksByIndex, r);
  }

  async dump(ifnames: string[]): Promise<ObservedDeviceEntry[]> {
    await this.eventsReady();
    await this.refreshLinks();
    const wanted = new Set<number>();
    for (const n of ifnames) {
      const i = this.indexByName.get(n);
      if (i !== undefined) wanted.add(i);
    }
    if (wanted.size === 0) return [];
    const out: ObservedDeviceEntry[] = [];
    for (const family of [nl.AF_INET, nl.AF_INET6, nl.AF_BRIDGE]) {
      const msgs = await this.dumpRaw(nl.RTM_GETNEIGH, nl.ndmsg(family, 0, 0, 0));
      for (const m of msgs) {
        if (m.type !== nl.RTM_NEWNEIGH) continue;
        const r = nl.decodeNeigh(m.payload);
        if (r.family !== family || !wanted.has(r.ifindex)) continue;
        const o = this.toObserved(r);
        if (o) out.push(o);
      }
    }
    return out;
  }

  // --- nexthops ---

  private toObservedNexthop(r: nl.RawNexthop): ObservedNexthop {
    return toObservedNexthop(r);
  }

  async dumpNexthops(): Promise<ObservedNexthop[]> {
    await this.eventsReady();
    const msgs = await this.dumpRaw(nl.RTM_GETNEXTHOP, nl.nhmsg(nl.AF_UNSPEC));
    const out: ObservedNexthop[] = [];
    for (const m of msgs) if (m.type === nl.RTM_NEWNEXTHOP) out.push(this.toObservedNexthop(nl.decodeNexthop(m.payload)));
    return out;
  }

  /**
   * Probe for FDB nexthops (Linux >= 5.8): a nexthop dump (>= 5.3), then an FDB
   * nexthop of our own created (NLM_F_EXCL, at an id nobody holds) and deleted.
   */
  async nexthopSupport(): Promise<{ supported: boolean; reason: string }> {
    let ids: Set<number>;
    try {
      ids = new Set((await this.dumpNexthops()).map((n) => n.id));
    } catch (e) {
      return { supported: false, reason: `no nexthop objects in this kernel (nexthop dump: ${errnoOf(e).code})` };
    }
    let id = 0xe7fffff0;
    while (ids.has(id)) id++;
    const req = (type: number, flags: number, fixed: Buffer, attrs: nl.Attr[]): Promise<Failure | null> =>
      this.sendPipelined([{ buf: nl.encodeMessage(type, nl.NLM_F_REQUEST | flags, 0, fixed, attrs), opIndex: 0, enoentOk: true }], [null])
        .then(() => null);
    const failures: Array<Failure | null> = [null];
    await this.sendPipelined([{
      buf: nl.encodeMessage(nl.RTM_NEWNEXTHOP, nl.NLM_F_REQUEST | nl.NLM_F_CREATE | nl.NLM_F_EXCL, 0, nl.nhmsg(nl.AF_INET, this.protocol), [
        nl.u32Attr(nl.NHA_ID, id), { type: nl.NHA_GATEWAY, value: Uint8Array.of(192, 0, 2, 1) }, { type: nl.NHA_FDB, value: new Uint8Array(0) },
      ]),
      opIndex: 0, enoentOk: false,
    }], failures);
    const f = failures[0];
    if (f) return { supported: false, reason: `the kernel refused an FDB nexthop (${f.code}): needs Linux >= 5.8` };
    await req(nl.RTM_DELNEXTHOP, 0, nl.nhmsg(nl.AF_UNSPEC), [nl.u32Attr(nl.NHA_ID, id)]);
    return { supported: true, reason: 'FDB nexthop groups supported' };
  }

  async neighSuppress(ifname: string): Promise<boolean | null> {
    const index = await this.indexOf(ifname);
    if (index === undefined) return null;
    const msgs = await this.dumpRaw(nl.RTM_GETLINK, nl.ifinfomsg(nl.AF_BRIDGE));
    for (const m of msgs) {
      if (m.type !== nl.RTM_NEWLINK) continue;
      const p = nl.decodeBridgePort(m.payload);
      if (p.index === index) return p.neighSuppress;
    }
    return null;
  }

  async setNeighSuppress(ifname: string, on: boolean): Promise<void> {
    const index = await this.indexOf(ifname);
    if (index === undefined) {
      throw Object.assign(new Error(`${ifname}: no such device`), { code: 'ENODEV', errno: osConstants.errno.ENODEV });
    }
    const failures: Array<Failure | null> = [null];
    await this.sendPipelined([{ buf: nl.encodeNeighSuppress(index, on), opIndex: 0, enoentOk: false }], failures);
    const f = failures[0];
    if (f) throw Object.assign(new Error(`${ifname}: neigh_suppress ${on ? 'on' : 'off'}: ${f.message}`), { code: f.code, errno: f.errno });
  }

  private async indexOf(ifname: string): Promise<number | undefined> {
    if (!this.indexByName.has(ifname)) await this.refreshLinks();
    return this.indexByName.get(ifname);
  }

  /**
   * The link dump names the family only for a specific `local` (IFLA_VXLAN_LOCAL or
   * LOCAL6; `local ::` is not reported). Otherwise ask the kernel without changing
   * anything: an RTM_NEWNEIGH for an FDB entry with an IPv6 `dst`, NLM_F_EXCL and no
   * NLM_F_CREATE. vxlan_fdb_add checks the family first (EAFNOSUPPORT on an IPv4
   * device); on an IPv6 one the entry is missing (ENOENT: no create) or there
   * (EEXIST: no replace).
   */
  async vxlanFamily(ifname: string): Promise<4 | 6 | null> {
    await this.refreshLinks();
    const index = this.indexByName.get(ifname);
    const link = index === undefined ? undefined : this.linksByIndex.get(index);
    if (!link || link.kind !== 'vxlan') return null;
    if (link.vxlan?.local) return link.vxlan.local.includes(':') ? 6 : 4;
    const buf = nl.encodeMessage(
      nl.RTM_NEWNEIGH, nl.NLM_F_REQUEST | nl.NLM_F_EXCL, 0,
      nl.ndmsg(nl.AF_BRIDGE, link.index, nl.NUD_REACHABLE, nl.NTF_SELF),
      [{ type: nl.NDA_LLADDR, value: parseMac(FAMILY_PROBE_MAC) }, { type: nl.NDA_DST, value: parseIp('::') }],
    );
    const failures: Array<Failure | null> = [null];
    await this.sendPipelined([{ buf, opIndex: 0, enoentOk: true }], failures);
    const f = failures[0];
    if (!f || f.code === 'EEXIST') return 6;
    if (f.code === 'EAFNOSUPPORT') return 4;
    throw Object.assign(new Error(`cannot tell the family of vxlan device ${ifname}: ${f.code}`), f);
  }

  async apply(ops: KernelOp[]): Promise<KernelOpResult[]> {
    if (ops.length === 0) return [];
    if (this.closed) {
      return ops.map((op) => ({ ok: false, op, code: 'ECANCELED', errno: osConstants.errno.ECANCELED, message: 'kernel port closed' }));
    }
    const needsLinks = ops.some((o) => 'ifname' in o.entry && !this.indexByName.has(o.entry.ifname));
    if (needsLinks) {
      try { await this.refreshLinks(); } catch (e) { this.log?.warn({ err: e }, 'kernel: link dump failed'); }
    }
    const failures = await this.send(ops, { fdbDeleteAsOne: true });
    // A whole FDB delete sent as one request stops at a missing bridge half (ENOENT),
    // maybe before the vxlan half: those go again as two requests, ENOENT tolerated.
    const split = failures.flatMap((f, i) => (f?.code === 'ENOENT' && isWholeFdbDelete(ops[i]!) ? [i] : []));
    if (split.length > 0 && !this.closed) {
      const again = await this.send(split.map((i) => ops[i]!));
      split.forEach((i, k) => { failures[i] = again[k] ?? null; });
    }
    // A device recreated under the same name has a new ifindex: refresh and retry once.
    const stale = failures.flatMap((f, i) => (f?.code === 'ENODEV' && f.message.startsWith('kernel') ? [i] : []));
    if (stale.length > 0 && !this.closed) {
      try {
        await this.refreshLinks();
        const again = await this.send(stale.map((i) => ops[i]!));
        stale.forEach((i, k) => { failures[i] = again[k] ?? null; });
      } catch (e) {
        this.log?.warn({ err: e }, 'kernel: link dump failed');
      }
    }
    return ops.map((op, i) => {
      const f = failures[i];
      return f ? { ok: false, op, ...f } : { ok: true, op };
    });
  }

  /** Encode and send `ops`; one failure (or null) per op. */
  private async send(ops: KernelOp[], opts: EncodeOptions = {}): Promise<Array<Failure | null>> {
    const failures: Array<Failure | null> = ops.map(() => null);
    const requests: WireRequest[] = [];
    ops.forEach((op, i) => {
      const enc = encodeOp(op, i, (n) => this.indexByName.get(n), this.protocol, opts);
      if ('error' in enc) failures[i] = enc.error;
      else requests.push(...enc.requests);
    });
    if (requests.length > 0) await this.sendPipelined(requests, failures);
    return failures;
  }

  // --- events ---

  subscribe(cb: (ev: KernelEvent) => void): () => void {
    this.subscribers.add(cb);
    if (!this.events && !this.closed) this.events = this.openEvents();
    return () => {
      this.subscribers.delete(cb);
      if (this.subscribers.size === 0) this.stopEvents();
    };
  }

  /**
   * Resolves once events flow to subscribers (immediately without subscribers).
   * dump() and links() wait for it, so "subscribe, then dump" misses nothing.
   */
  eventsReady(): Promise<void> {
    return this.events?.ready ?? Promise.resolve();
  }

  /** PID of the event pump child process (for diagnostics and tests); null if none. */
  eventPumpPid(): number | null {
    return this.events?.pid() ?? null;
  }

  private stopEvents(): void {
    const ev = this.events;
    this.events = null;
    ev?.stop();
  }

  private eventOptions(): EventSupervisorOptions {
    return {
      recvBufferSize: this.recvBufferSize,
      eventPumpCommand: this.pumpCmd,
      logger: this.log,
      onDatagram: (buf) => this.onEventDatagram(buf),
      onOverflow: () => this.emit({ type: 'overflow' }),
    };
  }

  private openEvents(): EventSource {
    if (this.eventMode === 'inline') return openInlineEvents(this.eventOptions());
    if (this.eventMode === 'direct') {
      try {
        return openDirectEvents(this.eventOptions());
      } catch (e) {
        this.log?.warn({ err: e }, 'kernel: cannot open the event socket in this process; using the event pump process');
      }
    }
    return this.startPump();
  }

  /** Where the event socket lives now: 'direct', 'process' or 'inline' (null without subscribers). */
  eventSocketMode(): 'direct' | 'process' | 'inline' | null {
    return this.events?.kind ?? null;
  }

  private startPump(): EventSource {
    return startEventPump(this.eventOptions());
  }

  private emit(ev: KernelEvent): void {
    for (const cb of [...this.subscribers]) {
      try { cb(ev); } catch (e) { this.log?.error({ err: e }, 'kernel: event subscriber threw'); }
    }
  }

  private onEventDatagram(buf: Buffer): void {
    let msgs: nl.NlMsg[];
    try {
      msgs = nl.splitMessages(buf);
    } catch (e) {
      this.log?.warn({ err: e }, 'kernel: undecodable event datagram');
      return;
    }
    for (const m of msgs) {
      try {
        this.onEvent(m);
      } catch (e) {
        this.log?.warn({ err: e, type: m.type }, 'kernel: undecodable event');
      }
    }
  }

  private onEvent(m: nl.NlMsg): void {
    switch (m.type) {
      case nl.RTM_NEWLINK:
      case nl.RTM_DELLINK: {
        const l = nl.decodeLink(m.payload);
        if (m.type === nl.RTM_NEWLINK) {
          // A NEWLINK for a bridge port may come with family AF_BRIDGE and few attributes.
          if (m.payload.readUInt8(0) === nl.AF_BRIDGE) return;
          this.rememberLink(l);
          this.emit({ type: 'link', action: 'new', link: this.toLinkInfo(l, []) });
        } else {
          if (m.payload.readUInt8(0) === nl.AF_BRIDGE) return;
          const info = this.toLinkInfo(l, []);
          this.forgetLink(l.index);
          this.emit({ type: 'link', action: 'del', link: info });
        }
        return;
      }
      case nl.RTM_NEWADDR:
      case nl.RTM_DELADDR: {
        const a = nl.decodeAddr(m.payload);
        if (!a) return;
        this.emit({
          type: 'addr', action: m.type === nl.RTM_NEWADDR ? 'new' : 'del', ifindex: a.index,
          ifname: this.linksByIndex.get(a.index)?.name ?? null,
          address: { family: a.family, address: a.address, prefixLen: a.prefixLen },
        });
        return;
      }
      case nl.RTM_NEWNEIGH:
      case nl.RTM_DELNEIGH: {
        const o = this.toObserved(nl.decodeNeigh(m.payload));
        if (!o) return;
        this.emit({ type: 'entry', action: m.type === nl.RTM_NEWNEIGH ? 'new' : 'del', entry: o });
        return;
      }
      case nl.RTM_NEWNEXTHOP:
      case nl.RTM_DELNEXTHOP: {
        const o = this.toObservedNexthop(nl.decodeNexthop(m.payload));
        this.emit({ type: 'entry', action: m.type === nl.RTM_NEWNEXTHOP ? 'new' : 'del', entry: o });
        return;
      }
      default:
        return;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.subscribers.clear();
    this.stopEvents();
    this.cmd.close();
  }
}

/** Open the real kernel port in the current network namespace. */
export function openRtnetlink(opts: RtnetlinkOptions = {}): RtnetlinkPort {
  return new RtnetlinkPort(opts);
}