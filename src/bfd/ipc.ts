// The messages between the agent and its BFD process (host.ts <-> child.ts): one
// JSON object per line, on the child's stdin (commands) and stdout (events,
// snapshots, log records). Sessions are named by a number the host assigns.

import type { Diag, SessionState } from './packet.js';
import type { BfdDownEvent, BfdDropCounters, BfdOptions, BfdPeerConfig, BfdSessionInfo } from './types.js';

/** Host -> BFD process. */
export type ToBfdProcess =
  | { t: 'add'; id: number; cfg: BfdPeerConfig; adminDown: boolean }
  | { t: 'set'; id: number; opts: BfdOptions }
  | { t: 'admin'; id: number; down: boolean }
  | { t: 'remove'; id: number; adminDown: boolean }
  /** Remove every session (AdminDown to the peers unless told not to) and exit. */
  | { t: 'close'; adminDown: boolean };

/** A session event as BfdSessionEvents has it. */
export type BfdEventMessage =
  | { name: 'up' }
  | { name: 'down'; down: BfdDownEvent }
  | { name: 'peerAdminDown'; down: BfdDownEvent }
  | { name: 'adminDown' }
  | { name: 'stateChange'; from: SessionState; to: SessionState; diag: Diag };

/** BFD process -> host. */
export type FromBfdProcess =
  | { t: 'ready'; pid: number }
  /** A session event, with the session's snapshot after it. */
  | { t: 'ev'; id: number; ev: BfdEventMessage; info: BfdSessionInfo }
  /** Every session's snapshot and the drop counters (periodically, for show and metrics). */
  | { t: 'snap'; sessions: Array<[number, BfdSessionInfo]>; drops: BfdDropCounters }
  /** A pino record of the process's logger, to be logged by the host's. */
  | { t: 'log'; record: Record<string, unknown> }
  /** A command the process could not carry out (e.g. an add it rejected). */
  | { t: 'error'; id: number; message: string };

export function encodeMessage(m: ToBfdProcess | FromBfdProcess): string {
  return `${JSON.stringify(m)}\n`;
}

/** Splits a byte stream into lines and parses each as JSON; a line that does not parse is reported, not thrown. */
export class LineDecoder {
  private pending = '';

  push(chunk: Buffer | string, onValue: (v: unknown) => void, onBad: (line: string) => void): void {
    this.pending += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl = this.pending.indexOf('\n');
    while (nl >= 0) {
      const line = this.pending.slice(0, nl);
      this.pending = this.pending.slice(nl + 1);
      if (line.length > 0) {
        let v: unknown;
        let ok = true;
        try { v = JSON.parse(line); } catch { ok = false; }
        if (ok) onValue(v); else onBad(line);
      }
      nl = this.pending.indexOf('\n');
    }
  }
}

/**
 * Session times (lastUpAt, lastDownAt) are Clock times, performance.now() in each
 * process, which start at different moments: the BFD process sends them as wall time
 * (+ its performance.timeOrigin) and the host takes its own origin off again.
 */
export function shiftTimes(info: BfdSessionInfo, deltaMs: number): BfdSessionInfo {
  return {
    ...info,
    lastUpAt: info.lastUpAt === undefined ? undefined : info.lastUpAt + deltaMs,
    lastDownAt: info.lastDownAt === undefined ? undefined : info.lastDownAt + deltaMs,
  };
}

/** The same message with its session times shifted by deltaMs (see shiftTimes). */
export function shiftMessage(m: FromBfdProcess, deltaMs: number): FromBfdProcess {
  if (m.t === 'ev') return { ...m, info: shiftTimes(m.info, deltaMs) };
  if (m.t === 'snap') return { ...m, sessions: m.sessions.map(([id, info]) => [id, shiftTimes(info, deltaMs)]) };
  return m;
}
