// What the agent reports (for logs, `evpn-ha watch` and metrics), and how the
// daemon logs it.
import type { Logger } from 'pino';
import { describeEntry, type KernelEntry, type KernelOp } from '../kernel/port.js';
import type { Skipped } from '../kernel/reconcile.js';
import type { EndpointEvent } from './endpoints.js';
import { reasonText, type ChangeReason, type Path } from './rib.js';
import type { MobilityDecision } from './mobility.js';

export { describeEntry } from '../kernel/port.js';

export interface PathSummary {
  uplink: string;
  peer: string;
  nextHop: string;
  localPref: number;
  macMobilitySeq: number;
  eligible: boolean;
}

export type KernelTrigger = 'routes' | 'restore' | 'resync' | 'stale-cleanup' | 'retry' | 'shutdown';

export type AgentEvent =
  | { type: 'session'; uplink: string; state: 'up'; peer: string; peerRouterId: string }
  | { type: 'session'; uplink: string; state: 'down'; peer: string; reason: string; pathsDropped: number }
  /** `reason` is typed; logs and the control socket show reasonText(reason). */
  | { type: 'best-path'; vni: number; mac: string; ip: string | null; before: PathSummary | null; after: PathSummary | null; reason: ChangeReason }
  | { type: 'kernel'; trigger: KernelTrigger; replaced: number; deleted: number; failed: Array<{ op: KernelOp; code: string; message: string }>; ops: KernelOp[] }
  | { type: 'kernel-conflict'; entry: KernelEntry; reason: Skipped['reason'] }
  | { type: 'kernel-restore'; keys: number }
  | { type: 'stale-cleanup'; cause: 'end-of-rib' | 'timeout' }
  | { type: 'origination'; uplink: string; address: string | null; advertised: number; withdrawn: number }
  | { type: 'probe'; network: string; remoteVtep: string; from: string; to: string; reason: string; eligible: boolean; rttMs: number | undefined }
  | { type: 'problem'; message: string }
  /** How FDB entries are programmed, decided at start (kernel.nexthopGroups and the kernel). */
  | { type: 'fdb-mode'; mode: 'nexthop-groups' | 'dst'; reason: string }
  /** A nexthop group's member was replaced: every MAC behind it moved from one VTEP to another in one write. */
  | { type: 'nexthop-group'; id: number; from: string; to: string; macs: number }
  /**
   * vnis[].arpSuppress: neigh_suppress on a vxlan bridge port. 'on': we turned it on;
   * 'was-on': it was on already (left on at stop); 'restored': set back to off at
   * stop; 'failed': the kernel refused or the device is not a bridge port.
   */
  | { type: 'arp-suppress'; vni: number; device: string; state: 'on' | 'was-on' | 'restored' | 'failed'; reason: string }
  /** vnis[].advertiseEndpoints: a local endpoint's MAC or IP appeared or went (endpoints.ts). */
  | { type: 'endpoint'; event: EndpointEvent }
  /** MAC mobility (RFC 7432 §15): a local MAC announced with a sequence, withdrawn, marked or cleared duplicate, a conflict. */
  | { type: 'mobility'; decision: MobilityDecision };

export function summary(p: Path | null): PathSummary | null {
  return p && {
    uplink: p.uplink, peer: p.peer, nextHop: p.nextHop, localPref: p.localPref, macMobilitySeq: p.macMobilitySeq, eligible: p.eligible,
  };
}

/** One log line per event: state changes at info/warn, per-route detail at debug. */
export function logEvent(log: Logger, ev: AgentEvent): void {
  switch (ev.type) {
    case 'session':
      if (ev.state === 'up') log.info({ uplink: ev.uplink, peer: ev.peer, peerRouterId: ev.peerRouterId }, `session ${ev.uplink} up`);
      else log.warn({ uplink: ev.uplink, peer: ev.peer, reason: ev.reason, pathsDropped: ev.pathsDropped }, `session ${ev.uplink} down: ${ev.reason}`);
      return;
    case 'best-path':
      log.debug({ vni: ev.vni, mac: ev.mac, ip: ev.ip, before: ev.before, after: ev.after, reason: reasonText(ev.reason) }, 'best path');
      return;
    case 'kernel':
      log.debug({ trigger: ev.trigger, replaced: ev.replaced, deleted: ev.deleted, failed: ev.failed.length }, 'kernel write');
      return;
    case 'kernel-conflict':
      log.warn({ entry: ev.entry, reason: ev.reason }, `not writing ${describeEntry(ev.entry)}: ${ev.reason}`);
      return;
    case 'kernel-restore':
      log.info({ entries: ev.keys }, 'restored kernel entries changed by someone else');
      return;
    case 'stale-cleanup':
      log.info({ cause: ev.cause }, 'removing stale kernel entries from a previous run');
      return;
    case 'origination':
      log.info({ uplink: ev.uplink, address: ev.address, advertised: ev.advertised, withdrawn: ev.withdrawn }, 'origination');
      return;
    case 'probe': {
      const msg = `VTEP ${ev.remoteVtep} on ${ev.network}: ${ev.from} -> ${ev.to} (${ev.reason})${ev.eligible ? '' : ', ineligible'}`;
      const fields = { network: ev.network, remoteVtep: ev.remoteVtep, from: ev.from, to: ev.to, reason: ev.reason, eligible: ev.eligible, rttMs: ev.rttMs };
      if (ev.to === 'down') log.warn(fields, msg);
      else log.info(fields, msg);
      return;
    }
    case 'problem':
      log.warn(ev.message);
      return;
    case 'fdb-mode':
      log.info({ mode: ev.mode, reason: ev.reason }, `FDB entries: ${ev.mode === 'nexthop-groups' ? 'through FDB nexthop groups' : 'per-entry dst'} (${ev.reason})`);
      return;
    case 'nexthop-group':
      log.info({ id: ev.id, from: ev.from, to: ev.to, macs: ev.macs }, `nexthop group ${ev.id}: ${ev.from} -> ${ev.to} (${ev.macs} MACs)`);
      return;
    case 'endpoint': {
      const e = ev.event;
      const ip = e.kind === 'ip-up' || e.kind === 'ip-down' ? ` ${e.ip}` : '';
      const f = { vni: e.vni, mac: e.mac, ip: ip ? ip.slice(1) : undefined, sticky: e.kind === 'mac-up' ? e.sticky : undefined };
      const msg = `local endpoint ${e.mac}${ip} (VNI ${e.vni}): ${e.kind === 'mac-up' || e.kind === 'ip-up' ? 'up' : 'down'}`;
      if (ip) log.debug(f, msg);
      else log.info(f, msg);
      return;
    }
    case 'arp-suppress': {
      const f = { vni: ev.vni, device: ev.device, state: ev.state, reason: ev.reason };
      if (ev.state === 'failed') log.warn(f, `ARP/ND suppression on ${ev.device} (VNI ${ev.vni}) failed: ${ev.reason}`);
      else log.info(f, `ARP/ND suppression on ${ev.device} (VNI ${ev.vni}): ${ev.state} (${ev.reason})`);
      return;
    }
    case 'mobility':
      logMobility(log, ev.decision);
      return;
  }
}

function logMobility(log: Logger, d: MobilityDecision): void {
  const at = `MAC ${d.mac} (VNI ${d.vni})`;
  switch (d.kind) {
    case 'announce':
      // A MAC announced plainly (sequence 0, not sticky) is today's behaviour: not worth an info line.
      (d.seq || d.sticky ? log.info.bind(log) : log.debug.bind(log))({ vni: d.vni, mac: d.mac, seq: d.seq, sticky: d.sticky }, `${at}: announced${d.seq || d.sticky ? ` with MAC Mobility sequence ${d.seq}${d.sticky ? ', sticky' : ''}` : ''}`);
      return;
    case 'withdraw':
      log.info({ vni: d.vni, mac: d.mac, reason: d.reason, seq: d.seq, by: d.by }, `${at}: withdrawn (${d.reason}${d.by ? `: VTEP ${d.by}` : ''})`);
      return;
    case 'remove-local-fdb':
      log.info({ vni: d.vni, mac: d.mac, vtep: d.vtep, seq: d.seq }, `${at} moved to VTEP ${d.vtep} (sequence ${d.seq}): local entry is stale`);
      return;
    case 'duplicate':
      log.warn({ vni: d.vni, mac: d.mac, moves: d.moves, window: d.window, targets: d.targets, until: d.until },
        `${at} is duplicate: ${d.moves} moves within ${d.window / 1000} s (${d.targets.join(' -> ')}); not announced ${d.until === null ? 'until evpn-ha clear duplicate' : 'while frozen'}`);
      return;
    case 'duplicate-cleared':
      log.info({ vni: d.vni, mac: d.mac, cause: d.cause }, `${at}: duplicate flag lifted (${d.cause})`);
      return;
    case 'conflict':
      log.warn({ vni: d.vni, mac: d.mac }, d.message);
      return;
  }
}
