// Interop: `evpn-ha peer` against gobgpd 3.x as the EVPN route reflector (dynamic
// neighbors from a listen range, route-reflector-client). Same topology and checks
// as peer-frr.test.ts: GoBGP holds A's type-2 and type-3 routes exactly (RD, RT,
// encapsulation VXLAN, VNI label, PMSI, next hop); B receives them reflected
// (ORIGINATOR_ID, CLUSTER_LIST); a withdraw typed on A's stdin reaches B.
import t from 'tap';
import { Lab, netnsSkipReason, waitFor } from '../lib/netns.js';
import { ensureBuilt } from '../lib/evpnha.js';
import { peerClients, reflectorLab } from '../lib/peerlab.js';
import { gobgpRrConfig, startGobgp, waitGobgpEstablished, type GobgpHandle, type GobgpPath } from '../lib/gobgp.js';

/** A's routes in GoBGP's global RIB (its own view, best paths included). */
function ribPaths(g: GobgpHandle): GobgpPath[] {
  return g.rib().flat().filter((p) => {
    const rd = (p.nlri['value'] as { rd?: { admin?: string; assigned?: number } } | undefined)?.rd;
    return rd?.admin === '192.168.1.65' && rd.assigned === 100;
  });
}

const skip = netnsSkipReason(['gobgpd']);
if (skip) {
  t.plan(0, skip);
} else {
  ensureBuilt();
  t.test('GoBGP route reflector: announce, reflect, withdraw', async (t) => {
    const lab = new Lab('pg', t);
    const { rr, a, b } = reflectorLab(lab);
    const g = await startGobgp(lab, rr, { config: gobgpRrConfig({ asn: 65001, routerId: '192.168.1.2', listenRange: '192.168.1.0/24' }) });
    t.teardown(() => g.stop());

    const { A, B } = peerClients(lab, a, b);
    try {
      await A.wait((l) => l.event === 'established', 'A established');
      await B.wait((l) => l.event === 'established', 'B established');
      await waitGobgpEstablished(g, '192.168.1.65');

      const paths = await waitFor(() => { const p = ribPaths(g); return p.length === 2 ? p : undefined; }, 20000, 'both routes in GoBGP');
      const p2 = paths.find((p) => p.nlri.type === 2);
      const p3 = paths.find((p) => p.nlri.type === 3);
      t.match(p2?.nlri, { type: 2, value: { rd: { admin: '192.168.1.65', assigned: 100 }, mac: 'aa:bb:cc:00:00:65', ip: '192.168.0.65', labels: [100] } });
      t.match(p3?.nlri, { type: 3, value: { rd: { admin: '192.168.1.65', assigned: 100 }, ip: '192.168.1.65' } });
      for (const p of [p2, p3]) {
        const attr = (type: number): Record<string, unknown> | undefined => p?.attrs.find((x) => x.type === type);
        t.match(attr(14), { nexthop: '192.168.1.65' }, 'next hop');
        t.match(attr(16), { value: [{ type: 0, subtype: 2, value: '65001:100' }, { type: 3, subtype: 12, tunnel_type: 8 }] },
          'route target and encapsulation VXLAN');
        t.match(attr(2), { as_paths: [] }, 'empty AS_PATH (iBGP)');
        t.match(attr(1), { value: 0 }, 'ORIGIN IGP');
        t.match(attr(5), { value: 100 }, 'LOCAL_PREF 100');
      }
      t.match(p3?.attrs.find((x) => x.type === 22), { 'tunnel-type': 6, label: 100, 'tunnel-id': '192.168.1.65' }, 'PMSI ingress replication');

      const b2 = await B.wait((l) => l.event === 'update' && l['routeType'] === 2, 'B gets type 2');
      const b3 = await B.wait((l) => l.event === 'update' && l['routeType'] === 3, 'B gets type 3');
      t.match(b2, { rd: '192.168.1.65:100', mac: 'aa:bb:cc:00:00:65', ip: '192.168.0.65', vni: 100, nextHop: '192.168.1.65',
        localPref: 100, originatorId: '192.168.1.65', clusterList: ['192.168.1.2'], routeTargets: ['65001:100'], encapsulation: 8 });
      t.match(b3, { rd: '192.168.1.65:100', originatorIp: '192.168.1.65', vni: 100, nextHop: '192.168.1.65',
        originatorId: '192.168.1.65', clusterList: ['192.168.1.2'], routeTargets: ['65001:100'], encapsulation: 8 });

      A.send('withdraw 1');
      const w = await B.wait((l) => l.event === 'withdraw' && l['routeType'] === 2, 'B gets the withdraw');
      t.match(w, { rd: '192.168.1.65:100', mac: 'aa:bb:cc:00:00:65', ip: '192.168.0.65' });
      await waitFor(() => ribPaths(g).length === 1, 10000, 'type 2 gone from GoBGP');

      t.equal(await A.interrupt(), 0, 'A exits 0 on SIGINT');
      await waitFor(() => ribPaths(g).length === 0, 10000, 'A\'s routes gone from GoBGP');
      await B.wait((l) => l.event === 'withdraw' && l['routeType'] === 3, 'B gets the type 3 withdraw');
      t.equal(await B.interrupt(), 0, 'B exits 0 on SIGINT');
    } catch (e) {
      t.comment(g.logTail(30));
      t.comment(g.gobgp(['-j', 'global', 'rib', '-a', 'evpn']));
      throw e;
    }
  });
}
