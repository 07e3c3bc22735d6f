// `evpn-ha reflector --config <file>`: an RFC 4456 route reflector for L2VPN EVPN
// (docs/reflector.md). Runs until SIGINT/SIGTERM, then Ceases every session and
// exits 0. SIGUSR1 prints the status (peers, routes, best paths) as one JSON
// line on stdout. A bad configuration prints every problem and exits 2; a listener that
// cannot bind exits 1.
import type { Readable, Writable } from 'node:stream';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { pino, type Logger } from 'pino';
import { ConfigError, loadReflectorConfig, type ReflectorConfig } from '../reflector/config.js';
import { kernelTcpAuth } from '../net/sockopt.js';
import { Reflector } from '../reflector/reflector.js';
import { tcpTransport } from '../bgp/tcp.js';
import { onSignal, stopSignals } from './signals.js';

export interface ReflectorIo {
  stdout: Writable;
  stderr: Writable;
  stdin?: Readable | null;
  /** Default: pino to stderr at the configuration's logLevel (LOG_LEVEL overrides). */
  logger?: Logger;
  /** Resolves with a reason when the program should stop (default: SIGINT/SIGTERM). */
  until?: Promise<string>;
  /** Registers the handler that prints the status (default: on SIGUSR1); returns its removal. */
  onStatusRequest?: (print: () => void) => () => void;
}

/** One JSON line: the peers and every route with its best path and why it won. */
export function statusRecord(rr: Reflector): Record<string, unknown> {
  return {
    event: 'status',
    routerId: rr.config.routerId,
    clusterId: rr.config.clusterId,
    peers: rr.peers(),
    routes: rr.rib.routes().map((r) => ({
      route: r.description,
      best: r.best ? { peer: r.best.peer, nextHop: r.best.nextHop } : null,
      reason: r.reason,
      paths: r.paths.map((p) => p.peer),
    })),
    looped: rr.rib.counters.looped,
  };
}

interface ReflectorArgs {
  config: string;
  check: boolean;
}

/** Load the configuration and run the reflector; returns the exit code. */
export async function runReflector(configPath: string, io: ReflectorIo, checkOnly = false): Promise<number> {
  let cfg: ReflectorConfig;
  try {
    cfg = loadReflectorConfig(configPath, kernelTcpAuth);
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const line of e.lines()) io.stderr.write(`evpn-ha: ${line}\n`);
      return 2;
    }
    throw e;
  }
  if (checkOnly) {
    io.stdout.write(`${configPath}: ok (router-id ${cfg.routerId}, AS ${cfg.asn}, cluster-id ${cfg.clusterId}, ` +
      `${cfg.listenRanges.length} listen range(s), ${cfg.neighbors.length} neighbor(s))\n`);
    return 0;
  }
  const logger = io.logger ?? pino({ level: process.env['LOG_LEVEL'] ?? cfg.logLevel }, pino.destination(2));
  const until = io.until ?? stopSignals();
  const reflector = new Reflector({ config: cfg, logger, transport: tcpTransport() });
  try {
    await reflector.start();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    logger.error({ err }, `cannot listen on ${cfg.listen.address}:${cfg.listen.port}: ${err.code ?? err.message}`);
    await reflector.stop();
    return 1;
  }
  const unregister = (io.onStatusRequest ?? ((print) => onSignal('SIGUSR1', print)))(() => { io.stdout.write(`${JSON.stringify(statusRecord(reflector))}\n`); });
  const why = await until;
  unregister();
  logger.info(`${why}: closing every session`);
  await reflector.stop('evpn-ha reflector exiting');
  return 0;
}

/** The yargs command; `setCode` receives the exit code. */
export function reflectorCommand(io: ReflectorIo, setCode: (code: number) => void): CommandModule<object, ReflectorArgs> {
  return {
    command: 'reflector',
    describe: 'run an RFC 4456 route reflector for L2VPN EVPN (dynamic clients from listen ranges) until Ctrl-C',
    builder: (y: Argv<object>): Argv<ReflectorArgs> => y
      .option('config', { type: 'string', demandOption: true, requiresArg: true, describe: 'YAML configuration file (docs/reflector.md)' })
      .option('check', { type: 'boolean', default: false, describe: 'only validate the configuration' }),
    handler: async (a: ArgumentsCamelCase<ReflectorArgs>) => {
      setCode(await runReflector(String(a.config), io, a.check));
    },
  };
}
