// `evpn-ha peer` over IPv6 (issue 12 §1): two peer processes in a namespace of their
// own, on ::1, the passive one listening on [::1]:179, the active one announcing a
// type-2 route whose next hop is an IPv6 VTEP (2001:db8:1::87).
//   * the receiver prints the route with the IPv6 next hop and the router-ID RD;
//   * on the wire (tcpdump on lo, framed by test/lib/capture.ts, not by our codec):
//     the session runs over IPv6 and the UPDATE's MP_REACH_NLRI carries AFI 25 /
//     SAFI 70 with a 16-byte next hop (RFC 4760 §3, RFC 8365 §5.1.3);
//   * the same with --password (TCP-MD5 on IPv6 sockets) and --ttl-security 1
//     (IPV6_UNICAST_HOPS 255 / IPV6_MINHOPCOUNT 255): the session comes up, and every
//     segment of it arrives with hop limit 255.
import t from 'tap';
import { readFileSync } from 'node:fs';
import { Lab, netnsSkipReason, sh } from '../lib/netns.js';
import { BIN, ensureBuilt } from '../lib/evpnha.js';
import { PAIR_ROUTE_V6, PAIR_ROUTE_V6_JSON, runPeerPair } from '../lib/peerpair.js';
import { bgpFlows, startCapture, toHex } from '../lib/capture.js';
import { childEnv } from '../../src/lab/twonet.js';

/** MP_REACH_NLRI body start: AFI 25 (L2VPN), SAFI 70 (EVPN), next hop length 16, 2001:db8:1::87. */
const MP_REACH_V6_NH = '0019461020010db8000100000000000000000087';

const skip = netnsSkipReason([]);
if (skip) {
  t.plan(0, skip);
} else {
  ensureBuilt();
  const cases: Array<{ name: string; extra: string[] }> = [
    { name: 'plain', extra: [] },
    { name: 'TCP-MD5 and GTSM', extra: ['--password', 'v6-test', '--ttl-security', '1'] },
  ];
  for (const c of cases) {
    t.test(`peer over IPv6 (${c.name}): a type-2 route with a 16-byte next hop`, async (t) => {
      const lab = new Lab('pv6', t);
      const ns = lab.ns('a');
      const cap = await startCapture(lab, ns, 'lo', { filter: 'tcp port 179' });
      const cmd = ['ip', 'netns', 'exec', ns, 'env', '-u', 'NODE_OPTIONS', process.execPath, BIN];
      const r = await runPeerPair(cmd, { announcer: 'active', address: '::1', port: 179, route: PAIR_ROUTE_V6, extraArgs: c.extra, spawn: { env: childEnv() } });
      // libpcap hands packets over in blocks retired after its 1 s timeout: a
      // capture stopped at once loses the last block.
      await new Promise((res) => setTimeout(res, 1500));
      await cap.stop();
      t.ok(r.complete, `the passive side printed End-of-RIB${r.complete ? '' : `: ${r.stderr}`}`);
      t.equal(r.activeExit, 0, 'active side exits 0 on SIGTERM');
      t.equal(r.passiveExit, 0, 'passive side exits 0 on SIGTERM');
      const up = r.lines.find((l) => l['event'] === 'established');
      t.equal(up?.['peer'], '::1', 'the receiver names its IPv6 peer');
      t.equal(up?.['peerRouterId'], '10.0.0.2');
      t.match(r.lines.find((l) => l['event'] === 'update'), PAIR_ROUTE_V6_JSON, 'the route arrives with its IPv6 next hop');

      const pcap = readFileSync(cap.file);
      const flows = bgpFlows(pcap, 179).filter((f) => f.dport === 179);
      t.ok(flows.length >= 1 && flows.every((f) => f.src === '::1' && f.dst === '::1'), 'the session ran over IPv6 (::1 -> [::1]:179)');
      const updates = flows.flatMap((f) => f.messages).filter((m) => m[18] === 2).map((m) => toHex(m, 0));
      t.ok(updates.some((h) => h.includes(MP_REACH_V6_NH)), 'an UPDATE with MP_REACH_NLRI AFI 25/SAFI 70, next hop length 16, 2001:db8:1::87',
        { updates });
      if (c.extra.includes('--ttl-security')) {
        // tcpdump's own decoding: "IP6 (flowlabel ..., hlim 255, next-header TCP ...) ::1.x > ::1.179".
        const lines = sh('tcpdump', ['-r', cap.file, '-n', '-v', '-t']).split('\n').filter((l) => l.startsWith('IP6 '));
        t.ok(lines.length > 4, `${lines.length} segments captured`);
        t.same(lines.filter((l) => !l.includes('hlim 255')), [], 'GTSM: every segment sent with hop limit 255');
      }
    });
  }
}
