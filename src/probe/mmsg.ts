// ProbeTransport with batched system calls (issue 9 §3): sendmmsg(2) and
// recvmmsg(2) through koffi, as net/sockopt.ts reaches libc. Node's dgram makes one
// sendto and one recvmsg (and one event-loop callback and Buffer) per datagram; at
// 2,000 remote VTEP paths that is ~22,000 system calls a second. Here:
//
// * send() copies the datagram into a preallocated slot and queues it; all
//   datagrams queued in one event-loop turn (one prober tick: ticks.ts) leave in one
//   sendmmsg per local socket, from a microtask after the turn's code.
// * poll() drains the receive socket with recvmmsg(MSG_DONTWAIT) into preallocated
//   buffers, up to RX_SLOTS datagrams per call. The socket has no wake-up of its
//   own (no libuv watcher: Node would read the datagrams itself); the prober polls
//   it at the start of every tick, before it decides any deadline of that tick.
//
// The sockets are the ones udp.ts uses, made here with socket(2) + bind(2),
// non-blocking: one receive socket on the service address and probe port, one
// send socket per local VTEP address (IPv4 or IPv6) bound to it with an ephemeral
// port. udp.ts stays the fallback where koffi or this layout is unavailable.
//
// Memory: struct mmsghdr / iovec / sockaddr arrays and the datagram slots live in
// koffi.alloc'd memory (it does not move; the kernel gets its addresses), viewed
// from JS through koffi.view. The layouts are those of LP64 little-endian Linux
// (x86_64, aarch64): struct msghdr is 56 bytes (name 0, namelen 8, iov 16,
// iovlen 24, control 32, controllen 40, flags 48), struct mmsghdr 64 (msg_len at
// 56), struct iovec 16.
import koffi from 'koffi';
import { arch, endianness } from 'node:os';
import pino, { type Logger } from 'pino';
import { AF_INET, AF_INET6, SOL_SOCKET, SO_RCVBUFFORCE, encodeSockaddr, familyOf, int32 } from '../net/sockopt-wire.js';
import { DEFAULT_PROBE_PORT, VXLAN_PORT } from './packet.js';
import type { ProbeTransport } from './transport.js';

const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SO_SNDBUF = 7;
const SO_RCVBUF = 8;
const MSG_DONTWAIT = 0x40;
const EAGAIN = 11;

const MSGHDR = 64; // struct mmsghdr
const IOVEC = 16;
const SOCKADDR = 28; // room for sockaddr_in6
const MSG_LEN = 56;

/** Datagrams queued between flushes (all local sockets together); more flush at once. */
export const SEND_SLOTS = 512;
/** Largest datagram sent: a probe frame is at most 50 + 76 + 255 bytes (packet.ts). */
export const SEND_SLOT_BYTES = 512;
/** Datagrams read per recvmmsg call. */
export const RX_SLOTS = 256;
/** Largest datagram received whole (bytes after the name are ignored anyway). */
export const RX_SLOT_BYTES = 2048;
/** Receive buffer asked for (a few ticks of replies at 2,000+ paths, and a GC pause). */
const RX_BUFFER = 4 * 2 ** 20;
/** A send socket that could not be made is tried again after this long (ms). */
const RETRY_MS = 1000;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  bind(fd: number, address: Uint8Array, length: number): number;
  close(fd: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, length: number): number;
  getsockname(fd: number, address: Uint8Array, length: Uint32Array): number;
  sendmmsg(fd: number, vec: unknown, n: number, flags: number): number;
  recvmmsg(fd: number, vec: unknown, n: number, flags: number, timeout: null): number;
}

let libc: Libc | null | undefined;

/** libc through koffi, or null where that or the struct layouts above are not available. */
function lib(): Libc | null {
  if (libc !== undefined) return libc;
  libc = null;
  if (process.platform !== 'linux' || endianness() !== 'LE' || !['x64', 'arm64'].includes(arch())) return null;
  try {
    const self = koffi.load(null);
    libc = {
      socket: self.func('int socket(int, int, int)') as Libc['socket'],
      bind: self.func('int bind(int, const void *, uint32_t)') as Libc['bind'],
      close: self.func('int close(int)') as Libc['close'],
      setsockopt: self.func('int setsockopt(int, int, int, const void *, uint32_t)') as Libc['setsockopt'],
      getsockname: self.func('int getsockname(int, _Inout_ void *, _Inout_ uint32_t *)') as Libc['getsockname'],
      sendmmsg: self.func('int sendmmsg(int, void *, unsigned int, int)') as Libc['sendmmsg'],
      recvmmsg: self.func('int recvmmsg(int, void *, unsigned int, int, void *)') as Libc['recvmmsg'],
    };
  } catch {
    libc = null;
  }
  return libc;
}

/** Whether this process can use the batched transport. */
export function mmsgAvailable(): boolean {
  return lib() !== null;
}

/** A failed system call, with the errno name as `code` (like Node's own errors). */
export class MmsgError extends Error {
  override name = 'MmsgError';
  constructor(readonly call: string, readonly code: string, readonly errno: number) {
    super(`${call}: ${code}`);
  }
}

let errnoNames: Map<number, string> | null = null;

function failure(call: string, errno = koffi.errno()): MmsgError {
  errnoNames ??= new Map(Object.entries(koffi.os.errno).map(([k, v]) => [v, k]));
  return new MmsgError(call, errnoNames.get(errno) ?? `errno ${errno}`, errno);
}

/** Unmovable native memory, seen from JS. */
class Region {
  readonly ptr: unknown;
  readonly u8: Uint8Array;
  readonly dv: DataView;
  readonly lo: number;
  readonly hi: number;
  constructor(readonly size: number) {
    this.ptr = koffi.alloc('uint8_t', size);
    const ab = koffi.view(this.ptr, size);
    this.u8 = new Uint8Array(ab);
    this.u8.fill(0);
    this.dv = new DataView(ab);
    const base = koffi.address(this.ptr);
    this.lo = Number(base & 0xffffffffn);
    this.hi = Number(base >> 32n);
  }
  /** Write the address of byte `off` of this region as a pointer at `at` of `into`. */
  pointer(into: DataView, at: number, off: number): void {
    const lo = this.lo + off;
    into.setUint32(at, lo >>> 0, true);
    into.setUint32(at + 4, this.hi + Math.floor(lo / 2 ** 32), true);
  }
  free(): void {
    koffi.free(this.ptr);
  }
}

export interface MmsgProbeTransportOptions {
  /** Address of the receive socket: the service (br-vxlan) address; '0.0.0.0' also works. */
  listenAddress: string;
  /** Inner UDP port of the probe socket. Default 4799. */
  probePort?: number;
  /** Destination port of the outer UDP datagrams (vxlan0's dstport). Default 4789. */
  vxlanPort?: number;
  logger?: Logger;
}

interface Sender {
  fd: number;
  family: 4 | 6;
  /** Queued slots. */
  queue: number[];
}

export class MmsgProbeTransport implements ProbeTransport {
  private readonly c: Libc;
  private readonly log: Logger;
  private readonly vxlanPort: number;
  private handler: ((payload: Uint8Array, from: string) => void) | undefined;
  private closed = false;
  // Send side: slots, each with its data, iovec, sockaddr and a ready mmsghdr
  // (tmpl); at a flush a socket's headers are copied together into `hdr`.
  private readonly tx: Region;
  private readonly txData: number;
  private readonly txIov: number;
  private readonly txAddr: number;
  private readonly txTmpl: number;
  private readonly txFree: number[] = [];
  private readonly txLocal: string[] = [];
  private readonly txRemote: string[] = [];
  private readonly senders = new Map<string, Sender>();
  private readonly busy: Sender[] = [];
  private readonly retryAt = new Map<string, number>();
  private flushQueued = false;
  private readonly sockaddrs = new Map<string, Uint8Array>();
  /** Send errors per local>remote since the last successful send (logged once per burst). */
  private readonly failing = new Set<string>();
  // Receive side.
  private readonly rx: Region;
  private readonly rxData: number;
  private readonly rxAddr: number;
  private rxUsed = RX_SLOTS;
  private readonly names = new Map<number, string>();
  private rxErrorLogged = false;
  /** System calls made (sendmmsg, recvmmsg) and datagrams moved: for tests and the bench. */
  readonly stats = { sendCalls: 0, sent: 0, recvCalls: 0, received: 0 };

  private constructor(c: Libc, private readonly rxFd: number, opts: MmsgProbeTransportOptions) {
    this.c = c;
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'probe-mmsg' });
    this.vxlanPort = opts.vxlanPort ?? VXLAN_PORT;

    // The headers handed to sendmmsg/recvmmsg come first: the region's pointer is theirs.
    this.txData = SEND_SLOTS * MSGHDR;
    this.txIov = this.txData + SEND_SLOTS * SEND_SLOT_BYTES;
    this.txAddr = this.txIov + SEND_SLOTS * IOVEC;
    this.txTmpl = this.txAddr + SEND_SLOTS * SOCKADDR;
    this.tx = new Region(this.txTmpl + SEND_SLOTS * MSGHDR);
    const tv = this.tx.dv;
    for (let i = 0; i < SEND_SLOTS; i++) {
      this.tx.pointer(tv, this.txIov + i * IOVEC, this.txData + i * SEND_SLOT_BYTES); // iov_base
      const h = this.txTmpl + i * MSGHDR;
      this.tx.pointer(tv, h, this.txAddr + i * SOCKADDR); // msg_name
      this.tx.pointer(tv, h + 16, this.txIov + i * IOVEC); // msg_iov
      tv.setUint32(h + 24, 1, true); // msg_iovlen
      this.txFree.push(SEND_SLOTS - 1 - i);
      this.txLocal.push('');
      this.txRemote.push('');
    }

    this.rxData = RX_SLOTS * MSGHDR;
    const rxIov = this.rxData + RX_SLOTS * RX_SLOT_BYTES;
    this.rxAddr = rxIov + RX_SLOTS * IOVEC;
    this.rx = new Region(this.rxAddr + RX_SLOTS * SOCKADDR);
    const rv = this.rx.dv;
    for (let i = 0; i < RX_SLOTS; i++) {
      const iov = rxIov + i * IOVEC;
      this.rx.pointer(rv, iov, this.rxData + i * RX_SLOT_BYTES);
      rv.setUint32(iov + 8, RX_SLOT_BYTES, true); // iov_len
      const h = i * MSGHDR;
      this.rx.pointer(rv, h, this.rxAddr + i * SOCKADDR);
      this.rx.pointer(rv, h + 16, iov);
      rv.setUint32(h + 24, 1, true);
    }
  }


  /**
   * Make and bind the receive socket. Throws an MmsgError (code EADDRINUSE,
   * EADDRNOTAVAIL, ...) if that fails, and when the batched transport is not
   * available here (code ENOSYS: use udp.ts).
   */
  static open(opts: MmsgProbeTransportOptions): MmsgProbeTransport {
    const c = lib();
    if (c === null) throw new MmsgError('open', 'ENOSYS', 38);
    if (familyOf(opts.listenAddress) !== 4) throw new RangeError(`probe listen address must be IPv4 (the inner packet is IPv4): ${opts.listenAddress}`);
    const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) throw failure('socket');
    try {
      const sa = encodeSockaddr(4, opts.listenAddress, opts.probePort ?? DEFAULT_PROBE_PORT);
      if (c.bind(fd, sa, sa.length) < 0) throw failure(`bind(${opts.listenAddress}:${opts.probePort ?? DEFAULT_PROBE_PORT})`);
      // Beyond net.core.rmem_max where allowed (CAP_NET_ADMIN), else as much as it allows.
      const size = int32(RX_BUFFER);
      if (c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4) < 0) c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4);
      return new MmsgProbeTransport(c, fd, opts);
    } catch (err) {
      c.close(fd);
      throw err;
    }
  }

  /** The receive socket's port (useful when opened with probePort 0). */
  get port(): number {
    const sa = new Uint8Array(16);
    const len = Uint32Array.of(16);
    if (this.c.getsockname(this.rxFd, sa, len) < 0) throw failure('getsockname');
    return (sa[2]! << 8) | sa[3]!;
  }

  onReceive(handler: (payload: Uint8Array, from: string) => void): void {
    this.handler = handler;
  }

  send(localVtep: string, remoteVtep: string, datagram: Uint8Array): void {
    if (this.closed) return;
    if (datagram.length > SEND_SLOT_BYTES) {
      this.log.warn({ localVtep, remoteVtep, bytes: datagram.length }, 'probe datagram too long: not sent');
      return;
    }
    const s = this.senders.get(localVtep) ?? this.openSender(localVtep);
    if (s === undefined) return;
    if (this.txFree.length === 0) this.flush();
    const slot = this.txFree.pop()!;
    const tv = this.tx.dv;
    this.tx.u8.set(datagram, this.txData + slot * SEND_SLOT_BYTES);
    tv.setUint32(this.txIov + slot * IOVEC + 8, datagram.length, true); // iov_len
    let sa = this.sockaddrs.get(remoteVtep);
    if (sa === undefined || (sa.length === 16) !== (s.family === 4)) {
      try {
        sa = encodeSockaddr(s.family, remoteVtep, this.vxlanPort);
      } catch (err) {
        this.txFree.push(slot);
        this.sendFailed(localVtep, remoteVtep, err instanceof Error ? err : new Error(String(err)));
        return;
      }
      if (this.sockaddrs.size > 65536) this.sockaddrs.clear();
      this.sockaddrs.set(remoteVtep, sa);
    }
    this.tx.u8.set(sa, this.txAddr + slot * SOCKADDR);
    tv.setUint32(this.txTmpl + slot * MSGHDR + 8, sa.length, true); // msg_namelen
    this.txLocal[slot] = localVtep;
    this.txRemote[slot] = remoteVtep;
    if (s.queue.length === 0) this.busy.push(s);
    s.queue.push(slot);
    if (!this.flushQueued) {
      this.flushQueued = true;
      queueMicrotask(() => this.flush());
    }
  }

  /** Hand every queued datagram to the kernel: one sendmmsg per local socket (more only after an error). */
  flush(): void {
    this.flushQueued = false;
    if (this.closed) return;
    for (const s of this.busy) {
      const q = s.queue;
      let done = 0;
      while (done < q.length) {
        // The headers of q[done..] side by side at the start of the region.
        const u8 = this.tx.u8;
        for (let j = done; j < q.length; j++) u8.copyWithin((j - done) * MSGHDR, this.txTmpl + q[j]! * MSGHDR, this.txTmpl + (q[j]! + 1) * MSGHDR);
        const n = this.c.sendmmsg(s.fd, this.tx.ptr, q.length - done, 0);
        this.stats.sendCalls++;
        if (n <= 0) {
          // The datagram at the head failed (sendmmsg(2): the error of the first
          // message not sent is returned by the next call): report it, go on with the rest.
          const slot = q[done]!;
          this.sendFailed(this.txLocal[slot]!, this.txRemote[slot]!, failure('sendmmsg'));
          done++;
          continue;
        }
        this.stats.sent += n;
        if (this.failing.size > 0) for (let j = done; j < done + n; j++) this.sendWorked(this.txLocal[q[j]!]!, this.txRemote[q[j]!]!);
        done += n;
      }
      for (const slot of q) this.txFree.push(slot);
      q.length = 0;
    }
    this.busy.length = 0;
  }

  /** Read every datagram waiting on the receive socket, handing each to the handler. */
  poll(): void {
    if (this.closed) return;
    const rv = this.rx.dv;
    const ab = this.rx.u8.buffer;
    const base = this.rx.u8.byteOffset;
    for (let round = 0; round < 64 && !this.closed; round++) {
      for (let i = 0; i < this.rxUsed; i++) rv.setUint32(i * MSGHDR + 8, 16, true); // msg_namelen
      const n = this.c.recvmmsg(this.rxFd, this.rx.ptr, RX_SLOTS, MSG_DONTWAIT, null);
      this.stats.recvCalls++;
      if (n < 0) {
        const errno = koffi.errno();
        if (errno !== EAGAIN && !this.rxErrorLogged) {
          this.rxErrorLogged = true;
          this.log.error({ err: failure('recvmmsg', errno) }, 'probe receive socket error');
        }
        this.rxUsed = 0;
        return;
      }
      this.rxUsed = n;
      this.stats.received += n;
      for (let i = 0; i < n; i++) {
        const len = Math.min(rv.getUint32(i * MSGHDR + MSG_LEN, true), RX_SLOT_BYTES);
        const a = rv.getUint32(this.rxAddr + i * SOCKADDR + 4, false); // sin_addr, network order
        let from = this.names.get(a);
        if (from === undefined) {
          from = `${a >>> 24}.${(a >>> 16) & 255}.${(a >>> 8) & 255}.${a & 255}`;
          if (this.names.size > 65536) this.names.clear();
          this.names.set(a, from);
        }
        // A view of the slot: valid during the call only (the next poll overwrites it).
        this.handler?.(new Uint8Array(ab, base + this.rxData + i * RX_SLOT_BYTES, len), from);
      }
      if (n < RX_SLOTS) return;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.c.close(this.rxFd);
    for (const s of this.senders.values()) this.c.close(s.fd);
    this.senders.clear();
    this.busy.length = 0;
    this.tx.free();
    this.rx.free();
  }

  private openSender(local: string): Sender | undefined {
    const retry = this.retryAt.get(local);
    if (retry !== undefined && performance.now() < retry) return undefined;
    let family: 4 | 6;
    try {
      family = familyOf(local) as 4 | 6;
    } catch (err) {
      this.senderFailed(local, err instanceof Error ? err : new Error(String(err)));
      return undefined;
    }
    const fd = this.c.socket(family === 4 ? AF_INET : AF_INET6, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      this.senderFailed(local, failure('socket'));
      return undefined;
    }
    const sa = encodeSockaddr(family, local, 0);
    if (this.c.bind(fd, sa, sa.length) < 0) {
      // Typically EADDRNOTAVAIL: the uplink address is not (yet) configured.
      const err = failure(`bind(${local})`);
      this.c.close(fd);
      this.senderFailed(local, err);
      return undefined;
    }
    // A send buffer for a few ticks' bursts; nothing is read from this socket.
    this.c.setsockopt(fd, SOL_SOCKET, SO_SNDBUF, int32(RX_BUFFER), 4);
    this.c.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, int32(4096), 4);
    this.retryAt.delete(local);
    const s: Sender = { fd, family, queue: [] };
    this.senders.set(local, s);
    return s;
  }

  private senderFailed(local: string, err: Error): void {
    // Probes meanwhile are misses; the socket is tried again after RETRY_MS.
    if (!this.retryAt.has(local)) this.log.warn({ err, localVtep: local }, 'probe send socket error');
    this.retryAt.set(local, performance.now() + RETRY_MS);
  }

  private sendFailed(local: string, remote: string, err: Error): void {
    const key = `${local}>${remote}`;
    if (!this.failing.has(key)) this.log.warn({ err, localVtep: local, remoteVtep: remote }, 'probe send failed');
    this.failing.add(key);
  }

  private sendWorked(local: string, remote: string): void {
    if (this.failing.delete(`${local}>${remote}`)) this.log.info({ localVtep: local, remoteVtep: remote }, 'probe send works again');
  }
}
