// End to end, part 1: the design brief's topology with FRR 8.4 reflectors
// (RR-net1 AS 65001, RR-net2 AS 65002) and evpn-ha agents on both servers,
// BFD and VTEP probes OFF (plain hold timer, 3 s, keepalive 1 s).
//   * ping over VXLAN, and no ARP inside the tunnel (pcap of eth1/eth2);
//   * the kernel entries of the brief (ip neigh extern_learn NOARP, bridge fdb dst self extern_learn);
//   * both agents' control sockets answer (several agents on one host);
//   * net1 blackholed for server-l → backup within hold time + 1 s, and failback;
//   * the brief's own injection (BGP from RR-net1 and VXLAN from net1 dropped);
//   * server-r's eth1 down → server-l uses 192.168.2.87;
//   * SIGTERM of server-r's agent: the reflectors withdraw at once, server-l drops
//     its entries after kernel.withdrawDelay (2 s here), server-r's own kernel
//     entries go, exit 0; restart restores them; the same for a crash (SIGKILL);
//   * the published timers (hold 9 s) for comparison.
import t, { type Test } from 'tap';
import {
  agentTail, captureVxlan, kernelText, setupE2e, showNeighbors, skipReason, sleep, startAgent, startAgents, stopAgents, vxlanInnerFrames, waitFdbDst, type E2e,
} from '../lib/e2e.js';
import { nsExec, sh, waitFor } from '../lib/netns.js';
import { frrEvpnPaths } from '../lib/frr.js';

const HOLD = 3;
/** kernel.withdrawDelay (default 10 s) shortened: entries for a vanished server go this much later. */
const WITHDRAW_DELAY = 2000;
const TUNING = { holdTime: HOLD, keepalive: 1, bfd: false, vtepProbe: false, extra: `kernel: {withdrawDelay: ${WITHDRAW_DELAY}ms}` } as const;
const reason = skipReason();
if (reason) {
  t.plan(0, reason);
} else {
  let e: E2e;
  const L = (): typeof e.net.servers.l => e.net.servers.l;
  const R = (): typeof e.net.servers.r => e.net.servers.r;


  /** Paths for server-r's service address in a reflector's table. */
  const rrPaths = (n: 'net1' | 'net2'): number =>
    frrEvpnPaths(e.rr[n]).filter((p) => p.routeType === 2 && p.ip === R().service).length;

  t.before(async () => {
    e = await setupE2e('e2b', t);
    await startAgents(e, TUNING);
  });

  t.test('ping over VXLAN without ARP in the tunnel', async (t) => {
    const t0 = Date.now();
    const caps = await captureVxlan(e, 'l');
    t.ok(e.net.pingOnce('l', R().service, 5), 'server-l pings 192.168.0.87');
    t.ok(e.net.pingOnce('r', L().service, 3), 'server-r pings 192.168.0.65');
    for (const c of caps) await c.stop();
    const frames = caps.flatMap((c) => vxlanInnerFrames(c.file));
    const icmp = frames.filter((f) => f.etherType === 0x0800 && f.ipProto === 1);
    const arp = frames.filter((f) => f.etherType === 0x0806);
    t.ok(icmp.length >= 8, `ICMP seen inside VXLAN (${icmp.length} frames)`);
    t.equal(arp.length, 0, 'no ARP inside VXLAN');
    // Cross-check the decoder with tshark's VXLAN dissector when it is installed.
    let tshark = true;
    try { sh('which', ['tshark']); } catch { tshark = false; }
    if (tshark) {
      const count = (filter: string): number => caps.reduce((n, c) =>
        n + sh('tshark', ['-r', c.file, '-n', '-d', 'udp.port==4789,vxlan', '-Y', filter]).split('\n').filter((l) => l.trim()).length, 0);
      t.equal(count('vxlan && arp'), 0, 'tshark: no ARP inside VXLAN');
      t.equal(count('vxlan && icmp'), icmp.length, `tshark: the same ${icmp.length} ICMP frames inside VXLAN`);
    }
    t.comment(`ping + capture: ${Date.now() - t0} ms`);
  });

  t.test('kernel entries as in the brief', (t) => {
    const n = e.net.neigh('l', R().service);
    t.ok(n, 'neighbour entry present');
    t.equal(n?.lladdr, R().mac, 'lladdr is server-r\'s br-vxlan MAC');
    t.ok(n?.state.includes('NOARP'), 'NOARP');
    const fdb = e.net.fdb('l', R().mac);
    const self = fdb.find((x) => x.dst !== undefined);
    t.equal(self?.dst, R().address.net1, 'fdb dst 192.168.1.87');
    t.ok(self?.flags.includes('self'), 'self');
    t.ok(self?.flags.includes('extern_learn'), 'extern_learn');
    const master = fdb.find((x) => x.master === 'br-vxlan');
    t.ok(master, `master entry on br-vxlan (${JSON.stringify(fdb)})`);
    t.ok(master?.flags.includes('extern_learn'), 'master entry extern_learn');
    const k = kernelText(e, 'l');
    t.match(k.neigh, new RegExp(`${R().service.replace(/\./g, '\\.')} lladdr ${R().mac} extern_learn NOARP`), k.neigh);
    // As the brief writes it (per-entry dst), or through an FDB nexthop group (kernel.nexthopGroups auto on this kernel).
    const nhid = new RegExp(`${R().mac} nhid (\\d+) self extern_learn`).exec(k.fdb)?.[1];
    if (nhid === undefined) t.match(k.fdb, new RegExp(`${R().mac} dst ${R().address.net1.replace(/\./g, '\\.')} self extern_learn`), k.fdb);
    else {
      const ns = e.net.servers.l.ns;
      const group = nsExec(ns, 'ip', ['nexthop', 'show', 'id', nhid]);
      t.match(group, new RegExp(`id ${nhid} group (\\d+) proto 231 fdb`), group);
      const member = / group (\d+)/.exec(group)?.[1] ?? '?';
      t.match(nsExec(ns, 'ip', ['nexthop', 'show', 'id', member]), new RegExp(`id ${member} via ${R().address.net1.replace(/\./g, '\\.')} scope link proto 231 fdb`));
    }
    t.end();
  });

  t.test('evpn-ha show kernel: what the agent wants is what the kernel holds', (t) => {
    for (const s of ['l', 'r'] as const) {
      const out = e.net.evpnHaCli(s, ['show', 'kernel', '--json', '--socket', e.net.socketPath(s)]);
      const k = JSON.parse(out) as { counts: Record<string, number>; entries: Array<{ kind: string; status: string }> };
      t.ok(k.counts.ok! >= 2, `server-${s}: ${JSON.stringify(k.counts)}`);
      t.same([k.counts.missing, k.counts.different, k.counts.extra, k.counts.conflict], [0, 0, 0, 0], `server-${s}: nothing missing, different, extra or conflicting`);
      t.ok(k.entries.some((x) => x.kind === 'fdb') && k.entries.some((x) => x.kind === 'neigh'), 'fdb and neigh entries listed');
    }
    t.end();
  });

  t.test('two agents on one host: separate control sockets', (t) => {
    for (const s of ['l', 'r'] as const) {
      const n = showNeighbors(e, s);
      t.equal(n.length, 2, `server-${s}: two neighbors`);
      t.ok(n.every((x) => x.state === 'Established'), `server-${s}: both Established`);
      t.same(n.map((x) => x.localAddress).sort(), [e.net.servers[s].address.net1, e.net.servers[s].address.net2], `server-${s} answers for itself`);
    }
    t.end();
  });

  async function failover(t: Test, what: string, fault: () => () => void): Promise<void> {
    const ping = e.net.ping('l', R().service, 10);
    await sleep(500);
    const at = Date.now();
    const undo = fault();
    let undone = false;
    try {
      const took = await waitFdbDst(e, 'l', R().address.net2, (HOLD + 10) * 1000);
      t.ok(took <= (HOLD + 1) * 1000, `${what}: fdb dst 192.168.2.87 after ${took} ms (hold ${HOLD} s + 1 s)`);
      t.same(e.net.neigh('l', R().service)?.lladdr, R().mac, 'neighbour entry stays');
      await waitFor(() => ping.repliesAfter(Date.now() - 300) > 3, 5000, 'ping replies again');
      const outage = ping.outageAround(at);
      t.ok(outage !== null, `${what}: outage ${String(outage)} ms`);
      t.comment(`outage (${what}, hold ${HOLD} s, no BFD/probes, ping 10 ms): ${String(outage)} ms`);
      undo();
      undone = true;
      const back = await waitFdbDst(e, 'l', R().address.net1, 30_000);
      t.pass(`failback to 192.168.1.87 ${back} ms after the fault was removed`);
      await waitFor(() => ping.repliesAfter(Date.now() - 300) > 3, 5000, 'ping replies after failback');
    } finally {
      if (!undone) undo();
      ping.stop();
    }
    // Both sessions back before the next case.
    await waitFor(() => showNeighbors(e, 'l').every((x) => x.state === 'Established'), 30_000, 'server-l sessions Established');
    await waitFor(() => showNeighbors(e, 'r').every((x) => x.state === 'Established'), 30_000, 'server-r sessions Established');
  }

  t.test('net1 blackholed for server-l: failover and failback', async (t) => {
    await failover(t, 'net1 blackhole', () => e.net.blackholeUplink('l', 'net1'));
  });

  t.test('the design brief\'s injection on server-l', async (t) => {
    await failover(t, 'brief injection', () => e.net.briefInjection('l'));
  });

  t.test('End-of-RIB from FRR with the default (End-of-RIB-only) graceful restart capability', (t) => {
    for (const s of ['l', 'r'] as const) {
      t.match(e.agents[s]!.output(), /"cause":"end-of-rib"/, `server-${s}: stale cleanup triggered by End-of-RIB`);
    }
    const j = e.rr.net1.vtyshJson(`show bgp neighbors ${L().address.net1}`) as Record<string, { gracefulRestartInfo?: unknown }>;
    t.comment(`FRR's view of server-l's GR capability: ${JSON.stringify(j[L().address.net1]?.gracefulRestartInfo)}`);
    t.end();
  });

  t.test('scenario b: server-r loses net1 (hold timer at the reflector): server-l fails over at once, no stale retention', async (t) => {
    const at = Date.now();
    const undo = e.net.blackholeUplink('r', 'net1');
    try {
      // FRR's hold timer for server-r (3 s, negotiated) expires; with the End-of-RIB-only
      // capability (no AFI/SAFI) FRR must not keep server-r's routes as stale.
      const took = await waitFdbDst(e, 'l', R().address.net2, (HOLD + 15) * 1000);
      t.ok(took <= (HOLD + 1) * 1000, `fdb dst 192.168.2.87 after ${took} ms (hold ${HOLD} s + 1 s)`);
      t.ok(e.net.pingOnce('l', R().service), 'ping works over net2');
      t.comment(`scenario b: server-l switched ${Date.now() - at} ms after server-r lost net1`);
    } finally { undo(); }
    const back = await waitFdbDst(e, 'l', R().address.net1, 40_000);
    t.pass(`back to 192.168.1.87 ${back} ms after the block was removed`);
  });

  t.test('server-r eth1 down: server-l moves to 192.168.2.87', async (t) => {
    const undo = e.net.linkDown('r', 'net1');
    try {
      const took = await waitFdbDst(e, 'l', R().address.net2, (HOLD + 10) * 1000);
      t.pass(`fdb dst 192.168.2.87 after ${took} ms`);
      t.ok(e.net.pingOnce('l', R().service), 'ping works over net2');
    } finally { undo(); }
    const back = await waitFdbDst(e, 'l', R().address.net1, 40_000);
    t.pass(`back to 192.168.1.87 ${back} ms after eth1 came up`);
  });

  t.test('SIGTERM of server-r\'s agent, then restart', async (t) => {
    const a = e.agents.r!;
    const at = Date.now();
    const code = await a.stop('SIGTERM', 15_000);
    t.equal(code, 0, `agent exits 0 (${agentTail(e, 'r', 5)})`);
    const k = kernelText(e, 'r');
    t.notMatch(k.neigh, L().service, `server-r's own neighbour entry removed (${k.neigh})`);
    t.notMatch(k.fdb, L().mac, 'server-r\'s own fdb entries removed');
    await waitFor(() => rrPaths('net1') === 0 && rrPaths('net2') === 0, 3000, 'both reflectors withdrew server-r\'s routes');
    t.pass(`both reflectors withdrew server-r's routes after ${Date.now() - at} ms`);
    const gone = await waitFdbDst(e, 'l', null, WITHDRAW_DELAY + 10_000);
    const after = Date.now() - at;
    t.ok(after >= WITHDRAW_DELAY - 300 && after <= WITHDRAW_DELAY + 1500,
      `server-l dropped server-r's fdb entry ${after} ms after the stop (kernel.withdrawDelay ${WITHDRAW_DELAY} ms; waited ${gone} ms)`);
    await waitFor(() => e.net.neigh('l', R().service)?.lladdr === undefined, 3000, 'neighbour entry gone');
    t.pass('server-l dropped server-r\'s neighbour entry');
    startAgent(e, 'r', TUNING);
    const back = await waitFdbDst(e, 'l', R().address.net1, 40_000);
    t.pass(`restored ${back} ms after restart`);
    // The way back: server-r's own entry for server-l, written once its sessions are up again.
    const rBack = await waitFdbDst(e, 'r', L().address.net1, 40_000);
    t.pass(`server-r's entry for server-l written ${rBack} ms after restart`);
    t.ok(e.net.pingOnce('l', R().service), 'ping works again');
  });

  t.test('agent crash (SIGKILL): the reflectors withdraw at once, server-l drops the entries after withdrawDelay', async (t) => {
    await sleep(500);
    const at = Date.now();
    t.equal(await e.agents.r!.stop('SIGKILL', 5000), 'SIGKILL', 'server-r agent killed');
    // The kernel closes the TCP connections without a NOTIFICATION: a GR helper keeping
    // stale routes would act here. FRR 8.4 treats the agent as a GR helper only
    // ("remoteGrMode": "Helper") and withdraws at once.
    await waitFor(() => rrPaths('net1') === 0 && rrPaths('net2') === 0, 3000, 'both reflectors withdrew server-r\'s routes');
    t.pass(`both reflectors withdrew server-r's routes ${Date.now() - at} ms after the crash`);
    // (The first reflector's withdrawal may already have moved it to the other network: a
    // replacement, never delayed; the delay applies once the last path is gone.)
    if (Date.now() - at < WITHDRAW_DELAY - 300) t.not(e.net.fdbDst('l', R().mac), null, `server-l keeps an entry during withdrawDelay (dst ${String(e.net.fdbDst('l', R().mac))})`);
    await waitFdbDst(e, 'l', null, WITHDRAW_DELAY + 10_000);
    const after = Date.now() - at;
    t.ok(after <= WITHDRAW_DELAY + 1500, `server-l dropped server-r's fdb entry ${after} ms after the crash (withdrawDelay ${WITHDRAW_DELAY} ms)`);
    startAgent(e, 'r', TUNING);
    await waitFdbDst(e, 'l', R().address.net1, 40_000);
  });

  t.test('default timers (hold 9 s, keepalive 3 s): net1 blackhole outage', async (t) => {
    for (const s of ['l', 'r'] as const) {
      const code = await e.agents[s]!.stop('SIGTERM', 15_000);
      t.equal(code, 0, `server-${s} agent stopped`);
      startAgent(e, s, { bfd: false, vtepProbe: false });
    }
    await waitFdbDst(e, 'l', R().address.net1, 40_000);
    await waitFdbDst(e, 'r', L().address.net1, 40_000);
    const ping = e.net.ping('l', R().service, 10);
    await sleep(500);
    const at = Date.now();
    const undo = e.net.blackholeUplink('l', 'net1');
    try {
      const took = await waitFdbDst(e, 'l', R().address.net2, 20_000);
      t.ok(took <= 10_000, `fdb dst 192.168.2.87 after ${took} ms (hold 9 s + 1 s)`);
      await waitFor(() => ping.repliesAfter(Date.now() - 300) > 3, 10_000, 'ping replies again');
      const outage = ping.outageAround(at);
      t.ok(outage !== null, `outage ${String(outage)} ms`);
      t.comment(`outage (net1 blackhole, hold 9 s, no BFD/probes, ping 10 ms): ${String(outage)} ms`);
    } finally {
      undo();
      ping.stop();
    }
    await waitFdbDst(e, 'l', R().address.net1, 40_000);
  });

  t.teardown(() => stopAgents(e));
}
