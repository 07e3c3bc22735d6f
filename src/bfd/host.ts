// The agent's side of the BFD process (child.ts): a BfdService whose sessions run
// in a child process, so that a busy event loop here (a large UPDATE burst and its
// kernel writes) never delays a Control packet there. The sessions seen here are
// mirrors: they re-emit the process's events (up, down with its diag, ...) and
// answer snapshot() from the last report (events at once, counters every second).
//
// If the process dies, that is logged as an error, every Up session goes Down
// with diagName `BfdProcessExited` (the BGP session resets at once, as the peers'
// BFD would make it do a moment later anyway), and a new process is started with
// every session (after 0 s, then 1, 2, 4 ... 30 s while it keeps dying within 10 s).
// close() stops it and waits until it has exited.

import { spawn } from 'node:child_process';
import { getPriority, setPriority } from 'node:os';
import { EventEmitter } from 'node:events';
import { fileURLToPath } from 'node:url';
import { pino, type Level, type Logger } from 'pino';
import { diagName } from './packet.js';
import { systemClock, type Clock, type Timer } from '../util/clock.js';
import { CHILD_NODE_FLAGS } from '../util/node-flags.js';
import { BFD_PROCESS_FLAG } from './child.js';
import { encodeMessage, LineDecoder, shiftMessage, type FromBfdProcess, type ToBfdProcess } from './ipc.js';
import {
  canonicalAddress, sessionKey, toTimers,
  type BfdDropCounters, type BfdOptions, type BfdPeerConfig, type BfdService, type BfdSessionEvents, type BfdSessionHandle, type BfdSessionInfo,
} from './types.js';

/** The diagName of the `down` event when the BFD process died under an Up session. */
export const BFD_PROCESS_EXITED = 'BfdProcessExited';

/** A running BFD process as the host drives it. */
export interface BfdProcess {
  readonly pid: number | null;
  send(m: ToBfdProcess): void;
  /** Close its input: it exits once it has handled what it got. */
  end(): void;
  kill(): void;
}

/** Starts a BFD process; `exit` is called once (never from within the call), whenever and however it ends. */
export type BfdProcessSpawner = (on: { message(m: FromBfdProcess): void; exit(code: number | null, signal: string | null): void }) => BfdProcess;

/** How much higher than the agent the BFD process is scheduled (nice steps). */
export const BFD_PROCESS_NICE = 10;

/** The command that runs child.ts: this Node (or the single binary) with the flag, a small young generation. */
export function bfdProcessCommand(): string[] {
  const here = import.meta.url;
  const file = fileURLToPath(new URL(here.endsWith('.ts') ? './child.ts' : './child.js', here));
  return [process.execPath, ...process.execArgv, ...CHILD_NODE_FLAGS, file, BFD_PROCESS_FLAG];
}

/** The real spawner: a child process speaking JSON lines on stdin/stdout; its stderr is ours (crash traces). */
export function processSpawner(opts: { command?: string[]; logLevel?: string; log: Logger }): BfdProcessSpawner {
  return (on) => {
    const [cmd, ...args] = opts.command ?? bfdProcessCommand();
    const child = spawn(cmd!, args, {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, EVPN_HA_BFD_LOG_LEVEL: opts.logLevel ?? 'info' },
    });
    // Scheduling priority above the agent's (nice -10 relative), so that on a loaded
    // machine the BFD process still runs every few milliseconds. Needs CAP_SYS_NICE
    // (the agent runs as root); without it the process keeps the agent's priority.
    if (child.pid !== undefined) {
      try {
        setPriority(child.pid, Math.max(-20, getPriority() - BFD_PROCESS_NICE));
      } catch (e) {
        opts.log.debug({ err: e instanceof Error ? e.message : String(e) }, 'bfd process: cannot raise its priority');
      }
    }
    const decoder = new LineDecoder();
    const origin = performance.timeOrigin;
    child.stdout!.on('data', (chunk: Buffer) => decoder.push(chunk, (v) => {
      if (typeof v === 'object' && v !== null && typeof (v as { t?: unknown }).t === 'string') on.message(shiftMessage(v as FromBfdProcess, -origin));
    }, (line) => opts.log.warn({ line: line.slice(0, 200) }, 'bfd process: unreadable output')));
    // Writes to a process that just died fail with EPIPE; its exit is reported below.
    child.stdin!.on('error', () => {});
    let exited = false;
    const done = (code: number | null, signal: string | null): void => {
      if (exited) return;
      exited = true;
      on.exit(code, signal);
    };
    child.on('error', (e) => { opts.log.error({ err: e.message }, 'bfd process: cannot start'); done(null, null); });
    child.on('exit', (code, signal) => done(code, signal));
    return {
      pid: child.pid ?? null,
      send: (m) => { if (!exited && child.stdin!.writable) child.stdin!.write(encodeMessage(m)); },
      end: () => { child.stdin!.end(); },
      kill: () => { if (!exited) child.kill('SIGKILL'); },
    };
  };
}

function initialInfo(cfg: BfdPeerConfig): BfdSessionInfo {
  return {
    local: canonicalAddress(cfg.local), remote: canonicalAddress(cfg.remote), multihop: cfg.multihop ?? false,
    state: 'Down', remoteState: 'Down', diag: 0, diagName: diagName(0), localDiscriminator: 0, remoteDiscriminator: 0,
    txIntervalMs: 0, detectTimeMs: 0, remoteMinRxMs: 0, remoteMinTxMs: 0, remoteMultiplier: 0, sourcePort: 0,
    lastUpAt: undefined, lastDownAt: undefined,
    counters: { txPackets: 0, rxPackets: 0, txErrors: 0, upTransitions: 0, downTransitions: 0 },
  };
}

/** A session running in the BFD process, as seen from the agent. */
export class RemoteBfdSession extends EventEmitter<BfdSessionEvents> implements BfdSessionHandle {
  readonly local: string;
  readonly remote: string;
  readonly multihop: boolean;
  /** @internal the config the process gets (again after a restart). */
  cfg: BfdPeerConfig;
  /** @internal AdminDown asked for here, re-applied after a restart. */
  admin = false;
  private info: BfdSessionInfo;
  /** Counters of earlier processes, so that they do not restart at zero. */
  private base = { txPackets: 0, rxPackets: 0, txErrors: 0, upTransitions: 0, downTransitions: 0 };

  /** @internal created by BfdHost.add */
  constructor(readonly id: number, cfg: BfdPeerConfig, private readonly host: BfdHost) {
    super();
    this.cfg = { ...cfg };
    this.info = initialInfo(cfg);
    this.local = this.info.local;
    this.remote = this.info.remote;
    this.multihop = this.info.multihop;
  }

  get state(): BfdSessionInfo['state'] { return this.info.state; }
  get isUp(): boolean { return this.info.state === 'Up'; }

  snapshot(): BfdSessionInfo {
    const c = this.info.counters;
    const b = this.base;
    return {
      ...this.info,
      counters: {
        txPackets: b.txPackets + c.txPackets, rxPackets: b.rxPackets + c.rxPackets, txErrors: b.txErrors + c.txErrors,
        upTransitions: b.upTransitions + c.upTransitions, downTransitions: b.downTransitions + c.downTransitions,
      },
    };
  }

  adminDown(): void { this.admin = true; this.host.send({ t: 'admin', id: this.id, down: true }); }
  adminUp(): void { this.admin = false; this.host.send({ t: 'admin', id: this.id, down: false }); }

  setOptions(o: BfdOptions): void {
    toTimers({ ...this.cfg, ...o }); // the same RangeError as BfdManager, here and now
    this.cfg = { ...this.cfg, ...o };
    this.host.send({ t: 'set', id: this.id, opts: o });
  }

  /** @internal a report from the process. */
  update(info: BfdSessionInfo): void {
    this.info = info;
  }

  /** @internal the process died: what it reported is gone; an Up session goes Down. */
  lost(now: number): void {
    const was = this.info;
    this.base = this.snapshot().counters;
    this.info = { ...initialInfo(this.cfg), lastUpAt: was.lastUpAt, lastDownAt: was.lastDownAt, diagName: BFD_PROCESS_EXITED };
    if (was.state !== 'Up') return;
    this.info.lastDownAt = now;
    this.base.downTransitions++;
    this.emit('stateChange', 'Up', 'Down', 0);
    this.emit('down', { diag: 0, diagName: BFD_PROCESS_EXITED, upForMs: was.lastUpAt === undefined ? 0 : Math.max(0, now - was.lastUpAt) });
  }
}

export interface BfdHostOptions {
  logger?: Logger;
  /** How the process is started (default: processSpawner, this program with --evpn-ha-bfd). */
  spawn?: BfdProcessSpawner;
  /** For restart delays and the time of a loss (default the system clock). */
  clock?: Clock;
  /** First restart delay after a quick second death, ms (default 1000; doubles up to 30 s). */
  restartMs?: number;
}

/** How long a process must have run for its death to count as isolated (restart at once). */
const STABLE_MS = 10_000;
const MAX_RESTART_MS = 30_000;
/** How long close() waits for the process to exit before it kills it. */
const CLOSE_GRACE_MS = 2000;

export class BfdHost implements BfdService {
  private readonly log: Logger;
  private readonly spawner: BfdProcessSpawner;
  private readonly clock: Clock;
  private readonly restartMs: number;
  private readonly byKey = new Map<string, RemoteBfdSession>();
  private readonly byId = new Map<number, RemoteBfdSession>();
  private nextId = 1;
  private proc: BfdProcess | null = null;
  private procExited: Promise<void> | null = null;
  private startedAt = 0;
  private quickDeaths = 0;
  private restart: Timer | null = null;
  private closed = false;
  /** Processes started (1 + restarts). */
  starts = 0;
  drops: BfdDropCounters = {};

  constructor(opts: BfdHostOptions = {}) {
    this.log = opts.logger ?? pino({ level: 'silent' });
    this.clock = opts.clock ?? systemClock;
    this.restartMs = opts.restartMs ?? 1000;
    this.spawner = opts.spawn ?? processSpawner({ log: this.log, logLevel: this.log.level });
  }

  /** PID of the BFD process (null before the first session and between a death and its restart). */
  pid(): number | null {
    return this.proc?.pid ?? null;
  }

  add(cfg: BfdPeerConfig): BfdSessionHandle {
    toTimers(cfg); // RangeError on bad options, as BfdManager.add
    const key = sessionKey(cfg.local, cfg.remote, cfg.multihop);
    const existing = this.byKey.get(key);
    if (existing) {
      existing.setOptions(cfg);
      return existing;
    }
    if (this.closed) throw new Error('BFD host closed');
    const s = new RemoteBfdSession(this.nextId++, cfg, this);
    this.byKey.set(key, s);
    this.byId.set(s.id, s);
    if (this.proc === null && this.restart === null) this.startProcess();
    else this.send({ t: 'add', id: s.id, cfg: s.cfg, adminDown: false });
    return s;
  }

  sessions(): BfdSessionHandle[] {
    return [...this.byKey.values()];
  }

  remove(handle: BfdSessionHandle, opts: { adminDown?: boolean } = {}): void {
    const key = sessionKey(handle.local, handle.remote, handle.multihop);
    const s = this.byKey.get(key);
    if (s === undefined || s !== handle) return;
    this.byKey.delete(key);
    this.byId.delete(s.id);
    this.send({ t: 'remove', id: s.id, adminDown: opts.adminDown ?? true });
  }

  async close(opts: { adminDown?: boolean } = {}): Promise<void> {
    this.closed = true;
    this.restart?.cancel();
    this.restart = null;
    this.byKey.clear();
    this.byId.clear();
    const proc = this.proc;
    const exited = this.procExited;
    if (proc === null || exited === null) return;
    proc.send({ t: 'close', adminDown: opts.adminDown ?? true });
    proc.end();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), CLOSE_GRACE_MS); });
    if (await Promise.race([exited.then(() => 'exited' as const), late]) === 'late') {
      this.log.warn({ pid: proc.pid }, 'bfd process did not exit; killing it');
      proc.kill();
      await exited;
    }
    clearTimeout(timer);
  }

  /** @internal */
  send(m: ToBfdProcess): void {
    this.proc?.send(m);
  }

  private startProcess(): void {
    this.starts++;
    this.startedAt = this.clock.now();
    let resolveExit!: () => void;
    this.procExited = new Promise((resolve) => { resolveExit = resolve; });
    const proc = this.spawner({
      message: (m) => { if (this.proc === proc) this.onMessage(m); },
      exit: (code, signal) => {
        resolveExit();
        if (this.proc !== proc) return;
        this.proc = null;
        this.onExit(code, signal);
      },
    });
    this.proc = proc;
    for (const s of this.byId.values()) this.send({ t: 'add', id: s.id, cfg: s.cfg, adminDown: s.admin });
  }

  private onExit(code: number | null, signal: string | null): void {
    if (this.closed) return;
    const now = this.clock.now();
    const ranMs = now - this.startedAt;
    this.quickDeaths = ranMs < STABLE_MS ? this.quickDeaths + 1 : 0;
    const delay = this.quickDeaths <= 1 ? 0 : Math.min(this.restartMs * 2 ** (this.quickDeaths - 2), MAX_RESTART_MS);
    this.log.error({ code, signal, ranMs: Math.round(ranMs), sessions: this.byId.size, restartInMs: delay },
      'bfd process exited; its sessions are down, restarting it');
    for (const s of this.byId.values()) s.lost(now);
    this.restart = this.clock.setTimer(delay, () => {
      this.restart = null;
      if (!this.closed) this.startProcess();
    });
  }

  private onMessage(m: FromBfdProcess): void {
    switch (m.t) {
      case 'ready':
        this.log.debug({ pid: m.pid }, 'bfd process ready');
        return;
      case 'ev': {
        const s = this.byId.get(m.id);
        if (s === undefined) return;
        s.update(m.info);
        const ev = m.ev;
        switch (ev.name) {
          case 'up': s.emit('up'); break;
          case 'down': s.emit('down', ev.down); break;
          case 'peerAdminDown': s.emit('peerAdminDown', ev.down); break;
          case 'adminDown': s.emit('adminDown'); break;
          case 'stateChange': s.emit('stateChange', ev.from, ev.to, ev.diag); break;
        }
        return;
      }
      case 'snap':
        for (const [id, info] of m.sessions) this.byId.get(id)?.update(info);
        this.drops = m.drops;
        return;
      case 'log': {
        const { level, msg, ...fields } = m.record;
        const name: Level = typeof level === 'number' ? (pino.levels.labels[level] as Level | undefined) ?? 'info' : 'info';
        this.log[name](fields, typeof msg === 'string' ? msg : '');
        return;
      }
      case 'error':
        this.log.error({ session: this.byId.get(m.id)?.remote, err: m.message }, 'bfd process rejected a command');
        return;
    }
  }
}
