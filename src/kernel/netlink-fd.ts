// The receive buffer of the netlink addon's sockets beyond net.core.rmem_max.
// netlink 0.3.0 sizes its socket with SO_RCVBUF, which the kernel caps at
// net.core.rmem_max (208 KiB on a stock kernel): the event socket then overflows
// during the echo of a large write (each overflow costs the agent a full dump and a
// re-plan of every key) and the request socket's window shrinks. The addon does not
// give its fd away, so the fd is found in /proc: the socket that appeared while the
// addon made it, checked to be a NETLINK_ROUTE socket in /proc/net/netlink; then
// SO_RCVBUFFORCE (CAP_NET_ADMIN, which the agent has anyway) sets the size asked for.
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { forceRecvBuffer } from '../net/sockopt.js';

/** fd -> socket inode of this process's sockets. */
export function socketFds(): Map<number, number> {
  const out = new Map<number, number>();
  let fds: string[];
  try {
    fds = readdirSync('/proc/self/fd');
  } catch {
    return out;
  }
  for (const f of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${f}`));
      if (m) out.set(Number(f), Number(m[1]));
    } catch { /* closed meanwhile */ }
  }
  return out;
}

/** Inodes of NETLINK_ROUTE sockets (/proc/net/netlink: sk Eth Pid Groups Rmem Wmem Dump Locks Drops Inode). */
function routeSocketInodes(): Set<number> {
  const out = new Set<number>();
  try {
    for (const line of readFileSync('/proc/net/netlink', 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 10 && f[1] === '0') out.add(Number(f[9]));
    }
  } catch { /* no procfs */ }
  return out;
}

export type ForceResult = { forced: true; fd: number } | { forced: false; why: string };

/**
 * Make a NETLINK_ROUTE socket with `make` and give it `bytes` of receive buffer
 * whatever net.core.rmem_max says. Returns the socket and what happened (without
 * CAP_NET_ADMIN or /proc it keeps the capped size the addon set).
 */
export function withForcedRecvBuffer<T>(bytes: number, make: () => T): { socket: T; result: ForceResult } {
  const before = socketFds();
  const socket = make();
  const fresh = [...socketFds()].filter(([fd, inode]) => before.get(fd) !== inode);
  const route = routeSocketInodes();
  const mine = fresh.filter(([, inode]) => route.has(inode));
  if (mine.length !== 1) return { socket, result: { forced: false, why: `found ${mine.length} new NETLINK_ROUTE sockets in /proc/self/fd` } };
  const fd = mine[0]![0];
  try {
    forceRecvBuffer(fd, bytes);
    return { socket, result: { forced: true, fd } };
  } catch (e) {
    return { socket, result: { forced: false, why: e instanceof Error ? e.message : String(e) } };
  }
}
