// Byte layouts of the socket options used for session security: pure functions,
// no I/O (src/net/sockopt.ts hands the bytes to setsockopt). Layouts are those of
// the Linux UAPI headers named at each structure (x86-64 / any little-endian
// LP64 ABI; the only pointer is in struct sock_fprog).
import { parseIpv4, parseIpv6, ipVersion } from '../wire/addr.js';

// <linux/socket.h>, <linux/in.h>, <linux/in6.h>
export const AF_INET = 2;
export const AF_INET6 = 10;
export const SOL_SOCKET = 1;
export const IPPROTO_IP = 0;
export const IPPROTO_TCP = 6;
export const IPPROTO_IPV6 = 41;
/** <asm-generic/socket.h> */
export const SO_REUSEADDR = 2;
export const SO_ATTACH_FILTER = 26;
/** SO_RCVBUF without the net.core.rmem_max cap (CAP_NET_ADMIN). */
export const SO_RCVBUFFORCE = 33;
/** <linux/in.h>: IP_TTL 2, IP_MINTTL 21. */
export const IP_TTL = 2;
export const IP_MINTTL = 21;
/** <linux/in6.h>: IPV6_UNICAST_HOPS 16, IPV6_V6ONLY 26, IPV6_MINHOPCOUNT 73. */
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_V6ONLY = 26;
export const IPV6_MINHOPCOUNT = 73;
/** <linux/tcp.h> */
export const TCP_MD5SIG = 14;
export const TCP_MD5SIG_EXT = 32;
export const TCP_MD5SIG_FLAG_PREFIX = 0x1;
export const TCP_MD5SIG_MAXKEYLEN = 80;
export const TCP_AO_ADD_KEY = 38;
export const TCP_AO_INFO = 40;
export const TCP_AO_MAXKEYLEN = 80;

/** sizeof(struct __kernel_sockaddr_storage) */
export const SOCKADDR_STORAGE_SIZE = 128;
/** sizeof(struct tcp_md5sig): storage 128 + flags 1 + prefixlen 1 + keylen 2 + ifindex 4 + key 80. */
export const TCP_MD5SIG_SIZE = 216;
/** sizeof(struct tcp_ao_add): 208 bytes of header + key[80], aligned(8). */
export const TCP_AO_ADD_SIZE = 288;

export type AddressFamily = 4 | 6;

/** RFC 5925 §5.1 / RFC 5926 algorithms as configured, and the names Linux's crypto API knows them by. */
export const TCP_AO_ALGORITHMS = {
  'hmac-sha-256': 'hmac(sha256)',
  'aes-128-cmac': 'cmac(aes128)',
  'hmac-sha-1': 'hmac(sha1)',
} as const;
export type TcpAoAlgorithm = keyof typeof TCP_AO_ALGORITHMS;

/** RFC 5926 §3.1: both MACs of RFC 5926 are truncated to 96 bits; we use 12 bytes for HMAC-SHA-256 too. */
export const TCP_AO_MACLEN = 12;

/** TCP session authentication of one peer (or prefix of peers). Secrets are bytes of the configured text. */
export type TcpAuth =
  | { kind: 'md5'; password: string }
  | { kind: 'ao'; keyId: number; rnextKeyId: number; algorithm: TcpAoAlgorithm; secret: string };

/** How `show` names an authentication without giving its secret away. */
export function authName(a: TcpAuth | null | undefined): 'md5' | 'tcp-ao' | null {
  return a ? (a.kind === 'md5' ? 'md5' : 'tcp-ao') : null;
}

/** The family of an address ("::ffff:a.b.c.d" counts as IPv6). */
export function familyOf(address: string): AddressFamily {
  const f = ipVersion(address);
  if (f === 0) throw new RangeError(`not an IP address: ${address}`);
  return f as AddressFamily;
}

/** The 16 bytes of an IPv6 address; an IPv4 address becomes ::ffff:a.b.c.d (RFC 4291 §2.5.5.2). */
function ipv6Bytes(address: string): Uint8Array {
  if (ipVersion(address) === 6) return parseIpv6(address);
  const out = new Uint8Array(16);
  out[10] = 0xff;
  out[11] = 0xff;
  out.set(parseIpv4(address), 12);
  return out;
}

/**
 * struct sockaddr_in (16 bytes) for a socket of family 4, struct sockaddr_in6
 * (28 bytes) for family 6 (<linux/in.h>, <linux/in6.h>): family in host order,
 * port and address in network order. An IPv4 address on an IPv6 socket is written
 * v4-mapped (what the kernel expects of a dual-stack socket).
 */
export function encodeSockaddr(socketFamily: AddressFamily, address: string, port = 0): Uint8Array {
  const b = new Uint8Array(socketFamily === 4 ? 16 : 28);
  const v = new DataView(b.buffer);
  if (socketFamily === 4) {
    if (ipVersion(address) !== 4) throw new RangeError(`an IPv4 socket cannot use ${address}`);
    v.setUint16(0, AF_INET, true);
    v.setUint16(2, port, false);
    b.set(parseIpv4(address), 4);
  } else {
    v.setUint16(0, AF_INET6, true);
    v.setUint16(2, port, false);
    // sin6_flowinfo (4..7) and sin6_scope_id (24..27) stay 0.
    b.set(ipv6Bytes(address), 8);
  }
  return b;
}

/** Host bits of `prefixLength` as the kernel takes them for a v4-mapped key: the IPv4 length (tcp_v6_parse_md5_keys). */
function checkPrefix(address: string, prefixLength: number | undefined): void {
  if (prefixLength === undefined) return;
  const max = ipVersion(address) === 4 ? 32 : 128;
  if (!Number.isInteger(prefixLength) || prefixLength < 0 || prefixLength > max) {
    throw new RangeError(`prefix length ${prefixLength} out of range 0..${max}`);
  }
}

function secretBytes(text: string, max: number, what: string): Uint8Array {
  const b = new TextEncoder().encode(text);
  if (b.length === 0 || b.length > max) throw new RangeError(`${what} must be 1..${max} bytes, got ${b.length}`);
  return b;
}

export interface Md5KeySpec {
  /** The peer's address, or the network of a prefix. */
  address: string;
  /** Set for a listen range: TCP_MD5SIG_EXT with TCP_MD5SIG_FLAG_PREFIX. */
  prefixLength?: number;
  password: string;
}

/**
 * struct tcp_md5sig (<linux/tcp.h>), for setsockopt(IPPROTO_TCP, TCP_MD5SIG or
 * TCP_MD5SIG_EXT): tcpm_addr (sockaddr_storage, 128) | tcpm_flags u8 |
 * tcpm_prefixlen u8 | tcpm_keylen u16 | tcpm_ifindex s32 | tcpm_key[80].
 * RFC 2385 §2: the key is the configured password's bytes.
 */
export function encodeTcpMd5sig(socketFamily: AddressFamily, k: Md5KeySpec): Uint8Array {
  checkPrefix(k.address, k.prefixLength);
  const key = secretBytes(k.password, TCP_MD5SIG_MAXKEYLEN, 'a TCP-MD5 password');
  const b = new Uint8Array(TCP_MD5SIG_SIZE);
  const v = new DataView(b.buffer);
  b.set(encodeSockaddr(socketFamily, k.address), 0);
  if (k.prefixLength !== undefined) {
    b[128] = TCP_MD5SIG_FLAG_PREFIX;
    b[129] = k.prefixLength;
  }
  v.setUint16(130, key.length, true);
  // tcpm_ifindex (132..135) = 0: no VRF / device scope.
  b.set(key, 136);
  return b;
}

/** The optname for a tcp_md5sig: TCP_MD5SIG_EXT only when a prefix is given. */
export function md5Optname(k: Md5KeySpec): number {
  return k.prefixLength === undefined ? TCP_MD5SIG : TCP_MD5SIG_EXT;
}

export interface AoKeySpec {
  address: string;
  /** The whole address when absent (32 or 128). */
  prefixLength?: number;
  algorithm: TcpAoAlgorithm;
  /** RFC 5925 §3.1 SendID: the KeyID we put in our segments. */
  sendId: number;
  /** RFC 5925 §3.1 RecvID: the KeyID expected in the peer's segments. */
  recvId: number;
  secret: string;
  /** Make it Current_key (the one we sign with). */
  setCurrent: boolean;
  /** Ask the peer for it with RNext_key (RFC 5925 §2.2). */
  setRnext: boolean;
}

/**
 * struct tcp_ao_add (<linux/tcp.h>, kernel >= 6.7), for setsockopt(IPPROTO_TCP,
 * TCP_AO_ADD_KEY):
 *   0 addr (sockaddr_storage, 128) | 128 alg_name[64] | 192 ifindex s32 |
 *   196 u32 bitfield: bit 0 set_current, bit 1 set_rnext | 200 reserved2 u16 |
 *   202 prefix | 203 sndid | 204 rcvid | 205 maclen | 206 keyflags | 207 keylen |
 *   208 key[80]; aligned(8) → 288 bytes.
 */
export function encodeTcpAoAdd(socketFamily: AddressFamily, k: AoKeySpec): Uint8Array {
  checkPrefix(k.address, k.prefixLength);
  for (const [what, id] of [['sendId', k.sendId], ['recvId', k.recvId]] as const) {
    if (!Number.isInteger(id) || id < 0 || id > 255) throw new RangeError(`TCP-AO ${what} ${id} out of range 0..255`);
  }
  const key = secretBytes(k.secret, TCP_AO_MAXKEYLEN, 'a TCP-AO secret');
  const b = new Uint8Array(TCP_AO_ADD_SIZE);
  const v = new DataView(b.buffer);
  b.set(encodeSockaddr(socketFamily, k.address), 0);
  b.set(new TextEncoder().encode(TCP_AO_ALGORITHMS[k.algorithm]), 128);
  v.setUint32(196, (k.setCurrent ? 1 : 0) | (k.setRnext ? 2 : 0), true);
  b[202] = k.prefixLength ?? (ipVersion(k.address) === 4 ? 32 : 128);
  b[203] = k.sendId;
  b[204] = k.recvId;
  b[205] = TCP_AO_MACLEN;
  b[207] = key.length;
  b.set(key, 208);
  return b;
}

/**
 * A classic BPF socket filter (<linux/filter.h> struct sock_filter: code u16,
 * jt u8, jf u8, k u32) that accepts a datagram only when its IPv4 TTL / IPv6 Hop
 * Limit is 255 (RFC 5881 §5). SKF_NET_OFF (-0x100000) addresses the network
 * header from a UDP socket's filter: the TTL is byte 8 of the IPv4 header, the
 * Hop Limit byte 7 of the IPv6 header.
 *   ldb [net + ttl]; jeq #255, accept, drop; accept: ret #-1; drop: ret #0
 */
export function encodeTtl255Filter(family: AddressFamily): Uint8Array {
  const SKF_NET_OFF = 0xfff00000; // -0x100000 as u32
  const BPF_LD_B_ABS = 0x30; // BPF_LD | BPF_B | BPF_ABS
  const BPF_JEQ_K = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
  const BPF_RET_K = 0x06; // BPF_RET | BPF_K
  const prog: Array<[number, number, number, number]> = [
    [BPF_LD_B_ABS, 0, 0, SKF_NET_OFF + (family === 4 ? 8 : 7)],
    [BPF_JEQ_K, 0, 1, 255],
    [BPF_RET_K, 0, 0, 0xffffffff],
    [BPF_RET_K, 0, 0, 0],
  ];
  const b = new Uint8Array(prog.length * 8);
  const v = new DataView(b.buffer);
  prog.forEach(([code, jt, jf, k], i) => {
    v.setUint16(i * 8, code, true);
    b[i * 8 + 2] = jt;
    b[i * 8 + 3] = jf;
    v.setUint32(i * 8 + 4, k, true);
  });
  return b;
}

/** struct sock_fprog (<linux/filter.h>): len u16, 6 bytes padding, filter pointer (LP64). */
export function encodeSockFprog(instructions: number, filterAddress: bigint): Uint8Array {
  const b = new Uint8Array(16);
  const v = new DataView(b.buffer);
  v.setUint16(0, instructions, true);
  v.setBigUint64(8, filterAddress, true);
  return b;
}

/** RFC 5082 §3: accept only TTL / Hop Limit >= 256 - hops (1 hop: 255). */
export function gtsmMinTtl(hops: number): number {
  if (!Number.isInteger(hops) || hops < 1 || hops > 254) throw new RangeError(`ttlSecurity hops ${hops} out of range 1..254`);
  return 256 - hops;
}

/** A 32-bit int option value in host order. */
export function int32(value: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, value, true);
  return b;
}
