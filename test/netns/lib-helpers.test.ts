// Self-tests of the test helpers: pcap/TCP/BGP extraction on synthetic captures,
// golden fixture consistency, and (as root) FRR RR + BFD, GoBGP RR, capture in
// namespaces. Run: npx tap test/lib/lib.test.ts
import t from 'tap';
import { bgpFlows, fromHex, pcapTcpPackets, splitBgpMessages, startCapture, tcpStreams, toHex, BGP_TYPE } from '../lib/capture.js';
import { dissectAll, loadGolden, synthPcap } from '../lib/golden.js';
import { execFileSync } from 'node:child_process';
import { Lab, isRoot, waitFor } from '../lib/netns.js';
import { findPaths } from '../lib/routes.js';
import { bfdConfig, evpnSpeakerConfig, frrEvpnPaths, frrEvpnRoutes, rrConfig, startFrr, waitFrrEstablished } from '../lib/frr.js';
import { gobgpConfig, gobgpEvpnPaths, gobgpRrConfig, macAdvArgs, startGobgp, waitGobgpEstablished } from '../lib/gobgp.js';
import { Switch } from '../lib/topology.js';
import { openMessage, startRawSpeaker } from '../lib/rawspeaker.js';

function hasTshark(): boolean {
  try { execFileSync('tshark', ['--version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

/** A pcap of one TCP stream carrying `payload` in segments cut at `cuts`, with one retransmission. */
function streamPcap(payload: Uint8Array, cuts: number[]): Uint8Array {
  const frames: Uint8Array[] = [];
  const edges = [0, ...cuts, payload.length];
  for (let i = 0; i + 1 < edges.length; i++) {
    const seg = payload.subarray(edges[i], edges[i + 1]);
    const one = synthPcap(seg);
    const rec = one.slice(24);
    // synthPcap uses seq 1 for every segment: patch the TCP sequence number.
    const dv = new DataView(rec.buffer, rec.byteOffset);
    dv.setUint32(16 + 14 + 20 + 4, 1 + edges[i]);
    frames.push(rec);
    if (i === 1) frames.push(rec); // a retransmission
  }
  const header = synthPcap(new Uint8Array()).slice(0, 24);
  const total = frames.reduce((n, f) => n + f.length, 24);
  const out = new Uint8Array(total);
  out.set(header, 0);
  let o = 24;
  for (const f of frames) { out.set(f, o); o += f.length; }
  return out;
}

t.test('golden fixtures are whole BGP messages matching their JSON', async (t) => {
  const all = loadGolden();
  t.ok(all.length >= 20, `${all.length} fixtures`);
  for (const f of all) {
    const { messages, rest, error } = splitBgpMessages(f.bytes);
    t.equal(messages.length, 1, `${f.impl}/${f.name}: one message`);
    t.equal(rest, 0, `${f.impl}/${f.name}: nothing left`);
    t.equal(error, undefined);
    t.equal(f.json.length, f.bytes.length, `${f.impl}/${f.name}: length`);
    const type = { open: 1, update: 2, notification: 3, keepalive: 4, 'route-refresh': 5 }[f.json.message];
    t.equal(f.bytes[18], type, `${f.impl}/${f.name}: type`);
  }
});

t.test('fixture JSON is what tshark makes of the hex today', { skip: hasTshark() ? false : 'no tshark' }, async (t) => {
  const all = loadGolden();
  const again = dissectAll(all.map((f) => f.bytes), (i) => all[i].json.source);
  all.forEach((f, i) => {
    const { description: _d, ...stored } = f.json;
    t.same(again[i], stored, `${f.impl}/${f.name}`);
  });
});

t.test('pcap -> TCP reassembly -> BGP framing, any segmentation', async (t) => {
  const msgs = loadGolden('gobgp').map((f) => f.bytes);
  const stream = new Uint8Array(msgs.reduce((n, m) => n + m.length, 0));
  let o = 0;
  for (const m of msgs) { stream.set(m, o); o += m.length; }
  for (const cuts of [[], [1], [18, 19, 20], [7, 100, 101, 300], Array.from({ length: 40 }, (_, i) => i * 13 + 5)]) {
    const pcap = streamPcap(stream, cuts.filter((c) => c < stream.length));
    const flows = bgpFlows(pcap);
    t.equal(flows.length, 1);
    t.equal(flows[0].error, undefined, `cuts ${cuts.length}`);
    t.same(flows[0].messages.map((m) => toHex(m, 0)), msgs.map((m) => toHex(m, 0)), `cuts ${JSON.stringify(cuts.slice(0, 5))}`);
  }
  const pkts = pcapTcpPackets(streamPcap(stream, [10]));
  t.equal(pkts[0].src, '10.0.0.1');
  t.equal(pkts[0].dport, 179);
  t.equal(tcpStreams(pkts)[0].missing, 0);
  // A hole is reported.
  const gap = streamPcap(stream, [10, 20]);
  const recs = pcapTcpPackets(gap);
  t.ok(recs.length >= 3);
  t.equal(splitBgpMessages(fromHex('ff'.repeat(15) + '00')).messages.length, 0);
  t.match(splitBgpMessages(fromHex('00'.repeat(19))).error ?? '', /marker/);
});

t.test('namespaces: FRR RR with BFD, GoBGP RR, capture', { skip: isRoot() ? false : 'needs root' }, async (t) => {
  const lab = new Lab('lt', t);
  const sw = new Switch(lab, 'sw');
  const rr = lab.ns('rr'), vtep = lab.ns('vtep'), grr = lab.ns('grr'), c1 = lab.ns('c1'), c2 = lab.ns('c2');
  sw.plug(rr, '192.168.1.2/24');
  sw.plug(vtep, '192.168.1.87/24');
  sw.plug(grr, '192.168.1.3/24');
  sw.plug(c1, '192.168.1.65/24');
  sw.plug(c2, '192.168.1.66/24');
  const cap = await startCapture(lab, rr, 'eth1');
  const capAny = await startCapture(lab, rr, 'any'); // Linux cooked capture (SLL/SLL2)

  const timers = { minTx: 100, minRx: 100, multiplier: 3 };
  const frrRr = await startFrr(lab, rr, {
    bgpdConf: rrConfig({ asn: 65001, routerId: '192.168.1.2', listenRange: '192.168.1.64/26', bfd: timers }),
    bfdd: true, bfddConf: bfdConfig(timers),
  });
  const frrV = await startFrr(lab, vtep, {
    bgpdConf: evpnSpeakerConfig({ asn: 65001, routerId: '192.168.1.87', neighbors: [{ address: '192.168.1.2', remoteAs: 'internal', bfd: 'evpn-ha', localPref: 200 }] }),
    bfdd: true, bfddConf: bfdConfig(timers),
  });
  t.teardown(() => { if (t.passing()) return; t.comment(frrRr.logTail(30)); t.comment(frrV.logTail(30)); });
  await waitFrrEstablished(frrV, '192.168.1.2');
  await waitFor(() => {
    const peers = frrV.vtyshJson('show bfd peers') as Array<{ peer: string; status: string }>;
    return peers.some((p) => p.peer === '192.168.1.2' && p.status === 'up');
  }, 15000, 'BFD up');
  t.pass('FRR iBGP session to the RR with BFD up');
  t.match(frrV.vtysh('show running-config'), /route-map LP-192-168-1-2 in[\s\S]*set local-preference 200/, 'per-neighbor local-preference route-map');

  const g = await startGobgp(lab, grr, { config: gobgpRrConfig({ asn: 65001, routerId: '192.168.1.3', listenRange: '192.168.1.64/26' }) });
  const cfg = (id: string): string => gobgpConfig({ asn: 65001, routerId: id, port: -1, neighbors: [{ address: '192.168.1.3', peerAs: 65001, localAddress: id }] });
  const g1 = await startGobgp(lab, c1, {
    config: gobgpConfig({ asn: 65001, routerId: '192.168.1.65', port: -1, neighbors: [
      { address: '192.168.1.3', peerAs: 65001, localAddress: '192.168.1.65' },
      { address: '192.168.1.2', peerAs: 65001, localAddress: '192.168.1.65' },
    ] }),
  });
  const g2 = await startGobgp(lab, c2, { config: cfg('192.168.1.66') });
  await waitGobgpEstablished(g1, '192.168.1.3');
  await waitGobgpEstablished(g2, '192.168.1.3');
  await waitGobgpEstablished(g1, '192.168.1.2');
  g1.gobgp(macAdvArgs('add', { mac: 'aa:bb:cc:00:00:65', ip: '192.168.0.65', rd: '192.168.1.65:100', rt: ['65001:100'], label: 100, extra: ['local-pref', '200'] }));
  const reflected = await waitFor(() => g2.rib().flat().find((p) => JSON.stringify(p.nlri).includes('aa:bb:cc:00:00:65')), 10000, 'GoBGP RR reflects');
  t.ok(reflected.attrs.some((a) => a.type === 9), 'ORIGINATOR_ID on the reflected path');
  t.equal(g2.peerState('192.168.1.3'), 'established');
  t.match(findPaths(gobgpEvpnPaths(g2.rib()), { mac: 'aa:bb:cc:00:00:65' }), [{
    routeType: 2, rd: '192.168.1.65:100', ip: '192.168.0.65', labels: [100], nextHop: '192.168.1.65', localPref: 200,
    originatorId: '192.168.1.65', clusterList: ['192.168.1.3'], routeTargets: ['65001:100'], asPath: '', best: true, from: '192.168.1.3',
  }], 'gobgpEvpnPaths');
  const atVtep = await waitFor(() => findPaths(frrEvpnPaths(frrV), { mac: 'aa:bb:cc:00:00:65', best: true })[0], 10000, 'best route at the FRR VTEP via the FRR RR');
  t.match(atVtep, { routeType: 2, rd: '192.168.1.65:100', ip: '192.168.0.65', nextHop: '192.168.1.65', localPref: 200, routeTargets: ['65001:100'], best: true, valid: true }, 'frrEvpnPaths');
  t.equal(frrEvpnRoutes(frrRr).length, 1, 'FRR RR has the route');

  // A passive scripted speaker: FRR connects to it, the session comes up, and FRR sends
  // End-of-RIB, which it does only to peers advertising graceful restart (RFC 4724).
  const lis = lab.ns('lis');
  sw.plug(lis, '192.168.1.50/24');
  const gr = new Uint8Array([0x00, 0x78]); // restart time 120 s, no families preserved
  const sp = await startRawSpeaker(lab, lis, { listen: '0.0.0.0', open: openMessage({ asn: 65001, bgpId: '192.168.1.50', extraCapabilities: [[64, gr]] }) });
  frrV.configure('router bgp 65001', 'neighbor 192.168.1.50 remote-as internal', 'neighbor 192.168.1.50 timers connect 1',
    'address-family l2vpn evpn', 'neighbor 192.168.1.50 activate');
  const open = await sp.waitFor((m) => m[18] === BGP_TYPE.OPEN, 15000, 'FRR OPEN at the raw speaker');
  t.equal(open[19], 4, 'BGP version 4');
  const eor = await sp.waitFor((m) => m[18] === BGP_TYPE.UPDATE && toHex(m, 0).endsWith('800f03001946'), 15000, 'EVPN End-of-RIB');
  t.ok(eor, 'FRR sent EoR to the scripted speaker');
  await sp.stop();

  await Promise.all([cap.stop(), capAny.stop()]);
  const flows = await cap.bgp();
  const fromVtep = flows.filter((f) => f.src === '192.168.1.87').flatMap((f) => f.messages);
  t.equal(fromVtep[0]?.[18], BGP_TYPE.OPEN, 'first message from the VTEP is its OPEN');
  const anyFromVtep = (await capAny.bgp()).filter((f) => f.src === '192.168.1.87').flatMap((f) => f.messages);
  const n = Math.min(anyFromVtep.length, fromVtep.length);
  t.ok(n >= 3, `${n} messages from the VTEP in both captures`);
  t.same(anyFromVtep.slice(0, n).map((m) => toHex(m, 0)), fromVtep.slice(0, n).map((m) => toHex(m, 0)), "'-i any' capture gives the same messages");
  await g.stop();
  await g1.stop();
  frrV.stop();
  t.equal(frrV.pid('bgpd'), undefined, 'pid files gone after stop');
});
