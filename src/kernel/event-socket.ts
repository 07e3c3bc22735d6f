// The rtnetlink event socket in this process, without the netlink addon: made, bound
// and read through libc (koffi, as net/sockopt.ts). The addon aborts the whole
// process when an overflowing socket reports POLLERR (event-pump.ts), which is why
// its event socket runs in a child process; a Node process costs ~45 MiB of RSS
// (node's own text and data) before it does anything. Here an overflow is an errno
// (ENOBUFS) like any other, and there is no child.
//
// * Waiting: poll(2) on a thread of libuv's pool (koffi's async call), on the socket
//   and an eventfd that stop() writes to: the event loop is free meanwhile. The agent
//   keeps one of the pool's threads (4 unless UV_THREADPOOL_SIZE says otherwise) for it.
// * Reading: recvmmsg(2) with MSG_DONTWAIT on the event loop, up to VLEN datagrams a
//   call into fixed buffers, copied into a queue. Every turn of the loop first empties
//   the socket (the kernel's buffer is what overflows, and this loop reads it only
//   between the agent's chunks of work), then hands on at most DELIVER_PER_TURN
//   datagrams (the pump's "one chunk per turn", so that the echo of a large write
//   does not hold up timers and sockets); the queue holds the rest, as the pump's
//   memory did.
// * Lost events: recvmmsg fails with ENOBUFS once after the socket overflowed (the
//   kernel dropped notifications), and a datagram larger than its slot is cut
//   (MSG_TRUNC): both are reported as an overflow, after which subscribers resync;
//   so is a queue that grows beyond MAX_QUEUED_BYTES (the agent cannot keep up), and the
//   first of a run of other read errors (retried after 100 ms, doubling up to 5 s).
// * Receive buffer: SO_RCVBUFFORCE (CAP_NET_ADMIN) beyond net.core.rmem_max, else
//   SO_RCVBUF (capped).
//
// The structures are laid out for LP64 Linux (x86_64, aarch64); elsewhere, or when
// libc's functions cannot be bound, `directEventsAvailable()` is false and the
// caller keeps the pump.
import koffi from 'koffi';
import type { Logger } from 'pino';
import { PUMP_GROUPS } from './event-pump.js';
import type { EventSource, EventSupervisorOptions } from './rtnl-events.js';

const AF_NETLINK = 16;
const NETLINK_ROUTE = 0;
const SOCK_RAW = 3;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;
const SO_RCVBUFFORCE = 33;
const SOL_NETLINK = 270;
const NETLINK_ADD_MEMBERSHIP = 1;
const MSG_DONTWAIT = 0x40;
const MSG_TRUNC = 0x20;
const POLLIN = 0x1;
const EINTR = 4;
const EAGAIN = 11;
const ENOBUFS = 105;
const RTNLGRP_NEXTHOP = 32;
const EFD_NONBLOCK = 0o4000;
const EFD_CLOEXEC = 0o2000000;

/** Datagrams per recvmmsg call. */
export const VLEN = 128;
/** Bytes per datagram slot: a rtnetlink notification is well below (a link message with stats ~2-3 KiB). */
export const SLOT = 32 * 1024;
/** recvmmsg calls per turn of the event loop at most (8,192 datagrams). */
export const READS_PER_TURN = 64;
/** Datagrams handed on per turn of the event loop at most (the pump's 64 KiB chunk held ~500). */
export const DELIVER_PER_TURN = 512;
/**
 * Bytes of datagrams read but not yet handed on, at most: beyond, they are dropped
 * for one overflow (a resync). A safety net for an agent that cannot keep up at all,
 * far above a legitimate backlog: the echo of a 200,000-route install (~600,000
 * notifications of 100-200 bytes) queues ~100 MiB while the agent writes. (A first
 * cap of 262,144 datagrams cut into exactly that backlog: a resync in every
 * 200,000 install, RSS 404 -> 830 MiB, install 19 -> 30 s.)
 */
export const MAX_QUEUED_BYTES = 512 * 2 ** 20;

// struct mmsghdr (LP64): struct msghdr { msg_name 0, msg_namelen 8, msg_iov 16,
// msg_iovlen 24, msg_control 32, msg_controllen 40, msg_flags 48 } (56 bytes), then
// unsigned msg_len at 56; 64 bytes. struct iovec { iov_base 0, iov_len 8 }: 16.
const MMSG = 64;
const IOV = 16;

type AsyncFn<A extends unknown[]> = ((...a: A) => number) & { async(...a: [...A, (err: unknown, res: number) => void]): void };

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, length: number): number;
  bind(fd: number, address: Uint8Array, length: number): number;
  close(fd: number): number;
  recvmmsg(fd: number, vec: Uint8Array, vlen: number, flags: number, timeout: null): number;
  eventfd(initval: number, flags: number): number;
  write(fd: number, buf: Uint8Array, count: number): number;
  poll: AsyncFn<[fds: Uint8Array, n: number, timeoutMs: number]>;
}

let libc: Libc | null | undefined;

function lib(): Libc | null {
  if (libc !== undefined) return libc;
  try {
    const self = koffi.load(null);
    libc = {
      socket: self.func('int socket(int, int, int)') as Libc['socket'],
      setsockopt: self.func('int setsockopt(int, int, int, const void *, uint32_t)') as Libc['setsockopt'],
      bind: self.func('int bind(int, const void *, uint32_t)') as Libc['bind'],
      close: self.func('int close(int)') as Libc['close'],
      recvmmsg: self.func('int recvmmsg(int, void *, unsigned int, int, void *)') as Libc['recvmmsg'],
      eventfd: self.func('int eventfd(unsigned int, int)') as Libc['eventfd'],
      write: self.func('long write(int, const void *, size_t)') as Libc['write'],
      poll: self.func('int poll(void *, unsigned long, int)') as Libc['poll'],
    };
  } catch {
    libc = null;
  }
  return libc;
}

/** Whether the event socket can run in this process without the addon. */
export function directEventsAvailable(): boolean {
  return process.platform === 'linux' && (process.arch === 'x64' || process.arch === 'arm64') && lib() !== null;
}

const int32 = (v: number): Uint8Array => {
  const b = Buffer.alloc(4);
  b.writeInt32LE(v, 0);
  return b;
};

/** A failed libc call, with the errno. */
export class EventSocketError extends Error {
  override name = 'EventSocketError';
  constructor(readonly call: string, readonly errno: number) {
    super(`${call}: errno ${errno}`);
  }
}

/** The bound socket with its memberships; throws EventSocketError. */
function openSocket(l: Libc, recvBufferSize: number, log: Logger | undefined): number {
  const fd = l.socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (fd < 0) throw new EventSocketError('socket(AF_NETLINK)', koffi.errno());
  try {
    const size = int32(recvBufferSize);
    if (l.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, size, 4) < 0) {
      // The line the request socket logs too (rtnl-requests.ts).
      log?.info({ socket: 'events', asked: recvBufferSize, why: `SO_RCVBUFFORCE: errno ${koffi.errno()}` }, 'kernel: the netlink receive buffers stay capped at net.core.rmem_max');
      if (l.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4) < 0) log?.warn({ errno: koffi.errno() }, 'kernel: SO_RCVBUF on the event socket failed; the default size stays');
    }
    // struct sockaddr_nl { sa_family_t nl_family; unsigned short nl_pad; u32 nl_pid; u32 nl_groups }:
    // pid 0 (the kernel assigns one), no legacy groups (memberships below).
    const sa = Buffer.alloc(12);
    sa.writeUInt16LE(AF_NETLINK, 0);
    if (l.bind(fd, sa, sa.length) < 0) throw new EventSocketError('bind', koffi.errno());
    for (const g of PUMP_GROUPS) {
      if (l.setsockopt(fd, SOL_NETLINK, NETLINK_ADD_MEMBERSHIP, int32(g), 4) < 0) {
        // RTNLGRP_NEXTHOP exists from Linux 5.3 on; without it there are no nexthops to watch.
        if (g !== RTNLGRP_NEXTHOP) throw new EventSocketError(`NETLINK_ADD_MEMBERSHIP ${g}`, koffi.errno());
      }
    }
    return fd;
  } catch (e) {
    l.close(fd);
    throw e;
  }
}

/**
 * The event socket in this process, read through libc. Throws EventSocketError
 * when the socket cannot be made (the caller falls back to the event pump).
 */
export function openDirectEvents(o: EventSupervisorOptions): EventSource {
  const l = lib();
  if (!l || !directEventsAvailable()) throw new EventSocketError('koffi', 0);
  const log = o.logger;
  // Four times the request socket's: read by the event loop between chunks of work, not by a
  // process of its own, the socket holds the echo of our own writes meanwhile.
  const fd = openSocket(l, o.recvBufferSize * 4, log);
  // stop() wakes the poll through this eventfd: the poll needs no timeout, and the
  // pool thread it holds is given back at once.
  const wake = l.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) {
    const errno = koffi.errno();
    l.close(fd);
    throw new EventSocketError('eventfd', errno);
  }
  // Each its own ArrayBuffer of more than 64 bytes, whose memory V8 never moves
  // (a typed array of at most 64 bytes may live inside the V8 heap): the kernel
  // writes into them, poll(2) on another thread. Not filled: only what the kernel
  // wrote is read.
  const area = Buffer.allocUnsafeSlow(VLEN * SLOT);
  const iov = Buffer.allocUnsafeSlow(VLEN * IOV).fill(0);
  const hdrs = Buffer.allocUnsafeSlow(VLEN * MMSG).fill(0);
  const ctl = Buffer.allocUnsafeSlow(128).fill(0);
  const areaAt = koffi.address(area);
  const iovAt = koffi.address(iov);
  for (let i = 0; i < VLEN; i++) {
    iov.writeBigUInt64LE(areaAt + BigInt(i * SLOT), i * IOV);
    iov.writeBigUInt64LE(BigInt(SLOT), i * IOV + 8);
    hdrs.writeBigUInt64LE(iovAt + BigInt(i * IOV), i * MMSG + 16);
    hdrs.writeBigUInt64LE(1n, i * MMSG + 24);
  }
  // Two struct pollfd { int fd; short events; short revents }: the socket, the eventfd;
  // then the eventfd's 8-byte counter for write(2).
  const pfds = ctl.subarray(0, 16);
  pfds.writeInt32LE(fd, 0);
  pfds.writeInt16LE(POLLIN, 4);
  pfds.writeInt32LE(wake, 8);
  pfds.writeInt16LE(POLLIN, 12);
  const one = ctl.subarray(64, 72);
  one.writeBigUInt64LE(1n, 0);

  let stopped = false;
  let polling = false;
  let closed = false;
  let immediate: NodeJS.Immediate | null = null;
  // The kernel reads the iovecs by address only: nothing in JS would keep `iov`
  // alive, and a collected buffer's memory is reused (EFAULT at best). Held here
  // until the fd is closed.
  const pinned: Buffer[] = [area, iov, hdrs, ctl];
  const close = (): void => {
    if (closed) return;
    closed = true;
    l.close(fd);
    l.close(wake);
    pinned.length = 0;
  };
  // Read but not yet handed on: datagrams, and losses (their reason). The kernel
  // reports ENOBUFS before the datagrams it had queued before the drop: a loss may
  // come before older events, which the resync it causes makes harmless.
  let queue: Array<Buffer | string> = [];
  let head = 0;
  /** Bytes of the datagrams in queue[head..]. */
  let queuedBytes = 0;
  let backoff: NodeJS.Timeout | null = null;
  /** Read failures in a row (other than EAGAIN, EINTR, ENOBUFS): one loss per run of them. */
  let failures = 0;
  /** Copy what the socket holds into the queue: 'empty' once it is drained, 'more' at the cap. */
  const read = (): 'empty' | 'more' | 'failed' => {
    for (let k = 0; k < READS_PER_TURN; k++) {
      const n = l.recvmmsg(fd, hdrs, VLEN, MSG_DONTWAIT, null);
      if (n < 0) {
        const errno = koffi.errno();
        if (errno === EAGAIN) return 'empty';
        if (errno === EINTR) continue;
        if (errno === ENOBUFS) {
          queue.push('ENOBUFS: the kernel dropped notifications');
          continue;
        }
        if (failures++ === 0) queue.push(`recvmmsg failed (errno ${errno})`);
        return 'failed';
      }
      failures = 0;
      for (let i = 0; i < n; i++) {
        const len = hdrs.readUInt32LE(i * MMSG + 56);
        const flags = hdrs.readInt32LE(i * MMSG + 48);
        // A copy: the slot is reused by the next read, subscribers may keep slices.
        if ((flags & MSG_TRUNC) !== 0) {
          queue.push(`a datagram larger than its ${SLOT}-byte buffer`);
          continue;
        }
        queue.push(Buffer.from(area.subarray(i * SLOT, i * SLOT + len)));
        queuedBytes += len;
      }
      if (queuedBytes > MAX_QUEUED_BYTES) {
        // The agent cannot keep up: what is queued is moot once it resyncs.
        queue = [`more than ${MAX_QUEUED_BYTES >> 20} MiB of datagrams waiting to be handled`];
        head = 0;
        queuedBytes = 0;
      }
      if (n < VLEN) return 'empty';
    }
    return 'more';
  };
  /** Hand on at most DELIVER_PER_TURN queued items. */
  const deliver = (): void => {
    const end = Math.min(queue.length, head + DELIVER_PER_TURN);
    while (head < end && !stopped) {
      const item = queue[head++]!;
      if (typeof item === 'string') {
        log?.warn({ why: item }, 'kernel: events lost (event socket overflow); subscribers must resync');
        try { o.onOverflow(); } catch (e) { log?.error({ err: e }, 'kernel: overflow handler threw'); }
      } else {
        queuedBytes -= item.length;
        try { o.onDatagram(item); } catch (e) { log?.error({ err: e }, 'kernel: event datagram handler threw'); }
      }
    }
    if (head === queue.length) {
      queue = [];
      head = 0;
    } else if (head > 4096) {
      queue = queue.slice(head);
      head = 0;
    }
  };
  /**
   * One turn: empty the socket into the queue (the kernel's buffer is what overflows,
   * so it is emptied first, whatever the queue holds), then hand on a bounded part.
   */
  const turn = (): void => {
    immediate = null;
    if (stopped) return close();
    const r = backoff ? 'empty' : read();
    if (r === 'failed') {
      // 100 ms, doubling up to 5 s while it keeps failing (a socket that went bad).
      const ms = Math.min(5000, 100 * 2 ** Math.min(6, failures - 1));
      if (failures === 1) log?.error({ retryInMs: ms }, 'kernel: reading the event socket failed; retrying');
      backoff = setTimeout(() => { backoff = null; if (!immediate && !polling && !stopped) turn(); }, ms);
    }
    deliver();
    if (stopped) return close();
    if (r === 'more' || head < queue.length) immediate = setImmediate(turn);
    else if (!backoff) wait();
  };
  const wait = (): void => {
    if (stopped) return close();
    polling = true;
    l.poll.async(pfds, 2, -1, (err, rc) => {
      polling = false;
      if (stopped) return close();
      if (err !== null && err !== undefined) {
        log?.error({ err }, 'kernel: poll on the event socket failed; retrying');
        backoff = setTimeout(() => { backoff = null; if (!stopped) turn(); }, 100);
        return;
      }
      if (rc === 0) return wait();
      turn();
    });
  };
  wait();
  return {
    kind: 'direct',
    ready: Promise.resolve(),
    pid: () => null,
    stop: () => {
      if (stopped) return;
      stopped = true;
      if (immediate) clearImmediate(immediate);
      immediate = null;
      if (backoff) clearTimeout(backoff);
      backoff = null;
      // A poll in flight on the pool keeps the fds: wake it; its callback closes them.
      if (!polling) close();
      else if (l.write(wake, one, 8) < 0) log?.error({ errno: koffi.errno() }, 'kernel: cannot wake the event socket\'s poll; its pool thread stays blocked');
    },
  };
}
