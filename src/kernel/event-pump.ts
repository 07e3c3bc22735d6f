// The rtnetlink event socket, in a child process of its own.
//
// Why a process: netlink 0.3.0's native addon aborts the whole process (std::terminate
// on "Error in native callback") when libuv reports POLLERR on a socket, which is how
// an event-socket overflow (ENOBUFS) often shows up under a burst of events, e.g.
// our own 50,000-entry write. Here the abort costs only this pump: the parent sees it
// exit, reports 'overflow' (resync) and starts a new one.
//
// Protocol on stdout: frames of [u32le length][datagram bytes]; a length of
// 0xFFFFFFFF (no bytes) reports a socket error (lost events).
// Run as `node event-pump.js` (the parent does it); exits when stdin closes.
import { RawNetlinkSocket } from 'netlink';
import { withForcedRecvBuffer } from './netlink-fd.js';

export const PUMP_LOST = 0xffffffff;

export const PUMP_GROUPS = [1 /* LINK */, 3 /* NEIGH */, 5 /* IPV4_IFADDR */, 9 /* IPV6_IFADDR */, 32 /* NEXTHOP */] as const;

function runPump(): void {
  const size = Number(process.env['EVPN_HA_PUMP_RCVBUF'] ?? 8 * 1024 * 1024);
  const read = Number(process.env['EVPN_HA_PUMP_READ'] ?? 0);
  // Beyond net.core.rmem_max (netlink-fd.ts): a capped buffer overflows during the echo of a large write.
  const s = withForcedRecvBuffer(size, () => new RawNetlinkSocket(0, {
    recvBufferSize: size,
    sendBufferSize: 65536,
    ...(read > 0 ? { messagePeeking: false, msgBufferSize: read } : {}),
  })).socket;
  for (const g of PUMP_GROUPS) {
    // RTNLGRP_NEXTHOP exists from Linux 5.3 on; without it there are no nexthops to watch.
    try { s.addMembership(g); } catch (e) { if (g !== 32) throw e; }
  }
  const out = process.stdout;
  // The parent went away (EPIPE): nothing left to do.
  out.on('error', () => process.exit(0));
  // Datagrams are collected and written once per turn of the event loop: one pipe
  // write per burst instead of two per event.
  let queue: Buffer[] = [];
  let scheduled = false;
  const flush = (): void => {
    scheduled = false;
    const q = queue;
    queue = [];
    try { out.write(Buffer.concat(q)); } catch { /* parent gone; stdin close ends us */ }
  };
  const frame = (len: number, body?: Buffer): void => {
    const hdr = Buffer.allocUnsafe(4);
    hdr.writeUInt32LE(len, 0);
    queue.push(hdr);
    if (body) queue.push(body);
    if (!scheduled) { scheduled = true; setImmediate(flush); }
  };
  s.on('message', (buf) => frame(buf.length, buf));
  s.on('error', () => frame(PUMP_LOST));
  // Ready marker: a zero-length frame once the memberships are in place.
  out.write(Buffer.alloc(4));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

/** Reassembles the pump's frames from stdout chunks. */
export class PumpDecoder {
  private pending: Buffer = Buffer.alloc(0);

  /** Feed a chunk; calls `frame(buf)` per datagram, `lost()` per error marker, `ready()` per empty frame. */
  push(chunk: Buffer, on: { frame: (b: Buffer) => void; lost: () => void; ready: () => void }): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let off = 0;
    while (this.pending.length - off >= 4) {
      const len = this.pending.readUInt32LE(off);
      if (len === PUMP_LOST) { off += 4; on.lost(); continue; }
      if (this.pending.length - off - 4 < len) break;
      const body = this.pending.subarray(off + 4, off + 4 + len);
      off += 4 + len;
      if (len === 0) on.ready();
      else on.frame(body);
    }
    this.pending = this.pending.subarray(off);
  }
}

if (process.argv.includes('--evpn-ha-event-pump')) runPump();
