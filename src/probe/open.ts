// Opening the probe transport: the batched one (mmsg.ts: sendmmsg/recvmmsg through
// koffi) where this process can use it, else node:dgram (udp.ts), which works
// everywhere Node does. Both bind the same receive socket and fail the same way
// (an error with `code`, e.g. EADDRINUSE) when it cannot be bound.
import pino from 'pino';
import { MmsgProbeTransport, mmsgAvailable } from './mmsg.js';
import type { ProbeTransport } from './transport.js';
import { UdpProbeTransport, type UdpProbeTransportOptions } from './udp.js';

/** 'auto': mmsg where available, else dgram. */
export type ProbeTransportKind = 'auto' | 'mmsg' | 'dgram';

export interface OpenedProbeTransport extends ProbeTransport {
  /** The receive socket's port. */
  readonly port: number;
}

export async function openProbeTransport(opts: UdpProbeTransportOptions & { kind?: ProbeTransportKind }): Promise<OpenedProbeTransport> {
  const kind = opts.kind ?? 'auto';
  if (kind === 'mmsg' || (kind === 'auto' && mmsgAvailable())) return MmsgProbeTransport.open(opts);
  if (kind === 'auto') {
    (opts.logger ?? pino({ level: 'silent' })).info({ component: 'probe' }, 'sendmmsg/recvmmsg not available here: VTEP probes use one system call per datagram (node:dgram)');
  }
  return UdpProbeTransport.open(opts);
}
