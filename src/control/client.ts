// The control API client (used by `evpn-ha show|watch|reload`): one connection,
// requests answered by id, and the `watch` event stream.
import { createConnection, type Socket } from 'node:net';
import { encodeLine, LineSplitter } from './protocol.js';
import type { ControlErrorCode, ControlEvent, ControlMethod, ControlResults } from './types.js';

/** Longest response line accepted (a big RIB). */
const MAX_RESPONSE_LINE = 256 * 1024 * 1024;

/** No agent listens on the socket (missing file, or nothing accepting). */
export class AgentNotRunningError extends Error {
  constructor(readonly path: string, readonly reason: string) {
    super(`agent not running (no control socket at ${path})`);
    this.name = 'AgentNotRunningError';
  }
}

/** The agent answered with an error. */
export class ControlError extends Error {
  constructor(readonly code: ControlErrorCode | 'protocol', message: string) {
    super(message);
    this.name = 'ControlError';
  }
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

export class ControlClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly lines = new LineSplitter(MAX_RESPONSE_LINE);
  private eventListener: ((ev: ControlEvent) => void) | null = null;
  private closed: Promise<void>;
  private closeError: Error | null = null;

  private constructor(private readonly socket: Socket, readonly path: string) {
    this.closed = new Promise((resolve) => {
      socket.on('close', () => {
        const err = this.closeError ?? new ControlError('protocol', 'the agent closed the connection');
        for (const p of this.pending.values()) p.reject(err);
        this.pending.clear();
        resolve();
      });
    });
    socket.on('error', (e) => { this.closeError = e; });
    socket.on('data', (chunk: Buffer) => {
      let got: string[];
      try {
        got = this.lines.push(chunk);
      } catch (e) {
        this.closeError = e as Error;
        socket.destroy();
        return;
      }
      for (const line of got) this.onLine(line);
    });
  }

  /** Connect; AgentNotRunningError when the socket is missing or refuses. */
  static connect(path: string): Promise<ControlClient> {
    return new Promise((resolve, reject) => {
      const s = createConnection({ path });
      s.once('connect', () => {
        s.removeAllListeners('error');
        resolve(new ControlClient(s, path));
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT' || e.code === 'ECONNREFUSED' || e.code === 'ENOTSOCK') reject(new AgentNotRunningError(path, e.code));
        else reject(e);
      });
    });
  }

  call<M extends Exclude<ControlMethod, 'watch'>>(method: M, params: Record<string, unknown> = {}): Promise<ControlResults[M]> {
    return this.request(method, params) as Promise<ControlResults[M]>;
  }

  /**
   * Stream events to `onEvent`; resolves when the connection ends (the agent
   * stopped, or close() was called).
   */
  async watch(onEvent: (ev: ControlEvent) => void): Promise<void> {
    this.eventListener = onEvent;
    await this.request('watch', {});
    await this.closed;
  }

  close(): void {
    this.socket.destroy();
  }

  private request(method: ControlMethod, params: Record<string, unknown>): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(encodeLine({ id, method, params }));
    });
  }

  private onLine(line: string): void {
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      return;
    }
    if (typeof v !== 'object' || v === null) return;
    const m = v as { id?: unknown; result?: unknown; error?: { code?: ControlErrorCode; message?: string }; event?: ControlEvent };
    if (m.event !== undefined) {
      this.eventListener?.(m.event);
      return;
    }
    if (typeof m.id !== 'number') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    this.pending.delete(m.id);
    if (m.error) p.reject(new ControlError(m.error.code ?? 'protocol', m.error.message ?? 'error'));
    else p.resolve(m.result);
  }
}
