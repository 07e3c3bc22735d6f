// Starting and stopping the agent's observability in one place: the control
// socket (always) and the Prometheus endpoint (when `metrics.listen` is set),
// both fed by one ControlProvider (agent-adapter.ts on the real agent).
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { Config } from '../agent/config.js';
import { AgentMetrics } from '../metrics/metrics.js';
import { MetricsServer } from '../metrics/server.js';
import { ControlServer } from './server.js';
import type { ControlProvider } from './types.js';

export interface ObservabilityOptions {
  config: Pick<Config, 'control' | 'metrics'>;
  provider: ControlProvider;
  logger?: Logger;
  /** For evpn_ha_build_info. */
  version?: string;
}

export interface Observability {
  control: ControlServer;
  /** null when `metrics.listen` is not set. */
  metrics: { registry: AgentMetrics; server: MetricsServer; address: AddressInfo } | null;
  /** Close both (the control socket file is removed). */
  close(): Promise<void>;
}

/**
 * Open the control socket, then the metrics endpoint. If the second fails the
 * first is closed again, so a failed start leaves nothing behind.
 */
export async function startObservability(o: ObservabilityOptions): Promise<Observability> {
  const control = new ControlServer({ path: o.config.control.socket, provider: o.provider, ...(o.logger ? { logger: o.logger } : {}) });
  await control.start();
  let metrics: Observability['metrics'] = null;
  if (o.config.metrics) {
    const registry = new AgentMetrics({ ...(o.version ? { version: o.version } : {}) });
    const detach = registry.attach(o.provider);
    const server = new MetricsServer(registry, o.logger);
    try {
      const address = await server.start(o.config.metrics.listen);
      metrics = { registry, server, address };
    } catch (e) {
      detach();
      await control.close();
      throw e;
    }
  }
  return {
    control,
    metrics,
    async close(): Promise<void> {
      metrics?.registry.detach();
      await Promise.all([control.close(), metrics?.server.close()]);
    },
  };
}
