// The address module (src/wire/addr.ts): one parser and one formatter per
// address kind, RFC 5952 text for IPv6 (§5: IPv4-mapped with a dotted quad),
// the byte-level fast paths agreeing with the general ones, compare, MACs.
import t from 'tap';
import {
  AddressError, compareIp, formatIp, formatIpv6, formatMac, ipFamily, ipv4Bytes, ipv4Value, ipv6Bytes, ipVersion, isIpv4, isIpv6, isIpv6Text,
  macBytes, macFromAnySpelling, normalizeIp, normalizeMac, parseIp, parseIpv4, parseIpv6, parseMac,
} from '../../src/wire/addr.js';

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b);

t.test('RFC 5952 §5: an IPv4-mapped address is written ::ffff:<dotted quad>, from bytes and from any spelling', async (t) => {
  const mapped = bytes(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1);
  t.equal(formatIpv6(mapped, 0), '::ffff:192.0.2.1');
  t.equal(formatIp(mapped), '::ffff:192.0.2.1');
  t.equal(normalizeIp('::ffff:c000:201'), '::ffff:192.0.2.1');
  t.equal(normalizeIp('::FFFF:C000:0201'), '::ffff:192.0.2.1');
  t.equal(normalizeIp('0:0:0:0:0:ffff:192.0.2.1'), '::ffff:192.0.2.1');
  t.same(parseIpv6('::ffff:192.0.2.1'), mapped);
  // Not mapped (IPv4-compatible, deprecated; NAT64 well-known prefix): plain hex groups.
  t.equal(normalizeIp('::c000:201'), '::c000:201');
  t.equal(normalizeIp('64:ff9b::192.0.2.1'), '64:ff9b::c000:201');
});

t.test('RFC 5952 §4: lower case, no leading zeros, longest zero run compressed (first on a tie, never one group)', async (t) => {
  const cases: Array<[string, string]> = [
    ['2001:0DB8:0000:0000:0000:0000:0000:0001', '2001:db8::1'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'],
    ['0:0:0:0:0:0:0:0', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
  ];
  for (const [text, want] of cases) {
    t.equal(normalizeIp(text), want, text);
    t.equal(formatIpv6(parseIpv6(text), 0), want, `${text} via bytes`);
  }
});

t.test('parsers reject what is not an address; zones and prefixes included', async (t) => {
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '01.2.3.4', '1.2.3.256', '1.2.3.4 ', 'a.b.c.d', '1..2.3']) {
    t.equal(ipv4Bytes(bad), undefined, `IPv4 ${JSON.stringify(bad)}`);
    t.equal(ipv4Value(bad), -1, `ipv4Value ${JSON.stringify(bad)}`);
    t.throws(() => parseIpv4(bad), RangeError);
  }
  for (const bad of ['1.2.3.4', '1::2::3', 'fe80::1%eth0', '::1/64', '[::1]', '12345::', 'g::1', '1:2:3:4:5:6:7:8:9']) {
    t.equal(ipv6Bytes(bad), undefined, `IPv6 ${JSON.stringify(bad)}`);
    t.throws(() => parseIpv6(bad), RangeError);
  }
  t.throws(() => parseIp('nope'), { message: 'invalid IP address: nope' });
  t.throws(() => parseIpv4('x'), { message: 'not an IPv4 address: x' });
  t.throws(() => parseMac('x'), { message: 'not a MAC address: x' });
});

t.test('family tests and ipFamily', async (t) => {
  t.ok(isIpv4('192.0.2.1'));
  t.notOk(isIpv4('::1'));
  t.ok(isIpv6('::1'));
  t.notOk(isIpv6('192.0.2.1'));
  t.equal(ipFamily('10.0.0.1'), 4);
  t.equal(ipFamily('2001:db8::1'), 6);
  t.throws(() => ipFamily('x'), RangeError);
  t.ok(new AddressError('x') instanceof RangeError);
  t.same(parseIp('10.1.2.3'), bytes(10, 1, 2, 3));
  t.equal(parseIp('2001:db8::1').length, 16);
});

t.test('compareIp: IPv4 before IPv6, numeric, spellings of one address equal', async (t) => {
  t.ok(compareIp('9.0.0.1', '10.0.0.1') < 0);
  t.ok(compareIp('10.0.0.1', '9.0.0.1') > 0);
  t.ok(compareIp('255.255.255.255', '::') < 0);
  t.ok(compareIp('2001:db8::2', '2001:db8::10') < 0);
  t.equal(compareIp('2001:db8::1', '2001:DB8:0::1'), 0);
  t.ok(compareIp('::1', 'not-an-address') < 0);
  const sorted = ['2001:db8::1', '10.0.0.2', '::ffff:1.2.3.4', '10.0.0.10', '1.2.3.4'].sort(compareIp);
  t.same(sorted, ['1.2.3.4', '10.0.0.2', '10.0.0.10', '::ffff:1.2.3.4', '2001:db8::1']);
});

t.test('MAC: parse, format, normalize, operator spellings', async (t) => {
  const mac = bytes(0xaa, 0xbb, 0xcc, 0x0d, 0xee, 0xff);
  t.same(parseMac('AA:BB:CC:0D:EE:FF'), mac);
  t.same(parseMac('aa-bb-cc-0d-ee-ff'), mac);
  t.same(macBytes('aa:bb:cc:d:ee:ff'), mac);
  t.equal(macBytes('aa:bb:cc:dd:ee'), undefined);
  t.equal(formatMac(mac), 'aa:bb:cc:0d:ee:ff');
  t.equal(normalizeMac('AA-BB-CC-0D-EE-FF'), 'aa:bb:cc:0d:ee:ff');
  t.equal(macFromAnySpelling('aabb.cc0d.eeff'), 'aa:bb:cc:0d:ee:ff');
  t.equal(macFromAnySpelling('AABBCC0DEEFF'), 'aa:bb:cc:0d:ee:ff');
  t.equal(macFromAnySpelling('aabbcc'), null);
});

t.test('the byte-level formatter agrees with ip-address parsing for random addresses', async (t) => {
  let seed = 12345;
  const rnd = (): number => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let n = 0; n < 2000; n++) {
    const b = new Uint8Array(16);
    // Mostly zero groups, so that compression and mapped forms are exercised.
    for (let g = 0; g < 8; g++) {
      if (rnd() % 3 === 0) { b[2 * g] = rnd() & 0xff; b[2 * g + 1] = rnd() & 0xff; }
    }
    if (n % 10 === 0) { b.fill(0, 0, 10); b[10] = 0xff; b[11] = 0xff; }
    const text = formatIpv6(b, 0);
    t.same(parseIpv6(text), b, text);
    if (t.passing() === false) break;
  }
  t.end();
});

t.test('ipVersion answers as node:net isIP does (the input checks it replaced), zones included', async (t) => {
  const { isIP } = await import('node:net');
  const samples = [
    '192.0.2.1', '0.0.0.0', '255.255.255.255', '256.0.0.1', '010.0.0.1', '1.2.3', '1.2.3.4.5', '',
    '::', '::1', '2001:db8::1', '2001:DB8::1', 'fe80::1%eth1', 'fe80::1%', '%eth1', '::ffff:192.0.2.1',
    '::ffff:c000:201', '1::2::3', '2001:db8::/64', 'g::1', '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8:9', 'eth1', ' 192.0.2.1',
  ];
  for (const s of samples) t.equal(ipVersion(s), isIP(s), JSON.stringify(s));
  t.equal(isIpv6Text('fe80::1%eth1'), true);
  t.equal(isIpv6Text('192.0.2.1'), false);
});
