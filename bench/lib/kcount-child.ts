// Counts server-l's kernel entries for the generator's MACs, run inside the
// server's namespace (`ip netns exec <ns> node kcount-child.js <vxlan> <bridge>`).
// The state is kept from rtnetlink events (RTNLGRP_NEIGH, RTNLGRP_NEXTHOP), seeded
// by a dump at start and re-seeded after an event-socket overflow (counted). The
// event socket is in a child of its own, the agent's event pump
// (src/kernel/event-pump.ts): netlink 0.3.0's addon aborts the process on an
// overflow (POLLERR), which used to end a bench run with `kernel count: child
// exited`; now only the pump dies, and it is restarted and the state re-seeded. A
// bridge FDB dump re-walks the table for every 32 KiB datagram, so dumping 50,000
// entries took 5 s on the loaded machine, far too slow to time anything with.
// One line in per count, one JSON line out:
//   {"fdb":{"net1":n,"net2":n,"other":n},"master":n,"neigh":n,"nh":n,"overflows":n,"repairs":n,"epoch":n,"t0":ms,"t1":ms}
// repairs: re-seeds that found a state the events had not shown (events lost).
// epoch: re-seeds completed. t1 is kept by bench/lib/phase-clock.ts's ChangeClock:
// an event's time, or the end of a re-seed that found another state (never the
// start of a dump: a phase starting while a dump ran got an end before its start).
// fdb: vxlan0's own (NTF_SELF) entries whose MAC starts 02:ab (the generator's), by
// the network of their remote VTEP: NDA_DST, or with an FDB nexthop (NDA_NH_ID) the
// gateway of the nexthop or of the group's members (a group spanning both networks
// is "other"). master: bridge (master) FDB entries on the vxlan0 port for those
// MACs. neigh: neighbour entries on the bridge for 10.0.0.0/8 with a link-layer
// address. nh: FDB nexthops and groups. t0: now; t1: when the state last changed.
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { RawNetlinkSocket } from 'netlink';
import { PumpDecoder } from '../../src/kernel/event-pump.js';
import { raisePumpPriority } from '../../src/kernel/rtnl-events.js';
import { ChangeClock } from './phase-clock.js';

const RTM_GETNEIGH = 30;
const RTM_GETNEXTHOP = 106;
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLM_F_REQUEST = 1;
const NLM_F_DUMP = 0x300;
const AF_UNSPEC = 0;
const AF_INET = 2;
const AF_BRIDGE = 7;
const NDA_DST = 1;
const NDA_LLADDR = 2;
const NDA_NH_ID = 13;
const NTF_SELF = 0x02;
const NHA_ID = 1;
const NHA_GROUP = 2;
const NHA_GATEWAY = 6;
const NHA_FDB = 11;

const [vxlanName = 'vxlan0', bridgeName = 'br-vxlan'] = process.argv.slice(2);
const ifindex = (name: string): number => Number(readFileSync(`/sys/class/net/${name}/ifindex`, 'utf8').trim());
const VXLAN = ifindex(vxlanName);
const BRIDGE = ifindex(bridgeName);

const sock = new RawNetlinkSocket(0, { recvBufferSize: 4 << 20, sendBufferSize: 1 << 20, messagePeeking: false, msgBufferSize: 32 * 1024 });
let seq = 1;
let pending: { seq: number; onMsg: (type: number, payload: Buffer) => void; done: (err: Error | null) => void } | null = null;

sock.on('message', (buf: Buffer) => {
  let off = 0;
  while (off + 16 <= buf.length) {
    const len = buf.readUInt32LE(off);
    if (len < 16) break;
    const type = buf.readUInt16LE(off + 4);
    const s = buf.readUInt32LE(off + 8);
    const p = pending;
    if (p && s === p.seq) {
      if (type === NLMSG_DONE) { pending = null; p.done(null); }
      else if (type === NLMSG_ERROR) {
        const errno = -buf.readInt32LE(off + 16);
        pending = null;
        p.done(errno === 0 ? null : new Error(`dump errno ${errno}`));
      } else p.onMsg(type, buf.subarray(off + 16, off + len));
    }
    off += (len + 3) & ~3;
  }
});

function dump(type: number, fixed: Buffer, onMsg: (type: number, payload: Buffer) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = seq++;
    const hdr = Buffer.alloc(16);
    hdr.writeUInt32LE(16 + fixed.length, 0);
    hdr.writeUInt16LE(type, 4);
    hdr.writeUInt16LE(NLM_F_REQUEST | NLM_F_DUMP, 6);
    hdr.writeUInt32LE(s, 8);
    pending = { seq: s, onMsg, done: (e) => (e ? reject(e) : resolve()) };
    sock.send(Buffer.concat([hdr, fixed]), undefined, (err) => { if (err) { pending = null; reject(err); } });
  });
}

/** Visit attributes from `start`: fn(type, valueOffset, valueLength). */
function attrs(b: Buffer, start: number, fn: (type: number, at: number, len: number) => void): void {
  let off = start;
  while (off + 4 <= b.length) {
    const len = b.readUInt16LE(off);
    if (len < 4 || off + len > b.length) return;
    fn(b.readUInt16LE(off + 2) & 0x3fff, off + 4, len - 4);
    off += (len + 3) & ~3;
  }
}

/** Network of an IPv4 VTEP 192.168.<n>.x: 1, 2, or 0 for anything else. */
function netOf(b: Buffer, at: number, len: number): number {
  if (len !== 4 || b[at] !== 192 || b[at + 1] !== 168) return 0;
  const n = b[at + 2]!;
  return n === 1 || n === 2 ? n : 0;
}

// ---- state kept from events (seeded, and re-seeded after an overflow, by dumps) ----

/** Generator MAC (low 32 bits) -> target: 0, 1, 2 = network of NDA_DST; -id = FDB nexthop id. */
const fdbTarget = new Map<number, number>();
const direct = [0, 0, 0];
const nhRefs = new Map<number, number>();
const masters = new Set<number>();
const neighs = new Set<number>();
/** FDB nexthop id -> network of its gateway; group id -> member ids. */
const nhNet = new Map<number, number>();
const nhGroups = new Map<number, number[]>();
const clock = new ChangeClock();
let overflows = 0;
/** When the last seed started (the idle check re-seeds after changes seen since). */
let seededAt = 0;
/** False while a dump's entries are applied: those are no changes of their own. */
let fromEvent = true;
/** When an event last changed the state (the idle check's clock; re-seeds do not move it). */
let eventAt = 0;
const changed = (): void => { if (fromEvent) { eventAt = Date.now(); clock.changed(eventAt); } };

function unref(v: number | undefined): void {
  if (v === undefined) return;
  if (v >= 0) direct[v]!--;
  else {
    const n = (nhRefs.get(-v) ?? 1) - 1;
    if (n <= 0) nhRefs.delete(-v); else nhRefs.set(-v, n);
  }
}

function ref(v: number): void {
  if (v >= 0) direct[v]!++;
  else nhRefs.set(-v, (nhRefs.get(-v) ?? 0) + 1);
}

const NUD_INCOMPLETE = 0x01;
const NUD_FAILED = 0x20;

/** Apply one RTM_NEWNEIGH / RTM_DELNEIGH payload (from a dump or an event). */
function onNeigh(type: number, p: Buffer): void {
  const family = p[0]!;
  const ifindex = p.readInt32LE(4);
  if (family === AF_BRIDGE && ifindex === VXLAN) {
    let key = -1; let target = 0;
    attrs(p, 12, (t, at, len) => {
      if (t === NDA_LLADDR && len === 6 && p[at] === 0x02 && p[at + 1] === 0xab) key = p.readUInt32BE(at + 2);
      else if (t === NDA_DST) target = netOf(p, at, len);
      else if (t === NDA_NH_ID) target = -p.readUInt32LE(at);
    });
    if (key < 0) return;
    const self = (p[10]! & NTF_SELF) !== 0;
    if (!self) {
      if (type === RTM_NEWNEIGH) masters.add(key); else masters.delete(key);
    } else {
      unref(fdbTarget.get(key));
      if (type === RTM_NEWNEIGH) { fdbTarget.set(key, target); ref(target); } else fdbTarget.delete(key);
    }
    changed();
  } else if (family === AF_INET && ifindex === BRIDGE) {
    let ip = -1; let ll = false;
    attrs(p, 12, (t, at, len) => {
      if (t === NDA_DST && len === 4 && p[at] === 10) ip = p.readUInt32BE(at);
      else if (t === NDA_LLADDR) ll = len === 6;
    });
    if (ip < 0) return;
    const state = p.readUInt16LE(8);
    if (type === RTM_NEWNEIGH && ll && (state & (NUD_INCOMPLETE | NUD_FAILED)) === 0) neighs.add(ip); else neighs.delete(ip);
    changed();
  }
}

function onNexthop(type: number, p: Buffer): void {
  let id = 0; let fdb = false; let net = 0; let members: number[] | null = null;
  attrs(p, 8, (t, at, len) => {
    if (t === NHA_ID) id = p.readUInt32LE(at);
    else if (t === NHA_FDB) fdb = true;
    else if (t === NHA_GATEWAY) net = netOf(p, at, len);
    else if (t === NHA_GROUP) {
      members = [];
      for (let o = at; o + 8 <= at + len; o += 8) members.push(p.readUInt32LE(o));
    }
  });
  nhNet.delete(id);
  nhGroups.delete(id);
  if (type === RTM_NEWNEXTHOP && fdb) {
    if (members) nhGroups.set(id, members); else nhNet.set(id, net);
  }
  changed();
}

/** Network of a nexthop or group: 1, 2, 0 unknown, -1 a group spanning both. */
function netOfNh(id: number): number {
  const g = nhGroups.get(id);
  if (!g) return nhNet.get(id) ?? 0;
  let net: number | null = null;
  for (const m of g) {
    const x = nhNet.get(m) ?? 0;
    if (net === null) net = x; else if (net !== x) return -1;
  }
  return net ?? 0;
}

/**
 * A summary of the counted state, to tell whether a re-seed changed anything: with
 * the nexthops' and groups' targets (a failover by group replace changes only those;
 * comparing their numbers alone let a re-seed during a failover date the failover
 * from before the fault).
 */
function signature(): string {
  // Sorted: an event re-inserts a replaced nexthop at the end of its map, a dump
  // refills in id order; the same content must give the same signature.
  const sorted = <V>(m: Map<number, V>): Array<[number, V]> => [...m].sort((a, b) => a[0] - b[0]);
  return JSON.stringify([direct, sorted(nhRefs), masters.size, neighs.size, sorted(nhNet), sorted(nhGroups)]);
}

/** A dump's entries applied without dating a change (events during the dump still do). */
const quiet = (fn: (type: number, p: Buffer) => void) => (type: number, p: Buffer): void => {
  fromEvent = false;
  try { fn(type, p); } finally { fromEvent = true; }
};

async function seed(): Promise<void> {
  clock.seedStart(signature());
  seededAt = Date.now();
  try {
    fdbTarget.clear(); direct.fill(0); nhRefs.clear(); masters.clear(); neighs.clear(); nhNet.clear(); nhGroups.clear();
    try { await dump(RTM_GETNEXTHOP, Buffer.alloc(8), quiet(onNexthop)); } catch { /* no nexthop support */ }
    await dump(RTM_GETNEIGH, Buffer.from([AF_BRIDGE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), quiet(onNeigh));
    await dump(RTM_GETNEIGH, Buffer.from([AF_INET, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), quiet(onNeigh));
  } finally {
    // Events may be lost without an error report; a dump that finds another state
    // counts as a repair, and the change dates from the dump's end (late, never
    // before a phase that started while the dump ran).
    clock.seedEnd(Date.now(), signature());
  }
}

/**
 * Re-seed when nothing changed for a second since the last change after the last
 * seed: a wait that never completes because of a lost event is repaired. `since`:
 * the start of the phase the count is for (0: none). Not within a second of it: the
 * quiet time before a phase (the previous phase's last event) is no sign of a lost
 * event, and a re-seed whose dump ran over the phase's first changes dated them at
 * the dump's end (a 300 ms failover at N=50,000 read as the ~1 s dump).
 */
function idleCheck(since: number): void {
  if (seeding === null && eventAt > seededAt && Date.now() - Math.max(eventAt, since) > 1000) {
    reseed();
  }
}

function count(): object {
  const fdb = { net1: direct[1]!, net2: direct[2]!, other: direct[0]! };
  for (const [id, n] of nhRefs) {
    const net = netOfNh(id);
    if (net === 1) fdb.net1 += n; else if (net === 2) fdb.net2 += n; else fdb.other += n;
  }
  // t1: when the state last changed (the event that completed a wait), t0: now.
  return {
    fdb, master: masters.size, neigh: neighs.size, nh: nhNet.size + nhGroups.size, overflows, repairs: clock.repairs,
    epoch: clock.epoch, t0: Date.now(), t1: clock.lastChangeAt,
  };
}

// ---- the event socket, in the event pump ----
const RTM_NEWNEIGH = 28;
const RTM_DELNEIGH = 29;
const RTM_NEWNEXTHOP = 104;
const RTM_DELNEXTHOP = 105;
let seeding: Promise<void> | null = null;

function onEvents(buf: Buffer): void {
  try {
    let off = 0;
    while (off + 16 <= buf.length) {
      const len = buf.readUInt32LE(off);
      if (len < 16 || off + len > buf.length) break;
      const type = buf.readUInt16LE(off + 4);
      const payload = buf.subarray(off + 16, off + len);
      if (type === RTM_NEWNEIGH || type === RTM_DELNEIGH) onNeigh(type, payload);
      else if (type === RTM_NEWNEXTHOP || type === RTM_DELNEXTHOP) onNexthop(type, payload);
      off += (len + 3) & ~3;
    }
  } catch { /* a malformed datagram: skip it */ }
}

/** Events lost (ENOBUFS reported, or the pump died): start over from a dump. */
function lost(): void {
  overflows++;
  reseed();
}

/** A seed after the one running, if any (the dump socket serves one dump at a time). */
function reseed(): void {
  const prev = seeding ?? Promise.resolve();
  seeding = prev.then(() => seed()).catch(() => undefined);
}

let pump: ChildProcess | null = null;
let closing = false;
const here = import.meta.url;
const pumpFile = fileURLToPath(new URL(here.endsWith('.ts') ? '../../src/kernel/event-pump.ts' : '../../src/kernel/event-pump.js', here));

/** Start the pump; `onReady` once its memberships are in place. Restarted (and re-seeded) when it dies. */
function startPump(onReady: () => void): void {
  const child = spawn(process.execPath, [...process.execArgv, pumpFile, '--evpn-ha-event-pump'], {
    stdio: ['pipe', 'pipe', 'ignore'],
    env: { ...process.env, EVPN_HA_PUMP_RCVBUF: String(64 << 20), EVPN_HA_PUMP_READ: String(64 * 1024) },
  });
  pump = child;
  // Above the agent, as the agent schedules its own pump: a counter that overflows
  // re-seeds by a dump and reports late.
  if (child.pid !== undefined) raisePumpPriority(child.pid);
  const dec = new PumpDecoder();
  child.stdout!.on('data', (chunk: Buffer) => dec.push(chunk, { frame: onEvents, lost, ready: onReady }));
  child.stdin!.on('error', () => {});
  child.on('exit', () => {
    if (closing || pump !== child) return;
    pump = null;
    // Died (the addon aborts on an overflow): events were lost; re-seed once the new one listens.
    startPump(lost);
  });
}

void AF_UNSPEC;
let chain: Promise<void> = Promise.resolve();
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  // "count [since]" or "fdb [since]" (since: the phase's start, ms since the epoch).
  const since = Number(line.split(' ')[1] ?? 0) || 0;
  chain = chain.then(async () => {
    try {
      idleCheck(since);
      for (let s = seeding; s !== null; s = seeding) { await s; if (seeding === s) seeding = null; }
      process.stdout.write(`${JSON.stringify(count())}\n`);
    } catch (e) {
      process.stdout.write(`${JSON.stringify({ error: e instanceof Error ? e.message : String(e) })}\n`);
    }
  });
});
rl.on('close', () => { closing = true; pump?.kill(); sock.close(); process.exit(0); });
startPump(() => {
  seed().then(() => process.stdout.write('{"ready":true}\n'), (e: unknown) => {
    process.stdout.write(`${JSON.stringify({ error: `seed dump: ${String(e)}` })}\n`);
  });
});
