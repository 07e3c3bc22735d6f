// ProbeTransport on kernel UDP sockets.
//
// * One receive socket on the probe port, bound to the service address (the
//   br-vxlan address): the remote kernel's vxlan0 decapsulates our probes and its
//   bridge delivers the inner datagram here. Binding to the service address (not
//   0.0.0.0) keeps requests arriving on the uplinks, outside the overlay, from
//   being answered.
// * One send socket per local VTEP (uplink) address, bound to that address with an
//   ephemeral port, created on first use: the kernel then sends the VXLAN datagram
//   with that source address, so the remote's reply (and its rp_filter check) sees
//   the VTEP of the network being probed. Which interface it leaves by is the
//   routing table's choice: the route to the remote VTEP must use that network's
//   uplink, as it must for the VXLAN traffic itself. An IPv6 VTEP address gets a
//   udp6 socket: VXLAN in IPv6, with the UDP checksum the kernel always fills in
//   for IPv6 (RFC 8200 §8.1; Linux vxlan drops zero-checksum IPv6 datagrams unless
//   udp6zerocsumrx is set).
import dgram from 'node:dgram';
import pino, { type Logger } from 'pino';
import { DEFAULT_PROBE_PORT, VXLAN_PORT } from './packet.js';
import type { ProbeTransport } from './transport.js';

export interface UdpProbeTransportOptions {
  /** Address of the receive socket: the service (br-vxlan) address; '0.0.0.0' also works. */
  listenAddress: string;
  /** Inner UDP port of the probe socket. Default 4799. */
  probePort?: number;
  /** Destination port of the outer UDP datagrams (vxlan0's dstport). Default 4789. */
  vxlanPort?: number;
  logger?: Logger;
}

/** Sends queued while a socket binds, per local address; more are dropped (a miss). */
const MAX_PENDING = 64;

interface SendSocket {
  socket: dgram.Socket;
  bound: boolean;
  pending: Array<{ remote: string; datagram: Uint8Array }>;
}

export class UdpProbeTransport implements ProbeTransport {
  private readonly senders = new Map<string, SendSocket>();
  private handler: ((payload: Uint8Array, from: string) => void) | undefined;
  private readonly vxlanPort: number;
  private readonly log: Logger;
  private closed = false;
  /** Send errors per local address since the last successful send (logged once per burst). */
  private readonly failing = new Set<string>();

  private constructor(private readonly rx: dgram.Socket, opts: UdpProbeTransportOptions) {
    this.vxlanPort = opts.vxlanPort ?? VXLAN_PORT;
    this.log = (opts.logger ?? pino({ level: 'silent' })).child({ component: 'probe-udp' });
    rx.on('message', (msg, rinfo) => this.handler?.(new Uint8Array(msg), rinfo.address));
    rx.on('error', (err) => this.log.error({ err }, 'probe receive socket error'));
  }

  /** Bind the receive socket; rejects if the address or port is unavailable. */
  static async open(opts: UdpProbeTransportOptions): Promise<UdpProbeTransport> {
    const rx = dgram.createSocket({ type: 'udp4', reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => { rx.close(); reject(err); };
      rx.once('error', onError);
      rx.bind({ address: opts.listenAddress, port: opts.probePort ?? DEFAULT_PROBE_PORT, exclusive: true }, () => {
        rx.removeListener('error', onError);
        resolve();
      });
    });
    return new UdpProbeTransport(rx, opts);
  }

  /** The receive socket's port (useful when opened with probePort 0). */
  get port(): number {
    return this.rx.address().port;
  }

  onReceive(handler: (payload: Uint8Array, from: string) => void): void {
    this.handler = handler;
  }

  send(localVtep: string, remoteVtep: string, datagram: Uint8Array): void {
    if (this.closed) return;
    const s = this.senders.get(localVtep) ?? this.openSender(localVtep);
    if (!s.bound) {
      if (s.pending.length < MAX_PENDING) s.pending.push({ remote: remoteVtep, datagram });
      return;
    }
    this.transmit(localVtep, s, remoteVtep, datagram);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.handler = undefined;
    this.rx.close();
    for (const s of this.senders.values()) s.socket.close();
    this.senders.clear();
  }

  private openSender(local: string): SendSocket {
    const socket = dgram.createSocket(local.includes(':') ? 'udp6' : 'udp4');
    const s: SendSocket = { socket, bound: false, pending: [] };
    this.senders.set(local, s);
    socket.on('error', (err) => {
      // Typically EADDRNOTAVAIL: the uplink address is not (yet) configured. Forget
      // the socket; the next send retries. Probes sent meanwhile are misses.
      this.log.warn({ err, localVtep: local }, 'probe send socket error');
      if (this.senders.get(local) === s) this.senders.delete(local);
      try { socket.close(); } catch { /* already closed */ }
    });
    // Anything arriving on the ephemeral port (ICMP errors surface as 'error' only on connected sockets) is ignored.
    socket.on('message', () => {});
    socket.bind({ address: local, port: 0 }, () => {
      s.bound = true;
      for (const p of s.pending.splice(0)) this.transmit(local, s, p.remote, p.datagram);
    });
    return s;
  }

  private transmit(local: string, s: SendSocket, remote: string, datagram: Uint8Array): void {
    // The key is built only when something failed (no string per send otherwise).
    const done = (err: Error | null): void => {
      if (err) {
        const key = `${local}>${remote}`;
        if (!this.failing.has(key)) this.log.warn({ err, localVtep: local, remoteVtep: remote }, 'probe send failed');
        this.failing.add(key);
      } else if (this.failing.size > 0 && this.failing.delete(`${local}>${remote}`)) {
        this.log.info({ localVtep: local, remoteVtep: remote }, 'probe send works again');
      }
    };
    try {
      s.socket.send(datagram, this.vxlanPort, remote, done);
    } catch (err) {
      // The socket was closed by its error handler; the next send opens a new one.
      done(err instanceof Error ? err : new Error(String(err)));
    }
  }
}
