// Captures golden BGP messages from FRR and GoBGP in network namespaces and writes
// test/golden/<frr|gobgp>/<NAME>.hex + <NAME>.json (+ <NAME>.txt, tshark -V).
// Run as root through scripts/capture-golden.sh [outDir].
//
// The JSON comes from tshark's dissection of each message (test/lib/golden.ts), not
// from our codec, and is checked against what this script configured. The script
// also runs a few interop experiments and prints their outcome (docs/interop.md).
//
// Topology (one L2 segment 192.168.1.0/24, a bridge in namespace `sw`):
//   rr  192.168.1.2    FRR route reflector, AS 65001, cluster-id 10.0.0.1
//   ga  192.168.1.65   gobgpd, originates EVPN routes (server-l)
//   fv  192.168.1.87   FRR bgpd+zebra VTEP: br-vxlan 192.168.0.87/24 + vxlan0 VNI 100 (server-r)
//   gb  192.168.1.100  gobgpd, receives what the RR reflects
//   raw 192.168.1.110  a scripted BGP speaker (node) sending hand-made UPDATEs
//   h   192.168.0.10   a host behind br-vxlan of fv (veth port `vport`)
//   grr 192.168.1.3    gobgpd route reflector, AS 65001 (fv and gb also peer with it)
//   bad 192.168.1.99   gobgpd in AS 65099 trying the RR's iBGP peer-group (OPEN error)
// and a second segment 192.168.2.0/24 (bridge in `sw2`), eBGP:
//   rr2 192.168.2.2    FRR, AS 65002, listen range with `remote-as external`
//   e1  192.168.2.65   gobgpd AS 65010, originates
//   e2  192.168.2.87   gobgpd AS 4200000001, receives
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, ip, sh, sleep, waitFor } from '../test/lib/netns.js';
import { startFrr, rrConfig, evpnSpeakerConfig, frrEvpnRoutes, waitFrrEstablished, frrPeerState } from '../test/lib/frr.js';
import { startGobgp, gobgpConfig, gobgpRrConfig, macAdvArgs, multicastArgs, waitGobgpEstablished } from '../test/lib/gobgp.js';
import { startCapture, toHex, type BgpFlow } from '../test/lib/capture.js';
import { Switch, addVtep, bridge } from '../test/lib/topology.js';
import { startRawSpeaker, openMessage, type RawSpeaker } from '../test/lib/rawspeaker.js';
import { attr, cat, encap, evpnMacIp, ip4, mpReachValue, rdIp, rtAs2, u32, u8, update, type Part } from '../test/lib/bytes.js';
import { dissectAll, tsharkVerbose, type GoldenJson, type GoldenNlri } from '../test/lib/golden.js';

const OUT = process.argv[2] ?? join(import.meta.dirname, '..', 'test', 'golden');
const GAP = 1500; // between route changes, so that each becomes its own UPDATE

const ASN = 65001;
const RR = '192.168.1.2';
const CLUSTER = '10.0.0.1';
const GA = '192.168.1.65';
const FV = '192.168.1.87';
const GB = '192.168.1.100';
const RAW = '192.168.1.110';
const RT = `${ASN}:100`;
const SVI_MAC = '02:00:c0:a8:00:57';
const SVI_IP = '192.168.0.87';
const VPORT_MAC = '02:00:00:00:00:fe';
const HOST_MAC = 'aa:bb:cc:00:00:01';
const HOST_IP = '192.168.0.10';
const GA_RD = `${GA}:100`;
const FV_RD = `${FV}:100`;
const GA_MAC = 'aa:bb:cc:00:00:65';
const GA_MAC4 = 'aa:bb:cc:00:00:66';
const GA_IP4 = '192.168.0.65';
const GA_MAC6 = 'aa:bb:cc:00:00:67';
const GA_IP6 = 'fd00::65';
const GA_MAC_SHIFTED = 'aa:bb:cc:00:00:68';
const GA_MAC_NH6 = 'aa:bb:cc:00:00:69';
const RAW_MAC = 'aa:bb:cc:00:00:6e';
const GRR = '192.168.1.3'; // gobgpd route reflector (second RR on the segment)
const BAD = '192.168.1.99'; // gobgpd in the wrong AS for the RR's iBGP listen range
// Second segment, eBGP: FRR "RR" in AS 65002 with clients in other ASes.
const RR2 = '192.168.2.2';
const E1 = '192.168.2.65'; // gobgpd AS 65010
const E2 = '192.168.2.87'; // gobgpd AS 4200000001 (4-octet AS, AS_TRANS in OPEN)
const E_MAC = 'aa:bb:cc:00:02:65';
const E_IP = '192.168.0.65';
const E_RD = `${E1}:100`;
const E_RT = '65002:100';
const RAW_IP = '192.168.0.110';
const RAW_MAC2 = 'aa:bb:cc:00:00:6f';
const RAW_IP2 = '192.168.0.111';
const RAW_MAC3 = 'aa:bb:cc:00:00:70';
const RAW_IP3 = '192.168.0.112';

const pkgVersion = (p: string): string => sh('dpkg-query', ['-W', '-f', '${Version}', p]).trim();

// ---------------------------------------------------------------------------
// Hand-made UPDATEs for the scripted speaker (test/lib/rawspeaker.ts)

/** Type-2 NLRI (RFC 7432 §7.2): RD type 1 <rdAddress>:100, ESI 0, tag 0, MAC, IPv4, label 100. */
function type2Nlri(mac: string, ip: string, rdAddress: string): Uint8Array {
  return evpnMacIp({ rd: rdIp(rdAddress, 100), mac, ip, label: 100 });
}

/** UPDATE with MP_REACH (l2vpn/evpn) carrying `nlris`; LOCAL_PREF only when given. */
function handMadeUpdate(nlris: Part[], o: { nextHop: string; localPref?: number }): Uint8Array {
  return update({
    attrs: [
      attr(0x40, 1, u8(0)),
      attr(0x40, 2),
      ...(o.localPref !== undefined ? [attr(0x40, 5, u32(o.localPref))] : []),
      attr(0x80, 14, mpReachValue(25, 70, ip4(o.nextHop), cat(...nlris))),
      attr(0xc0, 16, rtAs2(ASN, 100), encap(8)),
    ],
  });
}

// ---------------------------------------------------------------------------
// Selecting messages

interface Msg { bytes: Uint8Array; g: GoldenJson; from: string; to: string }

function dissectFlows(flows: BgpFlow[], source: (src: string) => string): Msg[] {
  const out: Msg[] = [];
  for (const f of flows) {
    if (f.error) throw new Error(`capture ${f.src}->${f.dst}: ${f.error}`);
    const gs = dissectAll(f.messages, () => source(f.src));
    f.messages.forEach((m, i) => out.push({ bytes: m, g: gs[i], from: f.src, to: f.dst }));
  }
  return out;
}

const reach = (g: GoldenJson): GoldenNlri[] => g.mpReach?.nlri ?? [];
const unreach = (g: GoldenJson): GoldenNlri[] => g.mpUnreach?.nlri ?? [];
const has = (l: GoldenNlri[], p: Partial<GoldenNlri>): boolean =>
  l.some((n) => Object.entries(p).every(([k, v]) => (v === undefined ? !(k in n) : n[k as keyof GoldenNlri] === v)));

function pick(msgs: Msg[], from: string, to: string, pred: (g: GoldenJson) => boolean, what: string): Msg {
  const m = msgs.find((x) => x.from === from && x.to === to && pred(x.g));
  if (!m) throw new Error(`no captured message from ${from} to ${to}: ${what}`);
  return m;
}

const problems: string[] = [];
function expect(cond: boolean, what: string): void {
  if (!cond) problems.push(what);
}

interface Fixture { impl: 'frr' | 'gobgp'; name: string; description: string; msg: Msg }

function writeFixture(f: Fixture, verbose: string): void {
  const dir = join(OUT, f.impl);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${f.name}.hex`), `${toHex(f.msg.bytes)}\n`);
  const { source, ...rest } = f.msg.g;
  const ordered: GoldenJson = { source, description: f.description, ...rest };
  writeFileSync(join(dir, `${f.name}.json`), `${JSON.stringify(ordered, null, 2)}\n`);
  writeFileSync(join(dir, `${f.name}.txt`), verbose);
}

// ---------------------------------------------------------------------------

async function main(): Promise<void> {
  const frrVersion = `frr ${pkgVersion('frr')}`;
  const gobgpVersion = `gobgp ${pkgVersion('gobgpd')}`;
  const lab = new Lab('g');
  const notes: string[] = [];
  const note = (s: string): void => { notes.push(s); console.log(`NOTE ${s}`); };
  try {
    const sw = new Switch(lab, 'sw');
    const rr = lab.ns('rr');
    const ga = lab.ns('ga');
    const fv = lab.ns('fv');
    const gb = lab.ns('gb');
    const raw = lab.ns('raw');
    const host = lab.ns('h');
    sh('ip', ['netns', 'exec', host, 'sysctl', '-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    sw.plug(rr, `${RR}/24`);
    sw.plug(ga, `${GA}/24`);
    sw.plug(fv, `${FV}/24`);
    sw.plug(gb, `${GB}/24`);
    sw.plug(raw, `${RAW}/24`);
    const grr = lab.ns('grr');
    sw.plug(grr, `${GRR}/24`);
    const bad = lab.ns('bad');
    sw.plug(bad, `${BAD}/24`);
    const sw2 = new Switch(lab, 'sw2');
    const rr2 = lab.ns('rr2');
    const e1 = lab.ns('e1');
    const e2 = lab.ns('e2');
    sw2.plug(rr2, `${RR2}/24`);
    sw2.plug(e1, `${E1}/24`);
    sw2.plug(e2, `${E2}/24`);
    addVtep(fv, { local: FV, svi: `${SVI_IP}/24`, sviMac: SVI_MAC });
    lab.veth(host, 'eth0', fv, 'vport', `${HOST_IP}/24`);
    ip(fv, 'link', 'set', 'vport', 'address', VPORT_MAC);
    ip(host, 'link', 'set', 'eth0', 'address', '02:00:00:00:00:10');
    ip(fv, 'link', 'set', 'vport', 'master', 'br-vxlan');

    const capGa = await startCapture(lab, ga, 'eth1');
    const capFv = await startCapture(lab, fv, 'eth1');
    const capGb = await startCapture(lab, gb, 'eth1');
    const capRaw = await startCapture(lab, raw, 'eth1');
    const capBad = await startCapture(lab, bad, 'eth1');
    const capE1 = await startCapture(lab, e1, 'eth1');
    const capE2 = await startCapture(lab, e2, 'eth1');

    const frrRr = await startFrr(lab, rr, { bgpdConf: rrConfig({ asn: ASN, routerId: RR, listenRange: '192.168.1.0/24', clusterId: CLUSTER }) });
    const gRr = await startGobgp(lab, grr, { hostname: 'gobgp-grr', config: gobgpRrConfig({ asn: ASN, routerId: GRR, listenRange: '192.168.1.0/24', clusterId: '10.0.0.3' }) });
    const frrV = await startFrr(lab, fv, {
      bgpdConf: evpnSpeakerConfig({
        asn: ASN, routerId: FV, hostname: 'vtep', neighbors: [{ address: RR, remoteAs: 'internal' }, { address: GRR, remoteAs: 'internal' }],
        advertiseAllVni: true, advertiseSviIp: true,
        evpnExtra: ['vni 100', ' rd 192.168.1.87:100', ` route-target import ${RT}`, ` route-target export ${RT}`, 'exit-vni'],
      }),
    });
    const gA = await startGobgp(lab, ga, { hostname: 'gobgp-ga', config: gobgpConfig({ asn: ASN, routerId: GA, port: -1, neighbors: [{ address: RR, peerAs: ASN, localAddress: GA }] }) });
    const gB = await startGobgp(lab, gb, {
      hostname: 'gobgp-gb',
      config: gobgpConfig({ asn: ASN, routerId: GB, port: -1, neighbors: [{ address: RR, peerAs: ASN, localAddress: GB }, { address: GRR, peerAs: ASN, localAddress: GB }] }),
    });
    const frrRr2 = await startFrr(lab, rr2, { bgpdConf: rrConfig({ asn: 65002, routerId: RR2, listenRange: '192.168.2.0/24', clientAs: 'external', hostname: 'rr2' }) });
    const gE1 = await startGobgp(lab, e1, { hostname: 'gobgp-e1', config: gobgpConfig({ asn: 65010, routerId: E1, port: -1, neighbors: [{ address: RR2, peerAs: 65002, localAddress: E1 }] }) });
    const gE2 = await startGobgp(lab, e2, { hostname: 'gobgp-e2', config: gobgpConfig({ asn: 4200000001, routerId: E2, port: -1, neighbors: [{ address: RR2, peerAs: 65002, localAddress: E2 }] }) });
    const gBad = await startGobgp(lab, bad, { hostname: 'gobgp-bad', config: gobgpConfig({ asn: 65099, routerId: BAD, port: -1, neighbors: [{ address: RR, peerAs: ASN, localAddress: BAD }] }) });
    await waitGobgpEstablished(gA, RR);
    await waitGobgpEstablished(gE1, RR2);
    await waitGobgpEstablished(gE2, RR2);
    await waitGobgpEstablished(gB, RR);
    await waitFrrEstablished(frrV, RR);
    await waitFrrEstablished(frrV, GRR);
    await waitGobgpEstablished(gB, GRR);
    void gRr;
    console.log('sessions established');
    const rrHas = (rd: string, needle: string): boolean => frrEvpnRoutes(frrRr).some((r) => r.rd === rd && r.prefix.includes(needle));

    // 1. FRR originates type-3 for VNI 100 and the SVI's MAC+IP (advertise-svi-ip).
    await waitFor(() => rrHas(FV_RD, `[3]:[0]:[32]:[${FV}]`) && rrHas(FV_RD, SVI_IP), 15000, 'FRR type-3 and SVI type-2 at the RR');
    await sleep(GAP);
    // 2. A MAC behind a bridge port (static FDB entry), then its IP (neighbor on the SVI).
    bridge(fv, 'fdb', 'add', HOST_MAC, 'dev', 'vport', 'master', 'static');
    await waitFor(() => rrHas(FV_RD, HOST_MAC), 10000, 'FRR type-2 MAC-only');
    await sleep(GAP);
    ip(fv, 'neigh', 'add', HOST_IP, 'lladdr', HOST_MAC, 'dev', 'br-vxlan', 'nud', 'reachable');
    await waitFor(() => rrHas(FV_RD, HOST_IP), 10000, 'FRR type-2 MAC+IP');
    await sleep(GAP);

    // 3. GoBGP originates, one route at a time.
    const gobgpDo = async (args: string[]): Promise<void> => { gA.gobgp(args); await sleep(GAP); };
    await gobgpDo(macAdvArgs('add', { mac: GA_MAC, rd: GA_RD, rt: [RT], label: 100 }));
    await gobgpDo(macAdvArgs('add', { mac: GA_MAC4, ip: GA_IP4, rd: GA_RD, rt: [RT], label: 100 }));
    await gobgpDo(macAdvArgs('add', { mac: GA_MAC6, ip: GA_IP6, rd: GA_RD, rt: [RT], label: 100 }));
    await gobgpDo(multicastArgs('add', { ip: GA, rd: GA_RD, rt: [RT], pmsi: { label: 100, endpoint: GA } }));
    await gobgpDo(macAdvArgs('add', { mac: GA_MAC_NH6, ip: '192.168.0.69', rd: GA_RD, rt: [RT], label: 100, nexthop: 'fd00:1::65' }));
    await gobgpDo(macAdvArgs('del', { mac: GA_MAC4, ip: GA_IP4, rd: GA_RD, rt: [RT], label: 100 }));
    // eBGP: AS 65010 -> FRR AS 65002 -> AS 4200000001.
    gE1.gobgp(macAdvArgs('add', { mac: E_MAC, ip: E_IP, rd: E_RD, rt: [E_RT], label: 100 }));
    await waitFor(() => gE2.rib().flat().some((p) => JSON.stringify(p.nlri).includes(E_MAC)), 10000, 'eBGP route at e2');
    note(`eBGP via FRR (AS 65002): e2 (AS 4200000001) sees:\n${gE2.gobgp(['global', 'rib', '-a', 'evpn'])}`);
    await gBad.stop();
    void frrRr2;

    // 4. FRR withdraws the MAC+IP, then the MAC.
    ip(fv, 'neigh', 'del', HOST_IP, 'dev', 'br-vxlan');
    await waitFor(() => !rrHas(FV_RD, HOST_IP), 10000, 'FRR MAC+IP withdrawn');
    await sleep(GAP);
    bridge(fv, 'fdb', 'del', HOST_MAC, 'dev', 'vport', 'master', 'static');
    await waitFor(() => !rrHas(FV_RD, HOST_MAC), 10000, 'FRR MAC withdrawn');
    await sleep(GAP);

    // 5. MAC move: GoBGP's MAC (remote at fv, sequence 0) shows up locally on fv.
    await waitFor(() => bridge(fv, 'fdb', 'show', 'dev', 'vxlan0').includes(GA_MAC), 10000, 'fv installed GoBGP MAC');
    bridge(fv, 'fdb', 'replace', GA_MAC, 'dev', 'vport', 'master', 'dynamic');
    await waitFor(() => rrHas(FV_RD, GA_MAC), 10000, 'FRR re-originates the moved MAC');
    await sleep(GAP);

    // --- Experiments ------------------------------------------------------
    // E1: what the FRR VTEP installed from GoBGP's routes (label raw 100 = VNI 100).
    const fdb = bridge(fv, '-d', 'fdb', 'show', 'dev', 'vxlan0');
    note(`fv bridge fdb dev vxlan0 after GoBGP routes:\n${fdb}`);
    note(`fv ip neigh dev br-vxlan:\n${ip(fv, 'neigh', 'show', 'dev', 'br-vxlan')}`);
    expect(fdb.includes(`${GA_MAC6} dst ${GA}`), 'FRR VTEP installs GoBGP MAC+IPv6 route (label 0x000064)');
    expect(/00:00:00:00:00:00 dst 192\.168\.1\.65/.test(fdb), 'FRR VTEP adds GoBGP type-3 (with PMSI) to the flood list');

    // E2: type-3 without PMSI_TUNNEL (GoBGP, originating router IP 192.168.1.66).
    await gobgpDo(multicastArgs('add', { ip: '192.168.1.66', rd: `192.168.1.66:100`, rt: [RT] }));
    await sleep(GAP);
    const fdb2 = bridge(fv, '-d', 'fdb', 'show', 'dev', 'vxlan0');
    const rrSaw = rrHas('192.168.1.66:100', '192.168.1.66');
    note(`type-3 without PMSI: RR has it: ${rrSaw}; fv flood entries:\n${fdb2.split('\n').filter((l) => l.startsWith('00:00:00:00:00:00')).join('\n')}`);
    note(`fv 'show evpn vni 100':\n${frrV.vtysh('show evpn vni 100')}`);

    // E3: GoBGP label 1601 (= 100 << 4 | 1, what an MPLS-style encoder would send for VNI 100).
    await gobgpDo(macAdvArgs('add', { mac: GA_MAC_SHIFTED, ip: '192.168.0.68', rd: GA_RD, rt: [RT], label: 1601 }));
    await sleep(GAP);
    const fdb3 = bridge(fv, '-d', 'fdb', 'show', 'dev', 'vxlan0').split('\n').filter((l) => l.includes(GA_MAC_SHIFTED)).join('\n');
    note(`label 1601 from GoBGP: fv fdb: ${fdb3 || '(none)'}\n${frrV.vtysh(`show evpn mac vni 100 mac ${GA_MAC_SHIFTED}`)}`);

    // E4: a type-2 without LOCAL_PREF over iBGP, from a scripted speaker.
    const sp1 = await startRawSpeaker(lab, raw, { connect: RR, open: openMessage({ asn: ASN, bgpId: RAW }) });
    await sp1.waitFor((m) => m[18] === 4, 15000, 'KEEPALIVE from the FRR RR');
    sp1.send(handMadeUpdate([type2Nlri(RAW_MAC, RAW_IP, RAW)], { nextHop: RAW }));
    await sleep(3000);
    const rawAccepted = rrHas(`${RAW}:100`, RAW_MAC);
    note(`type-2 without LOCAL_PREF over iBGP: FRR RR accepted: ${rawAccepted}; session ${frrPeerState(frrRr, RAW)}; speaker events: ${sp1.events.join(' | ')}`);

    // E5: an unknown EVPN route type (200) next to a valid type-2, to FRR and to GoBGP.
    const unknownNlri = Buffer.concat([Buffer.from([200, 8]), Buffer.alloc(8)]);
    const withUnknown = handMadeUpdate([unknownNlri, type2Nlri(RAW_MAC2, RAW_IP2, RAW)], { nextHop: RAW, localPref: 100 });
    const n1 = sp1.received.length;
    sp1.send(withUnknown);
    const sp2 = await startRawSpeaker(lab, raw, { connect: GRR, open: openMessage({ asn: ASN, bgpId: RAW }) });
    await sp2.waitFor((m) => m[18] === 4, 15000, 'KEEPALIVE from the GoBGP RR');
    const n2 = sp2.received.length;
    sp2.send(withUnknown);
    await sleep(1000);
    sp2.send(handMadeUpdate([type2Nlri(RAW_MAC3, RAW_IP3, RAW)], { nextHop: RAW, localPref: 100 }));
    await sleep(3000);
    const viaGrr = JSON.stringify(gB.adjIn(GRR));
    const notif = (sp: RawSpeaker, from: number): string => {
      const m = sp.received.slice(from).find((x) => x[18] === 3);
      return m ? `NOTIFICATION ${m[19]}/${m[20]} data ${Buffer.from(m.subarray(21)).toString('hex')}` : 'no NOTIFICATION';
    };
    note(`unknown EVPN route type 200 + valid type-2 in one UPDATE:\n` +
      `  FRR RR: ${notif(sp1, n1)}; session ${frrPeerState(frrRr, RAW)}; valid type-2 accepted: ${rrHas(`${RAW}:100`, RAW_MAC2)}; speaker connected: ${sp1.isConnected()}\n` +
      `  GoBGP RR: ${notif(sp2, n2)}; speaker connected: ${sp2.isConnected()}; reflected the valid type-2 of that UPDATE: ${viaGrr.includes(RAW_MAC2)}; ` +
      `reflected a later valid type-2 (alone): ${viaGrr.includes(RAW_MAC3)}`);
    const gNotif = sp2.received.slice(n2).find((x) => x[18] === 3);
    await sp1.stop();
    await sp2.stop();

    // 6. NOTIFICATIONs: FRR shuts its session down; gobgpd B is stopped.
    frrV.configure(`router bgp ${ASN}`, `neighbor ${RR} shutdown`);
    await sleep(GAP);
    await gB.stop();
    await sleep(GAP);

    // --- Fixtures --------------------------------------------------------
    const srcOf = (src: string): string => ([GA, GB, GRR, BAD, E1, E2].includes(src) ? gobgpVersion : src === RAW ? 'hand-made (scripts/capture-golden.ts)' : frrVersion);
    const fromGa = dissectFlows(await capGa.bgp(), srcOf);
    const fromFv = dissectFlows(await capFv.bgp(), srcOf);
    const fromGb = dissectFlows(await capGb.bgp(), srcOf);
    const fromRaw = dissectFlows(await capRaw.bgp(), srcOf);
    const fromBad = dissectFlows(await capBad.bgp(), srcOf);
    const fromE1 = dissectFlows(await capE1.bgp(), srcOf);
    const fromE2 = dissectFlows(await capE2.bgp(), srcOf);
    const isOpen = (g: GoldenJson): boolean => g.message === 'open';
    const fixtures: Fixture[] = [];
    const add = (impl: 'frr' | 'gobgp', name: string, description: string, msg: Msg): Msg => {
      fixtures.push({ impl, name, description, msg });
      return msg;
    };

    // GoBGP-originated (gobgpd 192.168.1.65 -> FRR RR, iBGP AS 65001).
    add('gobgp', 'open', 'OPEN sent by gobgpd (AS 65001, hold 9, l2vpn-evpn only) to an FRR peer', pick(fromGa, GA, RR, isOpen, 'OPEN'));
    add('gobgp', 'keepalive', 'KEEPALIVE sent by gobgpd', pick(fromGa, GA, RR, (g) => g.message === 'keepalive', 'KEEPALIVE'));
    const gMac = add('gobgp', 'type2-mac', `gobgp global rib -a evpn add macadv ${GA_MAC} 0.0.0.0 etag 0 label 100 rd ${GA_RD} rt ${RT} encap vxlan (iBGP to RR)`,
      pick(fromGa, GA, RR, (g) => has(reach(g), { mac: GA_MAC }), 'type-2 MAC only'));
    const gMac4 = add('gobgp', 'type2-mac-ipv4', `gobgp ... add macadv ${GA_MAC4} ${GA_IP4} etag 0 label 100 rd ${GA_RD} rt ${RT} encap vxlan`,
      pick(fromGa, GA, RR, (g) => has(reach(g), { mac: GA_MAC4, ip: GA_IP4 }), 'type-2 MAC+IPv4'));
    add('gobgp', 'type2-mac-ipv6', `gobgp ... add macadv ${GA_MAC6} ${GA_IP6} etag 0 label 100 rd ${GA_RD} rt ${RT} encap vxlan`,
      pick(fromGa, GA, RR, (g) => has(reach(g), { mac: GA_MAC6, ip: GA_IP6 }), 'type-2 MAC+IPv6'));
    const gT3 = add('gobgp', 'type3-pmsi', `gobgp ... add multicast ${GA} etag 0 rd ${GA_RD} rt ${RT} encap vxlan pmsi ingress-repl 100 ${GA}`,
      pick(fromGa, GA, RR, (g) => has(reach(g), { routeType: 3, originatorIp: GA }), 'type-3 with PMSI'));
    add('gobgp', 'type3-no-pmsi', `gobgp ... add multicast 192.168.1.66 etag 0 rd 192.168.1.66:100 rt ${RT} encap vxlan (no pmsi)`,
      pick(fromGa, GA, RR, (g) => has(reach(g), { routeType: 3, originatorIp: '192.168.1.66' }), 'type-3 without PMSI'));
    add('gobgp', 'type2-mac-ipv4-label1601', `gobgp ... add macadv ${GA_MAC_SHIFTED} 192.168.0.68 etag 0 label 1601 rd ${GA_RD} rt ${RT} encap vxlan (the value an MPLS-style encoder would put on the wire for VNI 100)`,
      pick(fromGa, GA, RR, (g) => has(reach(g), { mac: GA_MAC_SHIFTED }), 'type-2 label 1601'));
    add('gobgp', 'type2-mac-ipv4-nexthop-ipv6', `gobgp ... add macadv ${GA_MAC_NH6} 192.168.0.69 ... nexthop fd00:1::65 (IPv6 VTEP address over an IPv4 session: 16-octet MP_REACH next hop)`,
      pick(fromGa, GA, RR, (g) => has(reach(g), { mac: GA_MAC_NH6 }), 'type-2 with IPv6 next hop'));
    const gWd = add('gobgp', 'type2-mac-ipv4-withdraw', `gobgp ... del macadv ${GA_MAC4} ${GA_IP4} ... (MP_UNREACH_NLRI)`,
      pick(fromGa, GA, RR, (g) => has(unreach(g), { mac: GA_MAC4, ip: GA_IP4 }), 'type-2 withdraw'));
    add('gobgp', 'notification-cease', 'NOTIFICATION sent by gobgpd when it is stopped (SIGTERM)',
      pick(fromGb, GB, RR, (g) => g.message === 'notification', 'NOTIFICATION'));

    add('gobgp', 'open-as4', 'OPEN sent by gobgpd in AS 4200000001: My AS 23456 (AS_TRANS), the real AS in the 4-octet AS capability',
      pick(fromE2, E2, RR2, isOpen, 'AS4 OPEN'));
    const geb = add('gobgp', 'ebgp-type2-mac-ipv4', `gobgpd AS 65010 -> FRR AS 65002 (eBGP): macadv ${E_MAC} ${E_IP} rd ${E_RD} rt ${E_RT} label 100; AS_PATH 65010, no LOCAL_PREF`,
      pick(fromE1, E1, RR2, (g) => has(reach(g), { mac: E_MAC }), 'eBGP type-2 from GoBGP'));

    // FRR-originated (FRR VTEP 192.168.1.87 -> FRR RR).
    add('frr', 'open-vtep', 'OPEN sent by FRR bgpd (VTEP, hostname vtep, AS 65001, timers 3/9, l2vpn evpn only)', pick(fromFv, FV, RR, isOpen, 'OPEN'));
    add('frr', 'open-rr', 'OPEN sent by the FRR route reflector (hostname rr) to a dynamic (listen range) neighbor', pick(fromGa, RR, GA, isOpen, 'RR OPEN'));
    const fSvi = add('frr', 'type2-svi', 'FRR advertise-svi-ip: br-vxlan MAC with its IPv4 and with its IPv6 link-local, two NLRIs packed in one UPDATE',
      pick(fromFv, FV, RR, (g) => has(reach(g), { mac: SVI_MAC, ip: SVI_IP }), 'SVI MAC+IP'));
    const fT3 = add('frr', 'type3-pmsi', 'FRR advertise-all-vni: type-3 for VNI 100 with PMSI_TUNNEL (ingress replication)',
      pick(fromFv, FV, RR, (g) => has(reach(g), { routeType: 3, originatorIp: FV }), 'type-3'));
    add('frr', 'eor', 'FRR End-of-RIB for l2vpn evpn: MP_UNREACH_NLRI with AFI/SAFI only (RFC 4724 §2), sent without graceful-restart configured',
      pick(fromFv, FV, RR, (g) => g.mpUnreach?.endOfRib === true, 'EoR'));
    const fMac = add('frr', 'type2-mac', `FRR: MAC ${HOST_MAC} from 'bridge fdb add ... dev vport master static'`,
      pick(fromFv, FV, RR, (g) => has(reach(g), { mac: HOST_MAC, ip: undefined }), 'type-2 MAC only'));
    const fMac4 = add('frr', 'type2-mac-ipv4', `FRR: ${HOST_IP} from 'ip neigh add ${HOST_IP} lladdr ${HOST_MAC} dev br-vxlan nud reachable'`,
      pick(fromFv, FV, RR, (g) => has(reach(g), { mac: HOST_MAC, ip: HOST_IP }), 'type-2 MAC+IP'));
    const fWd4 = add('frr', 'type2-mac-ipv4-withdraw', 'FRR withdraws the MAC+IP route (neighbor deleted): label field sent as 0',
      pick(fromFv, FV, RR, (g) => has(unreach(g), { mac: HOST_MAC, ip: HOST_IP }), 'MAC+IP withdraw'));
    add('frr', 'type2-mac-withdraw', 'FRR withdraws the MAC-only route (FDB entry deleted)',
      pick(fromFv, FV, RR, (g) => has(unreach(g), { mac: HOST_MAC, ip: undefined }), 'MAC withdraw'));
    const fMob = add('frr', 'type2-mac-mobility', `FRR re-originates ${GA_MAC} after it moved from VTEP ${GA} to a local port: MAC Mobility extended community`,
      pick(fromFv, FV, RR, (g) => has(reach(g), { mac: GA_MAC, rd: FV_RD }), 'MAC mobility'));
    add('frr', 'notification-cease', "NOTIFICATION sent by FRR on 'neighbor X shutdown' to an FRR peer: Cease / Hard Reset (RFC 8538, both sides sent the GR N bit) wrapping Cease / Administrative Shutdown",
      pick(fromFv, FV, RR, (g) => g.message === 'notification', 'NOTIFICATION'));

    const feb = add('frr', 'ebgp-type2-mac-ipv4', 'The eBGP route of AS 65010 as FRR (AS 65002) sends it to a 4-octet-AS peer: AS_PATH 65002 65010 (4-octet), next hop unchanged, no LOCAL_PREF',
      pick(fromE2, RR2, E2, (g) => has(reach(g), { mac: E_MAC }), 'eBGP type-2 from FRR'));
    const fBad = add('frr', 'notification-bad-peer-as', 'NOTIFICATION from FRR to a peer in AS 65099 matching an iBGP (remote-as internal) listen range: OPEN Message Error / Bad Peer AS',
      pick(fromBad, RR, BAD, (g) => g.message === 'notification', 'bad peer AS'));

    // FRR-reflected (FRR RR -> gobgpd observer 192.168.1.100).
    const rG4 = add('frr', 'reflected-gobgp-type2-mac-ipv4', 'GoBGP type2-mac-ipv4 as reflected by the FRR RR (ORIGINATOR_ID, CLUSTER_LIST, MED 0 added)',
      pick(fromGb, RR, GB, (g) => has(reach(g), { mac: GA_MAC4, ip: GA_IP4 }), 'reflected GoBGP MAC+IP'));
    add('frr', 'reflected-gobgp-type3-pmsi', 'GoBGP type3-pmsi as reflected by the FRR RR',
      pick(fromGb, RR, GB, (g) => has(reach(g), { routeType: 3, originatorIp: GA }), 'reflected GoBGP type-3'));
    const rWd = add('frr', 'reflected-gobgp-type2-mac-ipv4-withdraw', 'GoBGP withdraw as reflected by the FRR RR (label rewritten to 0)',
      pick(fromGb, RR, GB, (g) => has(unreach(g), { mac: GA_MAC4, ip: GA_IP4 }), 'reflected GoBGP withdraw'));
    add('frr', 'reflected-frr-type2-mac-ipv4', 'FRR VTEP type2-mac-ipv4 as reflected by the FRR RR (extended communities re-ordered)',
      pick(fromGb, RR, GB, (g) => has(reach(g), { mac: HOST_MAC, ip: HOST_IP }), 'reflected FRR MAC+IP'));
    add('frr', 'reflected-frr-type2-mac-mobility', 'FRR VTEP MAC Mobility route as reflected by the FRR RR',
      pick(fromGb, RR, GB, (g) => has(reach(g), { mac: GA_MAC, rd: FV_RD }), 'reflected MAC mobility'));
    // GoBGP-reflected (GoBGP RR 192.168.1.3 -> gobgpd observer).
    const gR4 = add('gobgp', 'reflected-frr-type2-mac-ipv4', 'FRR VTEP type2-mac-ipv4 as reflected by a GoBGP route reflector (cluster-id 10.0.0.3)',
      pick(fromGb, GRR, GB, (g) => has(reach(g), { mac: HOST_MAC, ip: HOST_IP }), 'GoBGP-reflected FRR MAC+IP'));
    add('gobgp', 'reflected-frr-type3-pmsi', 'FRR VTEP type3-pmsi as reflected by a GoBGP route reflector',
      pick(fromGb, GRR, GB, (g) => has(reach(g), { routeType: 3, originatorIp: FV }), 'GoBGP-reflected FRR type-3'));
    add('gobgp', 'reflected-frr-type2-mac-ipv4-withdraw', 'FRR VTEP MAC+IP withdrawal as reflected by a GoBGP route reflector',
      pick(fromGb, GRR, GB, (g) => has(unreach(g), { mac: HOST_MAC, ip: HOST_IP }), 'GoBGP-reflected FRR withdraw'));
    expect(gR4.g.attributes?.originatorId === FV && gR4.g.attributes.clusterList?.[0] === '10.0.0.3', 'GoBGP RR ORIGINATOR_ID/CLUSTER_LIST');
    note(`GoBGP RR reflected: order ${JSON.stringify(gR4.g.attributes?.order)} flags ${JSON.stringify(gR4.g.attributes?.flags)} ext ${gR4.g.attributes?.extendedCommunities?.map((e) => e.raw).join(' ')}`);

    const rawRefl = fromGb.find((m) => m.from === RR && has(reach(m.g), { mac: RAW_MAC }));
    if (rawRefl) add('frr', 'reflected-no-localpref', 'A hand-made iBGP type-2 WITHOUT LOCAL_PREF as reflected by the FRR RR', rawRefl);
    if (gNotif) {
      const m = fromRaw.find((x) => x.from === GRR && x.g.message === 'notification');
      if (m) add('gobgp', 'notification-unknown-evpn-route-type', 'NOTIFICATION gobgpd sent when an UPDATE carried an EVPN NLRI of unknown route type 200 (RFC 7606 §5.4 asks to discard it instead)', m);
    }
    const rawSent = fromRaw.find((m) => m.from === RAW && has(reach(m.g), { mac: RAW_MAC }));
    if (rawSent) note(`hand-made UPDATE without LOCAL_PREF: ${toHex(rawSent.bytes, 0)}`);

    // --- Cross-checks against what was configured ---------------------------
    const nl = (m: Msg): GoldenNlri => (m.g.mpReach?.nlri[0] ?? m.g.mpUnreach?.nlri[0]) as GoldenNlri;
    for (const m of [gMac, gMac4, gT3]) {
      expect(nl(m).rd === GA_RD, `${nl(m).mac ?? 'type-3'}: rd ${GA_RD}`);
      expect(m.g.attributes?.routeTargets?.[0] === RT, 'GoBGP RT 65001:100');
      expect(m.g.attributes?.encapsulation === 8, 'GoBGP encapsulation VXLAN (8)');
      expect(m.g.mpReach?.nextHop[0] === GA, 'GoBGP next hop');
    }
    expect(gMac.g.mpReach?.nlri[0].ip === undefined, 'GoBGP MAC-only has no IP');
    note(`GoBGP label for VNI 100: ${JSON.stringify(nl(gMac4).labels)}; PMSI label ${gT3.g.attributes?.pmsiTunnel?.label}; withdraw label ${JSON.stringify(nl(gWd).labels)}`);
    note(`FRR label for VNI 100: ${JSON.stringify(nl(fMac4).labels)}; PMSI label ${fT3.g.attributes?.pmsiTunnel?.label}; withdraw label ${JSON.stringify(nl(fWd4).labels)}; RR-reflected withdraw label ${JSON.stringify(nl(rWd).labels)}`);
    expect(nl(fMac).rd === FV_RD && nl(fMac).mac === HOST_MAC, 'FRR MAC route rd/mac');
    expect(fSvi.g.mpReach !== undefined && fSvi.g.mpReach.nlri.length >= 1, 'FRR SVI update');
    expect(fMob.g.attributes?.macMobility !== undefined, 'FRR MAC mobility ext community present');
    note(`FRR MAC mobility: ${JSON.stringify(fMob.g.attributes?.macMobility)}`);
    expect(rG4.g.attributes?.originatorId === GA && rG4.g.attributes.clusterList?.[0] === CLUSTER, 'reflected ORIGINATOR_ID/CLUSTER_LIST');
    note(`attribute order: gobgp ${JSON.stringify(gMac4.g.attributes?.order)}; frr ${JSON.stringify(fMac4.g.attributes?.order)}; frr-reflected ${JSON.stringify(rG4.g.attributes?.order)}`);
    note(`ext communities: gobgp ${gMac4.g.attributes?.extendedCommunities?.map((e) => e.raw).join(' ')}; frr ${fMac4.g.attributes?.extendedCommunities?.map((e) => e.raw).join(' ')}; frr-reflected ${rG4.g.attributes?.extendedCommunities?.map((e) => e.raw).join(' ')}`);

    expect(JSON.stringify(geb.g.attributes?.asPath) === JSON.stringify([{ type: 'sequence', asns: [65010] }]) && geb.g.attributes?.localPref === undefined, 'GoBGP eBGP AS_PATH 65010, no LOCAL_PREF');
    expect(JSON.stringify(feb.g.attributes?.asPath) === JSON.stringify([{ type: 'sequence', asns: [65002, 65010] }]) && feb.g.mpReach?.nextHop[0] === E1, 'FRR eBGP AS_PATH 65002 65010, next hop unchanged');
    expect(fBad.g.notification?.code === 2 && fBad.g.notification.subcode === 2, 'Bad Peer AS 2/2');
    note(`FRR eBGP attributes: order ${JSON.stringify(feb.g.attributes?.order)} flags ${JSON.stringify(feb.g.attributes?.flags)} asPath ${JSON.stringify(feb.g.attributes?.asPath)}`);
    note(`FRR to a wrong-AS peer: NOTIFICATION ${JSON.stringify(fBad.g.notification)}`);

    if (problems.length) throw new Error(`cross-checks failed:\n  ${problems.join('\n  ')}`);
    for (const impl of ['frr', 'gobgp']) rmSync(join(OUT, impl), { recursive: true, force: true });
    const texts = tsharkVerbose(...fixtures.map((f) => f.msg.bytes));
    fixtures.forEach((f, i) => writeFixture(f, texts[i]));
    writeFileSync(join(OUT, 'NOTES.txt'), `Interop observations from the last run of scripts/capture-golden.ts\n(${frrVersion}, ${gobgpVersion}, ${new Date().toISOString()})\n\n${notes.join('\n\n')}\n`);
    console.log(`wrote ${fixtures.length} fixtures to ${OUT}`);
  } catch (e) {
    for (const n of notes) console.error(n);
    throw e;
  } finally {
    lab.dispose();
  }
}

main().catch((e: unknown) => { console.error(e); process.exitCode = 1; });
