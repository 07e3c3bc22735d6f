// `evpn-ha run --config <file>`: the VTEP agent (docs/configuration.md). The
// configuration is validated before anything else happens: every problem is
// printed as `file:line: key.path: message` and the exit code is 2, with nothing
// touched in the kernel and no session opened. SIGHUP (or `evpn-ha reload`)
// re-reads the file; SIGINT/SIGTERM withdraw every route, send Cease, remove
// what the agent wrote to the kernel and exit 0. SIGUSR2 is the stop for a
// restart or an upgrade: the same, except that the kernel entries are kept (traffic
// keeps flowing until the next start takes them over) and the exit code is 75
// (RESTART_EXIT_CODE; the systemd unit restarts on it). docs/operations-restart.md.
import type { Writable } from 'node:stream';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { pino, type Logger } from 'pino';
import { ConfigError, loadConfig, type Config } from '../agent/config.js';
import { kernelTcpAuth } from '../net/sockopt.js';
import { StartupError } from '../agent/agent.js';
import { startAgent } from './agent-daemon.js';
import { firstSignal, onSignal } from './signals.js';

export const DEFAULT_CONFIG_PATH = '/etc/evpn-ha/evpn-ha.yaml';

/** The signal that stops the agent for a restart (kernel entries kept). */
export const RESTART_SIGNAL: NodeJS.Signals = 'SIGUSR2';
/** Exit code after a stop for a restart (EX_TEMPFAIL; packaging/evpn-ha.service RestartForceExitStatus). */
export const RESTART_EXIT_CODE = 75;

export interface RunIo {
  stdout: Writable;
  stderr: Writable;
  /** Default: pino to stderr at the configuration's logLevel (LOG_LEVEL overrides). */
  logger?: Logger;
  /**
   * Resolves with a reason when the agent should stop (default: SIGINT/SIGTERM, or
   * SIGUSR2 = RESTART_SIGNAL for a restart). The reason RESTART_SIGNAL (or 'restart')
   * keeps the kernel entries and returns RESTART_EXIT_CODE.
   */
  until?: Promise<string>;
  /** Registers the reload trigger (default: SIGHUP); returns its removal. */
  onReload?: (reload: () => void) => () => void;
  version?: string;
}

interface RunArgs {
  config: string;
  check: boolean;
}

/** Validate the configuration, run the agent until told to stop; returns the exit code. */
export async function runAgent(configPath: string, io: RunIo, checkOnly = false): Promise<number> {
  let config: Config;
  try {
    config = loadConfig(configPath, kernelTcpAuth);
  } catch (e) {
    if (e instanceof ConfigError) {
      for (const line of e.lines()) io.stderr.write(`evpn-ha: ${line}\n`);
      return 2;
    }
    const err = e as NodeJS.ErrnoException;
    io.stderr.write(`evpn-ha: ${configPath}: ${err.code === 'ENOENT' ? 'no such file' : err.message}\n`);
    return 2;
  }
  if (checkOnly) {
    io.stdout.write(`${configPath}: ok (${config.uplinks.length} uplink(s): ${config.uplinks.map((u) => u.name).join(', ')}; ` +
      `VNI ${config.vnis.map((v) => v.vni).join(', ')})\n`);
    return 0;
  }
  const logger = io.logger ?? pino({ level: process.env['LOG_LEVEL'] ?? config.logLevel }, pino.destination(2));
  const until = io.until ?? firstSignal(['SIGINT', 'SIGTERM', RESTART_SIGNAL]);
  let running;
  try {
    running = await startAgent(config, { logger, configPath, ...(io.version ? { version: io.version } : {}) });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    logger.error({ err }, `start-up failed: ${err.message}`);
    // A StartupError says what to change on the host: also as plain lines.
    if (e instanceof StartupError) for (const line of err.message.split('\n')) io.stderr.write(`evpn-ha: ${line}\n`);
    return 1;
  }
  const unregister = (io.onReload ?? ((fn) => onSignal('SIGHUP', fn)))(() => {
    void running.provider.reload().then(
      (r) => { (r.ok ? logger.info.bind(logger) : logger.warn.bind(logger))({ reload: r }, `reload: ${r.message}`); },
      (err: unknown) => { logger.error({ err }, 'reload failed'); },
    );
  });
  const why = await until;
  unregister();
  if (why === RESTART_SIGNAL || why === 'restart') {
    logger.info(`${why}: stopping for a restart: withdrawing routes, closing sessions, keeping kernel entries`);
    await running.stop({ reason: why, flushKernel: false });
    return RESTART_EXIT_CODE;
  }
  logger.info(`${why}: withdrawing routes, closing sessions${config.kernel.flushOnShutdown ? ', removing kernel entries' : ''}`);
  await running.stop({ reason: why });
  return 0;
}

/** The yargs command; `setCode` receives the exit code. */
export function runCommand(io: RunIo, setCode: (code: number) => void): CommandModule<object, RunArgs> {
  return {
    command: 'run',
    describe: 'run the VTEP agent: one BGP session per uplink, best path per MAC/IP, neigh/FDB entries in the kernel',
    builder: (y: Argv<object>): Argv<RunArgs> => y
      .option('config', { type: 'string', default: DEFAULT_CONFIG_PATH, requiresArg: true, describe: 'YAML configuration file (docs/configuration.md)' })
      .option('check', { type: 'boolean', default: false, describe: 'only validate the configuration' }),
    handler: async (a: ArgumentsCamelCase<RunArgs>) => {
      setCode(await runAgent(String(a.config), io, a.check));
    },
  };
}
