// The BFD sessions of one process: keyed by (local, remote, multihop), sharing
// receive sockets per (local address, port), demultiplexing received packets to
// their session (RFC 5880 §6.8.6). Runs in the BFD process (child.ts) in the agent,
// in-process in the reflector and in unit tests (ManualClock, fake transport).

import { systemClock, type Clock, type Timer } from '../util/clock.js';
import { BfdPacketError, decodeControl, type ControlPacket } from './packet.js';
import type { Random } from './fsm.js';
import { BfdSession } from './session.js';
import {
  BFD_MULTIHOP_PORT, canonicalAddress, sessionKey, silentLog,
  type BfdDropCounters, type BfdLog, type BfdPeerConfig, type BfdService, type BfdSessionHandle,
} from './types.js';
import { udpTransport, type BfdRxHandle, type BfdTransport } from './udp.js';

export interface BfdManagerOptions {
  clock?: Clock;
  transport?: BfdTransport;
  logger?: BfdLog;
  /** Randomness for jitter, discriminators and source ports (default Math.random). */
  random?: Random;
  /** Retry delay when a socket cannot be opened (address not yet configured, port busy), ms. Default 5000. */
  retryMs?: number;
  /**
   * How an expired detection timer waits for pending I/O before it counts (see
   * BfdSession). Default: setImmediate with the system clock; none (at once) with an
   * injected clock, so tests on a ManualClock stay synchronous.
   */
  afterIo?: ((fn: () => void) => void) | null;
}

interface RxEntry {
  handle: BfdRxHandle | undefined;
  refs: number;
  opening: Promise<void> | undefined;
}

export class BfdManager implements BfdService {
  private readonly clock: Clock;
  private readonly transport: BfdTransport;
  private readonly log: BfdLog;
  private readonly random: Random;
  private readonly retryMs: number;
  private readonly afterIo: ((fn: () => void) => void) | undefined;
  private readonly byKey = new Map<string, BfdSession>();
  private readonly byDiscr = new Map<number, BfdSession>();
  private readonly rx = new Map<string, RxEntry>();
  private readonly retries = new Map<BfdSession, Timer>();
  private readonly openFailures = new Set<BfdSession>();
  private readonly holdsRx = new Set<BfdSession>();
  readonly drops: BfdDropCounters = {};

  constructor(opts: BfdManagerOptions = {}) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.logger ?? silentLog;
    this.transport = opts.transport ?? udpTransport(this.log);
    this.random = opts.random ?? Math.random;
    this.retryMs = opts.retryMs ?? 5000;
    this.afterIo = opts.afterIo === undefined ? (opts.clock ? undefined : (fn) => { setImmediate(fn); }) : opts.afterIo ?? undefined;
  }

  /** Create (or return the existing) session to `cfg.remote` from `cfg.local`. Sockets open in the background. */
  add(cfg: BfdPeerConfig): BfdSession {
    const key = sessionKey(cfg.local, cfg.remote, cfg.multihop);
    const existing = this.byKey.get(key);
    if (existing) {
      existing.setOptions(cfg);
      return existing;
    }
    const session = new BfdSession(cfg, this.newDiscriminator(), this.clock, this.random, this.log, this.afterIo);
    this.byKey.set(key, session);
    this.byDiscr.set(session.localDiscriminator, session);
    this.open(session);
    return session;
  }

  get(local: string, remote: string, multihop = false): BfdSession | undefined {
    return this.byKey.get(sessionKey(local, remote, multihop));
  }

  sessions(): BfdSession[] {
    return [...this.byKey.values()];
  }

  /** Remove a session; by default the peer is told AdminDown first so it does not see a failure. */
  remove(handle: BfdSessionHandle, opts: { adminDown?: boolean } = {}): void {
    const key = sessionKey(handle.local, handle.remote, handle.multihop);
    const session = this.byKey.get(key);
    if (session === undefined || session !== handle) return;
    this.byKey.delete(key);
    this.byDiscr.delete(session.localDiscriminator);
    this.retries.get(session)?.cancel();
    this.retries.delete(session);
    this.openFailures.delete(session);
    session.shutdown(opts.adminDown ?? true);
    if (this.holdsRx.delete(session)) this.releaseRx(session.local, session.port);
  }

  close(opts: { adminDown?: boolean } = {}): void {
    for (const s of this.sessions()) this.remove(s, opts);
  }

  /** Feed one received datagram (exposed for tests and for a shell that owns its own sockets). */
  handlePacket(local: string, port: number, bytes: Buffer, from: { address: string; port: number }): void {
    let packet: ControlPacket;
    try {
      packet = decodeControl(bytes);
    } catch (e) {
      if (!(e instanceof BfdPacketError)) throw e;
      this.drop(e.kind, from.address, e.message);
      return;
    }
    const src = canonicalAddress(from.address);
    const loc = canonicalAddress(local);
    const multihop = port === BFD_MULTIHOP_PORT;
    let session: BfdSession | undefined;
    if (packet.yourDiscriminator !== 0) {
      // §6.8.6: select the session by Your Discriminator; none -> discard.
      session = this.byDiscr.get(packet.yourDiscriminator);
      if (session === undefined) { this.drop('unknownDiscriminator', src); return; }
      // RFC 5881 §3 / RFC 5883 §3: the discriminator must belong to this address pair.
      if (session.remote !== src || session.local !== loc || session.multihop !== multihop) {
        this.drop('addressMismatch', src);
        return;
      }
    } else {
      // §6.8.6: Your Discriminator zero: select by addresses (RFC 5881 §3, RFC 5883 §3).
      session = this.byKey.get(sessionKey(loc, src, multihop));
      if (session === undefined) { this.drop('noSession', src); return; }
    }
    session.receive(packet);
  }

  private drop(reason: string, from: string, detail?: string): void {
    this.drops[reason] = (this.drops[reason] ?? 0) + 1;
    this.log.debug({ from, reason, detail }, 'bfd packet discarded');
  }

  private newDiscriminator(): number {
    for (;;) {
      const d = (Math.floor(this.random() * 0xffffffff) >>> 0) + 1; // §6.8.1: nonzero, unique
      if (d <= 0xffffffff && !this.byDiscr.has(d)) return d;
    }
  }

  private bindAddress(session: BfdSession): string {
    // IPv6 link-local needs its scope; that is the only use of `device` (no SO_BINDTODEVICE in Node).
    return session.device !== undefined && session.local.startsWith('fe80:') ? `${session.local}%${session.device}` : session.local;
  }

  private isCurrent(session: BfdSession): boolean {
    return this.byKey.get(sessionKey(session.local, session.remote, session.multihop)) === session;
  }

  private open(session: BfdSession): void {
    const { local, port } = session;
    void (async () => {
      try {
        await this.acquireRx(this.bindAddress(session), local, port);
        if (!this.isCurrent(session)) { this.releaseRx(local, port); return; }
        this.holdsRx.add(session);
        const tx = await this.transport.openTx(this.bindAddress(session), this.random);
        if (!this.isCurrent(session)) { tx.close(); return; }
        if (this.openFailures.delete(session)) this.log.info({ local, remote: session.remote }, 'bfd sockets open');
        session.attach(tx);
      } catch (e) {
        if (this.holdsRx.delete(session)) this.releaseRx(local, port);
        if (!this.isCurrent(session)) return;
        // Address not (yet) configured, port taken: retry quietly; log once per failing streak.
        const msg = e instanceof Error ? e.message : String(e);
        if (!this.openFailures.has(session)) this.log.warn({ local, remote: session.remote, err: msg }, 'bfd cannot open sockets, retrying');
        else this.log.debug({ local, remote: session.remote, err: msg }, 'bfd cannot open sockets, retrying');
        this.openFailures.add(session);
        this.retries.set(session, this.clock.setTimer(this.retryMs, () => {
          this.retries.delete(session);
          if (this.isCurrent(session)) this.open(session);
        }));
      }
    })();
  }

  private async acquireRx(bindAddr: string, local: string, port: number): Promise<void> {
    const key = `${local}|${port}`;
    let entry = this.rx.get(key);
    if (entry === undefined) {
      entry = { handle: undefined, refs: 0, opening: undefined };
      this.rx.set(key, entry);
    }
    entry.refs++;
    if (entry.handle !== undefined) return;
    if (entry.opening === undefined) {
      const e = entry;
      e.opening = this.transport.openRx(bindAddr, port, (bytes, from) => this.handlePacket(local, port, bytes, from))
        .then((h) => {
          if (e.refs === 0) { h.close(); this.rx.delete(key); return; }
          e.handle = h;
        })
        .finally(() => { e.opening = undefined; });
    }
    try {
      await entry.opening;
    } catch (err) {
      this.releaseRx(local, port);
      throw err;
    }
  }

  private releaseRx(local: string, port: number): void {
    const key = `${local}|${port}`;
    const entry = this.rx.get(key);
    if (entry === undefined) return;
    entry.refs = Math.max(0, entry.refs - 1);
    if (entry.refs > 0) return;
    if (entry.handle !== undefined) {
      entry.handle.close();
      this.rx.delete(key);
    } else if (entry.opening === undefined) {
      this.rx.delete(key);
    }
  }
}
