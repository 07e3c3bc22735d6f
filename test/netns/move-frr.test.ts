// Container moves between an evpn-ha server and an FRR server (issue 11 §6, RFC 7432
// §15). Both reflectors FRR 8.4 in AS 65001; server-r runs FRR bgpd + zebra with the
// brief's server configuration (advertise-all-vni, next-hop-self, local-preference
// per reflector) but without its `NO_TYPE3 out` filter, so that we get FRR's
// inclusive multicast route and flood ARP to it; server-l runs evpn-ha
// (advertiseEndpoints, ARP suppression off). Container m starts behind server-l,
// container y stays behind server-r. Asserted:
//   * FRR learns our endpoint: zebra holds m as a remote MAC with our VTEP, the FDB of
//     server-r points at us; we learn FRR's local MAC: y in server-l's FDB;
//   * m moves to server-r (evpn-ha -> FRR): server-l's br-vxlan follows it; FRR
//     announces sequence 1 (`show routes --json` on server-l, zebra's local sequence),
//     we withdraw and drop our stale bridge entry;
//   * m moves back (FRR -> evpn-ha): y follows it; we announce sequence 2; zebra holds
//     it as remote with sequence 2 and its local entry is gone.
import t from 'tap';
import { diagnostics, setupE2e, showRoutes, skipReason, startAgent, waitFdbDst, type E2e } from '../lib/e2e.js';
import { briefServerConfig, startFrr, waitFrrEstablished, type FrrHandle } from '../lib/frr.js';
import { ip, nsExec, waitFor } from '../lib/netns.js';
import { bridgeOnPort, container, frrMacPaths, liveMove, removeOld, type Placed } from '../lib/containers.js';
import { PingRun } from '../../src/lab/twonet.js';

const M = { mac: '02:cc:00:00:00:21', ip: '10.100.0.21' };
const Y = { mac: '02:cc:00:00:00:24', ip: '10.100.0.24' };
const L_BR = '10.100.0.65';

/** One MAC in zebra's `show evpn mac vni 100 json` (FRR 8.4 field names). */
interface ZebraMac { type?: string; remoteVtep?: string; localSequence?: number; remoteSequence?: number; intf?: string; isSticky?: boolean }

const reason = skipReason();
if (reason) {
  t.plan(0, reason);
} else {
  let e: E2e;
  let frr: FrrHandle;
  let m: Placed;
  let y: Placed;
  const L = (): typeof e.net.servers.l => e.net.servers.l;
  const R = (): typeof e.net.servers.r => e.net.servers.r;
  const fail = (err: unknown): never => { throw new Error(`${String(err)}\n${frr?.logTail(15) ?? ''}\n${diagnostics(e)}`); };

  const zebraMac = (mac: string): ZebraMac | undefined => {
    const j = frr.vtyshJson('show evpn mac vni 100') as { macs?: Record<string, ZebraMac> } & Record<string, unknown>;
    return j.macs?.[mac] ?? (j[mac] as ZebraMac | undefined);
  };
  const rrPaths = (mac: string): ReturnType<typeof frrMacPaths> => frrMacPaths(e.rr.net1, mac);
  const remoteMacPaths = (mac: string): Array<{ nextHop: string; seq: number }> =>
    showRoutes(e, 'l').filter((r) => r.mac === mac && r.ip === null)
      .flatMap((r) => r.paths.map((p) => ({ nextHop: String(p.nextHop), seq: Number(p.macMobilitySeq) })));

  t.before(async () => {
    e = await setupE2e('mvf', t, { asn: { net1: 65001, net2: 65001 } });
    m = container(e, 'm0', 'l', 'vm0', M);
    y = container(e, 'y', 'r', 'vy', Y);
    ip(L().ns, 'addr', 'add', `${L_BR}/24`, 'dev', 'br-vxlan');
    const conf = briefServerConfig({ hostname: 'server-r', routerId: R().address.net1 }).replace(/^ {2}neighbor RR route-map NO_TYPE3 out\n/m, '');
    frr = await startFrr(e.lab, R().ns, { bgpdConf: conf });
    startAgent(e, 'l', {
      asn: { net1: 65001, net2: 65001 }, holdTime: 3, keepalive: 1, bfd: false, vtepProbe: false,
      vniExtra: ['advertiseEndpoints: true', 'arpSuppress: false'],
    });
    await waitFrrEstablished(frr, '192.168.1.2', 30_000);
    await waitFrrEstablished(frr, '192.168.2.2', 30_000);
    await waitFdbDst(e, 'l', R().address.net1, 40_000);
  });
  t.teardown(async () => { await e?.agents.l?.stop('SIGTERM', 5000); });

  t.test('FRR learns our endpoint, we learn FRR\'s; m pings y', async (t) => {
    // m speaks first (its ARP request crosses through FRR's flood entry for us and ours for FRR).
    await waitFor(() => { try { nsExec(m.ns, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', Y.ip]); return true; } catch { return false; } },
      20_000, 'm pings y').catch(fail);
    t.pass('m (behind evpn-ha) pings y (behind FRR)');
    const zm = await waitFor(() => { const z = zebraMac(M.mac); return z?.type === 'remote' ? z : undefined; }, 10_000, 'zebra: m remote').catch(fail);
    t.comment(`zebra's view of m: ${JSON.stringify(zm)}`);
    t.ok(zm.remoteVtep === L().address.net1 || zm.remoteVtep === L().address.net2, `zebra: m behind our VTEP (${String(zm.remoteVtep)})`);
    t.equal(zm.remoteSequence ?? 0, 0, 'remote sequence 0 (never moved: no MAC Mobility community)');
    await waitFor(() => e.net.fdbDst('r', M.mac) === L().address.net1, 5000, 'server-r\'s FDB: m behind server-l net1').catch(fail);
    t.pass('server-r (zebra) programs m behind 192.168.1.65');
    await waitFor(() => e.net.fdbDst('l', Y.mac) === R().address.net1, 5000, 'server-l\'s FDB: y behind server-r').catch(fail);
    t.ok(e.net.fdb('l', Y.mac).every((x) => x.flags.includes('extern_learn')), 'server-l: y (FRR\'s local MAC) is an entry of ours');
  });

  t.test('m moves to the FRR server: followed, FRR announces sequence 1, we withdraw', async (t) => {
    const ping = new PingRun(e.lab, L().ns, M.ip, 10);
    try {
      await waitFor(() => ping.repliesAfter(Date.now() - 300) > 5, 10_000, 'server-l reaches m (local)').catch(fail);
      const old = m;
      const mv = liveMove(e, old, 'm1', 'r', 'vm1', M, Y.ip);
      m = mv.now;
      await waitFor(() => ping.repliesAfter(mv.at) > 3, 15_000, 'server-l reaches m behind server-r').catch(fail);
      const follow = ping.replies.find((r) => r.at > mv.at)!.at - mv.at;
      t.ok(follow < 2000, `server-l's ping followed m to the FRR server after ${Math.round(follow)} ms`);
      t.comment(`follow time (evpn-ha server -> FRR server): ${Math.round(follow)} ms`);
      const zm = await waitFor(() => { const z = zebraMac(M.mac); return z?.type === 'local' ? z : undefined; }, 5000, 'zebra: m local').catch(fail);
      t.comment(`zebra's view of m: ${JSON.stringify(zm)}`);
      t.equal(zm.localSequence, 1, 'zebra: local sequence 1');
      await waitFor(() => remoteMacPaths(M.mac).some((p) => p.nextHop === R().address.net1 && p.seq === 1), 5000,
        'server-l holds FRR\'s route for m with sequence 1').catch(fail);
      t.pass('server-l holds FRR\'s route for m with sequence 1');
      await waitFor(() => { const p = rrPaths(M.mac); return p.length > 0 && p.every((x) => x.nextHop === R().address.net1 && x.seq === 1); }, 5000,
        'reflector: only FRR\'s route for m, sequence 1').catch(fail);
      t.pass('we withdrew ours');
      t.equal(e.net.fdbDst('l', M.mac), R().address.net1, 'server-l\'s FDB: m behind server-r');
      t.same(bridgeOnPort(e, 'l', old.port, M.mac), [], 'our stale bridge entry on the old port is gone (the old container still exists, paused)');
      removeOld(e, old);
    } finally {
      ping.stop();
    }
  });

  t.test('m moves back to the evpn-ha server: followed, we announce sequence 2, FRR takes it', async (t) => {
    const ping = new PingRun(e.lab, y.ns, M.ip, 10);
    try {
      await waitFor(() => ping.repliesAfter(Date.now() - 300) > 5, 10_000, 'y reaches m (local on server-r)').catch(fail);
      const old = m;
      const mv = liveMove(e, old, 'm2', 'l', 'vm2', M, L_BR);
      m = mv.now;
      await waitFor(() => ping.repliesAfter(mv.at) > 3, 15_000, 'y reaches m behind server-l').catch(fail);
      const follow = ping.replies.find((r) => r.at > mv.at)!.at - mv.at;
      t.ok(follow < 2000, `y's ping followed m back to the evpn-ha server after ${Math.round(follow)} ms`);
      t.comment(`follow time (FRR server -> evpn-ha server): ${Math.round(follow)} ms`);
      await waitFor(() => { const p = rrPaths(M.mac); return p.length > 0 && p.every((x) => x.nextHop === L().address.net1 && x.seq === 2); }, 5000,
        'reflector: only our route for m, sequence 2').catch(fail);
      t.pass('we announce m with sequence 2; FRR withdrew its route');
      const zm = await waitFor(() => { const z = zebraMac(M.mac); return z?.type === 'remote' && z.remoteSequence === 2 ? z : undefined; }, 5000,
        'zebra: m remote with sequence 2').catch(fail);
      t.comment(`zebra's view of m: ${JSON.stringify(zm)}`);
      t.ok(zm.remoteVtep === L().address.net1, 'zebra: m behind 192.168.1.65');
      t.equal(e.net.fdbDst('r', M.mac), L().address.net1, 'server-r\'s FDB: m behind server-l');
      t.same(bridgeOnPort(e, 'r', old.port, M.mac), [], 'FRR removed its stale bridge entry on the old port');
      removeOld(e, old);
    } finally {
      ping.stop();
    }
  });
}
