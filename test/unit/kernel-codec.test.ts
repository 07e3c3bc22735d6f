import t from 'tap';
import { formatIp, normalizeIp, normalizeMac, parseIp, parseMac } from '../../src/wire/addr.js';
import * as nl from '../../src/kernel/nl.js';
import { encodeOp, errnoName } from '../../src/kernel/rtnetlink.js';

// Expected bytes are built here by hand (little-endian host), not by the encoder.
function hdr(len: number, type: number, flags: number, seq: number): number[] {
  return [len & 0xff, len >> 8, 0, 0, type, 0, flags & 0xff, flags >> 8, seq & 0xff, (seq >> 8) & 0xff, 0, 0, 0, 0, 0, 0];
}
function attr(type: number, bytes: number[]): number[] {
  const len = 4 + bytes.length;
  const pad = (4 - (len % 4)) % 4;
  return [len, 0, type, 0, ...bytes, ...new Array<number>(pad).fill(0)];
}
const MAC = [0x02, 0, 0, 0, 0, 0x87];

t.test('addresses', async (t) => {
  t.equal(normalizeMac('02-00-00-00-00-AB'), '02:00:00:00:00:ab');
  t.throws(() => parseMac('02:00:00:00:00'));
  t.throws(() => parseMac('02:00:00:00:00:gg'));
  t.same([...parseIp('192.168.1.87')], [192, 168, 1, 87]);
  t.equal(normalizeIp('FD00:0:0:0:0:0:0:87'), 'fd00::87');
  t.equal(normalizeIp('::'), '::');
  t.equal(normalizeIp('::1'), '::1');
  t.equal(normalizeIp('2001:db8:0:0:1:0:0:1'), '2001:db8::1:0:0:1', 'RFC 5952: first of equal runs');
  t.equal(normalizeIp('2001:db8:0:1:1:1:1:1'), '2001:db8:0:1:1:1:1:1', 'RFC 5952: no :: for one group');
  t.equal(normalizeIp('::ffff:192.168.0.1'), '::ffff:192.168.0.1', 'RFC 5952 §5: IPv4-mapped keeps the dotted quad');
  t.equal(normalizeIp('::ffff:c0a8:1'), '::ffff:192.168.0.1');
  t.equal(normalizeIp('fe80::1:2'), 'fe80::1:2');
  t.throws(() => parseIp('fe80::1%eth0'));
  t.throws(() => parseIp('1.2.3'));
  t.throws(() => formatIp(Buffer.alloc(5)));
});

t.test('fdb replace: one AF_BRIDGE RTM_NEWNEIGH with SELF|MASTER|EXT_LEARNED, like zebra', async (t) => {
  const enc = encodeOp({ op: 'replace', entry: { kind: 'fdb', ifname: 'vxlan0', mac: '02:00:00:00:00:87', dst: '192.168.1.87' } },
    0, (n) => (n === 'vxlan0' ? 3 : undefined), 0xe7);
  if (!('requests' in enc)) throw new Error('expected requests');
  t.equal(enc.requests.length, 1);
  const body = [
    7, 0, 0, 0, 3, 0, 0, 0, 0x02, 0x00, 0x02 | 0x04 | 0x10, 0, // ndmsg: AF_BRIDGE, ifindex 3, NUD_REACHABLE, flags
    ...attr(2, MAC), ...attr(1, [192, 168, 1, 87]), ...attr(12, [0xe7]),
  ];
  const expected = [...hdr(16 + body.length, 28, 0x01 | 0x400 | 0x100, 0), ...body];
  t.same([...enc.requests[0]!.buf], expected);
});

t.test('neigh replace: NUD_NOARP, NTF_EXT_LEARNED, NDA_PROTOCOL; IPv6 family', async (t) => {
  const idx = (n: string): number | undefined => (n === 'br-vxlan' ? 2 : undefined);
  const enc = encodeOp({ op: 'replace', entry: { kind: 'neigh', ifname: 'br-vxlan', ip: '192.168.0.87', mac: '02:00:00:00:00:87' } }, 0, idx, 0xe7);
  if (!('requests' in enc)) throw new Error('expected requests');
  const body = [
    2, 0, 0, 0, 2, 0, 0, 0, 0x40, 0x00, 0x10, 0,
    ...attr(1, [192, 168, 0, 87]), ...attr(2, MAC), ...attr(12, [0xe7]),
  ];
  t.same([...enc.requests[0]!.buf], [...hdr(16 + body.length, 28, 0x501, 0), ...body]);
  const v6 = encodeOp({ op: 'replace', entry: { kind: 'neigh', ifname: 'br-vxlan', ip: 'fd00::87', mac: '02:00:00:00:00:87' } }, 0, idx, 0xe7);
  if (!('requests' in v6)) throw new Error('expected requests');
  t.equal(v6.requests[0]!.buf[16], 10, 'AF_INET6');
});

t.test('deletes: neigh by IP; fdb as two requests (master, self), ENOENT tolerated', async (t) => {
  const idx = (): number => 3;
  const n = encodeOp({ op: 'delete', entry: { kind: 'neigh', ifname: 'br-vxlan', ip: '192.168.0.87', mac: '02:00:00:00:00:87' } }, 0, idx, 0xe7);
  if (!('requests' in n)) throw new Error('expected requests');
  t.same([...n.requests[0]!.buf], [...hdr(16 + 12 + 8, 29, 0x01, 0), 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, ...attr(1, [192, 168, 0, 87])]);
  t.ok(n.requests[0]!.enoentOk);
  const f = encodeOp({ op: 'delete', entry: { kind: 'fdb', ifname: 'vxlan0', mac: '02:00:00:00:00:87', dst: '' } }, 5, idx, 0xe7);
  if (!('requests' in f)) throw new Error('expected requests');
  t.same(f.requests.map((r) => r.buf[16 + 10]), [0x04, 0x02], 'NTF_MASTER then NTF_SELF');
  t.same(f.requests.map((r) => r.opIndex), [5, 5]);
  const only = encodeOp({ op: 'delete', entry: { kind: 'fdb', ifname: 'vxlan0', mac: '02:00:00:00:00:87', dst: '' }, only: 'vxlan' }, 0, idx, 0xe7);
  if (!('requests' in only)) throw new Error('expected requests');
  t.same(only.requests.map((r) => r.buf[16 + 10]), [0x02]);
});

t.test('encode errors: unknown device, bad address', async (t) => {
  const none = encodeOp({ op: 'replace', entry: { kind: 'neigh', ifname: 'x', ip: '1.2.3.4', mac: '02:00:00:00:00:01' } }, 0, () => undefined, 0xe7);
  t.same('error' in none && none.error.code, 'ENODEV');
  const bad = encodeOp({ op: 'replace', entry: { kind: 'fdb', ifname: 'x', mac: '02:00:00:00:00:01', dst: 'nope' } }, 0, () => 1, 0xe7);
  t.same('error' in bad && bad.error.code, 'EINVAL');
  t.equal(errnoName(2), 'ENOENT');
  t.equal(errnoName(99999), 'E99999');
});

t.test('seq and ack patching', async (t) => {
  const m = nl.encodeMessage(nl.RTM_NEWNEIGH, nl.NLM_F_REQUEST, 0, nl.ndmsg(nl.AF_BRIDGE, 1, 0, 0));
  nl.setSeq(m, 0x01020304);
  nl.setAck(m, true);
  t.same([...m.subarray(6, 12)], [0x05, 0x00, 0x04, 0x03, 0x02, 0x01]);
  nl.setAck(m, false);
  t.equal(m.readUInt16LE(6), 0x01);
});

t.test('decode neighbour, fdb, error, split', async (t) => {
  // A kernel bridge-FDB dump entry: AF_BRIDGE, ifindex 3, REACHABLE, EXT_LEARNED, lladdr, master 2.
  const fdb = [7, 0, 0, 0, 3, 0, 0, 0, 0x02, 0, 0x10, 0, ...attr(2, MAC), ...attr(9, [2, 0, 0, 0])];
  const vx = [7, 0, 0, 0, 3, 0, 0, 0, 0x02, 0, 0x12, 0, ...attr(2, MAC), ...attr(1, [192, 168, 1, 87]), ...attr(7, [100, 0, 0, 0])];
  const ne = [10, 0, 0, 0, 2, 0, 0, 0, 0x40, 0, 0x10, 0, ...attr(1, [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x87]), ...attr(2, MAC), ...attr(12, [0xe7])];
  const err = [0xfe, 0xff, 0xff, 0xff, ...hdr(16, 28, 1, 7)];
  const dgram = Buffer.from([
    ...hdr(16 + fdb.length, 28, 2, 7), ...fdb,
    ...hdr(16 + vx.length, 28, 2, 7), ...vx,
    ...hdr(16 + ne.length, 28, 2, 7), ...ne,
    ...hdr(16 + err.length, 2, 0, 9), ...err,
  ]);
  const msgs = nl.splitMessages(dgram);
  t.same(msgs.map((m) => [m.type, m.seq]), [[28, 7], [28, 7], [28, 7], [2, 9]]);
  const a = nl.decodeNeigh(msgs[0]!.payload);
  t.match(a, { family: 7, ifindex: 3, state: 2, flags: 0x10, lladdr: '02:00:00:00:00:87', master: 2, dst: null, protocol: null });
  const b = nl.decodeNeigh(msgs[1]!.payload);
  t.match(b, { dst: '192.168.1.87', master: null, vni: 100 });
  const c = nl.decodeNeigh(msgs[2]!.payload);
  t.match(c, { family: 10, dst: 'fd00::87', protocol: 0xe7, state: 0x40 });
  t.same(nl.parseError(msgs[3]!), { errno: 2, seq: 9 });
  t.throws(() => nl.splitMessages(Buffer.from(hdr(200, 28, 0, 0))), nl.NetlinkDecodeError);
  t.throws(() => nl.parseAttrs(Buffer.from([50, 0, 1, 0])), nl.NetlinkDecodeError);
  t.throws(() => nl.decodeNeigh(Buffer.alloc(4)), nl.NetlinkDecodeError);
});

t.test('decode link with vxlan info, and addresses', async (t) => {
  const str = (s: string): number[] => [...Buffer.from(s + '\0')];
  const vxdata = [...attr(1, [100, 0, 0, 0]), ...attr(15, [0x12, 0xb5]), ...attr(7, [0]), ...attr(4, [0, 0, 0, 0])];
  const linkinfo = [...attr(1, str('vxlan')), ...attr(2, vxdata)];
  const payload = Buffer.from([
    0, 0, 1, 0, 3, 0, 0, 0, 0x43, 0x10, 0x01, 0, 0, 0, 0, 0, // index 3, flags UP|LOWER_UP|...
    ...attr(3, str('vxlan0')), ...attr(1, MAC), ...attr(4, [0xdc, 0x05, 0, 0]), ...attr(10, [2, 0, 0, 0]),
    ...attr(16, [6]), ...attr(18, linkinfo),
  ]);
  const l = nl.decodeLink(payload);
  t.same(l, {
    index: 3, flags: 0x11043, name: 'vxlan0', mac: '02:00:00:00:00:87', mtu: 1500, master: 2, operstate: 'up',
    kind: 'vxlan', vxlan: { vni: 100, port: 4789, local: null, learning: false },
  });
  const v4 = nl.decodeAddr(Buffer.from([2, 24, 0, 0, 2, 0, 0, 0, ...attr(1, [192, 168, 0, 65]), ...attr(2, [192, 168, 0, 65])]));
  t.same(v4, { family: 4, prefixLen: 24, index: 2, address: '192.168.0.65', flags: 0, scope: 0 });
  t.equal(nl.decodeAddr(Buffer.from([7, 0, 0, 0, 2, 0, 0, 0])), null);
});

t.test('MAC spellings in requests: the fast path and the general parser agree', async (t) => {
  const idx = (): number => 3;
  const lladdr = (mac: string): number[] | string => {
    const enc = encodeOp({ op: 'delete', entry: { kind: 'fdb', ifname: 'vxlan0', mac, dst: '' }, only: 'vxlan' }, 0, idx, 0xe7);
    if ('error' in enc) return enc.error.code;
    const p = enc.requests[0]!.buf.subarray(16 + 12);
    return [...p.subarray(4, 10)];
  };
  t.same(lladdr('02:ab:cd:ef:00:87'), [0x02, 0xab, 0xcd, 0xef, 0, 0x87]);
  t.same(lladdr('02-AB-cd:EF-00:87'), [0x02, 0xab, 0xcd, 0xef, 0, 0x87], 'mixed separators and case, as macBytes takes them');
  t.same(lladdr('2:ab:cd:ef:0:87'), [0x02, 0xab, 0xcd, 0xef, 0, 0x87], 'short parts: the general parser');
  t.equal(lladdr('02:ab:cd:ef:00:8g'), 'EINVAL');
  t.equal(lladdr('02:ab:cd:ef:00.87'), 'EINVAL');
  t.equal(lladdr('02:ab:cd:ef:00:87:'), 'EINVAL');
});

t.test('decodeNeigh: the last of repeated attributes wins, odd lengths give null', async (t) => {
  const p = Buffer.from([7, 0, 0, 0, 3, 0, 0, 0, 0x02, 0, 0x12, 0,
    ...attr(2, MAC), ...attr(1, [10, 0, 0, 1]), ...attr(1, [10, 0, 0, 2]), ...attr(13, [5, 0, 0, 0]), ...attr(12, [])]);
  t.match(nl.decodeNeigh(p), { lladdr: '02:00:00:00:00:87', dst: '10.0.0.2', nhid: 5, protocol: null, master: null, vlan: null });
  const q = Buffer.from([7, 0, 0, 0, 3, 0, 0, 0, 0x02, 0, 0x12, 0, ...attr(2, [1, 2, 3]), ...attr(1, [10, 0, 0])]);
  t.match(nl.decodeNeigh(q), { lladdr: null, dst: null });
  t.throws(() => nl.decodeNeigh(Buffer.from([7, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 50, 0, 1, 0])), nl.NetlinkDecodeError);
});

t.test('a whole fdb delete as one request (NTF_MASTER|NTF_SELF) on request, ENOENT not tolerated', async (t) => {
  const idx = (): number => 3;
  const f = encodeOp({ op: 'delete', entry: { kind: 'fdb', ifname: 'vxlan0', mac: '02:00:00:00:00:87', dst: '' } }, 5, idx, 0xe7, { fdbDeleteAsOne: true });
  if (!('requests' in f)) throw new Error('expected requests');
  t.equal(f.requests.length, 1);
  t.same([...f.requests[0]!.buf], [...hdr(16 + 12 + 12, 29, 0x01, 0), 7, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0x06, 0, ...attr(2, MAC)]);
  t.notOk(f.requests[0]!.enoentOk, 'ENOENT: the caller sends it again as two requests');
  const only = encodeOp({ op: 'delete', entry: { kind: 'fdb', ifname: 'vxlan0', mac: '02:00:00:00:00:87', dst: '' }, only: 'bridge' }, 0, idx, 0xe7, { fdbDeleteAsOne: true });
  if (!('requests' in only)) throw new Error('expected requests');
  t.same(only.requests.map((r) => r.buf[16 + 10]), [0x04], 'one half: as before');
  const flood = encodeOp({ op: 'delete', entry: { kind: 'fdb', ifname: 'vxlan0', mac: '00:00:00:00:00:00', dst: '192.168.1.87' } }, 0, idx, 0xe7, { fdbDeleteAsOne: true });
  if (!('requests' in flood)) throw new Error('expected requests');
  t.same(flood.requests.map((r) => r.buf[16 + 10]), [0x02], 'a flood-list remote: its vxlan half, by dst');
});
