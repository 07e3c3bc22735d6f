// The one seam between a BgpSession and the network: byte-stream connections to
// the peer, ours (connect) and theirs (listen/accept). tcp.ts implements it on
// kernel TCP sockets (with TCP-MD5 / TCP-AO / GTSM set before connect or listen);
// unit tests use an in-memory fake (test/lib/bgp-transport.ts). Framing, decoding
// and the FSM stay in the session; nothing here knows BGP.
import type { TcpSecurity } from '../net/sockopt.js';

/** A bound address, as node:net reports it. */
export interface TransportAddress {
  address: string;
  family: string;
  port: number;
}

/** What a connection reports; set with attach(), called at most once each for connected/closed. */
export interface ConnectionHandlers {
  /** Our connect() completed (outgoing connections only). */
  connected(): void;
  data(chunk: Uint8Array): void;
  /**
   * The connection is gone (closed by either side, reset, or the connect failed).
   * `error`: the errno name (ECONNREFUSED, ECONNRESET, ...) or message of the
   * last error; null for an orderly close.
   */
  closed(error: string | null): void;
}

export interface BgpConnection {
  /** The peer's address, IPv4-mapped IPv6 unmapped ("192.0.2.1", not "::ffff:192.0.2.1"). */
  readonly remoteAddress: string;
  /** Our end (same form), once known: after connected() for ours, at once for accepted ones. */
  local(): { address: string; port: number } | null;
  /** Route this connection's events to `h` (replaces earlier handlers). */
  attach(h: ConnectionHandlers): void;
  write(bytes: Uint8Array): void;
  /** Send what was written, then close; closed() follows. */
  end(): void;
  /** Close at once; what was not sent is dropped; closed() follows. */
  destroy(): void;
  readonly destroyed: boolean;
}

export interface ConnectRequest {
  peerAddress: string;
  peerPort: number;
  /** Source address to bind before connecting. */
  localAddress?: string;
  /** Keys and GTSM set on the socket before it connects; null: none. */
  security: TcpSecurity | null;
}

export interface ListenRequest {
  host: string;
  /** 0: an ephemeral port. */
  port: number;
  /** Keys (per peer address or prefix) and GTSM set on the listener before it binds; null: none. */
  security: TcpSecurity | null;
}

export interface ListenHandlers {
  connection(c: BgpConnection): void;
  listening(address: TransportAddress): void;
  /** Binding failed (EADDRINUSE, a key the kernel refuses, ...) or the listener failed later. */
  error(e: Error): void;
}

export interface BgpListener {
  /** The bound address, once listening() was called. */
  address(): TransportAddress | null;
  /** Stop accepting; resolves when closed. */
  close(): Promise<void>;
}

export interface BgpTransport {
  /**
   * Start connecting to the peer; events go to `h`, never before connect() has
   * returned. Throws when the socket cannot be set up at all (a kernel without the
   * requested option, out of file descriptors).
   */
  connect(req: ConnectRequest, h: ConnectionHandlers): BgpConnection;
  /** Listen for connections; accepted ones are handed to `h.connection` without handlers. */
  listen(req: ListenRequest, h: ListenHandlers): BgpListener;
}
