// The demo's timeline: agent events and log lines as the rows the demo prints
// (moved out of demo.ts, which runs the demo). Pure.
import type { ControlEvent } from '../control/types.js';
import { describeEntry } from '../kernel/port.js';
import type { ServerName } from './twonet.js';

export interface Seen {
  server: ServerName;
  at: number;
  ev: ControlEvent;
}

export const SERVER_LABEL: Record<ServerName, string> = { l: 'server-l', r: 'server-r' };

export function signedMs(ms: number): string {
  const v = Math.round(ms);
  return `${v < 0 ? '-' : '+'}${String(Math.abs(v)).padStart(5)} ms`;
}

export function pathText(p: { uplink: string; nextHop: string; localPref: number } | null): string {
  return p ? `${p.uplink} via ${p.nextHop} (local-pref ${p.localPref})` : 'none';
}

/** The timeline's line for an event, or null when it is not part of the story. */
export function describe(s: Seen, t: { mac: Record<ServerName, string> }): string | null {
  const ev = s.ev;
  switch (ev.type) {
    case 'session':
      return ev.state === 'down'
        ? `session ${ev.uplink} down: ${ev.reason} (${ev.pathsDropped} paths dropped)`
        : `session ${ev.uplink} up (peer ${ev.peer})`;
    case 'probe':
      return `VTEP probe ${ev.remoteVtep} on ${ev.network}: ${ev.from} -> ${ev.to} (${ev.reason})${ev.eligible ? '' : ', path ineligible'}`;
    case 'failover':
      return `best path for ${ev.ip !== null ? `${ev.ip} (and ${ev.mac})` : ev.mac} moved: ${pathText(ev.from)} -> ${pathText(ev.to)}; cause ${ev.cause} (${ev.reason})`;
    case 'kernel': {
      const other = s.server === 'l' ? t.mac.r : t.mac.l;
      const fdb = ev.ops.filter((o) => o.entry.kind === 'fdb' && o.entry.mac === other);
      const groups = ev.ops.filter((o) => o.op === 'replace' && o.entry.kind === 'nhgroup');
      if (fdb.length === 0 && groups.length === 0) return null;
      return `kernel write: ${[...fdb, ...groups].map((o) => `${o.op} ${describeEntry(o.entry)}`).join('; ')}`;
    }
    case 'nexthop-group':
      return `nexthop group ${ev.id} moved: ${ev.from} -> ${ev.to} (${ev.macs} MAC${ev.macs === 1 ? '' : 's'} behind it, their FDB entries untouched)`;
    default:
      return null;
  }
}

export type RowKind = 'detect' | 'route' | 'kernel';

export interface LogRow {
  at: number;
  who: string;
  text: string;
  /** For the failover summary: what this row is on a server. */
  kind?: RowKind;
  label?: string;
}

/**
 * Timeline rows from a daemon's pino JSON log: BFD state changes (agents and
 * evpn-ha reflectors), and a reflector dropping a client and its routes. The
 * rest of the story comes from the agents' event streams.
 */
export function logRows(text: string, who: string, role: 'agent' | 'reflector'): LogRow[] {
  const rows: LogRow[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    let j: Record<string, unknown>;
    try { j = JSON.parse(line) as Record<string, unknown>; } catch { continue; }
    const at = typeof j['time'] === 'number' ? j['time'] : NaN;
    if (!Number.isFinite(at)) continue;
    const msg = String(j['msg'] ?? '');
    if (j['component'] === 'bfd' && (msg === 'bfd session down' || msg === 'bfd session up')) {
      const diag = j['diag'] && j['diag'] !== 'NoDiagnostic' ? ` (${String(j['diag'])})` : '';
      const down = msg === 'bfd session down';
      rows.push({
        at, who, text: `BFD with ${String(j['remote'])}: ${String(j['from'])} -> ${String(j['to'])}${diag}`,
        ...(down ? { kind: 'detect' as const, label: `${role === 'agent' ? '' : `${who}'s `}BFD with ${String(j['remote'])} down` } : {}),
      });
    } else if (role === 'reflector' && j['component'] === 'rib' && msg.startsWith('peer gone')) {
      rows.push({ at, who, text: `client ${String(j['peer'])} gone: withdrawing its ${String(j['routes'])} routes from the other clients` });
    } else if (role === 'reflector' && j['component'] === 'bgp' && msg === 'established') {
      rows.push({ at, who, text: `session with client ${String(j['peer'])} established` });
    }
  }
  return rows;
}

// ---- the demo --------------------------------------------------------------------

