// `evpn-ha demo --containers`: a container (a namespace with a veth into br-vxlan,
// src/lab/containers.ts) on server-l, pinged from both servers' bridge addresses,
// moved to server-r and back as a live migration does it (same MAC and IP), with a
// timeline per move: the move detected (the agents' event streams), the MAC Mobility
// sequence (polled from both agents' `show routes` JSON over the control socket),
// the FDB entries moving (kernel writes, read back from the kernel) and the pings
// following. Run by Demo (demo.ts) between its convergence and teardown steps.
import { ControlClient } from '../control/client.js';
import type { RouteInfo } from '../control/types.js';
import { describeEntry } from '../kernel/port.js';
import { container, liveMove, removeOld, type ContainerLab, type Endpoint, type Placed } from './containers.js';
import { type Seen, SERVER_LABEL, signedMs, pathText, type LogRow } from './demo-timeline.js';
import type { Lab } from './netns.js';
import { nsExec, sleep } from './netns.js';
import type { PingRun, ServerName, TwoNetworkLab } from './twonet.js';

/** The container: MAC and IP kept across every move (an address in the service subnet). */
export const CONTAINER: Endpoint = { mac: '02:00:c0:a8:00:0a', ip: '192.168.0.10' };

/** The container's namespaces after the demo's prefix: one per place it has been (ctr0 on server-l first). */
export const CONTAINER_NAMESPACES = ['ctr0', 'ctr1', 'ctr2'] as const;

/** What the moves need from the demo. */
export interface MoveHost {
  lab: Lab;
  tn: TwoNetworkLab;
  /** Both agents' events (the control socket's `watch`), as they arrive. */
  events: readonly Seen[];
  say(line?: string): void;
  begin(what: string): void;
  detail(line: string): void;
  until<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string, intervalMs?: number): Promise<NonNullable<T>>;
}

/** What a server's `show routes --mac <container>` says of the MAC-only route: best path and sequence, or none. */
interface RouteSample {
  server: ServerName;
  at: number;
  best: { network: string; nextHop: string; seq: number } | null;
  duplicate: boolean;
}

/** One move's figures, for the summary. */
export interface MoveResult {
  from: ServerName;
  to: ServerName;
  /** ms from the move until the first reply to the ping that now crosses the overlay. */
  follow: number | null;
  lost: number;
  /** The longest time without replies, ms, of either ping (from T0 - 1 s to the end of the move). */
  gap: number;
  /** The sequence the new place announced (from the old place's `show routes`). */
  seq: number | null;
}

const other = (s: ServerName): ServerName => (s === 'l' ? 'r' : 'l');

/** The best path's summary of the MAC-only entry in a `routes` answer. */
export function macRouteSample(routes: RouteInfo[], mac: string): Pick<RouteSample, 'best' | 'duplicate'> {
  const e = routes.find((r) => r.mac === mac && r.ip === null);
  const best = e?.paths.find((p) => p.best) ?? null;
  return { best: best && { network: best.network, nextHop: best.nextHop, seq: best.macMobilitySeq }, duplicate: e?.duplicate === true };
}

function sampleText(s: RouteSample, mac: string): string {
  if (s.duplicate) return `show routes: ${mac} marked duplicate`;
  return s.best
    ? `show routes: ${mac} best path ${s.best.network} via ${s.best.nextHop}, MAC Mobility sequence ${s.best.seq}`
    : `show routes: no route for ${mac} (local here)`;
}

/** The timeline's line for an agent event about the container, or null. */
export function describeMoveEvent(s: Seen, c: Endpoint): string | null {
  const ev = s.ev;
  switch (ev.type) {
    case 'endpoint': {
      const e = ev.event;
      if (e.mac !== c.mac) return null;
      switch (e.kind) {
        case 'mac-up': return `local endpoint ${e.mac} up (learned on a bridge port)${e.sticky ? ', sticky' : ''}`;
        case 'mac-down': return `local endpoint ${e.mac} down`;
        case 'ip-up': return `local endpoint ${e.mac} ${e.ip} up (neighbour table)`;
        case 'ip-down': return `local endpoint ${e.mac} ${e.ip} down`;
      }
      return null;
    }
    case 'mobility': {
      const d = ev.decision;
      if (d.mac !== c.mac) return null;
      switch (d.kind) {
        case 'announce': return d.seq > 0 || d.sticky
          ? `announce ${d.mac} with MAC Mobility sequence ${d.seq}${d.sticky ? ' (sticky)' : ''}`
          : `announce ${d.mac} (sequence 0: no MAC Mobility community)`;
        case 'withdraw': return `withdraw ${d.mac}: ${d.reason}${d.by ? ` (VTEP ${d.by}, sequence ${d.seq})` : ''}`;
        case 'remove-local-fdb': return `${d.mac} moved to VTEP ${d.vtep} (sequence ${d.seq}): the local bridge entry is stale, removed`;
        case 'duplicate': return `${d.mac} marked duplicate: ${d.moves} moves within ${d.window / 1000} s`;
        case 'duplicate-cleared': return `${d.mac} no longer duplicate (${d.cause})`;
        case 'conflict': return `${d.mac}: ${d.message}`;
      }
      return null;
    }
    case 'best-path':
      if (ev.mac !== c.mac || ev.ip !== null) return null;
      return `best path for ${ev.mac}: ${pathText(ev.before)} -> ${pathText(ev.after)}${ev.after ? ` (sequence ${ev.after.macMobilitySeq})` : ''}; ${ev.reason}`;
    case 'kernel': {
      const ops = ev.ops.filter((o) => (o.entry.kind === 'fdb' && o.entry.mac === c.mac) || (o.entry.kind === 'neigh' && o.entry.ip === c.ip));
      if (ops.length === 0) return null;
      return `kernel write${ev.trigger === 'routes' ? '' : ` (${ev.trigger})`}: ${ops.map((o) => `${o.op} ${describeEntry(o.entry)}`).join('; ')}`;
    }
    default:
      return null;
  }
}

/** A ping around a move at t0: its first reply after t0, its longest gap between replies, echo requests lost. */
function pingFigures(p: PingRun, t0: number, until: number): { first: number | null; lost: number; gap: { start: number; end: number; ms: number } | null } {
  let gap: { start: number; end: number; ms: number } | null = null;
  let prev: number | null = null;
  for (const r of p.replies) {
    if (r.at < t0 - 1000 || r.at > until) continue;
    if (prev !== null && r.at > t0 && (gap === null || r.at - prev > gap.ms)) gap = { start: prev, end: r.at, ms: Math.round(r.at - prev) };
    prev = r.at;
  }
  return { first: p.replies.find((x) => x.at > t0)?.at ?? null, lost: p.lostBetween(t0 - 1000, until), gap };
}

/** The container, its moves, the pings to it and the `show routes` poller. */
export class ContainerMoves {
  private where: Placed | null = null;
  private gen = 0;
  private readonly pings: Partial<Record<ServerName, PingRun>> = {};
  private readonly clients: ControlClient[] = [];
  private readonly samples: RouteSample[] = [];
  private poller: NodeJS.Timeout | null = null;
  private stopped = false;
  private readonly cl: ContainerLab;

  constructor(private readonly h: MoveHost, readonly c: Endpoint = CONTAINER) {
    this.cl = { lab: h.lab, net: h.tn };
  }

  /** Where the container is now. */
  get placed(): Placed | null {
    return this.where;
  }

  /** Create the container behind server-l (namespace ctr0, bridge port vc0). */
  place(): Placed {
    this.where = container(this.cl, CONTAINER_NAMESPACES[0], 'l', 'vc0', this.c);
    return this.where;
  }

  /**
   * The container speaks (a ping to server-l's bridge address: server-l's bridge
   * learns its MAC, its neighbour table its IP), then both routes reach server-r.
   */
  async converge(): Promise<void> {
    const { tn } = this.h;
    const { l } = tn.servers;
    const where = this.where!;
    nsExec(where.ns, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', l.service]);
    await this.h.until(() => tn.fdbDst('r', this.c.mac) === l.address.net1 && tn.neigh('r', this.c.ip)?.lladdr === this.c.mac,
      20_000, `server-r's FDB and neighbour entries for the container (${this.c.mac} ${this.c.ip})`, 100);
    this.h.detail(`the container spoke (ping ${l.service}): server-l learned ${this.c.mac} on ${where.port} and ${this.c.ip} in its neighbour table, ` +
      'and announces both (MAC-only and MAC+IP routes). On server-r:');
    this.h.detail(`# ip neigh show dev br-vxlan ${this.c.ip}`);
    this.h.detail(`  ${this.neighLine('r')}`);
    this.h.detail(`# bridge fdb show dev vxlan0 | grep -e ${this.c.mac} -e 00:00:00:00:00:00`);
    for (const line of this.fdbLines('r', true)) this.h.detail(`  ${line}`);
    this.showRoutes('r');
  }

  /** Ping the container from both bridge addresses every 10 ms; poll both agents' `show routes` for its MAC every 20 ms. */
  async startTraffic(): Promise<void> {
    const { tn } = this.h;
    for (const s of ['l', 'r'] as const) this.pings[s] = tn.ping(s, this.c.ip, 10);
    for (const s of ['l', 'r'] as const) this.clients.push(await ControlClient.connect(tn.socketPath(s)));
    let busy = false;
    this.poller = setInterval(() => {
      if (busy || this.stopped) return;
      busy = true;
      void Promise.all((['l', 'r'] as const).map(async (s, i) => {
        const routes = await this.clients[i]!.call('routes', { mac: this.c.mac });
        this.record({ server: s, at: Date.now(), ...macRouteSample(routes, this.c.mac) });
      })).catch(() => undefined).finally(() => { busy = false; });
    }, 20);
    await this.h.until(() => this.pings.l!.replies.length >= 30 && this.pings.r!.replies.length >= 30, 10_000, 'ping replies from both servers', 50);
    this.h.detail(`${this.pings.l!.replies.length} replies on server-l (local: the container is on its bridge), ` +
      `${this.pings.r!.replies.length} on server-r (across the overlay, VXLAN to ${tn.servers.l.address.net1})`);
  }

  private record(s: RouteSample): void {
    const last = this.samples.filter((x) => x.server === s.server).at(-1);
    if (last && JSON.stringify([last.best, last.duplicate]) === JSON.stringify([s.best, s.duplicate])) return;
    this.samples.push(s);
  }

  /** Move the container to the other server (live migration) and print the move's timeline. */
  async move(): Promise<MoveResult> {
    const { tn } = this.h;
    const old = this.where!;
    const from = old.server;
    const to = other(from);
    const T = tn.servers[to];
    this.gen++;
    const name = CONTAINER_NAMESPACES[this.gen] ?? `ctr${this.gen}`;
    this.h.detail(`live migration: container ${name} created behind server-${to} (port vc${this.gen}) with ${this.c.mac} ${this.c.ip} and the old one's ARP cache;`);
    this.h.detail(`the old one (server-${from}, port ${old.port}) paused (ARP off, output dropped); the new one sends one ping to ${T.service}`);
    const followPing = this.pings[from]!;
    const mv = liveMove(this.cl, old, name, to, `vc${this.gen}`, this.c, T.service);
    this.where = mv.now;
    const t0 = mv.at;
    // Followed: the old place's FDB entry and best path lead to the new place (on either
    // network) and its ping has replies again.
    const vteps = [T.address.net1, T.address.net2];
    await this.h.until(() => {
      const moved = vteps.includes(tn.fdbDst(from, this.c.mac) ?? '');
      const best = this.samples.some((s) => s.server === from && s.at > t0 && vteps.includes(s.best?.nextHop ?? ''));
      return moved && best && followPing.repliesAfter(t0) > 0;
    }, 10_000, `server-${from} to follow the container to server-${to}`, 20);
    // Then both pings steady (replies in the last 200 ms) for a while, at least 1.5 s after T0;
    // at most 10 s after T0 (the timeline then shows the gap that is still open).
    const steady = (): boolean => (['l', 'r'] as const).every((s) => this.pings[s]!.repliesAfter(Date.now() - 200) > 0);
    while (Date.now() < t0 + 10_000 && (Date.now() < t0 + 1500 || !steady())) await sleep(50);
    await sleep(300); // what the agents do right after traffic resumes belongs to this move too
    removeOld(this.cl, old);
    const until = Date.now();

    this.h.say('');
    this.h.say(`      move timeline (T0 = the container resumed on server-${to} and sent, ${new Date(t0).toISOString()}):`);
    const rows: LogRow[] = [{ at: t0, who: 'move', text: `${this.c.mac} ${this.c.ip} paused on server-${from}, speaking on server-${to}` }];
    for (const s of this.h.events) {
      if (s.at < t0 - 50 || s.at > until) continue;
      const text = describeMoveEvent(s, this.c);
      if (text) rows.push({ at: s.at, who: SERVER_LABEL[s.server], text });
    }
    for (const s of this.samples) if (s.at >= t0 && s.at <= until) rows.push({ at: s.at, who: SERVER_LABEL[s.server], text: sampleText(s, this.c.mac) });
    const pf = pingFigures(this.pings[from]!, t0, until);
    const pt = pingFigures(this.pings[to]!, t0, until);
    if (pf.first !== null) rows.push({ at: pf.first, who: 'ping', text: `server-${from} -> ${this.c.ip}: first reply after the move (now across the overlay to server-${to})` });
    for (const [s, f] of [[from, pf], [to, pt]] as const) {
      if (f.gap && f.gap.ms >= 100) rows.push({ at: f.gap.end, who: 'ping', text: `server-${s} -> ${this.c.ip}: replies again after ${f.gap.ms} ms without (last before at ${signedMs(f.gap.start - t0).trim()})` });
    }
    rows.sort((a, b) => a.at - b.at);
    for (const row of rows) this.h.say(`      ${signedMs(row.at - t0)}  ${row.who.padEnd(8)}  ${row.text}`);

    // The highest sequence the old place's `show routes` showed for the new place's route.
    const seqs = this.samples.filter((s) => s.server === from && s.at > t0 && s.best !== null && [T.address.net1, T.address.net2].includes(s.best.nextHop));
    const seqNow = seqs.length ? Math.max(...seqs.map((s) => s.best!.seq)) : null;
    this.h.say('');
    this.h.detail(`server-${from} now: ${this.fdbLines(from, false).join(' | ') || `no vxlan0 entry for ${this.c.mac}`}`);
    this.h.detail(`              ${this.neighLine(from)}`);
    this.showRoutes(from);
    const follow = pf.first === null ? null : Math.round(pf.first - t0);
    this.h.detail(`MOVE ${SERVER_LABEL[from]} -> ${SERVER_LABEL[to]}: sequence ${seqNow ?? '?'} seen in server-${from}'s show routes; ` +
      `ping from server-${from}: first reply ${follow === null ? '?' : `+${follow}`} ms after T0, longest gap ${pf.gap?.ms ?? 0} ms, ${pf.lost} echo requests lost; ` +
      `ping from server-${to} (now local): longest gap ${pt.gap?.ms ?? 0} ms, ${pt.lost} lost`);
    return { from, to, follow, lost: pf.lost, gap: Math.max(pf.gap?.ms ?? 0, pt.gap?.ms ?? 0), seq: seqNow };
  }

  /** `--keep`: how to look at the container where it is now. */
  exploreLines(cli: string): string[] {
    const { tn } = this.h;
    const w = this.where;
    if (!w) return [];
    const s = tn.servers[w.server];
    const o = tn.servers[other(w.server)];
    return [
      `the container is ${w.ns} behind server-${w.server} (port ${w.port}):`,
      `  ip netns exec ${w.ns} ping ${o.service}`,
      `  ip netns exec ${o.ns} ${cli} show routes --mac ${this.c.mac} --json --socket ${tn.socketPath(o.name)}`,
      `  ip netns exec ${o.ns} bridge fdb show dev vxlan0 | grep ${this.c.mac}`,
      `  ip netns exec ${s.ns} bridge fdb show br br-vxlan | grep ${this.c.mac}`,
    ];
  }

  /** Stop the pings and the poller (idempotent). */
  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.poller) clearInterval(this.poller);
    this.poller = null;
    for (const c of this.clients.splice(0)) c.close();
    for (const s of ['l', 'r'] as const) this.pings[s]?.stop();
  }

  /** A server's vxlan0 lines for the container's MAC (and the flood entries), nexthop groups resolved. */
  private fdbLines(s: ServerName, flood: boolean): string[] {
    const { tn } = this.h;
    const out: string[] = [];
    for (const line of nsExec(tn.servers[s].ns, 'bridge', ['fdb', 'show', 'dev', 'vxlan0']).split('\n')) {
      if (!(line.startsWith(this.c.mac) || (flood && line.startsWith('00:00:00:00:00:00')))) continue;
      const nhid = / nhid (\d+)/.exec(line)?.[1];
      out.push(nhid !== undefined && line.startsWith(this.c.mac) ? `${line.trim()}  (group ${nhid} -> via ${tn.fdbDst(s, this.c.mac) ?? '?'})` : line.trim());
    }
    return out;
  }

  private neighLine(s: ServerName): string {
    return nsExec(this.h.tn.servers[s].ns, 'ip', ['neigh', 'show', 'dev', 'br-vxlan', this.c.ip]).trim() || `no neighbour entry for ${this.c.ip}`;
  }

  private showRoutes(s: ServerName): void {
    const { tn } = this.h;
    this.h.detail(`# evpn-ha show routes --mac ${this.c.mac}   (on server-${s})`);
    for (const line of tn.evpnHaCli(s, ['show', 'routes', '--mac', this.c.mac, '--socket', tn.socketPath(s)]).trimEnd().split('\n')) this.h.detail(`  ${line}`);
  }
}
