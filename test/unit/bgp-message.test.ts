// Header, OPEN + capabilities, KEEPALIVE, NOTIFICATION, ROUTE-REFRESH:
// (bytes, struct) pairs both ways with bytes from test/lib/bytes.ts.
import t from 'tap';
import { decodeMessage, encodeMessage, notificationFor } from '../../src/bgp/message.js';
import { findCapability, multiprotocolFamilies, openAsField, peerAsn } from '../../src/bgp/capabilities.js';
import { BgpError } from '../../src/bgp/errors.js';
import type { CodecContext, OpenMessage } from '../../src/bgp/types.js';
import { cat, hex, MARKER, message, toHex, u16, u32, u8 } from '../lib/bytes.js';
import { pair, throwsBgp } from '../lib/assert.js';
import '../../src/evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

const ctx2: CodecContext = { fourOctetAs: false };

const fullOpen: OpenMessage = {
  type: 'open',
  version: 4,
  myAs: 65001,
  holdTime: 90,
  bgpId: '192.168.1.87',
  capabilities: [
    { kind: 'multiprotocol', afi: 25, safi: 70 },
    { kind: 'multiprotocol', afi: 1, safi: 1 },
    { kind: 'route-refresh' },
    { kind: 'enhanced-route-refresh' },
    { kind: 'four-octet-as', asn: 65001 },
    {
      kind: 'graceful-restart', restartState: false, notification: true, restartTime: 120,
      families: [{ afi: 25, safi: 70, forwardingPreserved: true }],
    },
    { kind: 'extended-next-hop', entries: [{ afi: 1, safi: 1, nextHopAfi: 2 }] },
    { kind: 'unknown', code: 73, value: Uint8Array.of(0x61, 0x62, 0x63) },
  ],
};

const fullOpenCaps = cat(
  '01 04 0019 00 46', // RFC 4760 §8 multiprotocol L2VPN EVPN
  '01 04 0001 00 01', // IPv4 unicast
  '02 00', // RFC 2918 route refresh
  '46 00', // RFC 7313 enhanced route refresh
  '41 04', u32(65001), // RFC 6793 four-octet AS
  '40 06 4078 0019 46 80', // RFC 4724: N bit, 120 s, EVPN with F bit
  '05 06 0001 0001 0002', // RFC 8950: IPv4 unicast over IPv6 next hop
  '49 03 616263', // unknown code 73 kept
);

const fullOpenBytes = message(1, '04', u16(65001), u16(90), 'c0 a8 01 57', u8(fullOpenCaps.length + 2), '02',
  u8(fullOpenCaps.length), fullOpenCaps);

t.test('OPEN with every capability: bytes <-> struct', (t) => {
  pair(t, 'open', fullOpen, fullOpenBytes);
  t.end();
});

t.test('OPEN: capabilities spread over several parameters, several per parameter', (t) => {
  const bytes = message(1, '04 fde9 00b4 0a000001', '0e',
    '02 06 01 04 0019 00 46', // one capability
    '02 04 02 00 46 00', // two in one parameter
  );
  const m = decodeMessage(bytes, ctx2) as OpenMessage;
  t.same(m.capabilities, [
    { kind: 'multiprotocol', afi: 25, safi: 70 },
    { kind: 'route-refresh' },
    { kind: 'enhanced-route-refresh' },
  ]);
  t.same(multiprotocolFamilies(m.capabilities), [{ afi: 25, safi: 70 }]);
  t.equal(findCapability(m.capabilities, 'four-octet-as'), undefined);
  t.equal(peerAsn(m), 65001);
  t.equal(m.holdTime, 180);
  t.equal(m.bgpId, '10.0.0.1');
  t.end();
});

t.test('OPEN without optional parameters', (t) => {
  const m: OpenMessage = { type: 'open', version: 4, myAs: 100, holdTime: 0, bgpId: '1.2.3.4', capabilities: [] };
  pair(t, 'bare open', m, message(1, '04 0064 0000 01020304 00'));
  t.end();
});

t.test('OPEN: RFC 9072 extended optional parameters, decode and encode', (t) => {
  // Hand-built: Non-Ext OP Len 255, Non-Ext OP Type 255, Ext Length, params with 2-byte length.
  const caps = cat('01 04 0019 00 46', '02 00');
  const bytes = message(1, '04 fde9 005a c0a80157', 'ff ff', u16(3 + caps.length), '02', u16(caps.length), caps);
  const m = decodeMessage(bytes, ctx2) as OpenMessage;
  t.same(m.capabilities, [{ kind: 'multiprotocol', afi: 25, safi: 70 }, { kind: 'route-refresh' }]);

  // More than 255 bytes of capabilities: the encoder switches to RFC 9072.
  const many: OpenMessage = {
    type: 'open', version: 4, myAs: 65001, holdTime: 90, bgpId: '192.168.1.87',
    capabilities: Array.from({ length: 60 }, (_, i) => ({ kind: 'unknown' as const, code: 200, value: Uint8Array.of(i, 1, 2) })),
  };
  const enc = encodeMessage(many, ctx2);
  // 60 capabilities of 5 bytes = 300: two parameters (255 + 45), 2-octet lengths.
  t.equal(toHex(enc.subarray(28, 32)), 'ffff' + toHex(Uint8Array.from(u16(300 + 6))));
  t.equal(enc.length, 29 + 3 + 300 + 6);
  t.same(decodeMessage(enc, ctx2), many);
  t.end();
});

t.test('OPEN: capability parameters above 255 bytes in total are split per 255', (t) => {
  const caps = Array.from({ length: 60 }, (_, i) => ({ kind: 'unknown' as const, code: 201, value: Uint8Array.of(i) }));
  // 60 * 3 = 180 bytes: one parameter, classic format.
  const m: OpenMessage = { type: 'open', version: 4, myAs: 1, holdTime: 3, bgpId: '1.1.1.1', capabilities: caps };
  const enc = encodeMessage(m, ctx2);
  t.equal(enc[28], 182);
  t.equal(enc[29], 2);
  t.equal(enc[30], 180);
  t.same(decodeMessage(enc, ctx2), m);
  t.end();
});

t.test('OPEN: 4-octet AS goes in the capability, AS_TRANS in My AS (RFC 6793 §4.1)', (t) => {
  t.equal(openAsField(4200000000), 23456);
  t.equal(openAsField(65001), 65001);
  const m: OpenMessage = {
    type: 'open', version: 4, myAs: 4200000000, holdTime: 9, bgpId: '192.168.2.87',
    capabilities: [{ kind: 'four-octet-as', asn: 4200000000 }],
  };
  const enc = encodeMessage(m, ctx2);
  t.equal(toHex(enc), toHex(message(1, '04 5ba0 0009 c0a80257 08 02 06 41 04', u32(4200000000))));
  const back = decodeMessage(enc, ctx2) as OpenMessage;
  t.equal(back.myAs, 23456);
  t.equal(peerAsn(back), 4200000000);
  t.end();
});

t.test('OPEN errors (RFC 4271 §6.2, RFC 5492, RFC 7607)', (t) => {
  const base = (version: string, myAs: string, hold: string, id: string, params: string) =>
    message(1, version, myAs, hold, id, params);
  throwsBgp(t, () => decodeMessage(base('03', 'fde9', '005a', '01020304', '00'), ctx2), 2, 1, hex('0004'), 'version 3');
  throwsBgp(t, () => decodeMessage(base('05', 'fde9', '005a', '01020304', '00'), ctx2), 2, 1, hex('0004'), 'version 5');
  throwsBgp(t, () => decodeMessage(base('04', 'fde9', '0001', '01020304', '00'), ctx2), 2, 6, undefined, 'hold 1');
  throwsBgp(t, () => decodeMessage(base('04', 'fde9', '0002', '01020304', '00'), ctx2), 2, 6, undefined, 'hold 2');
  t.equal((decodeMessage(base('04', 'fde9', '0003', '01020304', '00'), ctx2) as OpenMessage).holdTime, 3);
  throwsBgp(t, () => decodeMessage(base('04', 'fde9', '005a', '00000000', '00'), ctx2), 2, 3, undefined, 'BGP ID 0');
  throwsBgp(t, () => decodeMessage(base('04', '0000', '005a', '01020304', '00'), ctx2), 2, 2, undefined, 'AS 0');
  throwsBgp(t, () => decodeMessage(base('04', 'fde9', '005a', '01020304', '08 02 06 41 04 00000000'), ctx2), 2, 2,
    undefined, '4-octet AS 0');
  throwsBgp(t, () => decodeMessage(base('04', 'fde9', '005a', '01020304', '04 01 02 0000'), ctx2), 2, 4, undefined,
    'parameter type 1 (authentication)');
  throwsBgp(t, () => decodeMessage(base('04', 'fde9', '005a', '01020304', '05 02 02 0200'), ctx2), 2, 0, undefined,
    'optional parameters length beyond the message');
  throwsBgp(t, () => decodeMessage(base('04', 'fde9', '005a', '01020304', '03 02 02 0200'), ctx2), 2, 0, undefined,
    'optional parameters length short of the message');
  throwsBgp(t, () => decodeMessage(base('04', 'fde9', '005a', '01020304', '04 02 02 0205'), ctx2), 2, 0, undefined,
    'capability overruns its parameter');
  throwsBgp(t, () => decodeMessage(base('04', 'fde9', '005a', '01020304', '03 02 01 01'), ctx2), 2, 0, undefined,
    'truncated capability header');
  throwsBgp(t, () => decodeMessage(base('04', 'fde9', '005a', '01020304', '07 02 05 01 03 0019 00'), ctx2), 2, 0,
    undefined, 'multiprotocol of 3 bytes');
  throwsBgp(t, () => decodeMessage(base('04', 'fde9', '005a', '01020304', '05 02 03 02 01 00'), ctx2), 2, 0,
    undefined, 'route refresh with a value');
  throwsBgp(t, () => decodeMessage(base('04', 'fde9', '005a', '01020304', '07 02 05 40 03 000000'), ctx2), 2, 0,
    undefined, 'graceful restart of 3 bytes');
  throwsBgp(t, () => decodeMessage(base('04', 'fde9', '005a', '01020304', '07 02 05 05 03 000100'), ctx2), 2, 0,
    undefined, 'extended next hop of 3 bytes');
  throwsBgp(t, () => decodeMessage(base('04', 'fde9', '005a', '01020304', 'ff ff 0006 02 0002 0200'), ctx2), 2, 0,
    undefined, 'RFC 9072 length mismatch');
  // Shorter than 29 bytes: Bad Message Length with the length field as data.
  throwsBgp(t, () => decodeMessage(message(1, '04 fde9 005a 010203'), ctx2), 1, 2, hex('001b'));
  t.end();
});

t.test('KEEPALIVE: exactly 19 bytes', (t) => {
  pair(t, 'keepalive', { type: 'keepalive' }, hex(`${MARKER} 0013 04`));
  throwsBgp(t, () => decodeMessage(message(4, '00'), ctx2), 1, 2, hex('0014'));
  t.end();
});

t.test('NOTIFICATION: code, subcode, data', (t) => {
  pair(t, 'cease', { type: 'notification', code: 6, subcode: 2, data: Uint8Array.of(3, 0x62, 0x79, 0x65) },
    message(3, '06 02 03 627965'));
  pair(t, 'no data', { type: 'notification', code: 4, subcode: 0, data: new Uint8Array(0) }, message(3, '04 00'));
  throwsBgp(t, () => decodeMessage(message(3, '06'), ctx2), 1, 2, hex('0014'));
  const n = notificationFor(new BgpError(2, 1, Uint8Array.of(0, 4)));
  t.same(n, { type: 'notification', code: 2, subcode: 1, data: Uint8Array.of(0, 4) });
  t.equal(toHex(encodeMessage(n, ctx2)), toHex(message(3, '02 01 0004')));
  t.end();
});

t.test('ROUTE-REFRESH (RFC 2918 §3, RFC 7313 §3.2, §5)', (t) => {
  pair(t, 'normal', { type: 'route-refresh', afi: 25, safi: 70, subtype: 0 }, message(5, '0019 00 46'));
  pair(t, 'BoRR', { type: 'route-refresh', afi: 25, safi: 70, subtype: 1 }, message(5, '0019 01 46'));
  pair(t, 'EoRR', { type: 'route-refresh', afi: 1, safi: 1, subtype: 2 }, message(5, '0001 02 01'));
  pair(t, 'unknown subtype kept for the FSM to ignore', { type: 'route-refresh', afi: 1, safi: 1, subtype: 9 },
    message(5, '0001 09 01'));
  const long = message(5, '0019 01 46 00');
  throwsBgp(t, () => decodeMessage(long, ctx2), 7, 1, long);
  const short = message(5, '0019 01');
  throwsBgp(t, () => decodeMessage(short, ctx2), 7, 1, short);
  t.end();
});

t.test('header errors (RFC 4271 §6.1)', (t) => {
  const ka = hex(`${MARKER} 0013 04`);
  const badMarker = ka.slice();
  badMarker[3] = 0xfe;
  throwsBgp(t, () => decodeMessage(badMarker, ctx2), 1, 1);
  throwsBgp(t, () => decodeMessage(hex(`${MARKER} 0012 04`).subarray(0, 18), ctx2), 1, 2, hex('0012'), 'shorter than a header');
  throwsBgp(t, () => decodeMessage(hex(`${MARKER} 0014 04 00`).subarray(0, 19), ctx2), 1, 2, hex('0014'), 'length field > buffer');
  throwsBgp(t, () => decodeMessage(hex(`${MARKER} 0012 04 00`), ctx2), 1, 2, hex('0012'), 'length field 18');
  const big = new Uint8Array(4097).fill(0xff);
  big[16] = 0x10;
  big[17] = 0x01;
  big[18] = 2;
  throwsBgp(t, () => decodeMessage(big, ctx2), 1, 2, hex('1001'), 'length 4097');
  throwsBgp(t, () => decodeMessage(hex(`${MARKER} 0013 06`), ctx2), 1, 3, hex('06'), 'type 6');
  throwsBgp(t, () => decodeMessage(hex(`${MARKER} 0013 00`), ctx2), 1, 3, hex('00'), 'type 0');
  throwsBgp(t, () => decodeMessage(message(2, '0000'), ctx2), 1, 2, hex('0015'), 'UPDATE of 21 bytes');
  t.end();
});

t.test('encodeMessage refuses messages above 4096 bytes', (t) => {
  t.throws(() => encodeMessage({ type: 'notification', code: 6, subcode: 0, data: new Uint8Array(4096) }, ctx2), RangeError);
  const ok = encodeMessage({ type: 'notification', code: 6, subcode: 0, data: new Uint8Array(4096 - 21) }, ctx2);
  t.equal(ok.length, 4096);
  t.end();
});
