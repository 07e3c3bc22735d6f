// The uplinks' BGP sessions (moved out of agent.ts): a session per uplink made from
// the configuration and the uplink's address, its events passed on while it is the
// uplink's current session (generation), stopped when its parameters, the address or
// the router ID change, and our advertisements kept equal to what origination wants.
// What a session's routes do (RIB, flood lists, probes) is the agent's (SessionsDeps).
import type { UpdateMessage } from '../bgp/types.js';
import type { Clock } from '../util/clock.js';
import { uplinkAuth, type UplinkConfig } from './config.js';
import type { AgentEvent } from './events.js';
import { diffAdvertisements, type Advertisement } from './origination.js';
import { ImportPolicy, type ImportContext, type PeerInfo } from './policy.js';
import type { SessionFactory, SessionHandlers, SessionSpec, UplinkState, UplinkStatus } from './ports.js';

export interface SessionsDeps {
  factory: SessionFactory;
  clock: Clock;
  stopping(): boolean;
  emit(ev: AgentEvent): void;
  problem(message: string): void;
  /** A session is about to be marked up. */
  beforeUp(): void;
  /** An UPDATE of an established session. */
  update(st: UplinkState, peer: PeerInfo, u: UpdateMessage): void;
  /** The established session went down: its paths go (the agent's part). */
  down(st: UplinkState, reason: string): void;
  endOfRib(st: UplinkState): void;
}

export function newUplink(u: UplinkConfig, context: ImportContext): UplinkState {
  return {
    cfg: u, address: null, routerId: null, session: null, generation: 0, peer: null,
    policy: new ImportPolicy(u, context), advertised: [], upSince: null, tableAt: null, flaps: 0,
  };
}

export function uplinkStatus(st: UplinkState, pathsReceived: number): UplinkStatus {
  return {
    name: st.cfg.name,
    peer: st.cfg.peer,
    address: st.address,
    state: st.peer ? 'established' : st.address === null ? 'no-address' : 'idle',
    upSince: st.upSince,
    flaps: st.flaps,
    pathsReceived,
    advertised: st.advertised.length,
    counters: st.policy.counters,
  };
}

/**
 * A peer that never sends End-of-RIB (no graceful restart capability) is taken to have
 * sent its initial table this long after the session came up, ms.
 */
export const INITIAL_TABLE_LIMIT = 10_000;

/** The uplink's session is up and its initial table still arriving (RFC 4724 §2: End-of-RIB not yet received). */
export function receivingTable(st: UplinkState, now: number): boolean {
  return st.peer !== null && st.tableAt === null && st.upSince !== null && now - st.upSince < INITIAL_TABLE_LIMIT;
}

export class Sessions {
  constructor(private readonly deps: SessionsDeps) {}

  /**
   * The uplink's address and routes as origination has them now: a session whose
   * local address changed is stopped; one is started when there is none and there
   * are an address and a router ID; else the advertisements follow the routes.
   */
  follow(st: UplinkState, addr: string | null, routerId: string | null, routes: Advertisement[]): void {
    if (st.session && addr !== st.address) this.stop(st, `local address changed from ${st.address} to ${addr ?? 'none'}`);
    st.address = addr;
    if (!st.session) {
      if (addr !== null && routerId !== null) this.start(st, addr, routerId, routes);
      return;
    }
    const d = diffAdvertisements(st.advertised, routes);
    if (d.withdraw.length) st.session.withdraw(d.withdraw);
    if (d.advertise.length) st.session.advertise(d.advertise);
    st.advertised = routes;
    if (d.withdraw.length || d.advertise.length) {
      this.deps.emit({ type: 'origination', uplink: st.cfg.name, address: addr, advertised: d.advertise.length, withdrawn: d.withdraw.length });
    }
  }

  start(st: UplinkState, address: string, routerId: string, routes: Advertisement[]): void {
    st.generation++;
    st.address = address;
    st.routerId = routerId;
    const u = st.cfg;
    const spec: SessionSpec = {
      uplink: u.name, peerAddress: u.peer, peerPort: u.peerPort, localAddress: address, localAs: u.localAs,
      peerAs: u.peerAs, routerId, holdTime: u.holdTime, keepalive: u.keepalive, connectRetry: u.connectRetry,
      passive: u.passive, bfd: u.bfd,
      gracefulRestart: u.gracefulRestart === null ? false
        : u.gracefulRestart === 'end-of-rib' ? { restartTime: 0, families: [] } : { restartTime: u.gracefulRestart },
      auth: uplinkAuth(u), ttlSecurity: u.ttlSecurity,
    };
    const s = this.deps.factory(spec, this.handlers(st));
    st.session = s;
    st.advertised = routes;
    if (routes.length) s.advertise(routes);
    s.start();
    this.deps.emit({ type: 'origination', uplink: u.name, address, advertised: routes.length, withdrawn: 0 });
  }

  stop(st: UplinkState, reason: string): void {
    const s = st.session;
    if (!s) return;
    st.session = null;
    if (st.peer) this.deps.down(st, reason);
    st.generation++;
    st.advertised = [];
    void Promise.resolve(s.stop(reason)).catch((e: unknown) => this.deps.problem(`uplink ${st.cfg.name}: stopping session: ${String(e)}`));
  }

  /** Shutdown: withdraw our routes, then stop the session (Cease) and wait for it. */
  async close(st: UplinkState, reason: string): Promise<void> {
    const s = st.session;
    if (!s) return;
    s.withdraw(st.advertised.map((a) => a.route));
    st.advertised = [];
    st.session = null;
    st.generation++;
    st.peer = null;
    await s.stop(reason);
  }

  private handlers(st: UplinkState): SessionHandlers {
    const gen = st.generation;
    const live = (): boolean => st.generation === gen && !this.deps.stopping();
    return {
      established: (info) => {
        if (!live()) return;
        // Decisions still queued belong to the time before this session came up.
        this.deps.beforeUp();
        st.peer = { address: st.cfg.peer, routerId: info.peerRouterId };
        st.upSince = this.deps.clock.now();
        st.tableAt = null;
        this.deps.emit({ type: 'session', uplink: st.cfg.name, state: 'up', peer: st.cfg.peer, peerRouterId: info.peerRouterId });
      },
      down: (reason) => {
        if (!live()) return;
        this.deps.down(st, reason);
      },
      update: (u) => {
        if (!live() || !st.peer) return;
        this.deps.update(st, st.peer, u);
      },
      endOfRib: () => {
        if (!live()) return;
        st.tableAt ??= this.deps.clock.now();
        this.deps.endOfRib(st);
      },
    };
  }
}
