// The whole daemon behind `evpn-ha agent --config FILE`: the agent on the real
// kernel and sockets (wiring.ts), the control socket (`show`, `watch`, `reload`)
// and the optional metrics endpoint. The CLI only parses arguments, prints a
// ConfigError as lines (exit code 2), handles signals and calls stop().
import type { Logger } from 'pino';
import { AgentControlProvider } from '../control/agent-adapter.js';
import { ControlServer } from '../control/server.js';
import type { ReloadResult } from '../control/types.js';
import { AgentMetrics } from '../metrics/metrics.js';
import { MetricsServer } from '../metrics/server.js';
import type { KernelPort } from '../kernel/port.js';
import type { Clock } from '../util/clock.js';
import type { BgpTransport } from '../bgp/transport.js';
import { ConfigError, loadConfig, type Config } from '../agent/config.js';
import { kernelTcpAuth } from '../net/sockopt.js';
import { createDaemon, type Daemon } from '../agent/wiring.js';
import { startMemoryTrimmer, type MemoryTrimmer } from '../util/memory.js';

export interface StartOptions {
  logger: Logger;
  /** The file the config came from (reload reads it again); null: reload only re-reads the links. */
  configPath: string | null;
  version?: string;
  clock?: Clock;
  /** Instead of rtnetlink (tests). */
  kernel?: KernelPort;
  /** Instead of kernel TCP for the BGP sessions (tests). */
  bgpTransport?: BgpTransport;
}

export interface RunningAgent {
  daemon: Daemon;
  provider: AgentControlProvider;
  control: ControlServer;
  metrics: MetricsServer | null;
  /** What SIGHUP does: see reload() below. */
  reload(): Promise<ReloadResult>;
  /**
   * Stop everything: the agent (withdraw, Cease, kernel entries removed unless
   * `flushKernel: false` or config kernel.flushOnShutdown is false), the control
   * socket, the metrics endpoint.
   */
  stop(opts?: { reason?: string; flushKernel?: boolean }): Promise<void>;
}

function withoutSource(c: Config): string {
  return JSON.stringify({ ...c, source: '' });
}

export async function startAgent(config: Config, opts: StartOptions): Promise<RunningAgent> {
  const log = opts.logger.child({}, { level: config.logLevel });
  const daemon = createDaemon(config, { logger: log, ...(opts.clock ? { clock: opts.clock } : {}), ...(opts.kernel ? { kernel: opts.kernel } : {}),
    ...(opts.bgpTransport ? { bgpTransport: opts.bgpTransport } : {}) });
  const { agent, registry } = daemon;

  // Reload: the links are always re-read; a changed file is validated (a broken one
  // changes nothing) and applied as far as the agent can without a restart.
  let current = config;
  const reload = async (): Promise<ReloadResult> => {
    agent.refreshLinks();
    if (opts.configPath === null) return { ok: true, message: 'links re-read' };
    let next: Config;
    try {
      next = loadConfig(opts.configPath, kernelTcpAuth);
    } catch (e) {
      if (e instanceof ConfigError) return { ok: false, message: `not reloaded:\n${e.lines().join('\n')}` };
      throw e;
    }
    if (withoutSource(next) === withoutSource(current)) return { ok: true, message: 'configuration unchanged; links re-read' };
    const r = agent.reconfigure(next);
    current = { ...next, vnis: current.vnis, control: current.control, stateDir: current.stateDir, metrics: current.metrics, logLevel: current.logLevel, kernel: { ...next.kernel, protocol: current.kernel.protocol } };
    const parts = [r.applied.length ? `applied: ${r.applied.join('; ')}` : 'nothing to apply'];
    if (r.restartRequired.length) parts.push(`needs a restart (not applied): ${r.restartRequired.join(', ')}`);
    return { ok: r.restartRequired.length === 0, message: parts.join('; ') };
  };

  const provider = new AgentControlProvider({
    agent,
    config: () => current,
    clock: daemon.clock,
    session: (uplink) => registry.bgp.get(uplink) ?? null,
    bfd: (uplink) => registry.bfd.get(uplink) ?? null,
    kernel: daemon.kernel,
    reload,
  });

  const control = new ControlServer({ path: config.control.socket, provider, logger: log });
  let metrics: MetricsServer | null = null;
  let agentMetrics: AgentMetrics | null = null;
  try {
    await control.start();
    if (config.metrics) {
      agentMetrics = new AgentMetrics(opts.version ? { version: opts.version } : {});
      agentMetrics.attach(provider);
      metrics = new MetricsServer(agentMetrics, log);
      await metrics.start(config.metrics.listen);
    }
    log.info({ config: config.source, uplinks: config.uplinks.map((u) => u.name), vnis: config.vnis.map((v) => v.vni) }, 'starting');
    await agent.start();
  } catch (e) {
    // Undo what started; leave the kernel entries alone (nothing was decided yet).
    await daemon.close({ flushKernel: false, reason: 'start-up failed' }).catch(() => undefined);
    agentMetrics?.detach();
    await metrics?.close();
    provider.close();
    await control.close();
    throw e;
  }

  // Freed native memory back to the system after bursts (util/memory.ts).
  const trimmer: MemoryTrimmer | null = startMemoryTrimmer({
    // ms: the collection (when `collected`) and the trim.
    onTrim: (before, after, ms, collected) => log.debug({ rssBeforeMiB: Math.round(before / 2 ** 20), rssAfterMiB: Math.round(after / 2 ** 20), ms: Math.round(ms), collected }, 'memory: malloc_trim'),
  });

  let stopped = false;
  return {
    daemon, provider, control, metrics, reload,
    async stop(o = {}) {
      if (stopped) return;
      stopped = true;
      log.info({ reason: o.reason }, 'stopping');
      trimmer?.stop();
      const closeOpts: { flushKernel?: boolean; reason?: string } = {};
      if (o.flushKernel !== undefined) closeOpts.flushKernel = o.flushKernel;
      if (o.reason !== undefined) closeOpts.reason = o.reason;
      await daemon.close(closeOpts);
      agentMetrics?.detach();
      await metrics?.close();
      provider.close();
      await control.close();
    },
  };
}
