// The rtnetlink event socket in this process, without the netlink addon: made, bound
// and read through libc (koffi, as net/sockopt.ts). The addon aborts the whole
// process when an overflowing socket reports POLLERR (event-pump.ts), which is why
// its event socket runs in a child process; a Node process costs ~45 MiB of RSS
// (node's own text and data) before it does anything. Here an overflow is an errno
// (ENOBUFS) like any other, and there is no child.
//
// * Waiting: poll(2) with a timeout of POLL_MS on a thread of libuv's pool (koffi's
//   async call): the event loop is free meanwhile, and a stop is seen within POLL_MS.
// * Reading: recvmmsg(2) with MSG_DONTWAIT on the event loop, up to VLEN datagrams a
//   call into fixed buffers, copied into a queue. Every turn of the loop first empties
//   the socket (the kernel's buffer is what overflows, and this loop reads it only
//   between the agent's chunks of work), then hands on at most DELIVER_PER_TURN
//   datagrams (the pump's "one chunk per turn", so that the echo of a large write
//   does not hold up timers and sockets); the queue holds the rest, as the pump's
//   memory did.
// * Lost events: recvmmsg fails with ENOBUFS once after the socket overflowed (the
//   kernel dropped notifications), and a datagram larger than its slot is cut
//   (MSG_TRUNC): both are reported as an overflow, in their place among the
//   datagrams, after which subscribers resync.
// * Receive buffer: SO_RCVBUFFORCE (CAP_NET_ADMIN) beyond net.core.rmem_max, else
//   SO_RCVBUF (capped).
//
// The structures are laid out for LP64 Linux (x86_64, aarch64, ...); elsewhere, or
// without koffi, `directEventsAvailable()` is false and the caller keeps the pump.
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

/** Datagrams per recvmmsg call. */
export const VLEN = 128;
/** Bytes per datagram slot: a rtnetlink notification is well below (a link message with stats ~2-3 KiB). */
export const SLOT = 32 * 1024;
/** recvmmsg calls per turn of the event loop at most (8,192 datagrams). */
export const READS_PER_TURN = 64;
/** Datagrams handed on per turn of the event loop at most (the pump's 64 KiB chunk held ~500). */
export const DELIVER_PER_TURN = 512;
/** poll(2) timeout: how soon a stop is seen while nothing arrives. */
export const POLL_MS = 250;

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
      l.setsockopt(fd, SOL_SOCKET, SO_RCVBUF, size, 4);
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
  // Each its own ArrayBuffer, whose memory V8 never moves (a small typed array made
  // with `new Uint8Array(n)` or Buffer.alloc may live inside the V8 heap and move):
  // the kernel writes into them, poll(2) on another thread.
  const fixed = (n: number): Buffer => Buffer.allocUnsafeSlow(n).fill(0);
  const area = fixed(VLEN * SLOT);
  const iov = fixed(VLEN * IOV);
  const hdrs = fixed(VLEN * MMSG);
  const areaAt = koffi.address(area);
  const iovAt = koffi.address(iov);
  for (let i = 0; i < VLEN; i++) {
    iov.writeBigUInt64LE(areaAt + BigInt(i * SLOT), i * IOV);
    iov.writeBigUInt64LE(BigInt(SLOT), i * IOV + 8);
    hdrs.writeBigUInt64LE(iovAt + BigInt(i * IOV), i * MMSG + 16);
    hdrs.writeBigUInt64LE(1n, i * MMSG + 24);
  }
  // struct pollfd { int fd; short events; short revents }.
  const pfd = fixed(8);
  pfd.writeInt32LE(fd, 0);
  pfd.writeInt16LE(POLLIN, 4);

  let stopped = false;
  let polling = false;
  let closed = false;
  let immediate: NodeJS.Immediate | null = null;
  // The kernel reads the iovecs by address only: nothing in JS would keep `iov`
  // alive, and a collected buffer's memory is reused (EFAULT at best). Held here
  // until the fd is closed.
  const pinned: Buffer[] = [area, iov, hdrs, pfd];
  const close = (): void => {
    if (closed) return;
    closed = true;
    l.close(fd);
    pinned.length = 0;
  };
  // Read but not yet handed on: datagrams, and losses (their reason) in their place.
  let queue: Array<Buffer | string> = [];
  let head = 0;
  let backoff: NodeJS.Timeout | null = null;
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
        queue.push(`recvmmsg failed (errno ${errno})`);
        return 'failed';
      }
      for (let i = 0; i < n; i++) {
        const len = hdrs.readUInt32LE(i * MMSG + 56);
        const flags = hdrs.readInt32LE(i * MMSG + 48);
        // A copy: the slot is reused by the next read, subscribers may keep slices.
        queue.push((flags & MSG_TRUNC) !== 0 ? `a datagram of ${len} bytes, larger than its ${SLOT}-byte buffer` : Buffer.from(area.subarray(i * SLOT, i * SLOT + len)));
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
      backoff = setTimeout(() => { backoff = null; if (!immediate && !polling && !stopped) turn(); }, 100);
    }
    deliver();
    if (stopped) return close();
    if (r === 'more' || head < queue.length) immediate = setImmediate(turn);
    else if (!backoff) wait();
  };
  const wait = (): void => {
    if (stopped) return close();
    polling = true;
    l.poll.async(pfd, 1, POLL_MS, (err, rc) => {
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
      // A poll in flight on the pool keeps the fd; its callback closes it (within POLL_MS).
      if (!polling) close();
    },
  };
}
