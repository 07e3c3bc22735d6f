// In-memory stand-ins for BFD unit tests: a UDP network on a ManualClock, a log
// capture, a seeded random source.
import { pino, type Logger } from 'pino';
import type { ManualClock } from '../../src/util/clock.js';
import { BFD_SOURCE_PORT_MIN } from '../../src/bfd/types.js';
import type { BfdRxHandler, BfdTransport } from '../../src/bfd/udp.js';

/** Let promise continuations run (no timers, no real time). */
export const flush = async (): Promise<void> => { for (let i = 0; i < 5; i++) await new Promise<void>((r) => setImmediate(r)); };

/** An in-memory UDP network on the ManualClock with 1 ms delivery delay. */
export class FakeNet {
  readonly addresses = new Set<string>();
  readonly listeners = new Map<string, BfdRxHandler>();
  /** Datagrams from these source addresses are lost. */
  readonly blocked = new Set<string>();
  sent: Array<{ from: string; sport: number; to: string; dport: number; bytes: Buffer }> = [];
  openTxCount = 0;
  constructor(readonly clock: ManualClock) {}

  transport(): BfdTransport {
    return {
      openRx: async (local, port, onPacket) => {
        if (!this.addresses.has(local)) throw Object.assign(new Error(`bind EADDRNOTAVAIL ${local}:${port}`), { code: 'EADDRNOTAVAIL' });
        const key = `${local}|${port}`;
        if (this.listeners.has(key)) throw Object.assign(new Error('EADDRINUSE'), { code: 'EADDRINUSE' });
        this.listeners.set(key, onPacket);
        return { close: () => { this.listeners.delete(key); } };
      },
      openTx: async (local, random) => {
        if (!this.addresses.has(local)) throw new Error('EADDRNOTAVAIL');
        this.openTxCount++;
        const sport = BFD_SOURCE_PORT_MIN + Math.floor(random() * 16384);
        return {
          port: sport,
          send: (bytes, to, dport, cb) => {
            this.sent.push({ from: local, sport, to, dport, bytes });
            if (!this.addresses.has(local)) { cb(new Error('EADDRNOTAVAIL')); return; }
            cb(null);
            if (this.blocked.has(local)) return;
            this.clock.setTimer(1, () => this.listeners.get(`${to}|${dport}`)?.(Buffer.from(bytes), { address: local, port: sport }));
          },
          close: () => {},
        };
      },
    };
  }

  /** Inject a datagram as if `from` had sent it. */
  inject(from: string, to: string, dport: number, bytes: Buffer): void {
    this.listeners.get(`${to}|${dport}`)?.(bytes, { address: from, port: 50000 });
  }
}

export function capture(): { logger: Logger; lines: Array<{ level: number; msg: string }> } {
  const lines: Array<{ level: number; msg: string }> = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => { lines.push(JSON.parse(s) as { level: number; msg: string }); } });
  return { logger, lines };
}

export function lcg(seed: number): () => number {
  let x = seed >>> 0;
  return () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x / 2 ** 32; };
}

