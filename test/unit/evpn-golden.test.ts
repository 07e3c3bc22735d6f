// The EVPN parts of every UPDATE in test/golden (messages captured from FRR
// 8.4.4 and GoBGP 3.10 in namespaces, fields read by tshark): the NLRI of
// MP_REACH_NLRI / MP_UNREACH_NLRI and the EXTENDED COMMUNITIES are located by
// a small attribute walker written here (RFC 4271 §4.3, independent of the
// UPDATE codec), decoded by the EVPN codecs, compared with the fixture JSON
// and re-encoded byte for byte.
import t, { type Test } from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromHex, Reader, toHex, Writer } from '../../src/wire/bytes.js';
import { decodeExtCommunity, encodeExtCommunity, formatRouteTarget } from '../../src/bgp/extcommunity.js';
import { decodeEvpnRoutes, encodeEvpnRoute } from '../../src/evpn/nlri.js';
import { formatRd } from '../../src/bgp/rd.js';
import { routeTypeNumber, type EvpnRoute } from '../../src/evpn/types.js';

const GOLDEN = join(import.meta.dirname, '..', 'golden');

interface FixtureNlri {
  routeType: number;
  rd: string;
  esi?: string;
  ethernetTag: number;
  mac?: string;
  ip?: string;
  originatorIp?: string;
  labels?: number[];
}

interface FixtureCommunity {
  kind: string;
  raw: string;
  value?: string;
  tunnelType?: number;
  sticky?: boolean;
  sequence?: number;
}

interface Fixture {
  message: string;
  description: string;
  attributes?: { extendedCommunities?: FixtureCommunity[] };
  mpReach?: { afi: number; safi: number; nlri: FixtureNlri[] };
  mpUnreach?: { afi: number; safi: number; nlri: FixtureNlri[] };
}

/** Attribute values by type code, from a whole UPDATE message (RFC 4271 §4.3). */
function attributes(msg: Uint8Array): Map<number, Uint8Array> {
  const out = new Map<number, Uint8Array>();
  let p = 19;
  const withdrawnLen = (msg[p]! << 8) | msg[p + 1]!;
  p += 2 + withdrawnLen;
  const attrLen = (msg[p]! << 8) | msg[p + 1]!;
  p += 2;
  const end = p + attrLen;
  while (p < end) {
    const flags = msg[p]!;
    const code = msg[p + 1]!;
    const extended = (flags & 0x10) !== 0;
    const len = extended ? (msg[p + 2]! << 8) | msg[p + 3]! : msg[p + 2]!;
    p += extended ? 4 : 3;
    out.set(code, msg.subarray(p, p + len));
    p += len;
  }
  return out;
}

/** The NLRI field of MP_REACH_NLRI (RFC 4760 §3) or MP_UNREACH_NLRI (§4). */
function nlriField(value: Uint8Array, reach: boolean): Uint8Array {
  if (!reach) return value.subarray(3);
  const nextHopLen = value[3]!;
  return value.subarray(4 + nextHopLen + 1);
}

function compareRoute(t: Test, got: EvpnRoute, want: FixtureNlri, withdraw: boolean, name: string): void {
  t.equal(routeTypeNumber(got), want.routeType, `${name}: route type`);
  if (got.type === 'mac-ip') {
    t.equal(formatRd(got.rd), want.rd, `${name}: rd`);
    t.equal(got.esi, want.esi, `${name}: esi`);
    t.equal(got.ethernetTag, want.ethernetTag, `${name}: tag`);
    t.equal(got.mac, want.mac, `${name}: mac`);
    t.equal(got.ip, want.ip ?? null, `${name}: ip`);
    t.same(got.label2 === null ? [got.label1] : [got.label1, got.label2], want.labels, `${name}: labels (raw 24 bits${withdraw ? ', withdrawal' : ''})`);
  } else if (got.type === 'inclusive-multicast') {
    t.equal(formatRd(got.rd), want.rd, `${name}: rd`);
    t.equal(got.ethernetTag, want.ethernetTag, `${name}: tag`);
    t.equal(got.originatorIp, want.originatorIp, `${name}: originator`);
  } else {
    t.fail(`${name}: no comparison written for ${got.type}`);
  }
}

const files: Array<[string, Fixture]> = [];
for (const impl of readdirSync(GOLDEN, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort()) {
  for (const f of readdirSync(join(GOLDEN, impl)).filter((n) => n.endsWith('.json')).sort()) {
    const fx = JSON.parse(readFileSync(join(GOLDEN, impl, f), 'utf8')) as Fixture;
    if (fx.message === 'update') files.push([`${impl}/${f.replace(/\.json$/, '')}`, fx]);
  }
}

t.test('every golden UPDATE: EVPN NLRI and extended communities', async (t) => {
  t.ok(files.length > 0, `${files.length} UPDATE fixtures`);
  let nlriCount = 0;
  for (const [name, fx] of files) {
    const msg = fromHex(readFileSync(join(GOLDEN, `${name}.hex`), 'utf8'));
    const attrs = attributes(msg);
    for (const [code, part, withdraw] of [[14, fx.mpReach, false], [15, fx.mpUnreach, true]] as const) {
      if (!part || part.afi !== 25 || part.safi !== 70) continue;
      const field = nlriField(attrs.get(code)!, code === 14);
      const routes = decodeEvpnRoutes(new Reader(field), withdraw);
      t.equal(routes.length, part.nlri.length, `${name}: NLRI count`);
      routes.forEach((r, i) => compareRoute(t, r, part.nlri[i]!, withdraw, name));
      const w = new Writer();
      for (const r of routes) encodeEvpnRoute(w, r);
      t.equal(toHex(w.finish()), toHex(field), `${name}: re-encoded byte for byte`);
      nlriCount += routes.length;
    }
    const ec = attrs.get(16);
    const want = fx.attributes?.extendedCommunities ?? [];
    t.equal(ec === undefined ? 0 : ec.length / 8, want.length, `${name}: community count`);
    if (ec === undefined) continue;
    const r = new Reader(ec);
    for (const wc of want) {
      const c = decodeExtCommunity(r);
      if (wc.kind === 'routeTarget') t.equal(c.kind === 'route-target' ? formatRouteTarget(c) : c.kind, wc.value, `${name}: RT`);
      else if (wc.kind === 'encapsulation') t.same(c, { kind: 'encapsulation', tunnelType: wc.tunnelType }, `${name}: encapsulation`);
      else if (wc.kind === 'macMobility') t.same(c, { kind: 'mac-mobility', sticky: wc.sticky, sequence: wc.sequence }, `${name}: MAC mobility`);
      else t.equal(c.kind, 'unknown', `${name}: ${wc.kind} kept opaque`);
      const w = new Writer();
      encodeExtCommunity(w, c);
      t.equal(toHex(w.finish()), wc.raw, `${name}: community re-encoded`);
    }
  }
  t.ok(nlriCount > 0, `${nlriCount} EVPN NLRI compared`);
});
