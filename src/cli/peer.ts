// `evpn-ha peer <address>`: one BGP session, printing what it receives until
// SIGINT/SIGTERM, then Cease and exit 0. Routes given with --announce are
// advertised; stdin takes runtime commands (see STDIN_HELP).
import { ipVersion } from '../wire/addr.js';
import { networkInterfaces } from 'node:os';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { Logger } from 'pino';
import { BgpSession, type DownEvent } from '../bgp/session.js';
import { tcpTransport } from '../bgp/tcp.js';
import type { BgpTransport } from '../bgp/transport.js';
import { familyName, isValidAsn, type Negotiated } from '../bgp/negotiate.js';
import type { Family, UpdateMessage } from '../bgp/types.js';
import { eventRecord, formatRouteRecord, parseRouteSpec, updateRecords, UsageError, type AnnouncedRoute } from './format.js';
import { TCP_AO_MISSING, TCP_MD5_MISSING, type KernelTcpAuth } from '../config/security.js';
import { kernelTcpAuth } from '../net/sockopt.js';
import { TCP_AO_ALGORITHMS, authName, gtsmMinTtl, type TcpAoAlgorithm, type TcpAuth } from '../net/sockopt-wire.js';
import '../evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

export const STDIN_HELP = [
  'announce <route>   advertise one more route (same syntax as --announce)',
  'withdraw <n>       withdraw the n-th announced route (1-based, in announce order)',
  'withdraw all       withdraw every announced route',
  'list               print the announced routes with their numbers (stderr)',
].join('\n');

export interface PeerArgs {
  address: string;
  localAs: number;
  peerAs?: number;
  routerId?: string;
  localAddress?: string;
  port?: number;
  holdTime?: number;
  passive?: boolean;
  announce?: string[];
  json?: boolean;
  /** --password: TCP-MD5 (RFC 2385). */
  password?: string;
  /** --tcp-ao-key-id, --tcp-ao-rnext-key-id, --tcp-ao-algorithm, --tcp-ao-secret: TCP-AO (RFC 5925). */
  tcpAo?: { keyId?: number; rnextKeyId?: number; algorithm?: string; secret?: string };
  /** --ttl-security HOPS: GTSM (RFC 5082). */
  ttlSecurity?: number;
}

export interface PeerIo {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable | null;
  logger: Logger;
  /** Resolves when the user asks to exit (SIGINT/SIGTERM). */
  until: Promise<string>;
  /** Default: kernel TCP (tcp.ts). */
  transport?: BgpTransport;
}

/** The checked, defaulted form of PeerArgs. */
export interface PeerConfig {
  address: string;
  localAs: number;
  peerAs: number;
  routerId: string;
  routerIdSource: string;
  localAddress?: string;
  port: number;
  holdTime: number;
  passive: boolean;
  routes: AnnouncedRoute[];
  json: boolean;
  auth: TcpAuth | null;
  ttlSecurity: number | null;
}

function checkAs(n: number | undefined, what: string): number {
  if (n === undefined || !isValidAsn(n)) throw new UsageError(`${what} must be an AS number 1..4294967295, got ${String(n)}`);
  return n;
}

/** The first global IPv4 address of this host (namespace), if any. */
function firstIpv4(): string | null {
  for (const addrs of Object.values(networkInterfaces())) {
    for (const a of addrs ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return null;
}

/**
 * Validate and default the arguments (throws UsageError). Router ID: --router-id,
 * else --local-address when IPv4, else the first non-loopback IPv4 address of
 * the host, else 1.1.1.1.
 */
/** --password / --tcp-ao-* / --ttl-security, checked; `kernel` is asked only when a key is given. */
function peerSecurity(a: PeerArgs, kernel: () => KernelTcpAuth): { auth: TcpAuth | null; ttlSecurity: number | null } {
  const bytes = (text: string): number => new TextEncoder().encode(text).length;
  let auth: TcpAuth | null = null;
  if (a.password !== undefined) {
    if (bytes(a.password) < 1 || bytes(a.password) > 80) throw new UsageError('--password must be 1..80 bytes');
    auth = { kind: 'md5', password: a.password };
  }
  const ao = a.tcpAo;
  if (ao && Object.values(ao).some((v) => v !== undefined)) {
    if (auth) throw new UsageError('give either --password (TCP-MD5) or --tcp-ao-*, not both');
    if (ao.secret === undefined) throw new UsageError('--tcp-ao-secret is required with the other --tcp-ao-* options');
    if (bytes(ao.secret) < 1 || bytes(ao.secret) > 80) throw new UsageError('--tcp-ao-secret must be 1..80 bytes');
    const id = (v: number | undefined, name: string): number | undefined => {
      if (v !== undefined && (!Number.isInteger(v) || v < 0 || v > 255)) throw new UsageError(`--${name} must be a KeyID 0..255, got ${v}`);
      return v;
    };
    const keyId = id(ao.keyId, 'tcp-ao-key-id');
    if (keyId === undefined) throw new UsageError('--tcp-ao-key-id is required with --tcp-ao-secret');
    const algorithm = ao.algorithm ?? 'hmac-sha-256';
    if (!(algorithm in TCP_AO_ALGORITHMS)) {
      throw new UsageError(`--tcp-ao-algorithm must be one of ${Object.keys(TCP_AO_ALGORITHMS).join(', ')}, got "${algorithm}"`);
    }
    auth = { kind: 'ao', keyId, rnextKeyId: id(ao.rnextKeyId, 'tcp-ao-rnext-key-id') ?? keyId, algorithm: algorithm as TcpAoAlgorithm, secret: ao.secret };
  }
  if (auth) {
    const k = kernel();
    if (auth.kind === 'ao' && !k.ao) throw new UsageError(`--tcp-ao-secret: ${TCP_AO_MISSING}`);
    if (auth.kind === 'md5' && !k.md5) throw new UsageError(`--password: ${TCP_MD5_MISSING}`);
  }
  let ttlSecurity: number | null = null;
  if (a.ttlSecurity !== undefined) {
    try {
      gtsmMinTtl(a.ttlSecurity);
    } catch {
      throw new UsageError(`--ttl-security must be a number of hops 1..254, got ${a.ttlSecurity}`);
    }
    ttlSecurity = a.ttlSecurity;
  }
  return { auth, ttlSecurity };
}

export function peerConfig(a: PeerArgs, hostIpv4: () => string | null = firstIpv4, kernel: () => KernelTcpAuth = kernelTcpAuth): PeerConfig {
  if (ipVersion(a.address) === 0) throw new UsageError(`peer address is not an IP address: "${a.address}"`);
  if (a.localAddress !== undefined && ipVersion(a.localAddress) === 0) {
    throw new UsageError(`--local-address is not an IP address: "${a.localAddress}"`);
  }
  const localAs = checkAs(a.localAs, '--local-as');
  const peerAs = a.peerAs === undefined ? localAs : checkAs(a.peerAs, '--peer-as');
  const port = a.port ?? 179;
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port must be 1..65535, got ${port}`);
  const holdTime = a.holdTime ?? 90;
  if (!Number.isInteger(holdTime) || holdTime < 0 || holdTime > 65535 || holdTime === 1 || holdTime === 2) {
    throw new UsageError(`--hold-time must be 0 or 3..65535 seconds, got ${holdTime}`);
  }
  let routerId: string;
  let routerIdSource: string;
  if (a.routerId !== undefined) {
    if (ipVersion(a.routerId) !== 4 || a.routerId === '0.0.0.0') throw new UsageError(`--router-id must be a non-zero IPv4 address, got "${a.routerId}"`);
    routerId = a.routerId;
    routerIdSource = '--router-id';
  } else if (a.localAddress !== undefined && ipVersion(a.localAddress) === 4) {
    routerId = a.localAddress;
    routerIdSource = '--local-address';
  } else {
    const host = hostIpv4();
    routerId = host ?? '1.1.1.1';
    routerIdSource = host ? 'first IPv4 address of this host' : 'default';
  }
  const routes = (a.announce ?? []).map(parseRouteSpec);
  const cfg: PeerConfig = { address: a.address, localAs, peerAs, routerId, routerIdSource, port, holdTime,
    passive: a.passive ?? false, routes, json: a.json ?? false, ...peerSecurity(a, kernel) };
  if (a.localAddress !== undefined) cfg.localAddress = a.localAddress;
  return cfg;
}

function familyRecord(f: Family): Record<string, unknown> {
  return { afi: f.afi, safi: f.safi, family: familyName(f) };
}

/** Run the session until io.until resolves; returns the exit code. */
export async function runPeer(cfg: PeerConfig, io: PeerIo): Promise<number> {
  const log = io.logger;
  const out = (line: string): void => { io.stdout.write(`${line}\n`); };
  const emit = (rec: object, human: string): void => out(cfg.json ? JSON.stringify(rec) : human);
  const peer = cfg.address;

  const opts: ConstructorParameters<typeof BgpSession>[0] = {
    transport: io.transport ?? tcpTransport(), peerAddress: peer, peerPort: cfg.port, localAs: cfg.localAs, peerAs: cfg.peerAs, routerId: cfg.routerId,
    holdTime: cfg.holdTime, passive: cfg.passive, logger: log, auth: cfg.auth, ttlSecurity: cfg.ttlSecurity,
  };
  if (cfg.localAddress !== undefined) opts.localAddress = cfg.localAddress;
  if (cfg.passive) opts.listen = { port: cfg.port };
  const session = new BgpSession(opts);
  log.info({ routerId: cfg.routerId, routerIdSource: cfg.routerIdSource, localAs: cfg.localAs, peerAs: cfg.peerAs,
    passive: cfg.passive, routes: cfg.routes.length, auth: authName(cfg.auth), ttlSecurity: cfg.ttlSecurity }, `evpn-ha peer ${peer}`);

  session.on('established', (n: Negotiated) => {
    emit(eventRecord('established', peer, { peerAs: n.peerAs, peerRouterId: n.peerRouterId, holdTime: n.holdTime,
      keepalive: n.keepalive, families: n.families.map(familyName), fourOctetAs: n.fourOctetAs, routeRefresh: n.routeRefresh,
      gracefulRestart: n.gracefulRestart.peer !== null, notes: n.notes }),
    `established  peer ${peer} AS ${n.peerAs} router-id ${n.peerRouterId} hold ${n.holdTime}s ` +
      `families ${n.families.map(familyName).join(',') || 'none'}${n.notes.length ? ` (${n.notes.join('; ')})` : ''}`);
  });
  session.on('update', (u: UpdateMessage) => {
    for (const r of updateRecords(peer, u)) emit(r, formatRouteRecord(r));
    if (u.attrErrors?.length) log.warn({ attrErrors: u.attrErrors }, 'UPDATE with attribute errors (RFC 7606)');
  });
  session.on('eor', (f: Family) => emit(eventRecord('eor', peer, familyRecord(f)), `eor          ${familyName(f)}`));
  session.on('down', (d: DownEvent) => {
    const n = d.notification;
    emit(eventRecord('down', peer, {
      reason: d.reason,
      notification: n ? { code: n.code, subcode: n.subcode, direction: n.direction, data: Buffer.from(n.data).toString('hex') } : null,
    }), `down         ${d.reason}`);
  });

  // Announced routes are numbered in order; a withdrawn number stays taken.
  const announced: Array<AnnouncedRoute | null> = [...cfg.routes];
  session.advertise(cfg.routes);

  const command = (line: string): void => {
    const text = line.trim();
    if (text === '' || text.startsWith('#')) return;
    const [verb, ...rest] = text.split(/\s+/);
    try {
      if (verb === 'announce') {
        const r = parseRouteSpec(rest.join(' '));
        announced.push(r);
        session.advertise([r]);
        log.info({ n: announced.length }, `announced ${r.text}`);
      } else if (verb === 'withdraw' && rest.length === 1) {
        const which = rest[0] === 'all'
          ? announced.map((r, i) => [i, r] as const).filter(([, r]) => r !== null)
          : [[Number(rest[0]) - 1, announced[Number(rest[0]) - 1] ?? null] as const];
        for (const [i, r] of which) {
          if (!r) throw new UsageError(`no announced route number ${rest[0]}`);
          session.withdraw([r.route]);
          announced[i] = null;
          log.info({ n: i + 1 }, `withdrew ${r.text}`);
        }
      } else if (verb === 'list') {
        announced.forEach((r, i) => { if (r) io.stderr.write(`${i + 1} ${r.text}\n`); });
      } else {
        throw new UsageError(`unknown command "${text}"; commands:\n${STDIN_HELP}`);
      }
    } catch (e) {
      log.error(`stdin: ${(e as Error).message}`);
    }
  };
  const rl = io.stdin ? createInterface({ input: io.stdin, terminal: false }) : null;
  rl?.on('line', command);

  session.start();
  const why = await io.until;
  log.info(`${why}: closing the session`);
  rl?.close();
  await session.stop('evpn-ha peer exiting');
  return 0;
}
