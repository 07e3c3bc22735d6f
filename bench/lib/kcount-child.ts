// Counts server-l's kernel entries for the generator's MACs, run inside the
// server's namespace (`ip netns exec <ns> node kcount-child.js <vxlan> <bridge>`).
// One line in per count ("count", or "fdb" to skip the neighbour dump: neigh -1),
// one JSON line out:
//   {"fdb":{"net1":n,"net2":n,"other":n},"master":n,"neigh":n,"nh":n,"t0":ms,"t1":ms}
// fdb: vxlan0's own (NTF_SELF) entries whose MAC starts 02:ab (the generator's), by the network of
// their remote VTEP: NDA_DST, or with an FDB nexthop (NDA_NH_ID) the gateway of the
// nexthop or of the group's members (a group whose members span both networks is
// "other"). neigh: neighbour entries on the bridge for 10.0.0.0/8 with a link-layer
// address. master: bridge (master) FDB entries on the vxlan0 port for those MACs.
// nh: FDB nexthops and groups in the namespace (for leak checks).
// Dumps are parsed in place (no per-entry objects): a 200,000-entry FDB dump takes
// about as long as the kernel needs to produce it.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { RawNetlinkSocket } from 'netlink';

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

async function count(fdbOnly: boolean): Promise<object> {
  const t0 = Date.now();
  // Nexthops first: id -> network (1, 2; 0 unknown; -1 mixed group).
  const nhNet = new Map<number, number>();
  const groups = new Map<number, number[]>();
  let nh = 0;
  const nhmsg = Buffer.alloc(8);
  try {
    await dump(RTM_GETNEXTHOP, nhmsg, (_t, p) => {
      let id = 0; let fdb = false; let net = 0; let members: number[] | null = null;
      attrs(p, 8, (type, at, len) => {
        if (type === NHA_ID) id = p.readUInt32LE(at);
        else if (type === NHA_FDB) fdb = true;
        else if (type === NHA_GATEWAY) net = netOf(p, at, len);
        else if (type === NHA_GROUP) {
          members = [];
          for (let o = at; o + 8 <= at + len; o += 8) members.push(p.readUInt32LE(o));
        }
      });
      if (!fdb) return;
      nh++;
      if (members) groups.set(id, members); else nhNet.set(id, net);
    });
  } catch { /* no nexthop support: entries carry NDA_DST */ }
  for (const [id, members] of groups) {
    const nets = new Set(members.map((m) => nhNet.get(m) ?? 0));
    nhNet.set(id, nets.size === 1 ? [...nets][0]! : -1);
  }
  const fdb = { net1: 0, net2: 0, other: 0 };
  let master = 0;
  await dump(RTM_GETNEIGH, Buffer.from([AF_BRIDGE, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), (_t, p) => {
    if (p.readInt32LE(4) !== VXLAN) return;
    const self = (p[10]! & NTF_SELF) !== 0;
    let ours = false; let net = 0;
    attrs(p, 12, (type, at, len) => {
      if (type === NDA_LLADDR) ours = len === 6 && p[at] === 0x02 && p[at + 1] === 0xab;
      else if (type === NDA_DST) net = netOf(p, at, len);
      else if (type === NDA_NH_ID) net = nhNet.get(p.readUInt32LE(at)) ?? 0;
    });
    if (!ours) return;
    if (!self) { master++; return; }
    if (net === 1) fdb.net1++; else if (net === 2) fdb.net2++; else fdb.other++;
  });
  let neigh = -1;
  if (!fdbOnly) neigh = 0;
  if (!fdbOnly) await dump(RTM_GETNEIGH, Buffer.from([AF_INET, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), (_t, p) => {
    if (p.readInt32LE(4) !== BRIDGE) return;
    let ten = false; let ll = false;
    attrs(p, 12, (type, at, len) => {
      if (type === NDA_DST) ten = len === 4 && p[at] === 10;
      else if (type === NDA_LLADDR) ll = len === 6;
    });
    if (ten && ll) neigh++;
  });
  return { fdb, master, neigh, nh, t0, t1: Date.now() };
}

void AF_UNSPEC;
let chain: Promise<void> = Promise.resolve();
const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  chain = chain.then(async () => {
    try { process.stdout.write(`${JSON.stringify(await count(line.trim() === 'fdb'))}\n`); } catch (e) {
      process.stdout.write(`${JSON.stringify({ error: e instanceof Error ? e.message : String(e) })}\n`);
    }
  });
});
rl.on('close', () => { sock.close(); process.exit(0); });
process.stdout.write('{"ready":true}\n');
