// The agent's real parts: BgpSession (+ BFD) per uplink, a VtepProber per VNI on
// UDP sockets, and the rtnetlink KernelPort. agent.ts only sees the small
// interfaces; this file adapts the real classes to them. Not unit-tested (it is
// all sockets); the namespace tests exercise it through `evpn-ha agent`.
import type { Logger } from 'pino';
import { BfdHost } from '../bfd/host.js';
import { BfdManager } from '../bfd/manager.js';
import type { BfdService, BfdSessionHandle } from '../bfd/types.js';
import { BgpSession } from '../bgp/session.js';
import { tcpTransport } from '../bgp/tcp.js';
import type { BgpTransport } from '../bgp/transport.js';
import type { KernelPort } from '../kernel/port.js';
import { openRtnetlink } from '../kernel/rtnetlink.js';
import { VtepProber, type LocalUplink, type ProbeStateEvent, type ProbeTarget, type ProbeTargetStatus } from '../probe/prober.js';
import { openProbeTransport, type OpenedProbeTransport } from '../probe/open.js';
import { systemClock, type Clock, type Timer } from '../util/clock.js';
import {
  Agent, type AgentProber, type AgentSession, type ProberFactory, type ProberSpec, type SessionFactory,
  type SessionHandlers, type SessionSpec,
} from './agent.js';
import type { Config } from './config.js';
import { CeaseSubcode } from '../bgp/errors.js';
import '../evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

/** Longest reconnect backoff, ms. */
const MAX_CONNECT_RETRY_MS = 30_000;

/** The live objects per uplink, for `show` and metrics (src/control/agent-adapter.ts). */
export interface SessionRegistry {
  bgp: Map<string, BgpSession>;
  bfd: Map<string, BfdSessionHandle>;
}

/**
 * BgpSession per uplink; with `bfd:` on the uplink, a BFD session to the peer from
 * the same address, whose Up -> Down resets the BGP session at once (RFC 5882 §4.1).
 */
export function bgpSessionFactory(opts: { clock: Clock; logger: Logger; bfd: BfdService; registry: SessionRegistry; transport: BgpTransport }): SessionFactory {
  return (spec: SessionSpec, h: SessionHandlers): AgentSession => {
    const log = opts.logger.child({ uplink: spec.uplink });
    const bgp = new BgpSession({
      transport: opts.transport,
      peerAddress: spec.peerAddress,
      peerPort: spec.peerPort,
      localAddress: spec.localAddress,
      localAs: spec.localAs,
      peerAs: spec.peerAs,
      routerId: spec.routerId,
      holdTime: spec.holdTime,
      keepalive: spec.keepalive,
      passive: spec.passive,
      gracefulRestart: spec.gracefulRestart,
      connectRetry: { min: spec.connectRetry * 1000, max: Math.max(spec.connectRetry * 1000, MAX_CONNECT_RETRY_MS) },
      auth: spec.auth,
      ttlSecurity: spec.ttlSecurity,
      clock: opts.clock,
      logger: log,
    });
    bgp.on('established', (n) => h.established({ peerRouterId: n.peerRouterId }));
    bgp.on('down', (d) => h.down(d.reason));
    bgp.on('update', (u) => h.update(u));
    bgp.on('eor', (f) => h.endOfRib(f));
    opts.registry.bgp.set(spec.uplink, bgp);

    let bfd: BfdSessionHandle | null = null;
    if (spec.bfd) {
      const b = opts.bfd.add({ local: spec.localAddress, remote: spec.peerAddress, ...spec.bfd });
      bfd = b;
      b.on('down', (ev) => {
        if (bgp.state === 'Established') bgp.reset(`BFD down (${ev.diagName})`, CeaseSubcode.BfdDown);
      });
      opts.registry.bfd.set(spec.uplink, b);
    }

    return {
      start: () => bgp.start(),
      advertise: (routes) => bgp.advertise(routes),
      withdraw: (routes) => bgp.withdraw(routes),
      refresh: () => bgp.refresh(),
      stop: async (reason) => {
        if (opts.registry.bgp.get(spec.uplink) === bgp) opts.registry.bgp.delete(spec.uplink);
        if (bfd) {
          if (opts.registry.bfd.get(spec.uplink) === bfd) opts.registry.bfd.delete(spec.uplink);
          bfd.removeAllListeners('down');
          opts.bfd.remove(bfd);
        }
        await bgp.stop(reason);
      },
    };
  };
}

/**
 * A VtepProber on UDP sockets (batched system calls where available: probe/open.ts). The receive socket (service address, probe port)
 * opens in the background and is retried every 5 s; until then targets and uplinks
 * are only remembered and every path stays eligible.
 */
class UdpProber implements AgentProber {
  private prober: VtepProber | null = null;
  private transport: OpenedProbeTransport | null = null;
  private stopped = false;
  private retry: Timer | null = null;
  private uplinks: LocalUplink[];
  private targets: ProbeTarget[] = [];
  private readonly listeners = new Set<(ev: ProbeStateEvent) => void>();
  private failures = 0;

  constructor(private readonly spec: ProberSpec, private readonly clock: Clock, private readonly log: Logger) {
    this.uplinks = spec.uplinks;
  }

  start(): void {
    if (this.stopped || this.prober) return;
    const s = this.spec;
    openProbeTransport({ listenAddress: s.serviceIp, probePort: s.port, logger: this.log }).then((transport) => {
      if (this.stopped) {
        transport.close();
        return;
      }
      if (this.failures) this.log.info({ serviceIp: s.serviceIp, port: s.port }, 'VTEP probe socket open');
      this.transport = transport;
      const prober = new VtepProber({
        clock: this.clock, transport, vni: s.vni, serviceIp: s.serviceIp, bridgeMac: s.bridgeMac, uplinks: this.uplinks,
        interval: s.interval, multiplier: s.multiplier, holdDown: s.holdDown, probePort: s.port, logger: this.log,
      });
      prober.onStateChange((ev) => { for (const fn of this.listeners) fn(ev); });
      prober.setTargets(this.targets);
      prober.start();
      this.prober = prober;
    }, (err: unknown) => {
      if (this.failures++ === 0) this.log.warn({ err, serviceIp: s.serviceIp, port: s.port }, 'cannot open the VTEP probe socket; retrying every 5 s');
      if (!this.stopped) this.retry = this.clock.setTimer(5000, () => { this.retry = null; this.start(); });
    });
  }

  stop(): void {
    this.stopped = true;
    this.retry?.cancel();
    this.prober?.stop();
    this.transport?.close();
    this.prober = null;
    this.transport = null;
  }

  setUplinks(uplinks: LocalUplink[]): void {
    this.uplinks = uplinks;
    this.prober?.setUplinks(uplinks);
  }

  setTargets(targets: Iterable<ProbeTarget>): void {
    this.targets = [...targets];
    this.prober?.setTargets(this.targets);
  }

  onStateChange(fn: (ev: ProbeStateEvent) => void): () => void {
    this.listeners.add(fn);
    return () => { this.listeners.delete(fn); };
  }

  status(): ProbeTargetStatus[] {
    return this.prober?.status() ?? [];
  }
}

export function udpProberFactory(opts: { clock: Clock; logger: Logger }): ProberFactory {
  return (spec) => new UdpProber(spec, opts.clock, opts.logger.child({ component: 'probe', vni: spec.vni }));
}

export interface Daemon {
  agent: Agent;
  kernel: KernelPort;
  bfd: BfdService;
  registry: SessionRegistry;
  clock: Clock;
  /** Shut the agent down (see Agent.shutdown), then close BFD and the kernel port. */
  close(opts?: { flushKernel?: boolean; reason?: string }): Promise<void>;
}

/** Build (not start) the agent on the real kernel, sockets and clock. */
export function createDaemon(config: Config, opts: { logger: Logger; clock?: Clock; kernel?: KernelPort; bgpTransport?: BgpTransport }): Daemon {
  const clock = opts.clock ?? systemClock;
  const kernel = opts.kernel ?? openRtnetlink({ protocol: config.kernel.protocol, logger: opts.logger.child({ component: 'kernel' }) });
  // With the real clock the sessions run in the BFD process (src/bfd/host.ts, child.ts):
  // a busy event loop here (a large UPDATE burst, kernel writes) must not delay a
  // Control packet. An injected clock keeps them in this thread (tests).
  const bfdLog = opts.logger.child({ component: 'bfd' });
  const bfd: BfdService = clock === systemClock
    ? new BfdHost({ logger: bfdLog })
    : new BfdManager({ clock, logger: bfdLog, afterIo: null });
  const registry: SessionRegistry = { bgp: new Map(), bfd: new Map() };
  const agent = new Agent({
    config, kernel, clock, logger: opts.logger,
    sessions: bgpSessionFactory({ clock, logger: opts.logger.child({ component: 'bgp' }), bfd, registry, transport: opts.bgpTransport ?? tcpTransport() }),
    probers: udpProberFactory({ clock, logger: opts.logger }),
  });
  return {
    agent, kernel, bfd, registry, clock,
    async close(o = {}) {
      await agent.shutdown(o);
      await bfd.close();
      await kernel.close();
    },
  };
}
