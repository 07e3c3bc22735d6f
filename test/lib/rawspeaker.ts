// A scripted BGP speaker for interop experiments: a small node child process inside
// a namespace that sends exactly the bytes it is given (hand-made or produced by our
// encoder) and reports every whole message it receives. It answers an OPEN with a
// KEEPALIVE and sends KEEPALIVEs periodically, nothing else: no FSM, no checks.
// Messages here are built by hand (RFC 4271 §4), independently of src/bgp.
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { waitFor, type Lab } from './netns.js';

const CHILD = `
const net = require('node:net');
const [mode, host, port, keepaliveMs, openHex] = process.argv.slice(1);
const KA = Buffer.from('ffffffffffffffffffffffffffffffff001304', 'hex');
let sock = null, buf = Buffer.alloc(0), timer = null;
const out = (s) => process.stdout.write(s + '\\n');
function attach(s) {
  sock = s;
  out('connected ' + s.localAddress + ' ' + s.localPort + ' ' + s.remoteAddress + ' ' + s.remotePort);
  if (openHex) s.write(Buffer.from(openHex, 'hex'));
  if (Number(keepaliveMs) > 0) timer = setInterval(() => s.write(KA), Number(keepaliveMs));
  s.on('data', (d) => {
    buf = Buffer.concat([buf, d]);
    while (buf.length >= 19) {
      const len = buf.readUInt16BE(16);
      if (len < 19) { out('error bad length ' + len); s.destroy(); return; }
      if (buf.length < len) break;
      const m = buf.subarray(0, len); buf = buf.subarray(len);
      out('rx ' + m.toString('hex'));
      if (m[18] === 1 && Number(keepaliveMs) >= 0) s.write(KA);
    }
  });
  s.on('error', (e) => out('error ' + e.message));
  s.on('close', () => { out('closed'); if (timer) clearInterval(timer); sock = null; });
}
if (mode === 'connect') {
  const s = net.connect({ host, port: Number(port) });
  s.once('connect', () => attach(s));
  s.once('error', (e) => { if (!sock) { out('error ' + e.message); process.exit(1); } });
}
else { const srv = net.createServer((s) => { if (sock) { s.destroy(); return; } attach(s); }); srv.listen(Number(port), host, () => out('listening')); }
require('node:readline').createInterface({ input: process.stdin }).on('line', (l) => {
  const [cmd, arg] = l.split(' ');
  if (cmd === 'send' && sock) sock.write(Buffer.from(arg, 'hex'));
  else if (cmd === 'close' && sock) sock.end();
  else if (cmd === 'exit') process.exit(0);
});
`;

export interface RawSpeakerOptions {
  /** Connect to this address (active). */
  connect?: string;
  /** Or accept one connection on this address (passive, e.g. '0.0.0.0'). */
  listen?: string;
  /** TCP port (default 179). */
  port?: number;
  /** OPEN to send as soon as connected (bytes or hex); none if omitted. */
  open?: Uint8Array | string;
  /** KEEPALIVE period in ms (default 3000); 0 = only answer the OPEN; -1 = send none at all. */
  keepaliveMs?: number;
}

export interface RawSpeaker {
  readonly process: ChildProcess;
  /** Every whole message received, in order. */
  readonly received: Uint8Array[];
  /** Lines the child printed other than `rx` (connected/closed/error/listening). */
  readonly events: string[];
  isConnected(): boolean;
  send(msg: Uint8Array | string): void;
  /** Resolve with the first received message (from index `from`) matching `pred`. */
  waitFor(pred: (m: Uint8Array) => boolean, timeoutMs: number, what: string, from?: number): Promise<Uint8Array>;
  /** Close the TCP connection (FIN). */
  close(): void;
  /** Kill the child by PID. */
  stop(): Promise<void>;
}

const toHexStr = (m: Uint8Array | string): string => (typeof m === 'string' ? m.replace(/\s+/g, '') : Buffer.from(m).toString('hex'));

/** Start a scripted speaker in `ns`; resolves when connected (active) or listening (passive). */
export async function startRawSpeaker(lab: Lab, ns: string, o: RawSpeakerOptions): Promise<RawSpeaker> {
  if (!o.connect === !o.listen) throw new Error('give exactly one of connect / listen');
  const child = lab.spawn(ns, process.execPath, ['-e', CHILD, o.connect ? 'connect' : 'listen', (o.connect ?? o.listen) as string,
    String(o.port ?? 179), String(o.keepaliveMs ?? 3000), o.open ? toHexStr(o.open) : '']);
  const received: Uint8Array[] = [];
  const events: string[] = [];
  let connected = false;
  createInterface({ input: child.stdout! }).on('line', (line) => {
    if (line.startsWith('rx ')) { received.push(new Uint8Array(Buffer.from(line.slice(3), 'hex'))); return; }
    events.push(line);
    if (line.startsWith('connected')) connected = true;
    if (line === 'closed') connected = false;
  });
  child.stderr?.on('data', (b: Buffer) => events.push(`stderr ${b.toString().trim()}`));
  let exited = false;
  child.once('exit', () => { exited = true; connected = false; });
  const sp: RawSpeaker = {
    process: child, received, events,
    isConnected: () => connected,
    send(msg) { child.stdin?.write(`send ${toHexStr(msg)}\n`); },
    async waitFor(pred, timeoutMs, what, from = 0) {
      return waitFor(() => received.slice(from).find(pred), timeoutMs, `${what} (events: ${events.join(' | ')})`);
    },
    close() { child.stdin?.write('close\n'); },
    async stop() {
      if (exited || child.pid === undefined) return;
      const gone = new Promise<void>((r) => child.once('exit', () => r()));
      try { process.kill(child.pid, 'SIGKILL'); } catch { return; }
      await gone;
    },
  };
  await waitFor(() => (exited ? 'exited' : connected || events.includes('listening')), 10000, `raw speaker in ${ns}`);
  if (exited) throw new Error(`raw speaker in ${ns} exited: ${events.join(' | ')}`);
  return sp;
}

// ---------------------------------------------------------------------------
// Hand-made messages (RFC 4271 §4.1-4.4)

/** A whole BGP message: marker, length, type, body. */
export function bgpMessage(type: number, body: Uint8Array): Uint8Array {
  const m = new Uint8Array(19 + body.length);
  m.fill(0xff, 0, 16);
  m[16] = m.length >> 8; m[17] = m.length & 0xff; m[18] = type;
  m.set(body, 19);
  return m;
}

export const KEEPALIVE = bgpMessage(4, new Uint8Array());

export interface OpenOptions {
  asn: number;
  bgpId: string;
  holdTime?: number;
  /** Families for the multiprotocol capability (default l2vpn/evpn: [[25, 70]]). */
  families?: Array<[afi: number, safi: number]>;
  /** Extra capabilities as [code, value bytes]. */
  extraCapabilities?: Array<[number, Uint8Array]>;
}

/** OPEN with one optional parameter holding: MP (per family), route refresh, 4-octet AS. */
export function openMessage(o: OpenOptions): Uint8Array {
  const caps: number[] = [];
  const cap = (code: number, v: ArrayLike<number>): void => { caps.push(code, v.length, ...Array.from(v)); };
  for (const [afi, safi] of o.families ?? [[25, 70]]) cap(1, [afi >> 8, afi & 0xff, 0, safi]);
  cap(2, []);
  cap(65, [o.asn >>> 24, (o.asn >> 16) & 0xff, (o.asn >> 8) & 0xff, o.asn & 0xff]);
  for (const [code, v] of o.extraCapabilities ?? []) cap(code, v);
  const myAs = o.asn > 0xffff ? 23456 : o.asn;
  const hold = o.holdTime ?? 9;
  const id = o.bgpId.split('.').map(Number);
  const body = [4, myAs >> 8, myAs & 0xff, hold >> 8, hold & 0xff, ...id, caps.length + 2, 2, caps.length, ...caps];
  return bgpMessage(1, new Uint8Array(body));
}
