// An in-memory BgpTransport for unit tests: no sockets, no real time. Every
// connection is a pair of FakeEnds; what one end writes the other receives, in
// order, when the network delivers. Delivery is queued: flush() delivers
// everything now (also what the deliveries cause), so a test can drive two
// BgpSessions on a ManualClock step by step; without flush() it happens on the
// next microtask, so `await once(session, 'established')` works as well.
import type {
  BgpConnection, BgpListener, BgpTransport, ConnectionHandlers, ConnectRequest, ListenHandlers, ListenRequest, TransportAddress,
} from '../../src/bgp/transport.js';

type Event = { type: 'connected' } | { type: 'data'; chunk: Uint8Array } | { type: 'closed'; error: string | null };

/** One end of an in-memory connection. */
export class FakeEnd implements BgpConnection {
  peer: FakeEnd | null = null;
  /** Every chunk this end wrote, in order. */
  readonly written: Uint8Array[] = [];
  private handlers: ConnectionHandlers | null = null;
  /** Events that came before attach(). */
  private early: Event[] = [];
  private isClosed = false;
  private isDestroyed = false;
  private ending = false;

  constructor(
    private readonly net: FakeNetwork,
    readonly remoteAddress: string,
    readonly localEnd: { address: string; port: number },
    /** Which side opened the connection. */
    readonly direction: 'out' | 'in',
  ) {}

  local(): { address: string; port: number } | null {
    return this.localEnd;
  }

  attach(h: ConnectionHandlers): void {
    this.handlers = h;
    const early = this.early.splice(0);
    if (early.length) this.net.post(() => { for (const e of early) this.emit(e); });
  }

  write(bytes: Uint8Array): void {
    if (this.isClosed || this.ending) return;
    const copy = Uint8Array.from(bytes);
    this.written.push(copy);
    const peer = this.peer;
    if (peer) this.net.post(() => peer.emit({ type: 'data', chunk: copy }));
  }

  /** Orderly close after what was written: both ends see closed(null). */
  end(): void {
    if (this.isClosed || this.ending) return;
    this.ending = true;
    const peer = this.peer;
    this.net.post(() => {
      peer?.emit({ type: 'closed', error: null });
      this.emit({ type: 'closed', error: null });
    });
  }

  /** Close at once (like node's destroy(): `destroyed` now, closed() on delivery); the peer sees the close. */
  destroy(): void {
    if (this.isDestroyed) return;
    this.isDestroyed = true;
    this.ending = true;
    const peer = this.peer;
    this.net.post(() => {
      this.emit({ type: 'closed', error: null });
      peer?.emit({ type: 'closed', error: null });
    });
  }

  get destroyed(): boolean {
    return this.isDestroyed || this.isClosed;
  }

  /** Everything this end wrote, as one buffer. */
  sent(): Uint8Array {
    return concat(this.written);
  }

  /** The peer closed or the attempt failed: report `error`. */
  fail(error: string): void {
    this.emit({ type: 'closed', error });
  }

  emit(e: Event): void {
    if (this.isClosed || (this.isDestroyed && e.type !== 'closed')) return;
    if (e.type === 'closed') {
      this.isClosed = true;
      this.ending = true;
    }
    if (!this.handlers) {
      this.early.push(e);
      return;
    }
    if (e.type === 'connected') this.handlers.connected();
    else if (e.type === 'data') this.handlers.data(e.chunk);
    else this.handlers.closed(e.error);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

interface FakeListener {
  req: ListenRequest;
  port: number;
  h: ListenHandlers;
}

function isWildcard(a: string): boolean {
  return a === '0.0.0.0' || a === '::';
}

export class FakeNetwork {
  /** Every connect() request, in order (with its security options). */
  readonly connects: ConnectRequest[] = [];
  /** Every listen() request, in order. */
  readonly listens: ListenRequest[] = [];
  /** Both ends of every connection made, outgoing end first. */
  readonly pairs: Array<[FakeEnd, FakeEnd]> = [];
  /** Addresses whose connects get no answer at all (no SYN-ACK, no RST). */
  readonly silent = new Set<string>();
  /** connect() throws this (a socket option the kernel lacks). */
  connectError: Error | null = null;
  private readonly listeners: FakeListener[] = [];
  private readonly queue: Array<() => void> = [];
  private scheduled = false;
  private nextPort = 40_000;

  /** Queue a delivery; it runs at flush() or on the next microtask. */
  post(f: () => void): void {
    this.queue.push(f);
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  /** Deliver everything queued, including what the deliveries queue. */
  flush(): void {
    for (let n = 0; this.queue.length > 0; n++) {
      if (n > 1_000_000) throw new Error('FakeNetwork: delivery loop');
      this.queue.shift()!();
    }
  }

  private find(address: string, port: number): FakeListener | undefined {
    return this.listeners.find((l) => l.port === port && l.req.host === address) ??
      this.listeners.find((l) => l.port === port && isWildcard(l.req.host) && (l.req.host === '::' || !address.includes(':')));
  }

  /** Open a connection from from.address to address:port as a hand-driven peer; handlers optional. */
  dial(from: string, address: string, port: number, h?: Partial<ConnectionHandlers>): FakeEnd {
    return this.transport().connect({ peerAddress: address, peerPort: port, localAddress: from, security: null }, {
      connected: h?.connected ?? (() => undefined), data: h?.data ?? (() => undefined), closed: h?.closed ?? (() => undefined),
    }) as FakeEnd;
  }

  transport(): BgpTransport {
    return {
      connect: (req: ConnectRequest, h: ConnectionHandlers): BgpConnection => {
        this.connects.push(req);
        if (this.connectError) throw this.connectError;
        const local = { address: req.localAddress ?? (req.peerAddress.includes(':') ? '::1' : '127.0.0.1'), port: this.nextPort++ };
        const client = new FakeEnd(this, req.peerAddress, local, 'out');
        client.attach(h);
        this.post(() => {
          if (client.destroyed || this.silent.has(req.peerAddress)) return;
          const l = this.find(req.peerAddress, req.peerPort);
          if (!l) {
            client.fail('ECONNREFUSED');
            return;
          }
          const server = new FakeEnd(this, local.address, { address: req.peerAddress, port: req.peerPort }, 'in');
          client.peer = server;
          server.peer = client;
          this.pairs.push([client, server]);
          client.emit({ type: 'connected' });
          l.h.connection(server);
        });
        return client;
      },

      listen: (req: ListenRequest, h: ListenHandlers): BgpListener => {
        this.listens.push(req);
        const port = req.port === 0 ? this.nextPort++ : req.port;
        const entry: FakeListener = { req, port, h };
        let up = false;
        if (this.listeners.some((l) => l.port === port && l.req.host === req.host)) {
          this.post(() => h.error(Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE' })));
        } else {
          this.listeners.push(entry);
          this.post(() => { up = true; h.listening({ address: req.host, family: req.host.includes(':') ? 'IPv6' : 'IPv4', port }); });
        }
        return {
          address: (): TransportAddress | null => (up && this.listeners.includes(entry)
            ? { address: req.host, family: req.host.includes(':') ? 'IPv6' : 'IPv4', port } : null),
          close: async (): Promise<void> => {
            const i = this.listeners.indexOf(entry);
            if (i >= 0) this.listeners.splice(i, 1);
          },
        };
      },
    };
  }
}
