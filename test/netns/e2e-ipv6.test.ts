// End to end over IPv6-only underlays (issue 12 §1): the two-network topology with
// 2001:db8:1::/64 and 2001:db8:2::/64, FRR 8.4 reflectors with IPv6 listen ranges and
// bfdd (100 ms x 3), evpn-ha agents with IPv6 uplinks (BGP and BFD over IPv6), an
// IPv6 vxlan0 (`local ::`), the overlay (service addresses) IPv4.
//   * the sessions come up over IPv6, the reflectors hold our routes with the
//     router-ID RD and reflect them with their 16-byte next hops; no type-3 route
//     (FRR before 10.7 resets the session on its IPv6 PMSI endpoint, docs/interop.md);
//   * BFD packets carry hop limit 255 both ways (RFC 5881 §5);
//   * the kernel entries: FDB dst is the remote IPv6 VTEP; ping crosses VXLAN in IPv6;
//   * VTEP probes (VXLAN in IPv6) are answered on both networks;
//   * `show neighbors/routes/vteps` and the metrics endpoint (on [::1]) print the IPv6
//     peers, next hops and VTEPs in RFC 5952 text, though the config spells the
//     peers 2001:0DB8:1:0:0:0:0:2 and 2001:db8:2:0::0:2;
//   * failover: net1 blackholed on server-l (ip6tables) -> BFD and the probes -> the FDB
//     entry moves to 2001:db8:2::87 in under a second; failback when the fault goes.
import t from 'tap';
import {
  PROBE_FAST, agentSessionState, diagnostics, kernelText, setupE2e, showNeighbors, showRoutes, showVteps, skipReason, sleep, startAgents, stopAgents, waitFdbDst, type E2e,
} from '../lib/e2e.js';
import { frrEvpnPaths } from '../lib/frr.js';
import { startCapture } from '../lib/capture.js';
import { nsExec, sh, waitFor } from '../lib/netns.js';

const BFD = { minTx: 100, minRx: 100, multiplier: 3 };
const FAILOVER_MS = 1000;
// Each namespace has a loopback of its own: the same address on both servers.
const METRICS = '[::1]:9477';
/** Non-canonical spellings of the reflectors' addresses (the agent keeps RFC 5952 text). */
const PEER_TEXT = { net1: '2001:0DB8:1:0:0:0:0:2', net2: '2001:db8:2:0::0:2' };
const reason = skipReason();
if (reason) {
  t.plan(0, reason);
} else {
  let e: E2e;
  const L = (): typeof e.net.servers.l => e.net.servers.l;
  const R = (): typeof e.net.servers.r => e.net.servers.r;

  t.before(async () => {
    e = await setupE2e('e6', t, { family: 6, bfd: BFD });
    await startAgents(e, {
      holdTime: 9, keepalive: 3, bfd: BFD, vtepProbe: PROBE_FAST, peerText: PEER_TEXT, extra: `metrics: {listen: "${METRICS}"}`,
    });
  });
  t.teardown(() => stopAgents(e));

  t.test('BGP and BFD over IPv6, routes with IPv6 next hops', async (t) => {
    await waitFor(() => (['l', 'r'] as const).every((s) => showNeighbors(e, s).every((x) => x.state === 'Established')), 30_000,
      'all sessions Established').catch((err: unknown) => { throw new Error(`${String(err)}\n${diagnostics(e)}`); });
    const n = showNeighbors(e, 'l');
    t.same(n.map((x) => x.peer).sort(), ['2001:db8:1::2', '2001:db8:2::2'], 'server-l peers with both reflectors over IPv6');
    t.equal(agentSessionState(e, 'l', 'net1'), 'Established');
    await waitFor(() => (['l', 'r'] as const).every((s) => showNeighbors(e, s).every((x) => (x.bfd as { state?: string } | null)?.state === 'Up')),
      15_000, 'all BFD sessions Up');
    const paths = frrEvpnPaths(e.rr.net1).filter((p) => p.routeType === 2 && p.ip === R().service);
    t.equal(paths.length, 1, 'RR-net1 holds server-r\'s MAC+IP route');
    t.equal(paths[0]?.rd, `10.255.0.${R().host}:100`, 'RD from the router ID (RFC 4364 §4.2)');
    // FRR 8.4 shows an EVPN path's IPv6 next hop as 0.0.0.0 (it prints the IPv4 field)
    // but keeps and reflects the 16 bytes: the next hops are checked where they arrive.
    const learned = showRoutes(e, 'l', R().service).flatMap((r) => r.paths);
    t.same(learned.map((p) => [p.network, p.nextHop]).sort(),
      [['net1', '2001:db8:1::87'], ['net2', '2001:db8:2::87']], 'server-l learned server-r\'s route with IPv6 next hops over both networks');
    t.same(frrEvpnPaths(e.rr.net1).filter((p) => p.routeType === 3), [], 'no type-3 route over IPv6 by default (FRR < 10.7, docs/interop.md)');
  });

  t.test('BFD over IPv6 is single hop (RFC 5881 §5): hop limit 255 both ways', async (t) => {
    // 1.5 s: libpcap hands packets over in blocks retired after its 1 s timeout, and
    // a shorter capture ends with its only block unread.
    const cap = await startCapture(e.lab, L().ns, 'eth1', { filter: 'udp port 3784' });
    await sleep(1500);
    await cap.stop();
    // tcpdump's own decoding (not ours): "IP6 (..., hlim 255, next-header UDP ...) a.port > b.3784".
    const lines = sh('tcpdump', ['-r', cap.file, '-n', '-v', '-t']).split('\n').filter((l) => l.startsWith('IP6 '));
    const from = (a: string): string[] => lines.filter((l) => new RegExp(`\\) ${a.replace(/[.:]/g, '[.:]')}\\.\\d+ >`).test(l));
    const ours = from(L().address.net1);
    const theirs = from(e.net.networks.net1.rrAddress);
    t.ok(ours.length >= 3 && theirs.length >= 3, `BFD packets both ways in 1.5 s (${ours.length} sent, ${theirs.length} received)`);
    t.ok(ours.every((l) => l.includes('hlim 255')), 'ours are sent with hop limit 255');
    t.ok(theirs.every((l) => l.includes('hlim 255')), 'bfdd\'s arrive with hop limit 255');
  });

  t.test('FDB points at the remote IPv6 VTEP; ping crosses VXLAN over IPv6', async (t) => {
    await waitFdbDst(e, 'l', R().address.net1, 20_000);
    await waitFdbDst(e, 'r', L().address.net1, 20_000);
    t.equal(e.net.fdbDst('l', R().mac), '2001:db8:1::87');
    t.match(e.net.neigh('l', R().service), { lladdr: R().mac, state: ['NOARP'] }, 'neighbour entry for the remote service address');
    // Per-entry dst, or (kernel.nexthopGroups, the default where the kernel has them)
    // an FDB nexthop group whose member is the IPv6 VTEP.
    const fdbText = kernelText(e, 'l').fdb;
    const nhid = new RegExp(`${R().mac} nhid (\\d+) self extern_learn`).exec(fdbText)?.[1];
    if (nhid === undefined) {
      t.match(fdbText, new RegExp(`${R().mac} dst 2001:db8:1::87 self extern_learn`), 'bridge fdb shows the IPv6 dst');
    } else {
      const member = / group (\d+)/.exec(nsExec(L().ns, 'ip', ['nexthop', 'show', 'id', nhid]))?.[1];
      t.match(nsExec(L().ns, 'ip', ['nexthop', 'show', 'fdb']), new RegExp(`id ${member} via 2001:db8:1::87 .*fdb`),
        `bridge fdb: nhid ${nhid}, its group's member an fdb nexthop via the IPv6 VTEP`);
    }
    // The operator's view: IPv6 peers and VTEPs in the text tables.
    const show = (what: string): string => e.net.evpnHaCli('l', ['show', what, '--socket', e.net.socketPath('l')]);
    t.match(show('neighbors'), /2001:db8:1::2[\s\S]*2001:db8:2::2/, 'show neighbors lists both IPv6 peers');
    t.match(show('routes'), /2001:db8:1::87[\s\S]*2001:db8:2::87/, 'show routes lists both IPv6 next hops');
    t.ok(e.net.pingOnce('l', R().service, 5), 'server-l pings 192.168.0.87 over the IPv6 underlay');
  });

  t.test('VTEP probes travel as VXLAN in IPv6 and are answered on both networks', async (t) => {
    // The remote vxlan0 (an IPv6 one) drops IPv6 UDP without a checksum (no
    // udp6zerocsumrx), so a probe that is answered was sent with one.
    const want = [['net1', '2001:db8:1::65', '2001:db8:1::87'], ['net2', '2001:db8:2::65', '2001:db8:2::87']];
    await waitFor(() => showVteps(e, 'l').filter((v) => v.state === 'up').length === 2, 10_000, 'server-l: both VTEPs of server-r up')
      .catch((err: unknown) => { throw new Error(`${String(err)}\n${JSON.stringify(showVteps(e, 'l'))}\n${diagnostics(e)}`); });
    const v = showVteps(e, 'l');
    t.same(v.map((x) => [x.network, x.localVtep, x.remoteVtep]).sort(), want, 'probed from our IPv6 VTEP to theirs, per network');
    t.ok(v.every((x) => x.state === 'up' && typeof x.rttMs === 'number'), 'up, with a round-trip time');
  });

  t.test('show and metrics print IPv6 addresses in RFC 5952 text', async (t) => {
    await waitFor(() => showVteps(e, 'l').filter((v) => v.state === 'up').length === 2, 10_000, 'server-l: both VTEPs of server-r up');
    const show = (what: string): string => e.net.evpnHaCli('l', ['show', what, '--socket', e.net.socketPath('l')]);
    const neighbors = show('neighbors');
    const routes = show('routes');
    const vteps = show('vteps');
    t.match(neighbors, /net1\s+2001:db8:1::2\s/, 'show neighbors: net1 peer 2001:db8:1::2 (configured as 2001:0DB8:1:0:0:0:0:2)');
    t.match(neighbors, /net2\s+2001:db8:2::2\s/, 'show neighbors: net2 peer 2001:db8:2::2 (configured as 2001:db8:2:0::0:2)');
    t.match(routes, /net1\s+2001:db8:1::87\s[\s\S]*net2\s+2001:db8:2::87\s/, 'show routes: the IPv6 next hops');
    // (The state is not checked here: the 100 ms probes may sit in hold-down a moment on a busy machine.)
    t.match(vteps, /net1\s+2001:db8:1::65\s+2001:db8:1::87\s/, 'show vteps: local and remote IPv6 VTEP on net1');
    t.match(vteps, /net2\s+2001:db8:2::65\s+2001:db8:2::87\s/, 'show vteps: local and remote IPv6 VTEP on net2');
    for (const text of [neighbors, routes, vteps]) t.notMatch(text, /0DB8|0db8|:0:|::0:|\[/i, 'no other spelling, no brackets');
    t.same(showNeighbors(e, 'l').map((n) => n.peer).sort(), ['2001:db8:1::2', '2001:db8:2::2'], 'show neighbors --json: RFC 5952 peers');

    const body = nsExec(L().ns, 'curl', ['-sS', '-g', '--max-time', '5', `http://${METRICS}/metrics`]);
    const line = (re: RegExp): string | undefined => body.split('\n').find((l) => re.test(l));
    t.match(line(/^evpn_ha_bgp_session_up\{/) ?? '', /^evpn_ha_bgp_session_up\{uplink="net1",peer="2001:db8:1::2"\} 1$/, 'metrics: session label peer="2001:db8:1::2"');
    t.ok(body.includes('evpn_ha_bgp_session_up{uplink="net2",peer="2001:db8:2::2"} 1'), 'metrics: session label peer="2001:db8:2::2"');
    t.ok(body.includes('evpn_ha_bfd_up{uplink="net1",peer="2001:db8:1::2"} 1'), 'metrics: BFD over IPv6 up');
    t.match(body, /^evpn_ha_vtep_probe_up\{network="net1",remote_vtep="2001:db8:1::87"\} [01]$/m, 'metrics: VTEP label remote_vtep="2001:db8:1::87"');
    t.match(body, /^evpn_ha_vtep_probe_up\{network="net2",remote_vtep="2001:db8:2::87"\} [01]$/m, 'metrics: VTEP label remote_vtep="2001:db8:2::87"');
    t.notMatch(body, /0DB8|2001:0db8|2001:db8:1:0:/i, 'no non-canonical IPv6 text in the metrics');
  });

  t.test('failover over IPv6 in under a second, and failback', async (t) => {
    const ping = e.net.ping('l', R().service, 10);
    await sleep(500);
    const at = Date.now();
    const undo = e.net.blackholeUplink('l', 'net1');
    let took: number;
    try {
      took = await waitFdbDst(e, 'l', R().address.net2, 10_000);
    } finally {
      undo();
    }
    t.ok(took <= FAILOVER_MS, `server-l fdb dst 2001:db8:2::87 after ${took} ms (BFD 100 ms x 3)`);
    await waitFdbDst(e, 'l', R().address.net1, 30_000);
    await sleep(500);
    ping.stop();
    const outage = ping.outageAround(at);
    t.comment(`IPv6 underlay failover: fdb moved after ${took} ms, longest gap between replies ${outage === null ? 'n/a' : Math.round(outage)} ms`);
    t.ok(outage !== null && outage < 1500, `ping outage ${String(outage)} ms`);
  });
}
