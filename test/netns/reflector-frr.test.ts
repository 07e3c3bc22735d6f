// Interop: `evpn-ha reflector` as the route reflector between an FRR VTEP and an
// `evpn-ha peer` client. Namespaces on one switch:
//   rr  192.168.1.2   evpn-ha reflector (listen range 192.168.1.64/26, cluster 10.0.0.9, BFD)
//   f   192.168.1.87  FRR zebra + bgpd + bfdd, br-vxlan/vxlan0 VNI 100, advertise-all-vni + advertise-svi-ip
//   a   192.168.1.65  evpn-ha peer --json, announcing a type 2 and a type 3 route
//   x   192.168.1.200 evpn-ha peer, outside the listen range (refused)
// FRR's routes must reach A with ORIGINATOR_ID/CLUSTER_LIST, A's must reach FRR
// likewise; withdrawals and A's exit must reach FRR; a BFD failure must reset
// FRR's session at once.
import t from 'tap';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, netnsSkipReason, waitFor } from '../lib/netns.js';
import { EvpnHaCli, ensureBuilt } from '../lib/evpnha.js';
import { T2, T3 } from '../lib/peerlab.js';
import { Switch, addVtep } from '../lib/topology.js';
import { bfdConfig, evpnSpeakerConfig, frrEvpnRoutes, startFrr, waitFrrEstablished, type FrrHandle } from '../lib/frr.js';
import { tempDir } from '../lib/tmp.js';

const RR = '192.168.1.2';
const FV = '192.168.1.87';
const A_ADDR = '192.168.1.65';
const CLUSTER = '10.0.0.9';
const SVI_MAC = '02:00:00:00:00:87';
const A_T2 = '[2]:[0]:[48]:[aa:bb:cc:00:00:65]:[32]:[192.168.0.65]';
const A_T3 = `[3]:[0]:[32]:[${A_ADDR}]`;
const BFD = { minTx: 100, minRx: 100, multiplier: 3 };

const skip = netnsSkipReason(['vtysh']);
if (skip) {
  t.plan(0, skip);
} else {
  ensureBuilt();
  t.test('evpn-ha reflector between FRR and evpn-ha clients', async (t) => {
    const lab = new Lab('rf', t);
    const sw = new Switch(lab, 'sw');
    const rr = lab.ns('rr');
    const f = lab.ns('f');
    const a = lab.ns('a');
    const x = lab.ns('x');
    sw.plug(rr, `${RR}/24`);
    const fPort = sw.plug(f, `${FV}/24`);
    sw.plug(a, `${A_ADDR}/24`);
    sw.plug(x, '192.168.1.200/24');
    addVtep(f, { local: FV, svi: '192.168.0.87/24', sviMac: SVI_MAC });

    const dir = tempDir('evpn-ha-rr-');
    const conf = join(dir, 'rr.yaml');
    writeFileSync(conf, [
      `routerId: ${RR}`,
      'asn: 65001',
      `clusterId: ${CLUSTER}`,
      `listen: { address: ${RR} }`,
      'listenRanges: [192.168.1.64/26]',
      'holdTime: 9',
      `bfd: { minTx: ${BFD.minTx}, minRx: ${BFD.minRx}, multiplier: ${BFD.multiplier} }`,
      '',
    ].join('\n'));
    const R = new EvpnHaCli(lab, rr, ['reflector', '--config', conf]);
    await R.waitLog((l) => l.msg === 'route reflector listening', 'reflector listening');

    const frr: FrrHandle = await startFrr(lab, f, {
      bfdd: true,
      bfddConf: bfdConfig(BFD),
      bgpdConf: evpnSpeakerConfig({
        asn: 65001, routerId: FV, hostname: 'vtep',
        neighbors: [{ address: RR, remoteAs: 'internal', bfd: 'evpn-ha' }],
        advertiseAllVni: true, advertiseSviIp: true,
        evpnExtra: ['vni 100', ` rd ${FV}:100`, ' route-target import 65001:100', ' route-target export 65001:100', 'exit-vni'],
      }),
    });
    t.teardown(() => frr.stop());
    const A = new EvpnHaCli(lab, a, ['peer', RR, '--local-as', '65001', '--local-address', A_ADDR, '--announce', T2, '--announce', T3, '--json']);
    try {
      await waitFrrEstablished(frr, RR);
      await A.wait((l) => l.event === 'established', 'A established');
      t.match(A.out.find((l) => l.event === 'established'), { peerAs: 65001, peerRouterId: RR, holdTime: 9, families: ['l2vpn-evpn'] });

      // FRR's routes reach A, reflected.
      const f3 = await A.wait((l) => l.event === 'update' && l['routeType'] === 3 && l['originatorIp'] === FV, 'A gets FRR\'s type 3');
      t.match(f3, { rd: `${FV}:100`, vni: 100, nextHop: FV, originatorId: FV, clusterList: [CLUSTER], routeTargets: ['65001:100'], encapsulation: 8 });
      const f2 = await A.wait((l) => l.event === 'update' && l['routeType'] === 2 && l['ip'] === '192.168.0.87', 'A gets FRR\'s SVI type 2');
      t.match(f2, { rd: `${FV}:100`, mac: SVI_MAC, vni: 100, nextHop: FV, originatorId: FV, clusterList: [CLUSTER] });

      // A's routes reach FRR, reflected.
      const routes = await waitFor(() => {
        const r = frrEvpnRoutes(frr).filter((e) => e.rd === `${A_ADDR}:100`);
        return r.length === 2 ? r : undefined;
      }, 20000, 'A\'s routes in FRR');
      t.same(routes.map((r) => r.prefix).sort(), [A_T2, A_T3].sort());
      for (const r of routes) t.match(r.paths[0], { nexthops: [{ ip: A_ADDR }] }, `${r.prefix}: next hop unchanged`);
      const detail = frr.vtysh(`show bgp l2vpn evpn route rd ${A_ADDR}:100`);
      t.match(detail, new RegExp(`Originator: ${A_ADDR.replace(/\./g, '\\.')}, Cluster list: ${CLUSTER.replace(/\./g, '\\.')}`),
        'FRR sees ORIGINATOR_ID and CLUSTER_LIST');
      t.match(detail, /localpref 100, valid, internal, best/);

      // SIGUSR1: the status line.
      R.child.kill('SIGUSR1');
      const st = await R.wait((l) => l.event === 'status', 'status line');
      const peers = (st['peers'] as Array<Record<string, unknown>>).sort((p, q) => String(p['address']).localeCompare(String(q['address'])));
      t.match(peers, [
        { address: A_ADDR, state: 'Established', dynamic: true, received: 2, bgpId: A_ADDR },
        { address: FV, state: 'Established', dynamic: true, bgpId: FV, sent: 2 },
      ]);
      t.ok((st['routes'] as unknown[]).length >= 4, 'A\'s and FRR\'s routes in the status');

      // An address outside the listen range is refused.
      const X = new EvpnHaCli(lab, x, ['peer', RR, '--local-as', '65001', '--local-address', '192.168.1.200']);
      await R.waitLog((l) => /connection from 192\.168\.1\.200 refused: not in a listen range/.test(l.msg ?? ''), 'refusal logged');
      t.equal(await X.interrupt(), 0);

      // A withdraws its type 2; it leaves FRR.
      A.send('withdraw 1');
      await waitFor(() => !frrEvpnRoutes(frr).some((r) => r.prefix === A_T2), 10000, 'A\'s type 2 gone from FRR');
      t.ok(frrEvpnRoutes(frr).some((r) => r.prefix === A_T3), 'A\'s type 3 still in FRR');

      // BFD comes up with FRR's bfdd; a link failure then resets FRR's session
      // long before the 9 s hold time, and A gets the withdrawal.
      await waitFor(() => {
        const peers = frr.vtyshJson('show bfd peers') as Array<{ peer?: string; status?: string }>;
        return peers.some((p) => p.peer === RR && p.status === 'up');
      }, 20000, 'BFD up on FRR');
      const cut = Date.now();
      sw.setPort(fPort, false);
      await A.wait((l) => l.event === 'withdraw' && l['routeType'] === 3 && l['originatorIp'] === FV, 'A gets FRR\'s routes withdrawn', 8000);
      const took = Date.now() - cut;
      t.ok(took < 3000, `withdrawn ${took} ms after the link failure (hold time 9 s)`);
      // The reflector's log reaches us through a pipe: it may arrive after A's withdrawal.
      t.ok(await waitFor(() => R.log.some((l) => /BFD down/.test(l.msg ?? '')), 3000, 'the reflector\'s BFD reset log line').then(() => true, () => false),
        'reflector logs the BFD-triggered reset');
      sw.setPort(fPort, true);

      // A leaves (Cease): the reflector withdraws its remaining route from FRR once FRR is back.
      await waitFrrEstablished(frr, RR, 30000);
      await waitFor(() => frrEvpnRoutes(frr).some((r) => r.prefix === A_T3), 10000, 'A\'s type 3 back in FRR');
      t.equal(await A.interrupt(), 0, 'A exits 0');
      await waitFor(() => !frrEvpnRoutes(frr).some((r) => r.rd === `${A_ADDR}:100`), 10000, 'A\'s routes gone from FRR');

      t.equal(await R.interrupt(), 0, 'reflector exits 0 on SIGINT');
    } catch (e) {
      t.comment(frr.logTail(30));
      t.comment(R.raw.slice(-6000));
      throw e;
    }
  });
}
