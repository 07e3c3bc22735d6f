// The real KernelPort: rtnetlink over the `netlink` package's raw socket, with our
// own encoding (nl.ts). Two sockets: one for requests (dumps and writes), one for
// multicast events, so a burst of events never delays or drops an acknowledgement.
//
// Writes are pipelined: up to `window` requests in flight, packed `chunk` to a
// datagram, NLM_F_ACK only on the last request of each datagram. The kernel handles
// a socket's requests in order and answers them in order, and it always answers a
// failed request with NLMSG_ERROR (ACK flag or not); so the ACK of a datagram's last
// request means every earlier request without an error report succeeded.
import { spawn, type ChildProcess } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { RawNetlinkSocket } from 'netlink';
import type { Logger } from 'pino';
import { parseIp as ipBytes, parseMac as macBytes } from '../wire/addr.js';

// Netlink attributes are Buffers: the address module's parsers, as Buffers.
const parseIp = (text: string): Buffer => Buffer.from(ipBytes(text));
const parseMac = (text: string): Buffer => Buffer.from(macBytes(text));
import { PUMP_GROUPS, PumpDecoder } from './event-pump.js';
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
   * Where the event socket lives (default 'process': a child process, see
   * event-pump.ts; 'inline': in this process, which a netlink 0.3.0 bug can abort
   * when the socket overflows).
   */
  events?: 'process' | 'inline';
  /** Command that runs the event pump (default: this Node with event-pump.js). */
  eventPumpCommand?: string[];
}

interface EventSource {
  ready: Promise<void>;
  stop: () => void;
  /** PID of the event pump process, null when inline or not running. */
  pid: () => number | null;
}

/**
 * Read size of the request socket: the kernel caps dump datagrams at 32 KiB minus
 * skb overhead (netlink_recvmsg), so 32 KiB always holds one.
 */
const DUMP_READ_SIZE = 32 * 1024;

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

function errnoOf(e: unknown): { errno: number; code: string; message: string } {
  const x = (e ?? {}) as ErrnoLike;
  const errno = typeof x.errno === 'number' ? Math.abs(x.errno) : 0;
  const code = typeof x.code === 'string' ? x.code : errno ? errnoName(errno) : 'EIO';
  return { errno, code, message: typeof x.message === 'string' ? x.message : String(e) };
}

interface Failure {
  code: string;
  errno: number;
  message: string;
}

/** One request on the wire and the op it belongs to. */
interface WireRequest {
  buf: Buffer;
  opIndex: number;
  /** ENOENT on this request means the goal (absence) is already reached. */
  enoentOk: boolean;
}

/** The MAC of the FDB request vxlanFamily() sends (never created: no NLM_F_CREATE). */
const FAMILY_PROBE_MAC = '02:00:00:e7:fa:06';

/** An encoded op: its requests, or a local failure (e.g. unknown device). */
type Encoded = { requests: WireRequest[] } | { error: { code: string; errno: number; message: string } };

/** Build the request(s) for one op. `index` resolves a device name to its ifindex. */
export function encodeOp(
  op: KernelOp,
  opIndex: number,
  index: (ifname: string) => number | undefined,
  protocol: number,
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
    else if (op.op === 'replace' && e.nhid === undefined) ip = parseIp(e.dst);
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
  const requests: WireRequest[] = [];
  if (only !== 'vxlan') requests.push(del(nl.NTF_MASTER));
  if (only !== 'bridge') requests.push(del(nl.NTF_SELF));
  return { requests };
}

interface PendingDump {
  kind: 'dump';
  msgs: nl.NlMsg[];
  interrupted: boolean;
  resolve: (msgs: nl.NlMsg[] | 'interrupted') => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface PendingWrite {
  kind: 'write';
  req: WireRequest;
  /** Set on the last request of a datagram: its answer completes the batch. */
  batch: WriteBatch | null;
}

interface WriteBatch {
  seqs: number[];
  timer: NodeJS.Timeout;
  done: (failure: { code: string; errno: number; message: string } | null) => void;
}

type Pending = PendingDump | PendingWrite;

export class RtnetlinkPort implements KernelPort {
  private readonly cmd: RawNetlinkSocket;
  private events: EventSource | null = null;
  private readonly eventMode: 'process' | 'inline';
  private readonly pumpCmd: string[] | undefined;
  private readonly subscribers = new Set<(ev: KernelEvent) => void>();
  private readonly pending = new Map<number, Pending>();
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private closed = false;
  private readonly protocol: number;
  private readonly window: number;
  private readonly chunk: number;
  private readonly recvBufferSize: number;
  private readonly timeoutMs: number;
  private readonly log: Logger | undefined;
  /** ifindex -> link, kept current by link dumps and link events. */
  private readonly linksByIndex = new Map<number, nl.RawLink>();
  private readonly indexByName = new Map<string, number>();

  constructor(opts: RtnetlinkOptions = {}) {
    this.protocol = opts.protocol ?? EVPN_HA_PROTOCOL;
    const window = Math.max(1, opts.window ?? 1024);
    this.recvBufferSize = opts.recvBufferSize ?? 4 * 1024 * 1024;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.log = opts.logger;
    this.eventMode = opts.events ?? 'process';
    this.pumpCmd = opts.eventPumpCommand;
    this.cmd = this.openSocket(DUMP_READ_SIZE);
    this.cmd.on('message', (buf) => this.guard('request datagram', () => this.onCommandDatagram(buf)));
    this.cmd.on('error', (err) => this.guard('request socket error', () => this.onCommandError(err)));
    this.cmd.on('truncatedMessage', () => this.guard('truncated datagram', () =>
      this.onCommandError({ errno: osConstants.errno.EMSGSIZE, code: 'EMSGSIZE', message: 'netlink datagram larger than the read buffer' })));
    this.cmd.unref();
    // Every failed request in flight may come back as an error message of roughly
    // 1 KiB of receive buffer; keep the window within what the buffer can hold, so
    // the request socket never overflows (see event-pump.ts for what that costs).
    const rcvbuf = this.cmd.getRecvBufferSize();
    this.window = Math.max(1, Math.min(window, Math.floor(rcvbuf / 1024)));
    this.chunk = Math.max(1, Math.min(opts.chunk ?? 64, this.window));
    this.log?.debug({ rcvbuf, window: this.window, chunk: this.chunk }, 'kernel: request socket');
  }

  /** Requests in flight at most, after capping by the receive buffer. */
  get pipelineWindow(): number {
    return this.window;
  }

  /**
   * `readBuffer` turns off the addon's peek-then-read: every read offers that many
   * bytes. The kernel sizes dump datagrams by the largest read it has seen (up to
   * 32 KiB); after a 1-byte peek they stay at one page, and a bridge FDB dump,
   * which re-walks the table for every datagram, gets several times slower.
   */
  private openSocket(readBuffer?: number): RawNetlinkSocket {
    return new RawNetlinkSocket(0 /* NETLINK_ROUTE */, {
      recvBufferSize: this.recvBufferSize,
      sendBufferSize: this.recvBufferSize,
      ...(readBuffer ? { messagePeeking: false, msgBufferSize: readBuffer } : {}),
    });
  }

  /**
   * Socket callbacks run from the native addon, where an exception escaping to it
   * aborts the process (node-addon-api C++ exceptions): never let one through.
   */
  private guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      if (this.log) this.log.error({ err: e }, `kernel: ${what} handler failed`);
      else process.emitWarning(`kernel: ${what} handler failed: ${String((e as Error).stack ?? e)}`);
    }
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  // --- request socket ---

  private onCommandDatagram(buf: Buffer): void {
    let msgs: nl.NlMsg[];
    try {
      msgs = nl.splitMessages(buf);
    } catch (e) {
      this.log?.warn({ err: e }, 'kernel: undecodable netlink datagram');
      return;
    }
    for (const m of msgs) {
      const p = this.pending.get(m.seq);
      if (!p) continue;
      if (p.kind === 'dump') {
        if (m.flags & nl.NLM_F_DUMP_INTR) p.interrupted = true;
        if (m.type === nl.NLMSG_DONE) {
          this.pending.delete(m.seq);
          clearTimeout(p.timer);
          p.resolve(p.interrupted ? 'interrupted' : p.msgs);
        } else if (m.type === nl.NLMSG_ERROR) {
          this.pending.delete(m.seq);
          clearTimeout(p.timer);
          const { errno } = nl.parseError(m);
          if (errno === 0) p.resolve(p.msgs);
          else p.reject(Object.assign(new Error(`dump failed: ${errnoName(errno)}`), { errno, code: errnoName(errno) }));
        } else {
          p.msgs.push(m);
          p.timer.refresh(); // the timeout is for silence, not for the whole dump
        }
        continue;
      }
      if (m.type !== nl.NLMSG_ERROR) continue;
      const { errno } = nl.parseError(m);
      if (errno !== 0 && !(errno === osConstants.errno.ENOENT && p.req.enoentOk)) {
        this.failedRequests.set(m.seq, { errno, code: errnoName(errno), message: `kernel: ${errnoName(errno)}` });
      }
      if (p.batch) p.batch.done(null);
    }
  }

  /** Errors reported for single requests, by seq, until their batch completes. */
  private readonly failedRequests = new Map<number, { errno: number; code: string; message: string }>();

  private onCommandError(err: unknown): void {
    // Most likely ENOBUFS: answers were dropped, so no in-flight request can be trusted.
    const f = errnoOf(err);
    this.log?.error({ code: f.code }, 'kernel: request socket error; failing requests in flight');
    const batches = new Set<WriteBatch>();
    for (const [seq, p] of this.pending) {
      if (p.kind === 'dump') {
        this.pending.delete(seq);
        clearTimeout(p.timer);
        p.reject(Object.assign(new Error(`dump failed: ${f.code}`), f));
      } else if (p.batch) {
        batches.add(p.batch);
      }
    }
    for (const b of batches) b.done(f);
  }

  /** Tail of the dump queue: the kernel runs one dump per socket at a time (EBUSY otherwise). */
  private dumpQueue: Promise<unknown> = Promise.resolve();

  private dumpRaw(type: number, fixed: Buffer): Promise<nl.NlMsg[]> {
    const run = this.dumpQueue.then(() => this.dumpNow(type, fixed));
    this.dumpQueue = run.catch(() => undefined);
    return run;
  }

  private async dumpNow(type: number, fixed: Buffer): Promise<nl.NlMsg[]> {
    for (let attempt = 0; ; attempt++) {
      const got = await new Promise<nl.NlMsg[] | 'interrupted'>((resolve, reject) => {
        if (this.closed) { reject(new Error('kernel port closed')); return; }
        const seq = this.nextSeq();
        const timer = setTimeout(() => {
          this.pending.delete(seq);
          reject(Object.assign(new Error('dump timed out'), { code: 'ETIMEDOUT' }));
        }, this.timeoutMs);
        this.pending.set(seq, { kind: 'dump', msgs: [], interrupted: false, resolve, reject, timer });
        this.cmd.ref();
        this.cmd.send(nl.encodeMessage(type, nl.NLM_F_REQUEST | nl.NLM_F_DUMP, seq, fixed), undefined, (err) => {
          if (!err) return;
          const p = this.pending.get(seq);
          if (!p) return;
          this.pending.delete(seq);
          clearTimeout(timer);
          reject(Object.assign(new Error(`dump send failed: ${err.code}`), err));
        });
      }).finally(() => { if (this.pending.size === 0) this.cmd.unref(); });
      if (got !== 'interrupted') return got;
      // NLM_F_DUMP_INTR: the table changed during the dump; a consistent one needs a retry.
      if (attempt >= 4) throw Object.assign(new Error('dump interrupted repeatedly'), { code: 'EINTR' });
    }
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
    return {
      name: l.name,
      index: l.index,
      mac: l.mac,
      up: (l.flags & nl.IFF_UP) !== 0,
      carrier: (l.flags & nl.IFF_LOWER_UP) !== 0,
      operstate: l.operstate,
      mtu: l.mtu,
      masterIndex: l.master,
      master: l.master !== null ? this.linksByIndex.get(l.master)?.name ?? null : null,
      kind: l.kind,
      vxlan: l.vxlan,
      addresses,
    };
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
    const ifname = this.linksByIndex.get(r.ifindex)?.name ?? `if${r.ifindex}`;
    const externLearned = (r.flags & nl.NTF_EXT_LEARNED) !== 0;
    if (r.family === nl.AF_INET || r.family === nl.AF_INET6) {
      if (r.dst === null) return null;
      return {
        kind: 'neigh', ifname, ifindex: r.ifindex, family: r.family === nl.AF_INET ? 4 : 6,
        ip: r.dst, mac: r.lladdr, state: r.state, flags: r.flags, protocol: r.protocol, externLearned,
      };
    }
    if (r.family !== nl.AF_BRIDGE || r.lladdr === null) return null;
    const isVxlan = this.linksByIndex.get(r.ifindex)?.kind === 'vxlan' || r.dst !== null || r.nhid !== null;
    const table = r.master !== null ? 'bridge' : isVxlan ? 'vxlan' : 'self';
    return {
      kind: 'fdb', ifname, ifindex: r.ifindex, mac: r.lladdr, table,
      dst: table === 'vxlan' ? r.dst : null,
      nhid: table === 'vxlan' ? r.nhid : null,
      vlan: r.vlan,
      master: r.master !== null ? this.linksByIndex.get(r.master)?.name ?? `if${r.master}` : null,
      state: r.state, flags: r.flags, protocol: r.protocol, externLearned,
    };
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
    return { kind: 'nexthop', id: r.id, dst: r.gateway, group: r.group, fdb: r.fdb, protocol: r.protocol };
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
    const failures = await this.send(ops);
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
  private async send(ops: KernelOp[]): Promise<Array<Failure | null>> {
    const failures: Array<Failure | null> = ops.map(() => null);
    const requests: WireRequest[] = [];
    ops.forEach((op, i) => {
      const enc = encodeOp(op, i, (n) => this.indexByName.get(n), this.protocol);
      if ('error' in enc) failures[i] = enc.error;
      else requests.push(...enc.requests);
    });
    if (requests.length > 0) await this.sendPipelined(requests, failures);
    return failures;
  }

  private sendPipelined(
    requests: WireRequest[],
    failures: Array<Failure | null>,
  ): Promise<void> {
    return new Promise<void>((resolveAll) => {
      let next = 0;
      let inFlight = 0;
      this.cmd.ref();
      const pump = (): void => {
        while (next < requests.length && inFlight < this.window) {
          const n = Math.min(this.chunk, requests.length - next, this.window - inFlight);
          const slice = requests.slice(next, next + n);
          next += n;
          inFlight += n;
          const seqs: number[] = [];
          const bufs: Buffer[] = [];
          for (let k = 0; k < slice.length; k++) {
            const r = slice[k]!;
            const seq = this.nextSeq();
            nl.setSeq(r.buf, seq);
            nl.setAck(r.buf, k === slice.length - 1);
            seqs.push(seq);
            bufs.push(r.buf);
            this.pending.set(seq, { kind: 'write', req: r, batch: null });
          }
          let finished = false;
          const batch: WriteBatch = {
            seqs,
            timer: setTimeout(() => batch.done({ code: 'ETIMEDOUT', errno: osConstants.errno.ETIMEDOUT, message: 'no answer from the kernel' }), this.timeoutMs),
            done: (failure) => {
              if (finished) return;
              finished = true;
              clearTimeout(batch.timer);
              for (let k = 0; k < seqs.length; k++) {
                const seq = seqs[k]!;
                const r = slice[k]!;
                this.pending.delete(seq);
                const f = this.failedRequests.get(seq) ?? failure;
                this.failedRequests.delete(seq);
                if (f && !failures[r.opIndex]) failures[r.opIndex] = f;
              }
              inFlight -= slice.length;
              if (next < requests.length) pump();
              else if (inFlight === 0) {
                if (this.pending.size === 0) this.cmd.unref();
                resolveAll();
              }
            },
          };
          (this.pending.get(seqs[seqs.length - 1]!) as PendingWrite).batch = batch;
          this.cmd.send(bufs, undefined, (err) => { if (err) batch.done(errnoOf(err)); });
        }
      };
      pump();
    });
  }

  // --- events ---

  subscribe(cb: (ev: KernelEvent) => void): () => void {
    this.subscribers.add(cb);
    if (!this.events && !this.closed) this.events = this.eventMode === 'process' ? this.startPump() : this.openInlineEvents();
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

  /** The event socket in this process (see event-pump.ts for why this is not the default). */
  private openInlineEvents(): EventSource {
    const s = this.openSocket();
    for (const g of PUMP_GROUPS) {
      try { s.addMembership(g); } catch (e) { if (g !== nl.RTNLGRP_NEXTHOP) throw e; }
    }
    s.on('message', (buf) => this.guard('event datagram', () => this.onEventDatagram(buf)));
    s.on('error', (err) => this.guard('event socket error', () => {
      const f = errnoOf(err);
      this.log?.warn({ code: f.code }, 'kernel: event socket error; subscribers must resync');
      this.emit({ type: 'overflow' });
    }));
    return { ready: Promise.resolve(), stop: () => s.close(), pid: () => null };
  }

  private pumpCommand(): string[] {
    if (this.pumpCmd) return this.pumpCmd;
    const here = import.meta.url;
    const file = fileURLToPath(new URL(here.endsWith('.ts') ? './event-pump.ts' : './event-pump.js', here));
    return [process.execPath, ...process.execArgv, file, '--evpn-ha-event-pump'];
  }

  /** The event socket in a child process, restarted (with an 'overflow' report) when it dies. */
  private startPump(): EventSource {
    let stopped = false;
    let child: ChildProcess | null = null;
    let restart: NodeJS.Timeout | null = null;
    let failedStarts = 0;
    let inline: EventSource | null = null;
    // Each launch has its own readiness; dump() waits for the current one, so a
    // resync after a restart does not start before events flow again.
    let resolveReady: (() => void) | null = null;
    let ready: Promise<void> = Promise.resolve();
    let readyTimer: NodeJS.Timeout | undefined;
    /** A new pending `ready`, unless one is pending already (whoever waits on it keeps waiting). */
    const notReady = (): void => {
      if (resolveReady) return;
      ready = new Promise<void>((resolve) => { resolveReady = resolve; });
    };
    const markReady = (): void => {
      const r = resolveReady;
      resolveReady = null;
      r?.();
    };
    const launch = (): void => {
      readyTimer = setTimeout(() => {
        this.log?.warn('kernel: event pump not ready after 10 s; continuing');
        markReady();
      }, 10_000);
      readyTimer.unref();
      const [cmd, ...args] = this.pumpCommand();
      const c = spawn(cmd!, args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: { ...process.env, EVPN_HA_PUMP_RCVBUF: String(this.recvBufferSize * 2) },
      });
      child = c;
      let wasReady = false;
      const dec = new PumpDecoder();
      const out = c.stdout!;
      out.on('data', (chunk: Buffer) => {
        this.guard('event pump data', () => dec.push(chunk, {
          frame: (b) => this.onEventDatagram(b),
          lost: () => {
            this.log?.warn('kernel: events lost (event socket overflow); subscribers must resync');
            this.emit({ type: 'overflow' });
          },
          ready: () => { wasReady = true; failedStarts = 0; clearTimeout(readyTimer); markReady(); },
        }));
        // One chunk (<= 64 KiB, some hundred events) per turn of the event loop: libuv
        // would otherwise read and hand us the whole backlog of a write burst (the echo
        // of 50,000 entries) in one go, keeping BFD's timers and sockets waiting. The
        // pump keeps reading the netlink socket meanwhile; the pipe holds the rest.
        out.pause();
        setImmediate(() => { if (child === c) out.resume(); });
      });
      c.stdin!.on('error', () => { /* the pump died; 'exit' handles it */ });
      // The pump's stderr (e.g. the addon's abort message) goes to our log.
      let errText = '';
      c.stderr!.on('data', (chunk: Buffer) => {
        errText = (errText + chunk.toString('utf8')).slice(-2000);
      });
      c.stderr!.on('end', () => {
        if (errText.trim()) this.log?.warn({ stderr: errText.trim() }, 'kernel: event pump stderr');
      });
      const onGone = (why: string): void => {
        if (child !== c) return;
        child = null;
        if (stopped) return;
        notReady();
        this.emit({ type: 'overflow' });
        failedStarts = wasReady ? 0 : failedStarts + 1;
        if (failedStarts >= 5) {
          // The pump cannot start here (e.g. no way to run it): listen in-process.
          this.log?.error({ why }, 'kernel: event pump failed to start 5 times; using the in-process event socket');
          inline = this.openInlineEvents();
          clearTimeout(readyTimer);
          markReady();
          return;
        }
        const delay = Math.min(5000, 100 * 2 ** failedStarts);
        this.log?.warn({ why, restartInMs: delay }, 'kernel: event pump exited; restarting, subscribers must resync');
        restart = setTimeout(() => { restart = null; if (!stopped) launch(); }, delay);
      };
      c.on('exit', (code, signal) => onGone(`exit ${code ?? signal}`));
      c.on('error', (e) => onGone(String(e)));
    };
    notReady();
    launch();
    return {
      get ready() { return ready; },
      pid: () => child?.pid ?? null,
      stop: () => {
        stopped = true;
        inline?.stop();
        clearTimeout(readyTimer);
        if (restart) clearTimeout(restart);
        markReady();
        const c = child;
        child = null;
        if (c && c.exitCode === null && c.signalCode === null) {
          c.stdin?.end();
          c.kill('SIGTERM');
        }
      },
    };
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
    const batches = new Set<WriteBatch>();
    for (const [seq, p] of this.pending) {
      if (p.kind === 'dump') {
        clearTimeout(p.timer);
        this.pending.delete(seq);
        p.reject(new Error('kernel port closed'));
      } else if (p.batch) batches.add(p.batch);
    }
    for (const b of batches) b.done({ code: 'ECANCELED', errno: osConstants.errno.ECANCELED, message: 'kernel port closed' });
    this.cmd.close();
  }
}

/** Open the real kernel port in the current network namespace. */
export function openRtnetlink(opts: RtnetlinkOptions = {}): RtnetlinkPort {
  return new RtnetlinkPort(opts);
}
