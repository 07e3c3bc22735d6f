// The control API server: newline-delimited JSON over a UNIX stream socket
// (protocol in types.ts). It only reads through a ControlProvider, so it runs
// in unit tests without an agent.
//
// The socket file: its directory is created if missing; a socket file left by a
// previous run is removed only when nothing answers on it (a running agent keeps
// its socket, and we refuse to start); the socket is made mode 0600 (root's
// tool); close() removes it, if it is still ours.
import { lstatSync, mkdirSync, chmodSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import { encodeLine, LineSplitter, MAX_REQUEST_LINE, parseClearDuplicate, parseRequest, parseRouteFilter, ProtocolError } from './protocol.js';
import type { ControlEvent, ControlProvider, ControlRequest, ControlResponse } from './types.js';

export interface ControlServerOptions {
  path: string;
  provider: ControlProvider;
  logger?: Logger;
  /** A watcher whose unread output exceeds this many bytes is disconnected (default 4 MiB). */
  maxBufferedBytes?: number;
}

export class SocketInUseError extends Error {
  constructor(readonly path: string) {
    super(`another process is answering on the control socket ${path}`);
    this.name = 'SocketInUseError';
  }
}

function errno(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException).code;
}

/** Resolves true when something accepts a connection on `path` (within 1 s). */
export function socketAnswers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const s = createConnection({ path });
    const done = (v: boolean | Error): void => {
      clearTimeout(timer);
      s.destroy();
      if (v instanceof Error) reject(v);
      else resolve(v);
    };
    // A listener that never accepts (backlog full) counts as alive.
    const timer = setTimeout(() => done(true), timeoutMs);
    s.once('connect', () => done(true));
    s.once('error', (e) => {
      const c = errno(e);
      if (c === 'ECONNREFUSED' || c === 'ENOENT') done(false);
      else done(e);
    });
  });
}

/** Create the directory; remove a stale socket file; refuse if a live one or a non-socket is there. */
export async function prepareSocketPath(path: string): Promise<void> {
  mkdirSync(dirname(path), { recursive: true, mode: 0o755 });
  let st;
  try {
    st = lstatSync(path);
  } catch (e) {
    if (errno(e) === 'ENOENT') return;
    throw e;
  }
  if (!st.isSocket()) throw new Error(`${path} exists and is not a socket; not removing it`);
  if (await socketAnswers(path)) throw new SocketInUseError(path);
  try {
    unlinkSync(path);
  } catch (e) {
    if (errno(e) !== 'ENOENT') throw e;
  }
}

interface ConnState {
  /** Requests being answered. */
  pending: number;
  /** The client shut down its sending side. */
  ended: boolean;
  watching: boolean;
}

export class ControlServer {
  private readonly path: string;
  private readonly provider: ControlProvider;
  private readonly log: Logger | null;
  private readonly maxBuffered: number;
  private server: Server | null = null;
  private readonly sockets = new Set<Socket>();
  /** Inode of the socket we created, so close() never removes someone else's. */
  private inode: number | null = null;

  constructor(opts: ControlServerOptions) {
    this.path = opts.path;
    this.provider = opts.provider;
    this.log = opts.logger?.child({ component: 'control' }) ?? null;
    this.maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
  }

  get socketPath(): string {
    return this.path;
  }

  /** Clients connected now (watchers included). */
  get connections(): number {
    return this.sockets.size;
  }

  async start(): Promise<void> {
    if (this.server) throw new Error('control server already started');
    await prepareSocketPath(this.path);
    // Half-open: a client may send its requests and shut down its side
    // (`echo ... | socat - UNIX-CONNECT:...`); the answers still go out.
    const server = createServer({ allowHalfOpen: true }, (s) => this.onConnection(s));
    this.server = server;
    // bind() happens synchronously inside listen(): the umask keeps the socket 0600 from its creation.
    const old = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    } catch (e) {
      this.server = null;
      throw e;
    } finally {
      process.umask(old);
    }
    chmodSync(this.path, 0o600);
    this.inode = lstatSync(this.path).ino;
    server.on('error', (e) => this.log?.error({ err: e }, 'control socket error'));
    this.log?.info({ path: this.path }, 'control socket listening');
  }

  /** Stop listening, disconnect every client, remove the socket file. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    try {
      if (this.inode !== null && lstatSync(this.path).ino === this.inode) unlinkSync(this.path);
    } catch (e) {
      if (errno(e) !== 'ENOENT') this.log?.warn({ err: e }, 'removing the control socket');
    }
    this.inode = null;
  }

  private onConnection(s: Socket): void {
    this.sockets.add(s);
    const lines = new LineSplitter(MAX_REQUEST_LINE);
    const conn: ConnState = { pending: 0, ended: false, watching: false };
    const cleanups: Array<() => void> = [];
    const send = (v: ControlResponse | { event: unknown }): void => {
      if (!s.destroyed && s.writable) s.write(encodeLine(v));
    };
    s.on('data', (chunk: Buffer) => {
      let got: string[];
      try {
        got = lines.push(chunk);
      } catch (e) {
        send({ id: null, error: { code: 'invalid-request', message: (e as Error).message } });
        s.end();
        return;
      }
      for (const line of got) {
        conn.pending++;
        void this.handle(line, s, send, cleanups, conn).finally(() => {
          conn.pending--;
          finish();
        });
      }
    });
    // The client finished sending: close our side once every answer is out. A
    // watch ends there too (a watcher that went away must not stay subscribed).
    const finish = (): void => {
      if (!conn.ended || s.destroyed) return;
      if (conn.watching) s.destroy();
      else if (conn.pending === 0) s.end();
    };
    s.on('end', () => {
      conn.ended = true;
      finish();
    });
    s.on('error', (e) => this.log?.debug({ err: e }, 'control client error'));
    s.on('close', () => {
      this.sockets.delete(s);
      for (const c of cleanups) c();
      cleanups.length = 0;
    });
  }

  private async handle(
    line: string, s: Socket, send: (v: ControlResponse | { event: unknown }) => void, cleanups: Array<() => void>, conn: ConnState,
  ): Promise<void> {
    let req: ControlRequest;
    try {
      req = parseRequest(line);
    } catch (e) {
      const pe = e as ProtocolError;
      send({ id: pe.id, error: { code: pe.code, message: pe.message } });
      return;
    }
    try {
      if (req.method === 'watch') {
        conn.watching = true;
        send({ id: req.id, result: { watching: true } });
        const unsubscribe = this.provider.subscribe((ev: ControlEvent) => {
          if (s.destroyed) return;
          if (s.writableLength > this.maxBuffered) {
            this.log?.warn('control watcher does not keep up; disconnecting it');
            s.destroy();
            return;
          }
          send({ event: ev });
        });
        if (s.destroyed) unsubscribe();
        else cleanups.push(unsubscribe);
        return;
      }
      send({ id: req.id, result: await this.call(req) });
    } catch (e) {
      if (e instanceof ProtocolError) {
        send({ id: req.id, error: { code: e.code, message: e.message } });
        return;
      }
      this.log?.warn({ err: e, method: req.method }, 'control request failed');
      send({ id: req.id, error: { code: 'internal-error', message: (e as Error).message ?? String(e) } });
    }
  }

  private call(req: ControlRequest): Promise<unknown> {
    switch (req.method) {
      case 'neighbors': return this.provider.neighbors();
      case 'routes': return this.provider.routes(parseRouteFilter(req.params, req.id));
      case 'kernel': return this.provider.kernel();
      case 'vteps': return this.provider.vteps();
      case 'reload': return this.provider.reload();
      case 'ping': return Promise.resolve({ pong: true, pid: process.pid });
      case 'clear-duplicate': {
        const p = parseClearDuplicate(req.params, req.id);
        if (!this.provider.clearDuplicate) throw new ProtocolError('invalid-request', 'this agent has no duplicate detection', req.id);
        return this.provider.clearDuplicate(p.mac, p.vni);
      }
      case 'watch': throw new Error('unreachable: watch is handled by the caller');
    }
  }
}
