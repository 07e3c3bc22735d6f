// Sockets whose options must be set before connect(), listen() or bind(): TCP-MD5
// (RFC 2385), TCP-AO (RFC 5925), GTSM (RFC 5082) and BFD's TTL check (RFC 5881
// §5). Reaches libc through koffi's FFI (as util/memory.ts and kernel/event-socket.ts
// do for their own calls); the bytes come from sockopt-wire.ts.
//
// Node creates a socket's fd only inside connect() / listen(), too late for
// these options. So the fd is made here (socket(2) + setsockopt(2) + bind(2) for
// listeners and UDP) and handed to Node, which owns and closes it from then on:
//  * TCP, connecting: `new net.Socket({ fd })` wraps the unconnected fd and
//    socket.connect() connects that same fd (libuv reuses an open handle);
//  * TCP, listening: `server.listen({ fd })` on the bound fd;
//  * UDP: `dgram.Socket#bind({ fd })` on the bound fd.
import koffi from 'koffi';
import { Socket } from 'node:net';
import {
  AF_INET, AF_INET6, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, IPV6_MINHOPCOUNT, IPV6_UNICAST_HOPS, IPV6_V6ONLY, IP_MINTTL,
  IP_TTL, SOL_SOCKET, SO_ATTACH_FILTER, SO_RCVBUFFORCE, SO_REUSEADDR, TCP_AO_ADD_KEY, TCP_AO_INFO, TCP_MD5SIG,
  encodeSockFprog, encodeSockaddr, encodeTcpAoAdd, encodeTcpMd5sig, encodeTtl255Filter, familyOf, gtsmMinTtl, int32,
  md5Optname, type AddressFamily, type TcpAuth,
} from './sockopt-wire.js';

export { authName, type TcpAuth, type TcpAoAlgorithm } from './sockopt-wire.js';

/** The authentication of one peer, or of every peer in a prefix (a listen range). */
export interface TcpKey {
  address: string;
  prefixLength?: number;
  auth: TcpAuth;
}

/** What a secured TCP socket gets before it connects or listens. */
export interface TcpSecurity {
  keys: TcpKey[];
  /** RFC 5082 GTSM: the peer is at most this many hops away (null: off). */
  ttlSecurity: number | null;
}

/** A failed socket call, with the errno name as `code` (like Node's own errors). */
export class SockoptError extends Error {
  override name = 'SockoptError';
  constructor(readonly call: string, readonly code: string, readonly errno: number) {
    super(`${call}: ${code}`);
  }
}

const SOCK_STREAM = 1;
const SOCK_DGRAM = 2;
const SOCK_NONBLOCK = 0o4000;
const SOCK_CLOEXEC = 0o2000000;

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  setsockopt(fd: number, level: number, name: number, value: Uint8Array, length: number): number;
  getsockopt(fd: number, level: number, name: number, value: Uint8Array, length: Uint32Array): number;
  bind(fd: number, address: Uint8Array, length: number): number;
  close(fd: number): number;
  if_nametoindex(name: string): number;
}

let libc: Libc | null = null;

function lib(): Libc {
  if (libc) return libc;
  // The process's own symbols (libc is linked into node): glibc and musl alike.
  const self = koffi.load(null);
  libc = {
    socket: self.func('int socket(int, int, int)') as Libc['socket'],
    setsockopt: self.func('int setsockopt(int, int, int, const void *, uint32_t)') as Libc['setsockopt'],
    getsockopt: self.func('int getsockopt(int, int, int, _Inout_ void *, _Inout_ uint32_t *)') as Libc['getsockopt'],
    bind: self.func('int bind(int, const void *, uint32_t)') as Libc['bind'],
    close: self.func('int close(int)') as Libc['close'],
    if_nametoindex: self.func('unsigned int if_nametoindex(const char *)') as Libc['if_nametoindex'],
  };
  return libc;
}

let errnoNames: Map<number, string> | null = null;

function fail(call: string): SockoptError {
  const errno = koffi.errno();
  errnoNames ??= new Map(Object.entries(koffi.os.errno).map(([k, v]) => [v, k]));
  return new SockoptError(call, errnoNames.get(errno) ?? `errno ${errno}`, errno);
}

function check(rc: number, call: string): void {
  if (rc < 0) throw fail(call);
}

function setopt(fd: number, level: number, name: number, value: Uint8Array, what: string): void {
  check(lib().setsockopt(fd, level, name, value, value.length), `setsockopt(${what})`);
}

/** A new fd, closed again if `setup` throws. */
function withNewFd(family: AddressFamily, type: number, setup: (fd: number) => void): number {
  const fd = lib().socket(family === 4 ? AF_INET : AF_INET6, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  check(fd, 'socket');
  try {
    setup(fd);
  } catch (e) {
    lib().close(fd);
    throw e;
  }
  return fd;
}

function addKey(fd: number, family: AddressFamily, k: TcpKey, listening: boolean): void {
  const { auth } = k;
  if (auth.kind === 'md5') {
    const spec = { address: k.address, password: auth.password, ...(k.prefixLength !== undefined ? { prefixLength: k.prefixLength } : {}) };
    setopt(fd, IPPROTO_TCP, md5Optname(spec), encodeTcpMd5sig(family, spec), 'TCP_MD5SIG');
    return;
  }
  // One MKT per peer (RFC 5925 §3.1): SendID keyId, RecvID rnextKeyId. A listener
  // has no Current_key / RNext_key of its own: each accepted socket takes them
  // from the peer's SYN.
  setopt(fd, IPPROTO_TCP, TCP_AO_ADD_KEY, encodeTcpAoAdd(family, {
    address: k.address, ...(k.prefixLength !== undefined ? { prefixLength: k.prefixLength } : {}),
    algorithm: auth.algorithm, sendId: auth.keyId, recvId: auth.rnextKeyId, secret: auth.secret,
    setCurrent: !listening, setRnext: !listening,
  }), 'TCP_AO_ADD_KEY');
}

/** RFC 5082 §3: send with TTL / Hop Limit 255, drop below 256 - hops. */
function setGtsm(fd: number, family: AddressFamily, hops: number): void {
  const min = int32(gtsmMinTtl(hops));
  if (family === 4) {
    setopt(fd, IPPROTO_IP, IP_TTL, int32(255), 'IP_TTL');
    setopt(fd, IPPROTO_IP, IP_MINTTL, min, 'IP_MINTTL');
  } else {
    setopt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, int32(255), 'IPV6_UNICAST_HOPS');
    setopt(fd, IPPROTO_IPV6, IPV6_MINHOPCOUNT, min, 'IPV6_MINHOPCOUNT');
  }
}

function secure(fd: number, family: AddressFamily, sec: TcpSecurity, listening: boolean): void {
  for (const k of sec.keys) addKey(fd, family, k, listening);
  if (sec.ttlSecurity !== null) setGtsm(fd, family, sec.ttlSecurity);
}

/** "fe80::1%eth0" → address and scope id. */
function splitScope(address: string): { address: string; scopeId: number } {
  const i = address.indexOf('%');
  if (i < 0) return { address, scopeId: 0 };
  const dev = address.slice(i + 1);
  const scopeId = /^\d+$/.test(dev) ? Number(dev) : lib().if_nametoindex(dev);
  if (scopeId === 0) throw fail(`if_nametoindex(${dev})`);
  return { address: address.slice(0, i), scopeId };
}

function bindTo(fd: number, family: AddressFamily, host: string, port: number): void {
  const { address, scopeId } = splitScope(host);
  const sa = encodeSockaddr(family, address, port);
  if (scopeId) new DataView(sa.buffer).setUint32(24, scopeId, true); // sin6_scope_id
  check(lib().bind(fd, sa, sa.length), `bind(${host}:${port})`);
}

/**
 * An unconnected TCP socket for `peer` with `sec` applied; connect it at once
 * with socket.connect({ host: peer, port, localAddress }).
 */
export function securedSocket(peer: string, sec: TcpSecurity): Socket {
  const family = familyOf(peer);
  const fd = withNewFd(family, SOCK_STREAM, (f) => secure(f, family, sec, false));
  // manualStart: do not start reading before connect() (Node would read an unconnected fd).
  return new Socket({ fd, manualStart: true } as ConstructorParameters<typeof Socket>[0]);
}

/**
 * A TCP socket bound to host:port with `sec` applied, for server.listen({ fd }).
 * Wildcard IPv6 listeners are dual-stack, as Node's own are.
 */
export function securedListenFd(host: string, port: number, sec: TcpSecurity): number {
  const family = familyOf(host.split('%')[0]!);
  return withNewFd(family, SOCK_STREAM, (fd) => {
    setopt(fd, SOL_SOCKET, SO_REUSEADDR, int32(1), 'SO_REUSEADDR');
    if (family === 6) setopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, int32(0), 'IPV6_V6ONLY');
    secure(fd, family, sec, true);
    bindTo(fd, family, host, port);
  });
}

/**
 * A UDP socket bound to host:port that receives only datagrams sent with TTL /
 * Hop Limit 255 (RFC 5881 §5 single-hop BFD): a classic BPF filter drops the rest
 * in the kernel (IP_MINTTL applies to TCP only). For dgram's bind({ fd }).
 */
export function ttl255UdpFd(host: string, port: number): number {
  const family = familyOf(host.split('%')[0]!);
  return withNewFd(family, SOCK_DGRAM, (fd) => {
    const filter = encodeTtl255Filter(family);
    setopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, encodeSockFprog(filter.length / 8, koffi.address(filter)), 'SO_ATTACH_FILTER');
    bindTo(fd, family, host, port);
  });
}

/**
 * SO_RCVBUFFORCE: the receive buffer of an open socket beyond net.core.rmem_max,
 * which caps SO_RCVBUF (socket(7); needs CAP_NET_ADMIN, else EPERM as a SockoptError).
 */
export function forceRecvBuffer(fd: number, bytes: number): void {
  setopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, int32(bytes), 'SO_RCVBUFFORCE');
}

/** Close an fd that was never handed to Node. */
export function closeFd(fd: number): void {
  lib().close(fd);
}

/**
 * Whether this kernel has TCP-MD5 (CONFIG_TCP_MD5SIG) and TCP-AO (CONFIG_TCP_AO,
 * Linux >= 6.7): an option the kernel does not know fails with ENOPROTOOPT.
 */
export function kernelTcpAuth(): { md5: boolean; ao: boolean } {
  const fd = withNewFd(4, SOCK_STREAM, () => {});
  try {
    const l = lib();
    // Deleting a key that does not exist: ENOENT with MD5 support, ENOPROTOOPT without.
    const md5Rc = l.setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, new Uint8Array(216), 216);
    const md5 = md5Rc === 0 || fail('md5').code !== 'ENOPROTOOPT';
    // getsockopt(TCP_AO_INFO) of a socket without keys: ENOENT with TCP-AO, ENOPROTOOPT without.
    const info = new Uint8Array(48);
    const ao = l.getsockopt(fd, IPPROTO_TCP, TCP_AO_INFO, info, Uint32Array.of(info.length)) === 0 || fail('ao').code !== 'ENOPROTOOPT';
    return { md5, ao };
  } finally {
    lib().close(fd);
  }
}
