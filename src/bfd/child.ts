// The BFD process: the agent's BFD sessions (BfdManager on real UDP sockets and
// the system clock) in a process of their own, as FRR runs bfdd beside bgpd. The
// agent's event loop can be busy for seconds with a large UPDATE burst and its
// kernel writes; here nothing else runs, so Control packets keep going out every
// interval and received ones are read at once (RFC 5880 §6.8.4 detection time).
//
// Started by BfdHost (host.ts) as `<execPath> [execArgv] <child.js> --evpn-ha-bfd`
// (in the single binary the binary itself, see packaging/sea/entry.js). Commands
// come as JSON lines on stdin, events, snapshots and log records go out as JSON
// lines on stdout (ipc.ts). It exits when told to close or when stdin closes (the
// agent is gone: then without AdminDown, so that the peers see a failure, not an
// administrative stop, RFC 5882 §3.2). SIGINT/SIGTERM/SIGHUP are ignored: the
// agent decides when BFD stops (a Ctrl-C reaches the whole process group).

import { Socket } from 'node:net';
import { BfdManager } from './manager.js';
import { encodeMessage, LineDecoder, shiftMessage, type BfdEventMessage, type FromBfdProcess, type ToBfdProcess } from './ipc.js';
import type { BfdLog, BfdService, BfdSessionHandle } from './types.js';

export const BFD_PROCESS_FLAG = '--evpn-ha-bfd';

/** Carries out the host's commands on a BfdService and reports its sessions' events (testable in-thread). */
export class BfdProcessServer {
  private readonly byId = new Map<number, BfdSessionHandle>();

  constructor(private readonly service: BfdService, private readonly send: (m: FromBfdProcess) => void) {}

  handle(m: ToBfdProcess): void {
    switch (m.t) {
      case 'add': {
        if (this.byId.has(m.id)) return;
        let s: BfdSessionHandle;
        try {
          s = this.service.add(m.cfg);
        } catch (e) {
          this.send({ t: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) });
          return;
        }
        this.byId.set(m.id, s);
        const fwd = (ev: BfdEventMessage): void => this.send({ t: 'ev', id: m.id, ev, info: s.snapshot() });
        s.on('stateChange', (from, to, diag) => fwd({ name: 'stateChange', from, to, diag }));
        s.on('up', () => fwd({ name: 'up' }));
        s.on('down', (down) => fwd({ name: 'down', down }));
        s.on('peerAdminDown', (down) => fwd({ name: 'peerAdminDown', down }));
        s.on('adminDown', () => fwd({ name: 'adminDown' }));
        if (m.adminDown) s.adminDown();
        return;
      }
      case 'set':
        try {
          this.byId.get(m.id)?.setOptions(m.opts);
        } catch (e) {
          this.send({ t: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) });
        }
        return;
      case 'admin': {
        const s = this.byId.get(m.id);
        if (m.down) s?.adminDown(); else s?.adminUp();
        return;
      }
      case 'remove': {
        const s = this.byId.get(m.id);
        if (s === undefined) return;
        this.byId.delete(m.id);
        s.removeAllListeners();
        this.service.remove(s, { adminDown: m.adminDown });
        return;
      }
      case 'close':
        for (const id of [...this.byId.keys()]) this.handle({ t: 'remove', id, adminDown: m.adminDown });
        void this.service.close({ adminDown: m.adminDown });
        return;
    }
  }

  snapshot(): FromBfdProcess {
    return { t: 'snap', sessions: [...this.byId].map(([id, s]) => [id, s.snapshot()]), drops: { ...this.service.drops } };
  }
}

/** pino's level numbers. */
const LEVELS: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: Infinity };

/** Log records as messages to the host, which writes them with its pino logger (pino-like records: level number, fields, msg). */
export function processLog(level: string, send: (m: FromBfdProcess) => void): BfdLog {
  const min = LEVELS[level] ?? 30;
  const at = (n: number) => (obj: object, msg: string): void => {
    if (n < min) return;
    const record: Record<string, unknown> = { level: n };
    for (const [k, v] of Object.entries(obj)) record[k] = v instanceof Error ? { type: v.name, message: v.message } : v;
    record['msg'] = msg;
    send({ t: 'log', record });
  };
  return { debug: at(20), info: at(30), warn: at(40), error: at(50) };
}

function isCommand(v: unknown): v is ToBfdProcess {
  return typeof v === 'object' && v !== null && typeof (v as { t?: unknown }).t === 'string';
}

function runBfdProcess(): void {
  // Not process.stdout: on Linux its writes to a pipe block, and a full pipe (the
  // agent's event loop busy for a while) would stop our packets. Writes here queue.
  const out = new Socket({ fd: 1, readable: false, writable: true });
  let gone = false;
  // The agent went away (EPIPE): nothing left to report to.
  out.on('error', () => { gone = true; process.exit(0); });
  const origin = performance.timeOrigin;
  const send = (m: FromBfdProcess): void => {
    if (!gone) out.write(encodeMessage(shiftMessage(m, origin)));
  };
  const log = processLog(process.env['EVPN_HA_BFD_LOG_LEVEL'] ?? 'info', send);
  const manager = new BfdManager({ logger: log });
  const server = new BfdProcessServer(manager, send);
  const snapshotMs = Number(process.env['EVPN_HA_BFD_SNAPSHOT_MS'] ?? 1000);
  const ticker = setInterval(() => send(server.snapshot()), snapshotMs > 0 ? snapshotMs : 1000);
  let closing = false;
  const finish = (adminDown: boolean): void => {
    if (closing) return;
    closing = true;
    clearInterval(ticker);
    server.handle({ t: 'close', adminDown });
    send(server.snapshot());
    // The last AdminDown packets are already handed to dgram; give them a moment.
    setTimeout(() => process.exit(0), 200).unref();
  };
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) process.on(sig, () => { /* the agent decides */ });
  const decoder = new LineDecoder();
  process.stdin.on('data', (chunk: Buffer) => decoder.push(chunk, (v) => {
    if (closing || !isCommand(v)) return;
    if (v.t === 'close') finish(v.adminDown);
    else server.handle(v);
  }, (line) => log.warn({ line: line.slice(0, 200) }, 'bfd process: unreadable command')));
  process.stdin.on('end', () => finish(false));
  process.stdin.on('error', () => finish(false));
  send({ t: 'ready', pid: process.pid });
}

if (process.argv.includes(BFD_PROCESS_FLAG)) runBfdProcess();
