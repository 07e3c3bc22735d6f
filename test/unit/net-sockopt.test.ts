// The socket option structures of src/net/sockopt-wire.ts against bytes laid out
// by hand from the Linux UAPI headers (<linux/tcp.h>, <linux/in.h>, <linux/in6.h>,
// <linux/filter.h>), never by the encoders under test.
import t from 'tap';
import { cat, hex, ip4, ip6 } from '../lib/bytes.js';
import {
  TCP_AO_ADD_SIZE, TCP_MD5SIG, TCP_MD5SIG_EXT, TCP_MD5SIG_SIZE, authName, encodeSockFprog, encodeSockaddr, encodeTcpAoAdd,
  encodeTcpMd5sig, encodeTtl255Filter, gtsmMinTtl, int32, md5Optname,
} from '../../src/net/sockopt-wire.js';

const zeros = (n: number): number[] => Array<number>(n).fill(0);
const text = (s: string): number[] => [...Buffer.from(s, 'utf8')];
const le16 = (v: number): number[] => [v & 0xff, v >>> 8];
const le32 = (v: number): number[] => [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, v >>> 24];

t.test('sockaddr_in / sockaddr_in6', (t) => {
  // sin_family AF_INET (2, host order), sin_port 179 (network order), sin_addr, sin_zero[8]
  t.same(encodeSockaddr(4, '192.168.1.2', 179), cat([2, 0, 0x00, 0xb3], ip4('192.168.1.2'), zeros(8)));
  // sin6_family AF_INET6 (10), port, sin6_flowinfo, sin6_addr, sin6_scope_id
  t.same(encodeSockaddr(6, 'fd00:1::2', 179), cat([10, 0, 0x00, 0xb3], zeros(4), ip6('fd00:1::2'), zeros(4)));
  // An IPv4 peer of a dual-stack IPv6 socket: v4-mapped.
  t.same(encodeSockaddr(6, '192.168.1.2'), cat([10, 0, 0, 0], zeros(4), zeros(10), [0xff, 0xff], ip4('192.168.1.2'), zeros(4)));
  t.throws(() => encodeSockaddr(4, 'fd00::1'), /IPv4 socket/);
  t.end();
});

t.test('struct tcp_md5sig: a peer, then a listen range (TCP_MD5SIG_EXT with a prefix)', (t) => {
  const peer = encodeTcpMd5sig(4, { address: '192.168.1.2', password: 'evpn-ha' });
  t.equal(peer.length, TCP_MD5SIG_SIZE);
  t.same(peer, cat(
    [2, 0, 0, 0], ip4('192.168.1.2'), zeros(120), // tcpm_addr: sockaddr_in in a 128-byte sockaddr_storage
    [0], [0], le16(7), le32(0), // tcpm_flags, tcpm_prefixlen, tcpm_keylen, tcpm_ifindex
    text('evpn-ha'), zeros(73), // tcpm_key[80]
  ));
  t.equal(md5Optname({ address: '192.168.1.2', password: 'x' }), TCP_MD5SIG);

  const range = encodeTcpMd5sig(4, { address: '192.168.1.0', prefixLength: 24, password: 'k' });
  t.same(range.subarray(128, 136), Uint8Array.from([1, 24, ...le16(1), ...le32(0)]), 'TCP_MD5SIG_FLAG_PREFIX, /24, keylen 1');
  t.equal(md5Optname({ address: '192.168.1.0', prefixLength: 24, password: 'k' }), TCP_MD5SIG_EXT);

  const v6 = encodeTcpMd5sig(6, { address: 'fd00::', prefixLength: 64, password: 'k' });
  t.same(v6.subarray(0, 28), cat([10, 0, 0, 0], zeros(4), ip6('fd00::'), zeros(4)));
  t.same(v6.subarray(128, 130), Uint8Array.from([1, 64]));

  t.throws(() => encodeTcpMd5sig(4, { address: '10.0.0.1', password: 'x'.repeat(81) }), /1\.\.80 bytes/);
  t.throws(() => encodeTcpMd5sig(4, { address: '10.0.0.1', password: '' }), /1\.\.80 bytes/);
  t.throws(() => encodeTcpMd5sig(4, { address: '10.0.0.0', prefixLength: 33, password: 'x' }), /0\.\.32/);
  t.end();
});

t.test('struct tcp_ao_add', (t) => {
  const b = encodeTcpAoAdd(4, {
    address: '192.168.1.2', algorithm: 'hmac-sha-256', sendId: 1, recvId: 2, secret: 'abc', setCurrent: true, setRnext: true,
  });
  t.equal(b.length, TCP_AO_ADD_SIZE);
  t.same(b, cat(
    [2, 0, 0, 0], ip4('192.168.1.2'), zeros(120), // addr
    text('hmac(sha256)'), zeros(64 - 12), // alg_name[64]
    le32(0), // ifindex
    le32(0b11), // set_current:1, set_rnext:1 (bits 0 and 1 of a little-endian u32)
    le16(0), // reserved2
    [32, 1, 2, 12, 0, 3], // prefix, sndid, rcvid, maclen (96 bits), keyflags, keylen
    text('abc'), zeros(77), // key[80]
  ));
  const listener = encodeTcpAoAdd(4, {
    address: '192.168.1.0', prefixLength: 24, algorithm: 'aes-128-cmac', sendId: 7, recvId: 7, secret: 'k', setCurrent: false, setRnext: false,
  });
  t.same(listener.subarray(128, 140), Uint8Array.from(text('cmac(aes128)')));
  t.same(listener.subarray(196, 208), Uint8Array.from([...le32(0), ...le16(0), 24, 7, 7, 12, 0, 1]));
  const sha1 = encodeTcpAoAdd(6, { address: 'fd00::2', algorithm: 'hmac-sha-1', sendId: 0, recvId: 255, secret: 'k', setCurrent: false, setRnext: false });
  t.same(sha1.subarray(128, 138), Uint8Array.from(text('hmac(sha1)')));
  t.equal(sha1[202], 128, 'a whole IPv6 address');
  t.throws(() => encodeTcpAoAdd(4, { address: '10.0.0.1', algorithm: 'hmac-sha-1', sendId: 256, recvId: 0, secret: 'k', setCurrent: false, setRnext: false }),
    /sendId 256/);
  t.end();
});

t.test('classic BPF filter: only TTL / Hop Limit 255', (t) => {
  // struct sock_filter {u16 code; u8 jt; u8 jf; u32 k}, little-endian.
  const insn = (code: number, jt: number, jf: number, k: number): number[] => [...le16(code), jt, jf, ...le32(k)];
  t.same(encodeTtl255Filter(4), cat(
    insn(0x30, 0, 0, 0xfff00008), // ldb [SKF_NET_OFF + 8]: the IPv4 TTL
    insn(0x15, 0, 1, 255), // jeq #255
    insn(0x06, 0, 0, 0xffffffff), // ret #-1: accept
    insn(0x06, 0, 0, 0), // ret #0: drop
  ));
  t.same(encodeTtl255Filter(6).subarray(0, 8), Uint8Array.from(insn(0x30, 0, 0, 0xfff00007)), 'IPv6 Hop Limit is byte 7');
  // struct sock_fprog {u16 len; (6 bytes padding) struct sock_filter *filter}
  t.same(encodeSockFprog(4, 0x1122334455667788n), hex('0400 000000000000 8877665544332211'));
  t.end();
});

t.test('GTSM minimum TTL, int options, auth names', (t) => {
  t.equal(gtsmMinTtl(1), 255);
  t.equal(gtsmMinTtl(254), 2);
  t.throws(() => gtsmMinTtl(0));
  t.throws(() => gtsmMinTtl(255));
  t.same(int32(255), Uint8Array.from([255, 0, 0, 0]));
  t.equal(authName({ kind: 'md5', password: 'x' }), 'md5');
  t.equal(authName({ kind: 'ao', keyId: 1, rnextKeyId: 1, algorithm: 'hmac-sha-1', secret: 'x' }), 'tcp-ao');
  t.equal(authName(null), null);
  t.end();
});
