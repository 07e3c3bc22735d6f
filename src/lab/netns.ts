// Network namespaces for tests, benchmarks and the demo. Every namespace carries a
// per-run unique prefix and is deleted on dispose, also when the caller fails.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** A prefix unique to this process, short enough for 15-byte interface names elsewhere. */
export const RUN_ID = `eh${randomBytes(3).toString('hex')}`;

/** Run a command on the host and return its stdout; throws with stderr on failure. */
export function sh(cmd: string, args: string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Run a command inside a namespace. */
export function nsExec(ns: string, cmd: string, args: string[]): string {
  return sh('ip', ['netns', 'exec', ns, cmd, ...args]);
}

/** `ip` inside a namespace: ip(ns, 'link', 'set', 'eth1', 'up'). */
export function ip(ns: string, ...args: string[]): string {
  return sh('ip', ['-n', ns, ...args]);
}

export function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** Why a namespace test or lab cannot run here (not root, a tool missing), or null. */
export function netnsSkipReason(tools: string[] = []): string | null {
  if (!isRoot()) return 'needs root for network namespaces';
  for (const tool of tools) {
    try { sh('which', [tool]); } catch { return `${tool} not installed`; }
  }
  return null;
}

interface TeardownHost {
  teardown(fn: () => void | Promise<void>): void;
}

/** Labs not yet disposed; a SIGINT/SIGTERM/SIGHUP disposes them all, then re-raises when no one else handles it. */
const liveLabs = new Set<Lab>();
let signalCleanupInstalled = false;

function installSignalCleanup(): void {
  if (signalCleanupInstalled) return;
  signalCleanupInstalled = true;
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const handler = (): void => {
      // Always clean up (dispose is idempotent; a program whose own handler ran
      // first, like the demo, has disposed already). Re-raise only when no one
      // else listens: otherwise the signal is theirs to finish (tap, signal-exit).
      for (const lab of [...liveLabs]) lab.dispose();
      if (process.listenerCount(sig) > 1) return;
      process.off(sig, handler);
      process.kill(process.pid, sig);
    };
    process.on(sig, handler);
  }
}

/**
 * A set of namespaces plus the processes started in them. `dispose` kills the
 * processes (by PID, only ours) and deletes the namespaces.
 */
export class Lab {
  readonly prefix: string;
  readonly namespaces: string[] = [];
  readonly processes: ChildProcess[] = [];
  private cleanups: Array<() => void> = [];

  constructor(tag: string, t?: TeardownHost, opts: { handleSignals?: boolean } = {}) {
    this.prefix = `${RUN_ID}${tag}`;
    t?.teardown(() => this.dispose());
    const onExit = (): void => this.dispose();
    process.once('exit', onExit);
    this.cleanups.push(() => process.removeListener('exit', onExit));
    if (opts.handleSignals !== false) {
      liveLabs.add(this);
      installSignalCleanup();
      this.cleanups.push(() => { liveLabs.delete(this); });
    }
  }

  /** Create namespace `<prefix>-<name>` with loopback up; returns its full name. */
  ns(name: string): string {
    const full = `${this.prefix}-${name}`;
    sh('ip', ['netns', 'add', full]);
    this.namespaces.push(full);
    ip(full, 'link', 'set', 'lo', 'up');
    return full;
  }

  /** A veth pair between two namespaces, with optional addresses (CIDR). */
  veth(nsA: string, ifA: string, nsB: string, ifB: string, addrA?: string, addrB?: string): void {
    const tmpA = `v${randomBytes(4).toString('hex')}`;
    const tmpB = `v${randomBytes(4).toString('hex')}`;
    sh('ip', ['link', 'add', tmpA, 'type', 'veth', 'peer', 'name', tmpB]);
    sh('ip', ['link', 'set', tmpA, 'netns', nsA, 'name', ifA]);
    sh('ip', ['link', 'set', tmpB, 'netns', nsB, 'name', ifB]);
    // IPv6: nodad, so the address is usable at once (not tentative for a second or two).
    const v6 = (a: string): string[] => (a.includes(':') ? ['nodad'] : []);
    if (addrA) ip(nsA, 'addr', 'add', addrA, 'dev', ifA, ...v6(addrA));
    if (addrB) ip(nsB, 'addr', 'add', addrB, 'dev', ifB, ...v6(addrB));
    ip(nsA, 'link', 'set', ifA, 'up');
    ip(nsB, 'link', 'set', ifB, 'up');
  }

  /** Start a long-running process inside a namespace; it is killed on dispose. */
  spawn(ns: string, cmd: string, args: string[], opts: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { stdio: 'pipe', ...opts });
    this.processes.push(child);
    return child;
  }

  /** Register extra cleanup (e.g. killing a daemon by its pid file). Runs before namespaces go. */
  onDispose(fn: () => void): void {
    this.cleanups.push(fn);
  }

  dispose(): void {
    for (const fn of this.cleanups.splice(0).reverse()) {
      try { fn(); } catch { /* keep tearing down */ }
    }
    for (const p of this.processes.splice(0)) {
      if (p.exitCode === null && p.signalCode === null && p.pid !== undefined) {
        try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
    for (const ns of this.namespaces.splice(0).reverse()) {
      // Kill anything still running inside (only processes in our own namespace).
      try {
        const pids = sh('ip', ['netns', 'pids', ns]).split(/\s+/).filter(Boolean);
        for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ } }
      } catch { /* namespace already gone */ }
      try { sh('ip', ['netns', 'del', ns]); } catch { /* already gone */ }
    }
  }
}

/** Resolve after ms milliseconds. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/**
 * Poll `fn` until it returns a truthy value or the deadline passes. `giveUp`, asked
 * before each poll, fails the wait at once when it says why (e.g. a daemon exited).
 */
export async function waitFor<T>(
  fn: () => T | Promise<T>, timeoutMs: number, what: string, intervalMs = 50, giveUp?: () => string | null,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const why = giveUp?.();
    if (why) throw new Error(`${why} while waiting for ${what}`);
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await sleep(intervalMs);
  }
}
