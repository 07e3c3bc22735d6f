// Every message in test/golden (captured from FRR 8.4 and GoBGP 3.10, fields
// read by tshark into NAME.json) through Framer and decodeMessage: the decoded
// struct must match the fixture, carry no RFC 7606 errors, and re-encode to
// the captured bytes once those are put in canonical form by a small
// independent walker here (Extended Length only above 255 bytes, MP_REACH /
// MP_UNREACH first then ascending type code; capabilities in one parameter).
import t, { type Test } from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Framer } from '../../src/bgp/framer.js';
import { decodeMessage, encodeMessage } from '../../src/bgp/message.js';
import { isEndOfRib } from '../../src/bgp/pack.js';
import type { Capability, CodecContext, Message } from '../../src/bgp/types.js';
import { cat, hex, message, toHex, u16, u8 } from '../lib/bytes.js';
import '../../src/evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

const GOLDEN = join(import.meta.dirname, '..', 'golden');
const ctx4: CodecContext = { fourOctetAs: true };

interface FixtureCap { code: number; decoded?: { asn?: number; restartTime?: number; afi?: number; safi?: number } }
interface Fixture {
  message: string;
  length: number;
  open?: { version: number; myAs: number; holdTime: number; bgpId: string; capabilities: FixtureCap[] };
  notification?: { code: number; subcode: number; data: string };
  attributes?: {
    origin?: string;
    asPath?: Array<{ type: string; asns: number[] }>;
    localPref?: number;
    med?: number;
    originatorId?: string;
    clusterList?: string[];
    extendedCommunities?: unknown[];
    pmsiTunnel?: { flags: number; tunnelType: number; label: number; raw: string };
  };
  mpReach?: { afi: number; safi: number; nextHop: string[]; nlri: unknown[] };
  mpUnreach?: { afi: number; safi: number; nlri: unknown[]; endOfRib?: boolean };
}

const CAP_CODES: Record<Exclude<Capability['kind'], 'unknown'>, number> = {
  multiprotocol: 1, 'route-refresh': 2, 'extended-next-hop': 5, 'graceful-restart': 64, 'four-octet-as': 65,
  'enhanced-route-refresh': 70,
};

function capCode(c: Capability): number {
  return c.kind === 'unknown' ? c.code : CAP_CODES[c.kind];
}

/** Canonical form of a captured message: see the file comment. */
function canonical(b: Uint8Array): Uint8Array {
  const type = b[18]!;
  if (type === 1) {
    // Capability TLVs in order, from every type-2 parameter (RFC 5492 §4).
    const caps: Uint8Array[] = [];
    let p = 29;
    while (p < b.length) {
      const len = b[p + 1]!;
      for (let q = p + 2; q < p + 2 + len; q += 2 + b[q + 1]!) caps.push(b.slice(q, q + 2 + b[q + 1]!));
      p += 2 + len;
    }
    const all = cat(...caps);
    return message(1, b.subarray(19, 28), caps.length ? cat(u8(all.length + 2), '02', u8(all.length), all) : '00');
  }
  if (type !== 2) return b;
  const wd = (b[19]! << 8) | b[20]!;
  const at = 21 + wd;
  const total = (b[at]! << 8) | b[at + 1]!;
  const attrs: Array<{ type: number; flags: number; value: Uint8Array }> = [];
  for (let p = at + 2; p < at + 2 + total;) {
    const flags = b[p]!;
    const ext = (flags & 0x10) !== 0;
    const len = ext ? (b[p + 2]! << 8) | b[p + 3]! : b[p + 2]!;
    const v = p + (ext ? 4 : 3);
    attrs.push({ type: b[p + 1]!, flags, value: b.slice(v, v + len) });
    p = v + len;
  }
  const rank = (x: number) => (x === 14 ? -2 : x === 15 ? -1 : x);
  attrs.sort((x, y) => rank(x.type) - rank(y.type));
  const body = attrs.map((a) => {
    const f = a.value.length > 255 ? a.flags | 0x10 : a.flags & ~0x10;
    return cat(u8(f), u8(a.type), a.value.length > 255 ? u16(a.value.length) : u8(a.value.length), a.value);
  });
  const attrBytes = cat(...body);
  return message(2, b.subarray(19, at), u16(attrBytes.length), attrBytes, b.subarray(at + 2 + total));
}

const ORIGINS: Record<string, number> = { igp: 0, egp: 1, incomplete: 2 };

function check(tt: Test, name: string, bytes: Uint8Array, fx: Fixture): void {
  const framed = new Framer().push(bytes);
  tt.same(framed.map(toHex), [toHex(bytes)], `${name}: framed whole`);
  const m: Message = decodeMessage(bytes, ctx4);
  tt.equal(m.type, fx.message, `${name}: type`);
  if (m.type === 'open' && fx.open) {
    const o = fx.open;
    tt.same([m.version, m.myAs, m.holdTime, m.bgpId], [o.version, o.myAs, o.holdTime, o.bgpId], `${name}: OPEN fields`);
    tt.same(m.capabilities.map(capCode), o.capabilities.map((c) => c.code), `${name}: capability codes`);
    for (const c of m.capabilities) {
      const f = o.capabilities.find((x) => x.code === capCode(c));
      if (c.kind === 'four-octet-as') tt.equal(c.asn, f?.decoded?.asn, `${name}: four-octet AS`);
      if (c.kind === 'graceful-restart') tt.equal(c.restartTime, f?.decoded?.restartTime, `${name}: restart time`);
      if (c.kind === 'multiprotocol') tt.ok(o.capabilities.some((x) => x.code === 1 && x.decoded?.afi === c.afi && x.decoded?.safi === c.safi));
    }
  }
  if (m.type === 'notification' && fx.notification) {
    tt.same([m.code, m.subcode, toHex(m.data)], [fx.notification.code, fx.notification.subcode, fx.notification.data], `${name}: NOTIFICATION`);
  }
  if (m.type === 'update') {
    tt.equal(m.attrErrors, undefined, `${name}: no RFC 7606 errors`);
    const a = m.attributes;
    const fa = fx.attributes ?? {};
    if (fa.origin !== undefined) tt.equal(a.origin, ORIGINS[fa.origin], `${name}: ORIGIN`);
    if (fa.asPath !== undefined) tt.same(a.asPath, fa.asPath, `${name}: AS_PATH`);
    tt.equal(a.localPref, fa.localPref, `${name}: LOCAL_PREF`);
    tt.equal(a.med, fa.med, `${name}: MED`);
    tt.equal(a.originatorId, fa.originatorId, `${name}: ORIGINATOR_ID`);
    tt.same(a.clusterList, fa.clusterList, `${name}: CLUSTER_LIST`);
    tt.equal(a.extCommunities?.length, fa.extendedCommunities?.length, `${name}: extended communities`);
    if (fa.pmsiTunnel) {
      const p = a.pmsiTunnel;
      tt.same(p && [p.flags, p.tunnelType, p.label, toHex(p.tunnelId)],
        [fa.pmsiTunnel.flags, fa.pmsiTunnel.tunnelType, fa.pmsiTunnel.label, fa.pmsiTunnel.raw.slice(10)], `${name}: PMSI_TUNNEL`);
    } else {
      tt.equal(a.pmsiTunnel, undefined);
    }
    if (fx.mpReach) {
      const r = a.mpReach;
      tt.same(r && [r.afi, r.safi, r.nextHop, r.nlri.kind === 'evpn' ? r.nlri.routes.length : -1],
        [fx.mpReach.afi, fx.mpReach.safi, fx.mpReach.nextHop, fx.mpReach.nlri.length], `${name}: MP_REACH_NLRI`);
    }
    if (fx.mpUnreach) {
      const u = a.mpUnreach;
      tt.same(u && [u.afi, u.safi, u.nlri.kind === 'evpn' ? u.nlri.routes.length : -1],
        [fx.mpUnreach.afi, fx.mpUnreach.safi, fx.mpUnreach.nlri.length], `${name}: MP_UNREACH_NLRI`);
      tt.equal(isEndOfRib(m) !== null, fx.mpUnreach.endOfRib === true, `${name}: End-of-RIB`);
    }
  }
  const again = encodeMessage(m, ctx4);
  tt.equal(toHex(again), toHex(canonical(bytes)), `${name}: re-encoded byte for byte (canonical form)`);
  tt.same(decodeMessage(again, ctx4), m, `${name}: round trip`);
}

const dirs = existsSync(GOLDEN) ? readdirSync(GOLDEN).filter((d) => !d.includes('.')) : [];
let count = 0;
for (const dir of dirs) {
  for (const f of readdirSync(join(GOLDEN, dir)).filter((x) => x.endsWith('.hex')).sort()) {
    const base = f.slice(0, -4);
    const jsonPath = join(GOLDEN, dir, `${base}.json`);
    if (!existsSync(jsonPath)) continue;
    count++;
    t.test(`${dir}/${base}`, (tt) => {
      const bytes = hex(readFileSync(join(GOLDEN, dir, f), 'utf8'));
      const fx = JSON.parse(readFileSync(jsonPath, 'utf8')) as Fixture;
      tt.equal(bytes.length, fx.length, 'fixture length');
      check(tt, `${dir}/${base}`, bytes, fx);
      tt.end();
    });
  }
}

t.test('golden fixtures were found', (tt) => {
  tt.ok(count >= 10, `${count} fixtures`);
  tt.end();
});
