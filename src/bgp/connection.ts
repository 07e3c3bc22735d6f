// The session's connection glue (moved out of session.ts): one transport
// connection with its framer, the TCP security settings and the no-answer
// diagnosis derived from the session's options, and the graceful close that
// flushes a NOTIFICATION before the socket goes.
import { ipVersion } from '../wire/addr.js';
import type { Clock } from '../util/clock.js';
import { authName, type TcpAuth, type TcpSecurity } from '../net/sockopt.js';
import { Framer } from './framer.js';
import { encodeMessage } from './message.js';
import type { BgpConnection } from './transport.js';

export interface Conn {
  readonly id: number;
  readonly socket: BgpConnection;
  readonly framer: Framer;
  readonly direction: 'out' | 'in';
  connected: boolean;
  lastError: string | null;
  /** Called once the connection is gone (endSocket waits for it). */
  onClosed?: () => void;
}

/** "::ffff:192.0.2.1" → "192.0.2.1" (a configured peer address written IPv4-mapped). */
export function plainAddress(a: string | undefined): string {
  if (!a) return '';
  return a.startsWith('::ffff:') && ipVersion(a.slice(7)) === 4 ? a.slice(7) : a;
}

let connIds = 0;

export function newConn(socket: BgpConnection, direction: 'out' | 'in'): Conn {
  return { id: ++connIds, socket, framer: new Framer(), direction, connected: direction === 'in', lastError: null };
}

/** What of the session's options concerns its sockets. */
export interface ConnSecurityOptions {
  peerAddress: string;
  auth?: TcpAuth | null;
  ttlSecurity?: number | null;
}

/** Keys and GTSM for our sockets; null when the session has neither (plain Node sockets). */
export function connectionSecurity(opts: ConnSecurityOptions): TcpSecurity | null {
  const { auth, ttlSecurity } = opts;
  if (!auth && !ttlSecurity) return null;
  return { keys: auth ? [{ address: plainAddress(opts.peerAddress), auth }] : [], ttlSecurity: ttlSecurity ?? null };
}

/** What a connect attempt that never got an answer within `ms` most likely means, for lastError. */
export function noAnswerText(opts: ConnSecurityOptions, ms: number): string {
  const checks: string[] = [];
  const a = authName(opts.auth);
  if (a) checks.push(`authentication (${a === 'md5' ? 'TCP-MD5 password' : 'TCP-AO key'}: the kernel drops segments with a wrong or missing signature without a reply)`);
  if (opts.ttlSecurity) checks.push(`ttl-security (the peer must send with TTL 255 and be at most ${opts.ttlSecurity} hop(s) away)`);
  return `no answer from ${opts.peerAddress} within ${(ms / 1000).toFixed(0)} s` +
    (checks.length ? `; check ${checks.join(' and ')}` : '');
}

/** Flush what was written (a NOTIFICATION), then close; the wait is added to `closing` until done. */
export function endSocket(c: Conn, clock: Clock, closing: Set<Promise<void>>): void {
  if (c.socket.destroyed) return;
  const p = new Promise<void>((resolve) => {
    // A peer that never reads must not keep us: destroy after 1 s regardless.
    const guard = clock.setTimer(1000, () => c.socket.destroy());
    c.onClosed = () => { guard.cancel(); resolve(); };
    c.socket.end();
  });
  closing.add(p);
  void p.then(() => closing.delete(p));
}

/** Write a NOTIFICATION on a connection that is not the session's (collision loser, refused). */
export function writeNotification(c: Conn, code: number, subcode: number): void {
  try {
    c.socket.write(encodeMessage({ type: 'notification', code, subcode, data: new Uint8Array(0) }, { fourOctetAs: false }));
  } catch { /* cannot happen for a NOTIFICATION */ }
}
