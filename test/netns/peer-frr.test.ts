// Interop: `evpn-ha peer` against FRR bgpd as the EVPN route reflector.
// Namespaces rr (192.168.1.2, FRR, bgp listen range, route-reflector-client under
// l2vpn evpn), a (192.168.1.65) and b (192.168.1.87) on one switch. Client A
// announces a type-2 and a type-3 route; FRR must hold them exactly (RD, RT,
// encapsulation 8, VNI, next hop); B must receive them reflected (ORIGINATOR_ID,
// CLUSTER_LIST); a withdraw typed on A's stdin must reach B.
import t from 'tap';
import { Lab, netnsSkipReason, waitFor } from '../lib/netns.js';
import { ensureBuilt, peerCli } from '../lib/evpnha.js';
import { peerClients, reflectorLab } from '../lib/peerlab.js';
import { Switch } from '../lib/topology.js';
import { frrEvpnRoutes, rrConfig, startFrr, waitFrrEstablished, type FrrHandle } from '../lib/frr.js';

const T2_PREFIX = '[2]:[0]:[48]:[aa:bb:cc:00:00:65]:[32]:[192.168.0.65]';
const T3_PREFIX = '[3]:[0]:[32]:[192.168.1.65]';

const skip = netnsSkipReason(['vtysh']);
if (skip) {
  t.plan(0, skip);
} else {
  ensureBuilt();
  t.test('FRR route reflector: announce, reflect, withdraw', async (t) => {
    const lab = new Lab('pf', t);
    const { rr, a, b } = reflectorLab(lab);
    const frr: FrrHandle = await startFrr(lab, rr, {
      bgpdConf: rrConfig({ asn: 65001, routerId: '192.168.1.2', listenRange: '192.168.1.0/24' }),
    });
    t.teardown(() => frr.stop());

    const { A, B } = peerClients(lab, a, b);
    try {
      await A.wait((l) => l.event === 'established', 'A established');
      await B.wait((l) => l.event === 'established', 'B established');
      await waitFrrEstablished(frr, '192.168.1.65');
      t.match(A.find((l) => l.event === 'established'), { peerAs: 65001, peerRouterId: '192.168.1.2', holdTime: 9, families: ['l2vpn-evpn'] });

      // FRR holds both routes exactly as announced.
      const routes = await waitFor(() => {
        const r = frrEvpnRoutes(frr).filter((x) => x.rd === '192.168.1.65:100');
        return r.length === 2 ? r : undefined;
      }, 20000, 'both routes in FRR');
      const byPrefix = new Map(routes.map((r) => [r.prefix, r.paths[0] as Record<string, unknown>]));
      const p2 = byPrefix.get(T2_PREFIX);
      const p3 = byPrefix.get(T3_PREFIX);
      t.ok(p2, 'type 2 route in FRR');
      t.ok(p3, 'type 3 route in FRR');
      for (const p of [p2, p3]) {
        t.match(p, { nexthops: [{ ip: '192.168.1.65' }] }, 'next hop');
        t.match((p?.['extendedCommunity'] as { string?: string } | undefined)?.string, /RT:65001:100/, 'route target');
        t.match((p?.['extendedCommunity'] as { string?: string } | undefined)?.string, /ET:8/, 'encapsulation VXLAN');
      }
      const detail = frr.vtysh('show bgp l2vpn evpn route rd 192.168.1.65:100');
      t.match(detail, /VNI 100/, 'type 2 label = VNI 100');
      t.match(detail, /PMSI Tunnel Type: Ingress Replication, label: 100/, 'type 3 PMSI ingress replication, label = VNI 100');
      t.match(detail, /Origin IGP, localpref 100, valid, internal, best/);

      // B gets both, reflected.
      const b2 = await B.wait((l) => l.event === 'update' && l['routeType'] === 2, 'B gets type 2');
      const b3 = await B.wait((l) => l.event === 'update' && l['routeType'] === 3, 'B gets type 3');
      t.match(b2, { rd: '192.168.1.65:100', mac: 'aa:bb:cc:00:00:65', ip: '192.168.0.65', vni: 100, nextHop: '192.168.1.65',
        localPref: 100, originatorId: '192.168.1.65', clusterList: ['192.168.1.2'], routeTargets: ['65001:100'], encapsulation: 8,
        esi: '00:00:00:00:00:00:00:00:00:00', ethernetTag: 0, macMobilitySeq: null });
      t.match(b3, { rd: '192.168.1.65:100', originatorIp: '192.168.1.65', vni: 100, nextHop: '192.168.1.65',
        originatorId: '192.168.1.65', clusterList: ['192.168.1.2'], routeTargets: ['65001:100'], encapsulation: 8, mac: null });
      // No End-of-RIB from FRR 8.4 here: it sends one only to peers that advertised graceful restart.

      // Withdraw the type 2 on A's stdin: it leaves FRR and reaches B.
      A.send('withdraw 1');
      const w = await B.wait((l) => l.event === 'withdraw' && l['routeType'] === 2, 'B gets the withdraw');
      t.match(w, { rd: '192.168.1.65:100', mac: 'aa:bb:cc:00:00:65', ip: '192.168.0.65' });
      await waitFor(() => !frrEvpnRoutes(frr).some((r) => r.prefix === T2_PREFIX), 10000, 'type 2 gone from FRR');
      t.ok(frrEvpnRoutes(frr).some((r) => r.prefix === T3_PREFIX), 'type 3 still in FRR');

      // Ctrl-C: Cease and exit 0; FRR sees the session go down and drops A's routes.
      t.equal(await A.interrupt(), 0, 'A exits 0 on SIGINT');
      await waitFor(() => !frrEvpnRoutes(frr).some((r) => r.rd === '192.168.1.65:100'), 10000, 'A\'s routes gone from FRR');
      await B.wait((l) => l.event === 'withdraw' && l['routeType'] === 3, 'B gets the type 3 withdraw');
      const nbr = frr.vtysh('show bgp neighbors 192.168.1.65');
      t.match(nbr, /Administrative Shutdown|No such neighbor|Cease/, 'FRR saw our Cease (or already removed the dynamic neighbor)');
      t.equal(await B.interrupt(), 0, 'B exits 0 on SIGINT');
    } catch (e) {
      t.comment(frr.logTail(30));
      throw e;
    }
  });

  t.test('unreachable peer: retries with backoff and says so; SIGINT exits 0', async (t) => {
    const lab = new Lab('pu', t);
    const sw = new Switch(lab, 'sw');
    const a = lab.ns('a');
    sw.plug(a, '192.168.1.65/24');
    const A = peerCli(lab, a, ['192.168.1.2', '--local-as', '65001', '--local-address', '192.168.1.65']);
    await waitFor(() => (A.stderr.match(/connect failed: .*next attempt in/g) ?? []).length >= 2, 20000, 'two failed attempts logged')
      .catch((e: unknown) => { throw new Error(`${String(e)}\n${A.stderr}`); });
    t.match(A.stderr, /connecting to 192\.168\.1\.2:179/);
    t.equal(await A.interrupt(), 0);
  });
}
