// A stand-alone VTEP prober: `node cli.js '<json config>'` (or `@file.json`).
// Used by the namespace tests (one process per simulated server, run with
// `ip netns exec`) and for ad hoc checks of a path between two hosts.
//
// stdout: one JSON object per line: {"type":"ready"}, {"type":"state", ...event},
// and {"type":"status", targets, counters[, transport]} for each "status" line read
// on stdin (transport: the batched transport's system call counts, mmsg.ts).
// Logs (pino) go to stderr.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import pino from 'pino';
import { systemClock } from '../util/clock.js';
import { VtepProber, type LocalUplink, type ProbeTarget } from './prober.js';
import { openProbeTransport, type ProbeTransportKind } from './open.js';

export interface ProbeCliConfig {
  vni: number;
  serviceIp: string;
  bridgeMac: string;
  uplinks: LocalUplink[];
  targets: ProbeTarget[];
  interval?: number;
  multiplier?: number;
  holdDown?: number;
  probePort?: number;
  /** Cap on replies per second (default 5000; bench/lib/probe-cpu.ts answers 2,000 paths). */
  maxRepliesPerSecond?: number;
  /** Socket layer: 'auto' (default: sendmmsg/recvmmsg where available), 'mmsg', 'dgram' (node:dgram). */
  transport?: ProbeTransportKind;
  /** Scheduling tick in ms (VtepProberOptions.tickMs). */
  tickMs?: number;
  /** Receive socket address; default serviceIp. */
  listenAddress?: string;
  logLevel?: string;
}

function emit(obj: object): void {
  process.stdout.write(`${JSON.stringify(obj, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
}

async function main(): Promise<void> {
  const arg = process.argv[2];
  if (arg === undefined) {
    process.stderr.write('usage: cli.ts <json config | @file>\n');
    process.exit(2);
  }
  const cfg = JSON.parse(arg.startsWith('@') ? readFileSync(arg.slice(1), 'utf8') : arg) as ProbeCliConfig;
  const logger = pino({ level: cfg.logLevel ?? 'info' }, pino.destination(2));
  const transport = await openProbeTransport({
    listenAddress: cfg.listenAddress ?? cfg.serviceIp, probePort: cfg.probePort, logger, kind: cfg.transport,
  });
  const prober = new VtepProber({
    clock: systemClock, transport, logger, vni: cfg.vni, serviceIp: cfg.serviceIp, bridgeMac: cfg.bridgeMac,
    uplinks: cfg.uplinks, interval: cfg.interval, multiplier: cfg.multiplier, holdDown: cfg.holdDown, probePort: cfg.probePort,
    maxRepliesPerSecond: cfg.maxRepliesPerSecond, tickMs: cfg.tickMs,
  });
  prober.onStateChange((ev) => emit({ type: 'state', ...ev, wallTime: Date.now() }));
  prober.setTargets(cfg.targets);
  prober.start();
  emit({ type: 'ready' });
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line.trim() === 'status') {
      const stats = 'stats' in transport ? { transport: transport.stats } : {};
      emit({ type: 'status', targets: prober.status(), counters: prober.counters(), ...stats });
    }
  });
  const stop = (): void => { prober.stop(); process.exit(0); };
  rl.on('close', stop);
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err: unknown) => {
  process.stderr.write(`probe: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`);
  process.exit(1);
});
