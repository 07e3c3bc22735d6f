// Hosts with attached endpoints (issue 11 §1, §4): two servers with evpn-ha
// (vnis[].advertiseEndpoints, flood on, ARP suppression off) and FRR reflectors;
// a "container" on each server (a namespace with a veth into br-vxlan), no static
// entries anywhere:
//   * each server holds a flood-list entry for the other on network 1;
//   * a ping between the containers works: the first ARP request crosses the overlay
//     through the flood list (seen in the VXLAN capture), each container's MAC is
//     learned locally and appears as an FDB entry of ours on the other server;
//   * a container's IP known to its host's neighbour table becomes a MAC+IP route:
//     an extern_learn neighbour entry on the other server;
//   * net1 blackholed on server-l (BFD 100 ms x 3, probes): the containers' MAC and
//     flood entries move to network 2 and the ping's outage stays sub-second.
import t from 'tap';
import {
  BFD_FAST, PROBE_FAST, captureVxlan, diagnostics, kernelText, setupE2e, skipReason, sleep, startAgents, stopAgents, vxlanInnerFrames, type E2e,
} from '../lib/e2e.js';
import { ip, nsExec, waitFor } from '../lib/netns.js';
import { PingRun } from '../../src/lab/twonet.js';

const CA = { mac: '02:cc:00:00:00:01', ip: '10.100.0.1' };
const CB = { mac: '02:cc:00:00:00:02', ip: '10.100.0.2' };
const FLOOD = '00:00:00:00:00:00';
const reason = skipReason();
if (reason) {
  t.plan(0, reason);
} else {
  let e: E2e;
  let ca: string;
  let cb: string;
  const L = (): typeof e.net.servers.l => e.net.servers.l;
  const R = (): typeof e.net.servers.r => e.net.servers.r;
  const floodDsts = (s: 'l' | 'r'): string[] => e.net.fdb(s, FLOOD).map((x) => x.dst ?? '?').sort();

  t.before(async () => {
    e = await setupE2e('ep', t, { bfd: BFD_FAST });
    // The containers: eth0 in their own namespace, the other end a port of br-vxlan.
    ca = e.lab.ns('ca');
    cb = e.lab.ns('cb');
    e.lab.veth(ca, 'eth0', L().ns, 'vca', `${CA.ip}/24`);
    e.lab.veth(cb, 'eth0', R().ns, 'vcb', `${CB.ip}/24`);
    ip(ca, 'link', 'set', 'eth0', 'address', CA.mac);
    ip(cb, 'link', 'set', 'eth0', 'address', CB.mac);
    ip(L().ns, 'link', 'set', 'vca', 'master', 'br-vxlan');
    ip(R().ns, 'link', 'set', 'vcb', 'master', 'br-vxlan');
    await startAgents(e, {
      holdTime: 9, keepalive: 3, bfd: BFD_FAST, vtepProbe: PROBE_FAST,
      vniExtra: ['advertiseEndpoints: true', 'arpSuppress: false'],
    });
  });
  t.teardown(() => stopAgents(e));

  t.test('flood lists: each server floods to the other on network 1', async (t) => {
    await waitFor(() => floodDsts('l').join() === R().address.net1 && floodDsts('r').join() === L().address.net1, 20_000,
      'flood entries').catch((err: unknown) => { throw new Error(`${String(err)}\n${diagnostics(e)}`); });
    const f = e.net.fdb('l', FLOOD);
    t.same(f.map((x) => x.flags.includes('extern_learn')), [true], 'ours (extern_learn), vxlan half only');
    t.same(f.map((x) => x.master), [undefined]);
  });

  t.test('ping between containers with no static entries; ARP crosses through the flood list', async (t) => {
    const caps = [...await captureVxlan(e, 'l'), ...await captureVxlan(e, 'r')];
    await sleep(500); // tcpdump says "listening" a moment before it captures
    // Container a must ask for b's MAC now (broadcast ARP: only the flood list carries it; arpSuppress is off).
    ip(ca, 'neigh', 'flush', 'dev', 'eth0');
    const ok = (): boolean => { try { nsExec(ca, 'ping', ['-c', '3', '-i', '0.2', '-W', '1', CB.ip]); return true; } catch { return false; } };
    const got = await waitFor(ok, 10_000, `ping ${CB.ip} from container a`).catch((err: unknown) => { throw new Error(`${String(err)}\n${diagnostics(e)}`); });
    t.ok(got, 'container a reaches container b');
    for (const c of caps) await c.stop();
    const frames = caps.flatMap((c) => vxlanInnerFrames(c.file));
    const kinds = new Map<string, number>();
    for (const f of frames) { const k = `${f.src}>${f.dst} ${f.etherType}/${f.ipProto ?? f.arpOp ?? ''}`; kinds.set(k, (kinds.get(k) ?? 0) + 1); }
    t.comment(`inner frames seen: ${JSON.stringify([...kinds])}`);
    t.ok(frames.some((f) => f.etherType === 0x0806 && f.arpOp === 1 && f.src === CA.mac && f.dst === 'ff:ff:ff:ff:ff:ff'),
      'container a\'s broadcast ARP request crossed the overlay (VXLAN capture on the uplinks)');
    t.ok(frames.some((f) => f.ipProto === 1 && f.src === CA.mac && f.dst === CB.mac), 'the ICMP echo crossed too');
    // Each container's MAC, learned on its server's port, is an FDB entry of ours on the other.
    await waitFor(() => e.net.fdbDst('l', CB.mac) === R().address.net1 && e.net.fdbDst('r', CA.mac) === L().address.net1, 5000,
      'container MACs in the remote FDBs').catch((err: unknown) => { throw new Error(`${String(err)}\n${diagnostics(e)}`); });
    t.ok(e.net.fdb('l', CB.mac).every((x) => x.flags.includes('extern_learn')), 'extern_learn');
  });

  t.test('an IP in the host\'s neighbour table becomes a MAC+IP route (neighbour entry on the other server)', async (t) => {
    // server-l talks to container a: its neighbour table learns 10.100.0.1.
    ip(L().ns, 'addr', 'add', '10.100.0.65/24', 'dev', 'br-vxlan');
    nsExec(L().ns, 'ping', ['-c', '1', '-W', '1', CA.ip]);
    const n = await waitFor(() => e.net.neigh('r', CA.ip), 5000, `neighbour ${CA.ip} on server-r`)
      .catch((err: unknown) => { throw new Error(`${String(err)}\n${diagnostics(e)}`); });
    t.equal(n.lladdr, CA.mac);
    const text = kernelText(e, 'r').neigh;
    t.match(text, new RegExp(`${CA.ip.replace(/\./g, '\\.')} lladdr ${CA.mac} extern_learn`), `ours on server-r: ${text}`);
    // STALE on server-l is not a withdraw: force it and look again a moment later.
    ip(L().ns, 'neigh', 'change', CA.ip, 'dev', 'br-vxlan', 'lladdr', CA.mac, 'nud', 'stale');
    await sleep(1000);
    t.equal(e.net.neigh('r', CA.ip)?.lladdr, CA.mac, 'still there after STALE');
  });

  t.test('failover with endpoints (net1 blackholed on server-l) stays sub-second', async (t) => {
    const ping = new PingRun(e.lab, ca, CB.ip, 10);
    await waitFor(() => ping.repliesAfter(Date.now() - 300) > 5, 5000, 'ping flows');
    await sleep(500);
    const at = Date.now();
    const undo = e.net.blackholeUplink('l', 'net1');
    try {
      await waitFor(() => e.net.fdbDst('l', CB.mac) === R().address.net2 && floodDsts('l').join() === R().address.net2, 5000,
        'server-l: container b and the flood entry on net2').catch((err: unknown) => { throw new Error(`${String(err)}\n${diagnostics(e)}`); });
      t.pass(`server-l moved container b's MAC and its flood entry to net2 after ${Date.now() - at} ms`);
      await waitFor(() => ping.repliesAfter(Date.now() - 300) > 5, 5000, 'ping replies again');
      const outage = ping.outageAround(at);
      t.ok(outage !== null && outage < 1000, `outage ${String(outage)} ms`);
      t.comment(`outage (endpoints, net1 blackholed on server-l, BFD 100x3 + probes 100x3, ping 10 ms): ${outage === null ? 'none' : Math.round(outage)} ms`);
    } finally {
      undo();
      ping.stop();
    }
    await waitFor(() => floodDsts('l').join() === R().address.net1, 30_000, 'flood entry back on net1');
    t.pass('failback');
  });
}
