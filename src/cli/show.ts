// `evpn-ha show neighbors|routes|kernel|vteps`, `evpn-ha watch`, `evpn-ha reload`:
// clients of the agent's control socket (src/control). Each prints a table, or
// the API's JSON with --json. When no agent answers on the socket: one line
// "evpn-ha: agent not running (no control socket at PATH)" and exit 1.
//
// The yargs command modules are made by functions taking the I/O, so main()
// stays testable: main.ts registers showCommand(io), watchCommand(io),
// reloadCommand(io); runControlCli() runs them alone (tests).
import type { Writable } from 'node:stream';
import yargs, { type Argv, type CommandModule } from 'yargs';
import { AgentNotRunningError, ControlClient, ControlError } from '../control/client.js';
import { parseClearDuplicate, parseRouteFilter, ProtocolError } from '../control/protocol.js';
import { DEFAULT_CONTROL_SOCKET, type ControlEvent } from '../control/types.js';
import { formatEvent, formatKernel, formatNeighbors, formatRoutes, formatVteps } from './control-format.js';
import { UsageError } from './format.js';
import { stopSignals } from './signals.js';

export interface ControlCommandIo {
  stdout: Writable;
  stderr: Writable;
  /** Sets the program's exit code (main() returns it). */
  exit(code: number): void;
  /** Resolves when `watch` should stop (default: SIGINT/SIGTERM). */
  until?: Promise<string>;
}

interface SocketArgs {
  socket: string;
  json: boolean;
}

function socketOptions<T>(y: Argv<T>): Argv<T & SocketArgs> {
  return y
    .option('socket', { type: 'string', default: DEFAULT_CONTROL_SOCKET, describe: 'the agent\'s control socket (config key control.socket)', requiresArg: true })
    .option('json', { type: 'boolean', default: false, describe: 'print the API\'s JSON instead of a table' }) as Argv<T & SocketArgs>;
}

/** Connect, run `fn`, close; turn the usual failures into one line on stderr and exit 1. */
async function withClient(io: ControlCommandIo, path: string, fn: (c: ControlClient) => Promise<number>): Promise<void> {
  let client: ControlClient | null = null;
  try {
    client = await ControlClient.connect(path);
    io.exit(await fn(client));
  } catch (e) {
    io.exit(1);
    if (e instanceof AgentNotRunningError || e instanceof ControlError) {
      io.stderr.write(`evpn-ha: ${e.message}\n`);
      return;
    }
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EACCES' || code === 'EPERM') {
      io.stderr.write(`evpn-ha: permission denied on the control socket ${path} (run as root)\n`);
      return;
    }
    throw e;
  } finally {
    client?.close();
  }
}

function print(io: ControlCommandIo, json: boolean, value: unknown, human: () => string): void {
  io.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${human()}\n`);
}

function isTty(w: Writable): boolean {
  return (w as Writable & { isTTY?: boolean }).isTTY === true;
}

interface RouteArgs extends SocketArgs {
  vni: string | undefined;
  mac: string | undefined;
  ip: string | undefined;
}

/** The routes filter from the command line; UsageError (exit 2) when malformed. */
export function routeFilterArgs(a: { vni?: unknown; mac?: unknown; ip?: unknown }): Record<string, unknown> {
  const params: Record<string, unknown> = {};
  if (a.vni !== undefined) {
    if (typeof a.vni !== 'string' || !/^\d+$/.test(a.vni)) throw new UsageError(`--vni needs a decimal integer, got "${String(a.vni)}"`);
    params['vni'] = Number(a.vni);
  }
  if (a.mac !== undefined) params['mac'] = String(a.mac);
  if (a.ip !== undefined) params['ip'] = String(a.ip);
  try {
    return { ...parseRouteFilter(params) };
  } catch (e) {
    if (e instanceof ProtocolError) throw new UsageError(e.message);
    throw e;
  }
}

function sub(command: string, aliases: string[], describe: string, handler: (a: SocketArgs) => Promise<void>): CommandModule<SocketArgs, SocketArgs> {
  return { command, aliases, describe, builder: (y) => y, handler };
}

export function showCommand(io: ControlCommandIo): CommandModule<object, SocketArgs> {
  return {
    command: 'show <what>',
    describe: 'show the running agent\'s state: neighbors, routes, kernel, vteps',
    builder: (y) => socketOptions(y)
      .command(sub('neighbors', ['neighbours', 'sessions'],
        'BGP sessions per uplink: state, uptime, capabilities, timers, BFD, route counts, last error',
        (a) => withClient(io, a.socket, async (c) => {
          const r = await c.call('neighbors');
          print(io, a.json, r, () => formatNeighbors(r));
          return 0;
        })))
      .command<RouteArgs>({
        command: 'routes',
        describe: 'every path per (VNI, MAC, IP) with the best one and why',
        builder: (r: Argv<SocketArgs>) => r
          .option('vni', { type: 'string', requiresArg: true, describe: 'only this VNI' })
          .option('mac', { type: 'string', requiresArg: true, describe: 'only this MAC address' })
          .option('ip', { type: 'string', requiresArg: true, describe: 'only this IP address' }) as unknown as Argv<RouteArgs>,
        handler: (a: RouteArgs) => {
          const params = routeFilterArgs(a);
          return withClient(io, a.socket, async (c) => {
            const r = await c.call('routes', params);
            print(io, a.json, r, () => formatRoutes(r));
            return 0;
          });
        },
      })
      .command(sub('kernel', [],
        'neighbour/FDB entries the agent owns vs what the kernel holds (missing, extra, different)',
        (a) => withClient(io, a.socket, async (c) => {
          const r = await c.call('kernel');
          print(io, a.json, r, () => formatKernel(r, isTty(io.stdout)));
          return 0;
        })))
      .command(sub('vteps', [], 'remote VTEPs per network with probe state and RTT',
        (a) => withClient(io, a.socket, async (c) => {
          const r = await c.call('vteps');
          print(io, a.json, r, () => formatVteps(r));
          return 0;
        })))
      .demandCommand(1, 'show what? neighbors, routes, kernel or vteps') as Argv<SocketArgs>,
    handler: () => undefined,
  };
}

export function watchCommand(io: ControlCommandIo): CommandModule<object, SocketArgs> {
  return {
    command: 'watch',
    describe: 'print the agent\'s events as they happen (sessions, best paths, failovers, kernel writes, probes) until Ctrl-C',
    builder: (y) => socketOptions(y),
    handler: (a) => withClient(io, a.socket, async (c) => {
      const until = io.until ?? stopSignals();
      let interrupted = false;
      void until.then(() => {
        interrupted = true;
        c.close();
      });
      await c.watch((ev: ControlEvent) => {
        io.stdout.write(a.json ? `${JSON.stringify(ev)}\n` : `${formatEvent(ev)}\n`);
      });
      if (interrupted) return 0;
      io.stderr.write('evpn-ha: the agent closed the connection\n');
      return 1;
    }),
  };
}

export function reloadCommand(io: ControlCommandIo): CommandModule<object, SocketArgs> {
  return {
    command: 'reload',
    describe: 'make the agent reload its configuration (the same as SIGHUP)',
    builder: (y) => socketOptions(y),
    handler: (a) => withClient(io, a.socket, async (c) => {
      const r = await c.call('reload');
      print(io, a.json, r, () => `${r.ok ? 'reloaded' : 'reload failed'}: ${r.message}`);
      return r.ok ? 0 : 1;
    }),
  };
}

interface ClearDuplicateArgs extends SocketArgs {
  mac: string;
  vni: string | undefined;
}

/** `evpn-ha clear duplicate <mac> [--vni N]`: lift a MAC's duplicate flag (docs/operations.md). */
export function clearCommand(io: ControlCommandIo): CommandModule<object, SocketArgs> {
  return {
    command: 'clear <what>',
    describe: 'clear state in the running agent: duplicate <mac> (a MAC marked duplicate by MAC mobility)',
    builder: (y) => socketOptions(y)
      .command<ClearDuplicateArgs>({
        command: 'duplicate <mac>',
        describe: 'lift the duplicate flag of a MAC (RFC 7432 §15.1) so that it is announced again',
        builder: (r: Argv<SocketArgs>) => r
          .positional('mac', { type: 'string', describe: 'the MAC address', demandOption: true })
          .option('vni', { type: 'string', requiresArg: true, describe: 'only in this VNI (default: every VNI)' }) as unknown as Argv<ClearDuplicateArgs>,
        handler: (a: ClearDuplicateArgs) => {
          const params: Record<string, unknown> = { mac: String(a.mac) };
          if (a.vni !== undefined) {
            if (typeof a.vni !== 'string' || !/^\d+$/.test(a.vni)) throw new UsageError(`--vni needs a decimal integer, got "${String(a.vni)}"`);
            params['vni'] = Number(a.vni);
          }
          try {
            parseClearDuplicate(params);
          } catch (e) {
            if (e instanceof ProtocolError) throw new UsageError(e.message);
            throw e;
          }
          return withClient(io, a.socket, async (c) => {
            const r = await c.call('clear-duplicate', params);
            print(io, a.json, r, () => r.cleared.length === 0
              ? `${String(params['mac'])} is not marked duplicate${a.vni !== undefined ? ` in VNI ${a.vni}` : ''}`
              : r.cleared.map((x) => `cleared duplicate ${x.mac} in VNI ${x.vni}`).join('\n'));
            return 0;
          });
        },
      })
      .demandCommand(1, 'clear what? duplicate <mac>') as Argv<SocketArgs>,
    handler: () => undefined,
  };
}

/**
 * Run only these commands (tests, or a tool without the rest of the CLI): the
 * exit code as main() would return it (2 on bad arguments).
 */
export async function runControlCli(argv: string[], io: Omit<ControlCommandIo, 'exit'>): Promise<number> {
  let code = 0;
  const cio: ControlCommandIo = { ...io, exit: (c) => { code = c; } };
  let output = '';
  try {
    await yargs()
      .scriptName('evpn-ha')
      .command(showCommand(cio))
      .command(watchCommand(cio))
      .command(reloadCommand(cio))
      .command(clearCommand(cio))
      .demandCommand(1)
      .strict()
      .exitProcess(false)
      .fail((msg: string | null, err: Error | null) => {
        if (err instanceof UsageError) throw err;
        if (!err || err.name === 'YError') throw new UsageError(msg ?? err?.message ?? 'bad arguments');
        throw err;
      })
      .parseAsync(argv, {}, (_e: Error | undefined, _a: unknown, out: string) => { output = out; });
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`evpn-ha: ${e.message.split('\n')[0]}\n`);
      return 2;
    }
    throw e;
  }
  if (output) io.stdout.write(`${output}\n`);
  return code;
}
