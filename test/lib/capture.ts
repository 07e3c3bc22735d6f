// Packet capture in a test namespace (tcpdump writing a pcap) and an independent
// pcap → TCP stream → BGP message extractor (no dependency on our own codec):
// pcap/pcap-ns files, link types Ethernet, Linux SLL and SLL2, IPv4 and IPv6.
import { once } from 'node:events';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { waitFor, type Lab } from './netns.js';

export const CAPTURE_ROOT = '/tmp/evpn-ha-logs';

/** BGP message types (RFC 4271 §4.1, RFC 2918). */
export const BGP_TYPE = { OPEN: 1, UPDATE: 2, NOTIFICATION: 3, KEEPALIVE: 4, ROUTE_REFRESH: 5 } as const;

export interface CaptureOptions {
  /** pcap filter (default 'tcp port 179'). */
  filter?: string;
  /** Output file (default /tmp/evpn-ha-logs/<ns>/<iface>-<n>.pcap). */
  file?: string;
}

export interface Capture {
  readonly file: string;
  readonly process: ChildProcess;
  /** Stop tcpdump (SIGINT by PID) and wait until the pcap is flushed. Idempotent. */
  stop(): Promise<void>;
  /** Stop, then extract the BGP messages of every TCP stream in the file. */
  bgp(): Promise<BgpFlow[]>;
}

let captureSeq = 0;

/** Start tcpdump on `iface` in `ns`; resolves once it is listening. */
export async function startCapture(lab: Lab, ns: string, iface: string, opts: CaptureOptions = {}): Promise<Capture> {
  const dir = join(CAPTURE_ROOT, ns);
  mkdirSync(dir, { recursive: true });
  const file = opts.file ?? join(dir, `${iface}-${captureSeq++}.pcap`);
  // -U: write each packet at once; -Z root: Debian's tcpdump otherwise drops to user tcpdump.
  const child = lab.spawn(ns, 'tcpdump', ['-i', iface, '-s', '0', '-U', '-n', '-Z', 'root', '-w', file, opts.filter ?? 'tcp port 179']);
  let stderr = '';
  child.stderr?.on('data', (b: Buffer) => { stderr += b.toString(); });
  child.stdout?.resume();
  const exited = once(child, 'exit');
  await Promise.race([
    waitFor(() => stderr.includes('listening on'), 5000, `tcpdump on ${ns}/${iface}`),
    exited.then(() => { throw new Error(`tcpdump on ${ns}/${iface} exited: ${stderr}`); }),
  ]);
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> => {
    stopped ??= (async () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      // Let in-flight packets reach the capture before stopping.
      await new Promise((r) => setTimeout(r, 200));
      try { process.kill(child.pid, 'SIGINT'); } catch { return; }
      const t = setTimeout(() => { try { process.kill(child.pid as number, 'SIGKILL'); } catch { /* gone */ } }, 3000);
      await exited;
      clearTimeout(t);
    })();
    return stopped;
  };
  return {
    file, process: child, stop,
    async bgp(): Promise<BgpFlow[]> { await stop(); return bgpFlows(readFileSync(file)); },
  };
}

// ---------------------------------------------------------------------------
// pcap parsing

export interface Packet {
  /** Seconds since the epoch (fractional). */
  time: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  seq: number;
  flags: number;
  payload: Uint8Array;
}

const TCP_SYN = 0x02;
const TCP_RST = 0x04;

function ipv4Str(b: Uint8Array, o: number): string {
  return `${b[o]}.${b[o + 1]}.${b[o + 2]}.${b[o + 3]}`;
}

function ipv6Str(b: Uint8Array, o: number): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[o + i] << 8) | b[o + i + 1]).toString(16));
  // Compress the longest run of zero groups (RFC 5952).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (parts[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && parts[j] === '0') j++;
    if (j - i > bestLen && j - i > 1) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return parts.join(':');
  return `${parts.slice(0, best).join(':')}::${parts.slice(best + bestLen).join(':')}`;
}

/** Decode the TCP packets of a pcap file (other packets are skipped). */
export function pcapTcpPackets(file: Uint8Array): Packet[] {
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  if (file.byteLength < 24) throw new Error('pcap: file too short');
  const magicBE = dv.getUint32(0, false);
  let le: boolean, nano: boolean;
  if (magicBE === 0xa1b2c3d4) { le = false; nano = false; }
  else if (magicBE === 0xd4c3b2a1) { le = true; nano = false; }
  else if (magicBE === 0xa1b23c4d) { le = false; nano = true; }
  else if (magicBE === 0x4d3cb2a1) { le = true; nano = true; }
  else throw new Error(`pcap: unknown magic 0x${magicBE.toString(16)} (pcapng is not supported)`);
  const linktype = dv.getUint32(20, le) & 0x0fffffff;
  const out: Packet[] = [];
  let off = 24;
  while (off + 16 <= file.byteLength) {
    const sec = dv.getUint32(off, le);
    const frac = dv.getUint32(off + 4, le);
    const incl = dv.getUint32(off + 8, le);
    const start = off + 16;
    off = start + incl;
    if (off > file.byteLength) break; // truncated last record
    const pkt = file.subarray(start, start + incl);
    const time = sec + frac / (nano ? 1e9 : 1e6);
    let l3: number, proto: number;
    const pv = new DataView(pkt.buffer, pkt.byteOffset, pkt.byteLength);
    if (linktype === 1) { // Ethernet
      if (pkt.length < 14) continue;
      proto = pv.getUint16(12); l3 = 14;
      while ((proto === 0x8100 || proto === 0x88a8) && pkt.length >= l3 + 4) { proto = pv.getUint16(l3 + 2); l3 += 4; }
    } else if (linktype === 113) { // Linux cooked v1
      if (pkt.length < 16) continue;
      proto = pv.getUint16(14); l3 = 16;
    } else if (linktype === 276) { // Linux cooked v2
      if (pkt.length < 20) continue;
      proto = pv.getUint16(0); l3 = 20;
    } else if (linktype === 101 || linktype === 12) { // raw IP
      l3 = 0; proto = (pkt[0] >> 4) === 6 ? 0x86dd : 0x0800;
    } else {
      throw new Error(`pcap: unsupported link type ${linktype}`);
    }
    let src: string, dst: string, l4: number, end: number;
    if (proto === 0x0800) {
      if (pkt.length < l3 + 20 || pkt[l3 + 9] !== 6) continue;
      const ihl = (pkt[l3] & 0x0f) * 4;
      end = Math.min(pkt.length, l3 + pv.getUint16(l3 + 2));
      src = ipv4Str(pkt, l3 + 12); dst = ipv4Str(pkt, l3 + 16);
      l4 = l3 + ihl;
    } else if (proto === 0x86dd) {
      if (pkt.length < l3 + 40 || pkt[l3 + 6] !== 6) continue; // no extension headers
      end = Math.min(pkt.length, l3 + 40 + pv.getUint16(l3 + 4));
      src = ipv6Str(pkt, l3 + 8); dst = ipv6Str(pkt, l3 + 24);
      l4 = l3 + 40;
    } else continue;
    if (end < l4 + 20) continue;
    const dataOff = (pkt[l4 + 12] >> 4) * 4;
    out.push({
      time, src, dst,
      sport: pv.getUint16(l4), dport: pv.getUint16(l4 + 2),
      seq: pv.getUint32(l4 + 4),
      flags: pkt[l4 + 13],
      payload: pkt.slice(l4 + dataOff, end),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------
// TCP reassembly

export interface TcpStream {
  src: string; sport: number; dst: string; dport: number;
  /** The reassembled byte stream of one direction of one connection. */
  data: Uint8Array;
  /** For each byte offset where a segment started, the capture time (sorted by offset). */
  segments: Array<{ offset: number; time: number }>;
  /** Bytes missing from the capture (holes); 0 when complete. */
  missing: number;
}

/**
 * Reassemble each direction of each TCP connection. A SYN starts a new stream for
 * the 4-tuple; retransmitted and overlapping bytes are kept once.
 */
export function tcpStreams(packets: Packet[]): TcpStream[] {
  interface Acc { key: string; isn: number | undefined; segs: Array<{ seq: number; time: number; data: Uint8Array }> }
  const open = new Map<string, Acc>();
  const all: Acc[] = [];
  for (const p of packets) {
    const key = `${p.src}|${p.sport}|${p.dst}|${p.dport}`;
    let acc = open.get(key);
    if ((p.flags & TCP_SYN) !== 0 || acc === undefined) {
      if (acc && (p.flags & TCP_SYN) !== 0 && acc.isn === ((p.seq + 1) >>> 0)) continue; // SYN retransmit
      acc = { key, isn: (p.flags & TCP_SYN) !== 0 ? (p.seq + 1) >>> 0 : undefined, segs: [] };
      open.set(key, acc);
      all.push(acc);
    }
    if (p.payload.length > 0) acc.segs.push({ seq: p.seq, time: p.time, data: p.payload });
    if ((p.flags & TCP_RST) !== 0) open.delete(key);
  }
  const streams: TcpStream[] = [];
  for (const acc of all) {
    const [src, sport, dst, dport] = acc.key.split('|');
    if (acc.segs.length === 0) continue;
    const isn = acc.isn ?? acc.segs.reduce((m, s) => (((s.seq - m) | 0) < 0 ? s.seq : m), acc.segs[0].seq);
    const segs = acc.segs
      .map((s) => ({ off: (s.seq - isn) >>> 0, time: s.time, data: s.data }))
      .filter((s) => s.off < 0x80000000)
      .sort((a, b) => a.off - b.off || a.time - b.time);
    const chunks: Uint8Array[] = [];
    const marks: Array<{ offset: number; time: number }> = [];
    let cursor = 0, missing = 0;
    for (const s of segs) {
      const end = s.off + s.data.length;
      if (end <= cursor) continue;
      if (s.off > cursor) { missing += s.off - cursor; cursor = s.off; break; }
      marks.push({ offset: cursor, time: s.time });
      chunks.push(s.data.subarray(cursor - s.off));
      cursor = end;
    }
    const total = chunks.reduce((n, c) => n + c.length, 0);
    const data = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) { data.set(c, o); o += c.length; }
    streams.push({ src, sport: Number(sport), dst, dport: Number(dport), data, segments: marks, missing });
  }
  return streams;
}

// ---------------------------------------------------------------------------
// BGP framing (RFC 4271 §4.1: 16-byte marker of ones, 2-byte length, 1-byte type)

export interface BgpFlow {
  src: string; sport: number; dst: string; dport: number;
  /** Whole BGP messages, header included, in order. */
  messages: Uint8Array[];
  /** Capture time of the segment holding each message's first byte. */
  times: number[];
  /** Bytes after the last whole message (a cut-off capture), or a framing error. */
  trailing: number;
  error?: string;
}

/** Split a byte stream into BGP messages. */
export function splitBgpMessages(data: Uint8Array): { messages: Uint8Array[]; offsets: number[]; rest: number; error?: string } {
  const messages: Uint8Array[] = [];
  const offsets: number[] = [];
  let o = 0;
  while (data.length - o >= 19) {
    for (let i = 0; i < 16; i++) {
      if (data[o + i] !== 0xff) return { messages, offsets, rest: data.length - o, error: `bad marker at offset ${o}` };
    }
    const len = (data[o + 16] << 8) | data[o + 17];
    if (len < 19 || len > 65535) return { messages, offsets, rest: data.length - o, error: `bad length ${len} at offset ${o}` };
    if (data.length - o < len) break;
    messages.push(data.slice(o, o + len));
    offsets.push(o);
    o += len;
  }
  return { messages, offsets, rest: data.length - o };
}

/** BGP messages of every TCP stream with port 179 on either side, in capture order. */
export function bgpFlows(pcap: Uint8Array, port = 179): BgpFlow[] {
  return tcpStreams(pcapTcpPackets(pcap))
    .filter((s) => s.sport === port || s.dport === port)
    .map((s) => {
      const { messages, offsets, rest, error } = splitBgpMessages(s.data);
      const times = offsets.map((off) => {
        let t = s.segments[0]?.time ?? 0;
        for (const m of s.segments) { if (m.offset <= off) t = m.time; else break; }
        return t;
      });
      const flow: BgpFlow = { src: s.src, sport: s.sport, dst: s.dst, dport: s.dport, messages, times, trailing: rest };
      if (error) flow.error = error;
      if (s.missing) flow.error = `${flow.error ? `${flow.error}; ` : ''}${s.missing} bytes missing from capture`;
      return flow;
    });
}

/** The messages one speaker (by source address) sent, across all its connections. */
export function messagesFrom(flows: BgpFlow[], src: string, type?: number): Uint8Array[] {
  return flows.filter((f) => f.src === src).flatMap((f) => f.messages).filter((m) => type === undefined || m[18] === type);
}

export function toHex(b: Uint8Array, wrap = 64): string {
  const hex = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
  if (!wrap) return hex;
  return (hex.match(new RegExp(`.{1,${wrap}}`, 'g')) ?? []).join('\n');
}

export function fromHex(text: string): Uint8Array {
  const clean = text.replace(/[^0-9a-fA-F]/g, '');
  return new Uint8Array(Buffer.from(clean, 'hex'));
}
