// BFD's UDP sockets (RFC 5881 single hop, RFC 5883 multihop): the BfdTransport
// interface the manager opens sockets through, and its real implementation on
// node:dgram. Unit tests use a fake transport instead.
//
//  * Control packets go to UDP port 3784 (single hop, RFC 5881 §4) or 4784
//    (multihop, RFC 5883 §5), from a source port in 49152-65535 that stays the
//    same for the life of the session (RFC 5881 §4), one per session.
//  * TTL / Hop Limit 255 on transmit (RFC 5881 §5; RFC 5883 §5 leaves it to
//    the implementation, 255 is what FRR sends). On receive, RFC 5881 §5: a
//    single-hop packet with a TTL / Hop Limit below 255 is discarded. Node's dgram
//    cannot read the received TTL and Linux applies IP_MINTTL to TCP only, so the
//    single-hop receive socket is made by src/net/sockopt.ts with a BPF socket
//    filter that lets only TTL 255 through (the kernel drops the rest before
//    they reach the socket); see docs/bfd.md.
//  * Sockets are bound to the local address; Node has no SO_BINDTODEVICE, so
//    `device` is only used as the IPv6 scope of link-local addresses.

import { isIpv6Text } from '../wire/addr.js';
import { createSocket, type Socket } from 'node:dgram';
import { ttl255UdpFd } from '../net/sockopt.js';
import type { Random } from './fsm.js';
import { BFD_SINGLE_HOP_PORT, BFD_SOURCE_PORT_MAX, BFD_SOURCE_PORT_MIN, BFD_TTL, type BfdLog } from './types.js';

export interface BfdRxHandle { close(): void }
export interface BfdTxHandle {
  /** Source port actually bound. */
  readonly port: number;
  send(packet: Buffer, address: string, port: number, cb: (err: Error | null) => void): void;
  close(): void;
}
export type BfdRxHandler = (packet: Buffer, from: { address: string; port: number }) => void;

export interface BfdTransport {
  /** Listen on local:port for Control packets (port 3784 or 4784). */
  openRx(local: string, port: number, onPacket: BfdRxHandler): Promise<BfdRxHandle>;
  /** A transmit socket on local and a free source port in 49152-65535, TTL 255. */
  openTx(local: string, random: Random): Promise<BfdTxHandle>;
}

/** Bind to address:port, or take an fd that is bound already. */
function bindSocket(sock: Socket, address: string, port: number, fd?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => { sock.removeListener('listening', onListening); reject(e); };
    const onListening = (): void => { sock.removeListener('error', onError); resolve(); };
    sock.once('error', onError);
    sock.once('listening', onListening);
    sock.bind(fd !== undefined ? { fd } : { address, port, exclusive: true });
  });
}

function closeQuietly(sock: Socket): void {
  try { sock.close(); } catch { /* already closed */ }
}

/** The real transport on node:dgram. */
export function udpTransport(log: BfdLog): BfdTransport {
  return {
    async openRx(local, port, onPacket) {
      // RFC 5881 §5 receive check for single hop, in the kernel (throws EADDRINUSE etc. like bind).
      const fd = port === BFD_SINGLE_HOP_PORT ? ttl255UdpFd(local, port) : undefined;
      const sock = createSocket({ type: isIpv6Text(local.split('%')[0]!) ? 'udp6' : 'udp4' });
      sock.on('message', (msg, rinfo) => onPacket(msg, { address: rinfo.address, port: rinfo.port }));
      try {
        await bindSocket(sock, local, port, fd);
      } catch (e) {
        closeQuietly(sock);
        throw e;
      }
      sock.on('error', (e) => log.debug({ err: e, local, port }, 'bfd rx socket error'));
      return { close: () => closeQuietly(sock) };
    },
    async openTx(local, random) {
      const span = BFD_SOURCE_PORT_MAX - BFD_SOURCE_PORT_MIN + 1;
      let lastErr: unknown;
      for (let attempt = 0; attempt < 32; attempt++) {
        const port = BFD_SOURCE_PORT_MIN + Math.floor(random() * span) % span;
        const sock = createSocket({ type: isIpv6Text(local) ? 'udp6' : 'udp4' });
        try {
          await bindSocket(sock, local, port);
        } catch (e) {
          closeQuietly(sock);
          lastErr = e;
          if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') continue;
          throw e;
        }
        sock.setTTL(BFD_TTL); // RFC 5881 §5 (IP_TTL / IPV6_UNICAST_HOPS)
        sock.on('error', (e) => log.debug({ err: e, local, port }, 'bfd tx socket error'));
        // Nothing is expected on the transmit socket; drain anything that arrives.
        sock.on('message', () => {});
        // close() lets sends already handed to dgram finish (e.g. the final AdminDown packet).
        let inFlight = 0;
        let closing = false;
        return {
          port,
          send: (packet, address, dport, cb) => {
            if (closing) return;
            inFlight++;
            sock.send(packet, dport, address, (err) => {
              inFlight--;
              if (closing && inFlight === 0) closeQuietly(sock);
              cb(err ?? null);
            });
          },
          close: () => {
            closing = true;
            if (inFlight === 0) closeQuietly(sock);
          },
        };
      }
      throw lastErr instanceof Error ? lastErr : new Error('no free BFD source port');
    },
  };
}
