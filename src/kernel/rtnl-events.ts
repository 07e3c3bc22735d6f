// Supervisor of the rtnetlink event socket: the event pump child process
// (event-pump.ts), restarted with an 'overflow' report when it dies, or the socket
// in this process. Hands every datagram to `onDatagram` and every loss of events
// to `onOverflow` (subscribers must resync).
import { spawn, type ChildProcess } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { PUMP_GROUPS, PumpDecoder } from './event-pump.js';
import * as nl from './nl.js';
import { errnoOf } from './rtnl-codec.js';
import { guard, openRouteSocket } from './rtnl-requests.js';
import { CHILD_NODE_FLAGS } from '../util/node-flags.js';

/**
 * How much higher than the agent the event pump is scheduled (nice steps; the BFD
 * process has 10). The pump only copies datagrams from the socket to a pipe, but
 * when it is not scheduled for a while during a burst (the echo of a 50,000-entry
 * write, on a loaded machine) the socket overflows, and each overflow costs the
 * agent a full dump and a re-plan of every key.
 */
export const EVENT_PUMP_NICE = 5;

/** Schedule `pid` EVENT_PUMP_NICE steps above this process; false without CAP_SYS_NICE. */
export function raisePumpPriority(pid: number): boolean {
  try {
    setPriority(pid, Math.max(-20, getPriority() - EVENT_PUMP_NICE));
    return true;
  } catch {
    return false;
  }
}

export interface EventSource {
  /** Where the socket is read: this process through libc, the pump process, the addon in this process. */
  readonly kind: 'direct' | 'process' | 'inline';
  ready: Promise<void>;
  stop: () => void;
  /** PID of the event pump process, null when inline or not running. */
  pid: () => number | null;
}

export interface EventSupervisorOptions {
  /** SO_RCVBUF of the in-process socket; the pump gets twice this. */
  recvBufferSize: number;
  /** Command that runs the event pump (default: this Node with event-pump.js). */
  eventPumpCommand?: string[] | undefined;
  logger?: Logger | undefined;
  /** One datagram of rtnetlink messages. */
  onDatagram: (buf: Buffer) => void;
  /** Events were lost (socket overflow, pump restart): subscribers must resync. */
  onOverflow: () => void;
}

/** The event socket in this process (see event-pump.ts for why this is not the default). */
export function openInlineEvents(o: EventSupervisorOptions): EventSource {
  const s = openRouteSocket(o.recvBufferSize);
  for (const g of PUMP_GROUPS) {
    try { s.addMembership(g); } catch (e) { if (g !== nl.RTNLGRP_NEXTHOP) throw e; }
  }
  s.on('message', (buf) => guard(o.logger, 'event datagram', () => o.onDatagram(buf)));
  s.on('error', (err) => guard(o.logger, 'event socket error', () => {
    const f = errnoOf(err);
    o.logger?.warn({ code: f.code }, 'kernel: event socket error; subscribers must resync');
    o.onOverflow();
  }));
  return { kind: 'inline', ready: Promise.resolve(), stop: () => s.close(), pid: () => null };
}

function pumpCommand(o: EventSupervisorOptions): string[] {
  if (o.eventPumpCommand) return o.eventPumpCommand;
  const here = import.meta.url;
  const file = fileURLToPath(new URL(here.endsWith('.ts') ? './event-pump.ts' : './event-pump.js', here));
  return [process.execPath, ...process.execArgv, ...CHILD_NODE_FLAGS, file, '--evpn-ha-event-pump'];
}

/** The event socket in a child process, restarted (with an 'overflow' report) when it dies. */
export function startEventPump(o: EventSupervisorOptions): EventSource {
  let stopped = false;
  let child: ChildProcess | null = null;
  let restart: NodeJS.Timeout | null = null;
  let failedStarts = 0;
  let inline: EventSource | null = null;
  // Each launch has its own readiness; dump() waits for the current one, so a
  // resync after a restart does not start before events flow again.
  let resolveReady: (() => void) | null = null;
  let ready: Promise<void> = Promise.resolve();
  let readyTimer: NodeJS.Timeout | undefined;
  /** A new pending `ready`, unless one is pending already (whoever waits on it keeps waiting). */
  const notReady = (): void => {
    if (resolveReady) return;
    ready = new Promise<void>((resolve) => { resolveReady = resolve; });
  };
  const markReady = (): void => {
    const r = resolveReady;
    resolveReady = null;
    r?.();
  };
  const launch = (): void => {
    readyTimer = setTimeout(() => {
      o.logger?.warn('kernel: event pump not ready after 10 s; continuing');
      markReady();
    }, 10_000);
    readyTimer.unref();
    const [cmd, ...args] = pumpCommand(o);
    const c = spawn(cmd!, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { ...process.env, EVPN_HA_PUMP_RCVBUF: String(o.recvBufferSize * 2) },
    });
    child = c;
    if (c.pid !== undefined && !raisePumpPriority(c.pid)) o.logger?.debug('kernel: cannot raise the event pump\'s priority');
    let wasReady = false;
    const dec = new PumpDecoder();
    const out = c.stdout!;
    out.on('data', (chunk: Buffer) => {
      guard(o.logger, 'event pump data', () => dec.push(chunk, {
        frame: (b) => o.onDatagram(b),
        lost: () => {
          o.logger?.warn('kernel: events lost (event socket overflow); subscribers must resync');
          o.onOverflow();
        },
        ready: () => { wasReady = true; failedStarts = 0; clearTimeout(readyTimer); markReady(); },
      }));
      // One chunk (<= 64 KiB, some hundred events) per turn of the event loop: libuv
      // would otherwise read and hand us the whole backlog of a write burst (the echo
      // of 50,000 entries) in one go, keeping BFD's timers and sockets waiting. The
      // pump keeps reading the netlink socket meanwhile; the pipe holds the rest.
      out.pause();
      setImmediate(() => { if (child === c) out.resume(); });
    });
    c.stdin!.on('error', () => { /* the pump died; 'exit' handles it */ });
    // The pump's stderr (e.g. the addon's abort message) goes to our log.
    let errText = '';
    c.stderr!.on('data', (chunk: Buffer) => {
      errText = (errText + chunk.toString('utf8')).slice(-2000);
    });
    c.stderr!.on('end', () => {
      if (errText.trim()) o.logger?.warn({ stderr: errText.trim() }, 'kernel: event pump stderr');
    });
    const onGone = (why: string): void => {
      if (child !== c) return;
      child = null;
      if (stopped) return;
      notReady();
      o.onOverflow();
      failedStarts = wasReady ? 0 : failedStarts + 1;
      if (failedStarts >= 5) {
        // The pump cannot start here (e.g. no way to run it): listen in-process.
        o.logger?.error({ why }, 'kernel: event pump failed to start 5 times; using the in-process event socket');
        inline = openInlineEvents(o);
        clearTimeout(readyTimer);
        markReady();
        return;
      }
      const delay = Math.min(5000, 100 * 2 ** failedStarts);
      o.logger?.warn({ why, restartInMs: delay }, 'kernel: event pump exited; restarting, subscribers must resync');
      restart = setTimeout(() => { restart = null; if (!stopped) launch(); }, delay);
    };
    c.on('exit', (code, signal) => onGone(`exit ${code ?? signal}`));
    c.on('error', (e) => onGone(String(e)));
  };
  notReady();
  launch();
  return {
    get kind() { return inline ? 'inline' as const : 'process' as const; },
    get ready() { return ready; },
    pid: () => child?.pid ?? null,
    stop: () => {
      stopped = true;
      inline?.stop();
      clearTimeout(readyTimer);
      if (restart) clearTimeout(restart);
      markReady();
      const c = child;
      child = null;
      if (c && c.exitCode === null && c.signalCode === null) {
        c.stdin?.end();
        c.kill('SIGTERM');
      }
    },
  };
}
