// Human output of `evpn-ha show|watch`: aligned tables and one-line events.
// Pure functions over the control API's JSON (src/control/types.ts).
import type { ControlEvent, KernelEntryInfo, KernelInfo, NeighborInfo, RouteInfo, VtepInfo } from '../control/types.js';
import { describeEntry, type KernelEntry, type ObservedEntry } from '../kernel/port.js';
import type { MobilityDecision } from '../agent/mobility.js';

/** Columns padded to the widest cell; the last column is not padded. */
export function table(header: string[], rows: string[][]): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => visibleLength(r[i] ?? ''))));
  return all.map((r) => r.map((c, i) => (i === r.length - 1 ? c : pad(c, widths[i]!))).join('  ').trimEnd()).join('\n');
}

// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;]*m/g;

function visibleLength(s: string): number {
  return s.replace(ANSI, '').length;
}

function pad(s: string, w: number): string {
  return s + ' '.repeat(Math.max(0, w - visibleLength(s)));
}

/** 3725000 -> "1h02m05s"; 59000 -> "59s"; 90061000 -> "1d01h01m". */
export function formatDuration(ms: number | null): string {
  if (ms === null) return '-';
  let s = Math.floor(ms / 1000);
  const d = Math.floor(s / 86400);
  s -= d * 86400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const two = (n: number): string => String(n).padStart(2, '0');
  if (d > 0) return `${d}d${two(h)}h${two(m)}m`;
  if (h > 0) return `${h}h${two(m)}m${two(s)}s`;
  if (m > 0) return `${m}m${two(s)}s`;
  return `${s}s`;
}

export function formatMs(ms: number | null): string {
  if (ms === null) return '-';
  return ms < 10 ? `${ms.toFixed(2)} ms` : ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

// --- neighbors -------------------------------------------------------------------

export function formatNeighbors(ns: NeighborInfo[]): string {
  if (ns.length === 0) return 'no uplinks configured';
  const rows = ns.map((n) => [
    n.uplink, n.peer, n.localAddress ?? '-', String(n.localAs), String(n.peerAs), n.state, formatDuration(n.uptimeMs),
    String(n.flaps), `${n.holdTime}/${n.keepalive}`, n.bfd ? n.bfd.state : '-',
    String(n.routes.received), String(n.routes.accepted), String(n.routes.best), String(n.routes.advertised),
  ]);
  const lines = [table(
    ['UPLINK', 'PEER', 'LOCAL', 'AS', 'PEER-AS', 'STATE', 'UPTIME', 'FLAPS', 'HOLD/KA', 'BFD', 'RCVD', 'ACCEPTED', 'BEST', 'ADVERTISED'],
    rows,
  )];
  for (const n of ns) {
    const d: string[] = [];
    if (n.peerRouterId) d.push(`router-id ${n.peerRouterId}`);
    if (n.families.length) d.push(`families ${n.families.join(',')}`);
    if (n.capabilities.length) d.push(`capabilities ${n.capabilities.join(',')}`);
    const rej = Object.entries(n.routes.rejected).filter(([, v]) => v > 0);
    if (rej.length) d.push(`rejected ${rej.map(([k, v]) => `${k}=${v}`).join(',')}`);
    if (n.routes.withdrawn) d.push(`withdrawn ${n.routes.withdrawn}`);
    if (n.auth) d.push(`auth: ${n.auth}`);
    if (n.ttlSecurity) d.push(`ttl-security: ${n.ttlSecurity} hop${n.ttlSecurity === 1 ? '' : 's'}`);
    if (n.bfd) d.push(`bfd ${n.bfd.state} (remote ${n.bfd.remoteState}, diag ${n.bfd.diag}, detect ${formatMs(n.bfd.detectTimeMs)})`);
    if (n.lastError) {
      const e = n.lastError;
      const code = e.code === null ? '' : `NOTIFICATION ${e.code}/${e.subcode ?? 0} (${e.notification ?? '?'}): `;
      d.push(`last error: ${code}${e.text}`);
    }
    if (d.length) lines.push(`${n.uplink}: ${d.join('; ')}`);
  }
  return lines.join('\n');
}

// --- routes ----------------------------------------------------------------------

export function formatRoutes(rs: RouteInfo[]): string {
  if (rs.length === 0) return 'no routes';
  const rows: string[][] = [];
  for (const r of rs) {
    // RFC 7432 §15.1: a MAC marked duplicate (we stop announcing it).
    const mac = r.duplicate ? `${r.mac} DUPLICATE` : r.mac;
    if (r.paths.length === 0) rows.push(['', String(r.vni), mac, r.ip ?? '-', '-', '-', '-', '-', '-', '-', '']);
    r.paths.forEach((p, i) => {
      const first = i === 0;
      rows.push([
        p.best ? '*' : '', first ? String(r.vni) : '', first ? mac : '', first ? r.ip ?? '-' : '',
        p.network, p.nextHop, p.rd, String(p.localPref), String(p.macMobilitySeq),
        p.eligible ? p.vtep : `${p.vtep} (ineligible)`, p.best ? r.bestReason ?? '' : '',
      ]);
    });
  }
  const paths = rs.reduce((n, r) => n + r.paths.length, 0);
  const dups = new Set(rs.filter((r) => r.duplicate).map((r) => `${r.vni}|${r.mac}`)).size;
  return `${table(['', 'VNI', 'MAC', 'IP', 'NETWORK', 'NEXT HOP', 'RD', 'LPREF', 'SEQ', 'VTEP', 'BEST BECAUSE'], rows)}\n` +
    `${rs.length} entr${rs.length === 1 ? 'y' : 'ies'}, ${paths} path${paths === 1 ? '' : 's'}; * = best` +
    (dups ? `; ${dups} MAC${dups === 1 ? '' : 's'} marked DUPLICATE (not announced; evpn-ha clear duplicate <mac>)` : '');
}

// --- kernel ----------------------------------------------------------------------

const COLORS: Record<KernelEntryInfo['status'], string> = {
  ok: '', missing: '\x1b[31m', different: '\x1b[33m', extra: '\x1b[35m', conflict: '\x1b[36m',
};

function describeDesired(d: KernelEntry | null): string {
  if (!d) return '-';
  if (d.kind === 'neigh') return `lladdr ${d.mac}`;
  if (d.kind === 'fdb') return d.nhid !== undefined ? `nhid ${d.nhid} (dst ${d.dst})` : `dst ${d.dst}`;
  return d.kind === 'nexthop' ? `via ${d.dst}` : `group ${d.members.join('/')}`;
}

function describeObserved(os: ObservedEntry[], protocol: number): string {
  if (os.length === 0) return '-';
  return os.map((o) => {
    if (o.kind === 'nexthop') {
      const what = o.group !== null ? `group ${o.group.join('/')}` : `via ${o.dst ?? '-'}`;
      return `${what}${o.protocol === protocol ? ' proto ours' : o.protocol !== null ? ` proto ${o.protocol}` : ''}`;
    }
    const flags = [o.externLearned ? 'extern_learn' : '', o.protocol === protocol ? 'proto ours' : o.protocol !== null ? `proto ${o.protocol}` : '']
      .filter(Boolean).join(' ');
    const what = o.kind === 'neigh' ? `lladdr ${o.mac ?? '-'}`
      : o.table === 'vxlan' ? (o.nhid != null ? `nhid ${o.nhid}` : `dst ${o.dst ?? '-'}`) : o.table;
    return flags ? `${what} ${flags}` : what;
  }).join(', ');
}

export function formatKernel(k: KernelInfo, color = false): string {
  const rows = k.entries.map((e) => {
    const st = e.status === 'ok' ? 'ok' : `!${e.status.toUpperCase()}`;
    const c = color && e.status !== 'ok' ? COLORS[e.status] : '';
    return [c ? `${c}${st}\x1b[0m` : st, e.kind, e.device, e.ip ?? '-', e.mac, describeDesired(e.desired), describeObserved(e.observed, k.protocol)];
  });
  const counts = Object.entries(k.counts).filter(([, v]) => v > 0).map(([s, v]) => `${v} ${s}`).join(', ');
  const gate = k.staleGateOpen ? '' : '; entries of the previous run are kept until every session sent End-of-RIB';
  const head = k.entries.length ? `${table(['STATUS', 'KIND', 'DEVICE', 'IP', 'MAC', 'WANTED', 'KERNEL'], rows)}\n` : 'no entries wanted or owned\n';
  const nhs = k.nexthops ?? [];
  const nhRows = nhs.map((n) => {
    const st = n.status === 'ok' ? 'ok' : `!${n.status.toUpperCase()}`;
    const c = color && n.status !== 'ok' ? COLORS[n.status] : '';
    const wanted = n.kind === 'group' ? `group ${(n.members ?? []).join('/')}` : `via ${n.dst ?? '-'}`;
    return [c ? `${c}${st}\x1b[0m` : st, n.kind, String(n.id), wanted, n.macs === undefined ? '-' : String(n.macs),
      n.observed ? describeObserved([n.observed], k.protocol) : '-'];
  });
  const nhTable = nhRows.length ? `${table(['STATUS', 'KIND', 'ID', 'WANTED', 'MACS', 'KERNEL'], nhRows)}\n` : '';
  const mode = k.fdbMode === undefined ? '' : `\nFDB: ${k.fdbMode === 'nexthop-groups' ? 'nexthop groups' : 'per-entry dst'} (${k.fdbModeReason ?? ''})`
    + (nhs.length ? `; ${nhs.filter((n) => n.kind === 'group').length} groups, ${nhs.filter((n) => n.kind === 'nexthop').length} nexthops` : '');
  return `${head}${nhTable}${k.entries.length} entr${k.entries.length === 1 ? 'y' : 'ies'}${counts ? `: ${counts}` : ''} (kernel view: ${k.source}, protocol ${k.protocol}${gate})${mode}`;
}

// --- vteps -----------------------------------------------------------------------

export function formatVteps(vs: VtepInfo[]): string {
  if (vs.length === 0) return 'no remote VTEPs';
  return table(
    ['NETWORK', 'LOCAL VTEP', 'REMOTE VTEP', 'STATE', 'ELIGIBLE', 'RTT', 'SRTT', 'LAST REPLY', 'IN STATE', 'SENT/REPLIES', 'PATHS'],
    vs.map((v) => [
      v.network, v.localVtep ?? '-', v.remoteVtep, v.state, v.eligible ? 'yes' : 'NO', formatMs(v.rttMs), formatMs(v.srttMs),
      v.lastReplyAgoMs === null ? '-' : `${formatDuration(v.lastReplyAgoMs)} ago`, formatDuration(v.sinceMs),
      `${v.sent}/${v.replies}`, String(v.paths),
    ]),
  );
}

// --- events ----------------------------------------------------------------------

function pathText(p: { uplink: string; nextHop: string; localPref: number } | null): string {
  return p ? `${p.uplink} via ${p.nextHop} (lpref ${p.localPref})` : 'none';
}

function entryText(e: KernelEntry): string {
  return describeEntry(e);
}

/** One line per event: time, type, what happened. */
export function formatEvent(ev: ControlEvent): string {
  const t = ev.time;
  switch (ev.type) {
    case 'session':
      return ev.state === 'up'
        ? `${t} session ${ev.uplink} up (peer ${ev.peer}, router-id ${ev.peerRouterId})`
        : `${t} session ${ev.uplink} down (peer ${ev.peer}): ${ev.reason}; ${ev.pathsDropped} paths dropped`;
    case 'best-path':
      return `${t} best-path vni ${ev.vni} ${ev.mac} ${ev.ip ?? '-'}: ${pathText(ev.before)} -> ${pathText(ev.after)} (${ev.reason})`;
    case 'failover':
      return `${t} FAILOVER vni ${ev.vni} ${ev.mac} ${ev.ip ?? '-'}: ${pathText(ev.from)} -> ${pathText(ev.to)} cause ${ev.cause} (${ev.reason})`;
    case 'kernel': {
      const nFailed = ev.failed.length + (ev.failedOmitted ?? 0);
      const shown = ev.failed.slice(0, 5).map((f) => `${f.op.op} ${entryText(f.op.entry)}: ${f.code}`);
      if (nFailed > shown.length) shown.push(`... ${nFailed - shown.length} more`);
      return `${t} kernel ${ev.trigger}: ${ev.replaced} replaced, ${ev.deleted} deleted${nFailed ? `, ${nFailed} failed: ${shown.join('; ')}` : ''}`;
    }
    case 'kernel-conflict':
      return `${t} kernel-conflict ${entryText(ev.entry)}: ${ev.reason}`;
    case 'kernel-restore':
      return `${t} kernel-restore ${ev.keys} entries changed by someone else`;
    case 'stale-cleanup':
      return `${t} stale-cleanup (${ev.cause})`;
    case 'origination':
      return `${t} origination ${ev.uplink} address ${ev.address ?? 'none'}: ${ev.advertised} advertised, ${ev.withdrawn} withdrawn`;
    case 'probe':
      return `${t} probe ${ev.network} ${ev.remoteVtep}: ${ev.from} -> ${ev.to} (${ev.reason})${ev.rttMs != null ? ` rtt ${formatMs(ev.rttMs)}` : ''}${ev.eligible ? '' : ' INELIGIBLE'}`;
    case 'reload':
      return `${t} reload ${ev.ok ? 'ok' : 'FAILED'}: ${ev.message}`;
    case 'problem':
      return `${t} problem: ${ev.message}`;
    case 'mobility':
      return `${t} mobility ${mobilityText(ev.decision)}`;
    default:
      return `${t} ${JSON.stringify(ev)}`;
  }
}

/** One MAC mobility decision as `watch` prints it. */
export function mobilityText(d: MobilityDecision): string {
  const at = `vni ${d.vni} ${d.mac}`;
  switch (d.kind) {
    case 'announce': return `${at}: announced, sequence ${d.seq}${d.sticky ? ', sticky' : ''}`;
    case 'withdraw': return `${at}: withdrawn (${d.reason}${d.by ? ` to ${d.by}` : ''})`;
    case 'remove-local-fdb': return `${at}: moved to ${d.vtep} (sequence ${d.seq}), local entry stale`;
    case 'duplicate': return `${at}: DUPLICATE, ${d.moves} moves in ${d.window / 1000} s (${d.targets.join(' -> ')})`;
    case 'duplicate-cleared': return `${at}: duplicate lifted (${d.cause})`;
    case 'conflict': return `${at}: ${d.message}`;
  }
}
