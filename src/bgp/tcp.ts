// BgpTransport on kernel TCP sockets (node:net), IPv4 and IPv6. With keys
// (TCP-MD5, RFC 2385; TCP-AO, RFC 5925) or GTSM (RFC 5082) the fd is made and
// secured by src/net/sockopt.ts before connect() or listen(), and handed to Node.
import { ipVersion } from '../wire/addr.js';
import { createServer, Socket } from 'node:net';
import { securedListenFd, securedSocket } from '../net/sockopt.js';
import type {
  BgpConnection, BgpListener, BgpTransport, ConnectionHandlers, ConnectRequest, ListenHandlers, ListenRequest, TransportAddress,
} from './transport.js';

/** "::ffff:192.0.2.1" → "192.0.2.1" (sockets on a dual-stack listener). */
export function plainAddress(a: string | undefined): string {
  if (!a) return '';
  return a.startsWith('::ffff:') && ipVersion(a.slice(7)) === 4 ? a.slice(7) : a;
}

class TcpConnection implements BgpConnection {
  private handlers: ConnectionHandlers | null = null;
  /** What went wrong last (errno name or message). */
  private error: string | null = null;
  private closed = false;

  constructor(private readonly socket: Socket, readonly remoteAddress: string) {
    socket.setNoDelay(true);
    socket.on('error', (e: NodeJS.ErrnoException) => { this.error = e.code ?? e.message; });
    socket.on('close', () => {
      this.closed = true;
      this.handlers?.closed(this.error);
    });
    socket.once('connect', () => this.handlers?.connected());
  }

  local(): { address: string; port: number } | null {
    const { localAddress, localPort } = this.socket;
    return localAddress && localPort !== undefined ? { address: plainAddress(localAddress), port: localPort } : null;
  }

  attach(h: ConnectionHandlers): void {
    const first = this.handlers === null;
    this.handlers = h;
    if (!first) return;
    this.socket.on('data', (chunk: Buffer) => this.handlers?.data(chunk));
    // Closed before anyone listened (an accepted connection the peer dropped at once).
    if (this.closed) queueMicrotask(() => this.handlers?.closed(this.error));
  }

  write(bytes: Uint8Array): void {
    this.socket.write(bytes);
  }

  end(): void {
    this.socket.end(() => this.socket.destroy());
  }

  destroy(): void {
    this.socket.destroy();
  }

  get destroyed(): boolean {
    return this.socket.destroyed;
  }
}

/** The real transport. */
export function tcpTransport(): BgpTransport {
  return {
    connect(req: ConnectRequest, h: ConnectionHandlers): BgpConnection {
      const socket = req.security ? securedSocket(req.peerAddress, req.security) : new Socket();
      const c = new TcpConnection(socket, plainAddress(req.peerAddress));
      c.attach(h);
      const opts: { host: string; port: number; localAddress?: string } = { host: req.peerAddress, port: req.peerPort };
      if (req.localAddress !== undefined) opts.localAddress = req.localAddress;
      socket.connect(opts);
      return c;
    },

    listen(req: ListenRequest, h: ListenHandlers): BgpListener {
      const server = createServer({ noDelay: true });
      server.on('connection', (socket: Socket) => h.connection(new TcpConnection(socket, plainAddress(socket.remoteAddress))));
      server.on('error', (e: Error) => h.error(e));
      const address = (): TransportAddress | null => {
        const a = server.address();
        return a && typeof a === 'object' ? a : null;
      };
      const listener: BgpListener = {
        address,
        close: () => new Promise<void>((resolve) => server.close(() => resolve())),
      };
      let fd: number | undefined;
      if (req.security) {
        try {
          fd = securedListenFd(req.host, req.port, req.security);
        } catch (e) {
          // Reported like Node's own listen errors (EADDRINUSE, EADDRNOTAVAIL, ...).
          queueMicrotask(() => server.emit('error', e));
          return listener;
        }
      }
      server.listen(fd !== undefined ? { fd } : { host: req.host, port: req.port }, () => {
        const a = address();
        if (a) h.listening(a);
      });
      return listener;
    },
  };
}
