// Two `evpn-ha peer` processes on 127.0.0.1 (or another address, e.g. ::1): one listens (--passive), one connects.
// One of them announces a type-2 MAC+IP route, the other prints what it receives
// (--json). Used to check that a way of running evpn-ha (the single binary, the
// packed npm package) really speaks BGP, not only that it starts.
import { spawn, type SpawnOptions } from 'node:child_process';
import { createServer } from 'node:net';

/** The route the announcing side sends (the README's example). */
export const PAIR_ROUTE = 'macadv 02:00:00:00:00:87 192.168.0.87 vni 100 rd 192.168.1.87:100 rt 65001:100 nexthop 192.168.1.87';
/** What the receiving side must print for PAIR_ROUTE (a subset of its JSON line). */
export const PAIR_ROUTE_JSON = {
  routeType: 2, mac: '02:00:00:00:00:87', ip: '192.168.0.87', vni: 100, nextHop: '192.168.1.87', routeTargets: ['65001:100'],
};

/** PAIR_ROUTE with an IPv6 next hop (an IPv6 underlay's VTEP) and the router-ID RD. */
export const PAIR_ROUTE_V6 = 'macadv 02:00:00:00:00:87 192.168.0.87 vni 100 rd 10.255.0.87:100 rt 65001:100 nexthop 2001:db8:1::87';
export const PAIR_ROUTE_V6_JSON = { ...PAIR_ROUTE_JSON, rd: '10.255.0.87:100', nextHop: '2001:db8:1::87' };

export interface PairResult {
  /** The receiving side's JSON lines, in order. */
  lines: Array<Record<string, unknown>>;
  /** Exit codes after SIGTERM (0 is a clean shutdown; null when ended by a signal). */
  passiveExit: number | null;
  activeExit: number | null;
  /** stderr of both sides, for diagnostics. */
  stderr: string;
  /** True when the receiver printed End-of-RIB before the deadline. */
  complete: boolean;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/**
 * Runs the pair with `cmd` (the program and any leading arguments, e.g. `[bin]` or
 * `[npx, 'evpn-ha']`) and returns once the receiver printed End-of-RIB or after
 * `deadlineMs`; both processes are then stopped with SIGTERM.
 */
export async function runPeerPair(cmd: readonly string[], o: {
  announcer: 'passive' | 'active'; spawn?: SpawnOptions; deadlineMs?: number;
  /**
   * Run each side in a process group of its own and stop the whole group, as a
   * terminal's Ctrl-C does. Needed for wrappers such as npx, which do not pass
   * SIGTERM on to the program they run.
   */
  processGroups?: boolean;
  /** More arguments for both sides (e.g. --password). */
  extraArgs?: readonly string[];
  /** The address both sides use (default 127.0.0.1; the passive side listens there). */
  address?: string;
  /** The --announce route (default PAIR_ROUTE). */
  route?: string;
  /** The port (default: a free one on 127.0.0.1). */
  port?: number;
}): Promise<PairResult> {
  const port = o.port ?? await freePort();
  const addr = o.address ?? '127.0.0.1';
  const [prog, ...pre] = cmd;
  const common = ['--local-as', '65001', '--port', String(port), '--json', ...(o.extraArgs ?? [])];
  const announce = ['--announce', o.route ?? PAIR_ROUTE];
  const passiveArgs = [...pre, 'peer', addr, ...common, '--passive', '--local-address', addr, '--router-id', '10.0.0.1',
    ...(o.announcer === 'passive' ? announce : [])];
  const activeArgs = [...pre, 'peer', addr, ...common, '--router-id', '10.0.0.2', ...(o.announcer === 'active' ? announce : [])];
  const opts: SpawnOptions = { ...o.spawn, stdio: ['ignore', 'pipe', 'pipe'], detached: o.processGroups ?? false };

  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  let done: (complete: boolean) => void = () => {};
  const finished = new Promise<boolean>((resolve) => { done = resolve; });
  const watchStdout = (stream: NodeJS.ReadableStream | null | undefined): void => {
    let buf = '';
    stream?.on('data', (d: Buffer) => {
      buf += d.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try { lines.push(JSON.parse(line) as Record<string, unknown>); } catch { /* not JSON */ }
        if (lines.some((l) => l['event'] === 'eor')) done(true);
      }
    });
  };
  const passive = spawn(prog!, passiveArgs, opts);
  passive.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  if (o.announcer === 'active') watchStdout(passive.stdout);
  const passiveExit = new Promise<number | null>((resolve) => passive.on('exit', (c) => resolve(c)));
  // No wait for the listener: the active side retries its connection (ConnectRetry).
  const active = spawn(prog!, activeArgs, opts);
  active.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  if (o.announcer === 'passive') watchStdout(active.stdout);
  const activeExit = new Promise<number | null>((resolve) => active.on('exit', (c) => resolve(c)));
  let stopping = false;
  const early = (which: string) => (c: number | null) => {
    if (!stopping) { stderr += `\n${which} exited early with ${c}`; done(false); }
  };
  void passiveExit.then(early('passive'));
  void activeExit.then(early('active'));
  const timer = setTimeout(() => done(false), o.deadlineMs ?? 20_000);
  const complete = await finished;
  clearTimeout(timer);
  stopping = true;
  for (const child of [active, passive]) {
    if (o.processGroups && child.pid !== undefined) {
      try { process.kill(-child.pid, 'SIGTERM'); } catch { /* already gone */ }
    } else child.kill('SIGTERM');
  }
  return { lines, passiveExit: await passiveExit, activeExit: await activeExit, stderr, complete };
}
