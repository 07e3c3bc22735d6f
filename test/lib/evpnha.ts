// evpn-ha itself as a child process in a namespace, for netns tests: the
// compiled bin run without tap's loader hooks, stdout lines (e.g. `peer --json`,
// status lines) and stderr lines (pino JSON logs) parsed as they arrive.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor, type Lab } from './netns.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const BIN = `${ROOT}bin/evpn-ha`;

export interface Line { event?: string; msg?: string; [k: string]: unknown }

/** Our environment without tap's variables and loaders (they would hook the child's module loading). */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (k !== 'NODE_OPTIONS' && !k.startsWith('TAP') && !k.startsWith('_TAP')) env[k] = v;
  return { ...env, ...extra };
}

/** Compile once if the build is missing (scripts/test.sh builds before the suite). */
export function ensureBuilt(): void {
  if (!existsSync(`${ROOT}build/src/cli/main.js`)) execFileSync('npx', ['tsc', '-p', `${ROOT}tsconfig.json`], { cwd: ROOT, stdio: 'inherit' });
}

export class EvpnHaCli {
  /** JSON lines from stdout. */
  readonly out: Line[] = [];
  /** JSON lines from stderr (logs). */
  readonly log: Line[] = [];
  readonly child: ChildProcess;
  /** The last 40 kB of both streams, for failure messages. */
  raw = '';
  readonly exit: Promise<number | null>;

  constructor(lab: Lab, ns: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    // `env -u NODE_OPTIONS`: tap injects its loaders into every child it sees spawned.
    this.child = spawn('ip', ['netns', 'exec', ns, 'env', '-u', 'NODE_OPTIONS', process.execPath, BIN, ...args],
      { stdio: ['pipe', 'pipe', 'pipe'], env: cleanEnv(env) });
    lab.processes.push(this.child);
    const parse = (into: Line[]) => (l: string): void => {
      this.raw = `${this.raw}${l}\n`.slice(-40000);
      try { into.push(JSON.parse(l) as Line); } catch { /* not JSON */ }
    };
    createInterface({ input: this.child.stdout! }).on('line', parse(this.out));
    createInterface({ input: this.child.stderr! }).on('line', parse(this.log));
    this.exit = new Promise((resolve) => this.child.once('exit', (code) => resolve(code)));
  }

  /** Alias of `out` (the `peer --json` lines). */
  get lines(): Line[] {
    return this.out;
  }

  get stderr(): string {
    return this.raw;
  }

  find(pred: (l: Line) => boolean): Line | undefined {
    return this.out.find(pred);
  }

  /** Wait for a stdout line. */
  async wait(pred: (l: Line) => boolean, what: string, ms = 20000): Promise<Line> {
    return this.waitIn(this.out, pred, what, ms);
  }

  /** Wait for a log line. */
  async waitLog(pred: (l: Line) => boolean, what: string, ms = 20000): Promise<Line> {
    return this.waitIn(this.log, pred, what, ms);
  }

  private async waitIn(lines: Line[], pred: (l: Line) => boolean, what: string, ms: number): Promise<Line> {
    return waitFor(() => lines.find(pred), ms, what).catch((e: unknown) => {
      throw new Error(`${String(e)}\n${this.raw.slice(-5000)}`);
    });
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** SIGINT: evpn-ha sends Cease and exits 0. */
  async interrupt(): Promise<number | null> {
    this.child.kill('SIGINT');
    return this.exit;
  }
}

/** `evpn-ha peer <args> --json`. */
export function peerCli(lab: Lab, ns: string, args: string[]): EvpnHaCli {
  return new EvpnHaCli(lab, ns, ['peer', ...args, '--json']);
}
