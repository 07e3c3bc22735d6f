// VTEP probing through real kernels: two servers, each with eth1/eth2 into two
// switched networks (a bridge in namespaces n1/n2), br-vxlan + vxlan0 as in
// production (no local, no remote, nolearning), static FDB/neigh pointing at the
// peer's net1 VTEP, strict rp_filter. A prober runs on each server (src/probe/cli.ts
// in a child process, real UDP sockets). Then only UDP 4789 is dropped on net1,
// inside the network, while ICMP still crosses: both sides must see net1 'down'
// within interval x multiplier plus scheduling margin, and net2 stay 'up'; after
// healing, 'holddown' then 'up' after the hold-down.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import type { ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { Lab, ip, isRoot, nsExec, waitFor } from '../lib/netns.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const INTERVAL = 100;
const MULTIPLIER = 3;
const HOLD_DOWN = 1000;
/** Process scheduling, nft latency, event delivery: generous, but far below a BGP hold time. */
const MARGIN = 400;

interface Server {
  name: string;
  id: string; // last octet
  mac: string;
}
const SL: Server = { name: 'sl', id: '65', mac: '02:00:00:00:00:65' };
const SR: Server = { name: 'sr', id: '87', mac: '02:00:00:00:00:87' };

interface StateLine {
  type: 'state';
  network: string;
  remoteVtep: string;
  from: string;
  to: string;
  reason: string;
  rttMs?: number;
  wallTime: number;
}

interface StatusLine {
  type: 'status';
  targets: Array<{ network: string; remoteVtep: string; state: string; sent: number; replies: number }>;
  counters: { requestsSent: number; repliesReceived: number; requestsAnswered: number; dropped: Record<string, number> };
}

class ProberProc {
  readonly states: StateLine[] = [];
  private statusWaiters: Array<(s: StatusLine) => void> = [];
  ready = false;
  stderr = '';
  constructor(readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let obj: { type?: string };
      try { obj = JSON.parse(line) as { type?: string }; } catch { return; }
      if (obj.type === 'ready') this.ready = true;
      else if (obj.type === 'state') this.states.push(obj as StateLine);
      else if (obj.type === 'status') this.statusWaiters.shift()?.(obj as StatusLine);
    });
    child.stderr?.on('data', (b: Buffer) => { this.stderr += b.toString(); });
  }

  /** The latest state of a target, 'unknown' if it never changed. */
  state(network: string, remoteVtep: string): string {
    return this.states.filter((s) => s.network === network && s.remoteVtep === remoteVtep).at(-1)?.to ?? 'unknown';
  }

  status(): Promise<StatusLine> {
    return new Promise((resolve) => {
      this.statusWaiters.push(resolve);
      this.child.stdin!.write('status\n');
    });
  }
}

function proberConfig(me: Server, peer: Server): object {
  const nets = [1, 2];
  return {
    vni: 100,
    serviceIp: `192.168.0.${me.id}`,
    bridgeMac: me.mac,
    uplinks: nets.map((k) => ({ network: `net${k}`, address: `192.168.${k}.${me.id}` })),
    targets: [
      ...nets.map((k) => ({
        network: `net${k}`, localVtep: `192.168.${k}.${me.id}`, remoteVtep: `192.168.${k}.${peer.id}`,
        remoteMac: peer.mac, remoteServiceIp: `192.168.0.${peer.id}`,
      })),
      // Nobody there: must stay 'unknown'.
      { network: 'net1', localVtep: `192.168.1.${me.id}`, remoteVtep: '192.168.1.99', remoteMac: '02:00:00:00:00:99', remoteServiceIp: '192.168.0.99' },
    ],
    interval: INTERVAL,
    multiplier: MULTIPLIER,
    holdDown: HOLD_DOWN,
    logLevel: 'info',
  };
}

t.test('VTEP probes cross the real VXLAN data path and detect a UDP 4789 blackhole on one network', { skip: !isRoot() && 'needs root' }, async (t) => {
  const lab = new Lab('pr', t);
  const ns: Record<string, string> = {};
  for (const n of ['sl', 'sr', 'n1', 'n2']) ns[n] = lab.ns(n);
  for (const k of [1, 2]) {
    const net = ns[`n${k}`]!;
    ip(net, 'link', 'add', 'sw', 'type', 'bridge');
    ip(net, 'link', 'set', 'sw', 'up');
    for (const s of [SL, SR]) {
      lab.veth(ns[s.name]!, `eth${k}`, net, `p${s.id}`, `192.168.${k}.${s.id}/24`);
      ip(net, 'link', 'set', `p${s.id}`, 'master', 'sw');
    }
  }
  for (const [s, peer] of [[SL, SR], [SR, SL]] as const) {
    const n = ns[s.name]!;
    ip(n, 'link', 'add', 'br-vxlan', 'type', 'bridge');
    ip(n, 'link', 'set', 'br-vxlan', 'address', s.mac);
    ip(n, 'link', 'add', 'vxlan0', 'type', 'vxlan', 'id', '100', 'dstport', '4789', 'nolearning');
    ip(n, 'link', 'set', 'vxlan0', 'master', 'br-vxlan');
    ip(n, 'link', 'set', 'vxlan0', 'up');
    ip(n, 'link', 'set', 'br-vxlan', 'up');
    ip(n, 'addr', 'add', `192.168.0.${s.id}/24`, 'dev', 'br-vxlan');
    nsExec(n, 'bridge', ['fdb', 'add', peer.mac, 'dev', 'vxlan0', 'dst', `192.168.1.${peer.id}`, 'self', 'extern_learn']);
    nsExec(n, 'bridge', ['fdb', 'add', peer.mac, 'dev', 'vxlan0', 'master', 'extern_learn']);
    ip(n, 'neigh', 'add', `192.168.0.${peer.id}`, 'lladdr', peer.mac, 'dev', 'br-vxlan', 'nud', 'noarp', 'extern_learn');
    // Strict reverse-path filtering everywhere (the kernel uses max(all, dev)).
    for (const key of ['all', 'default', 'eth1', 'eth2', 'br-vxlan', 'vxlan0']) {
      nsExec(n, 'sysctl', ['-q', '-w', `net.ipv4.conf.${key}.rp_filter=1`]);
    }
  }
  // The overlay works through net1 before anything else.
  nsExec(ns.sl!, 'ping', ['-c', '1', '-W', '2', '192.168.0.87']);

  // Watch VXLAN on sl's net1 uplink, decoded by tcpdump (independent of our codec).
  const dump = lab.spawn(ns.sl!, 'tcpdump', ['-i', 'eth1', '-nn', '-l', '-vv', '-c', '40', 'udp port 4789']);
  let dumpText = '';
  dump.stdout?.on('data', (b: Buffer) => { dumpText += b.toString(); });
  let dumpErr = '';
  dump.stderr?.on('data', (b: Buffer) => { dumpErr += b.toString(); });
  await waitFor(() => dumpErr.includes('listening on'), 5000, 'tcpdump');

  const env: NodeJS.ProcessEnv = { ...process.env, TS_NODE_TRANSPILE_ONLY: '1' };
  delete env.NODE_OPTIONS;
  const start = (s: Server, peer: Server): ProberProc => new ProberProc(lab.spawn(ns[s.name]!, process.execPath, [
    '--import', '@tapjs/typescript/import', 'src/probe/cli.ts', JSON.stringify(proberConfig(s, peer)),
  ], { cwd: ROOT, env }));
  const pl = start(SL, SR);
  const pr = start(SR, SL);
  t.teardown(() => {
    if (t.passing()) return;
    t.comment(`sl stderr:\n${pl.stderr}\nsr stderr:\n${pr.stderr}`);
  });
  await waitFor(() => pl.ready && pr.ready, 20_000, 'probers ready');

  await waitFor(() => ['net1', 'net2'].every((k) =>
    pl.state(k, `192.168.${k.at(-1)}.87`) === 'up' && pr.state(k, `192.168.${k.at(-1)}.65`) === 'up'), 5000, 'all four paths up');
  t.pass('net1 and net2 up in both directions');

  // 40 packets (-c 40): requests and replies of both probers at 10/s each.
  await waitFor(() => dump.exitCode !== null, 10_000, 'tcpdump to capture 40 packets');
  t.match(dumpText, /VXLAN, flags \[I\] \(0x08\), vni 100/, 'tcpdump decodes VXLAN VNI 100 on eth1');
  t.match(dumpText, /192\.168\.1\.65\.\d+ > 192\.168\.1\.87\.4789/, 'outer: sl net1 VTEP -> sr net1 VTEP :4789');
  t.match(dumpText, /192\.168\.1\.87\.\d+ > 192\.168\.1\.65\.4789/, 'outer: sr net1 VTEP -> sl net1 VTEP :4789 (replies, requests of sr)');
  t.match(dumpText, /192\.168\.0\.65\.4799 > 192\.168\.0\.87\.4799: \[udp sum ok\] UDP, length 56/, 'inner: service -> service :4799, UDP checksum ok');
  t.match(dumpText, /192\.168\.0\.87\.4799 > 192\.168\.0\.65\.4799: \[udp sum ok\] UDP, length 56/, 'inner in the other direction');
  // Inner headers only: the outer UDP checksum is filled in by veth offload after tcpdump sees it.
  const inner = dumpText.split('\n').filter((l) => /ttl 64, id 0,|192\.168\.0\./.test(l));
  t.ok(inner.length >= 20, `${inner.length} inner header lines`);
  t.notOk(inner.some((l) => /bad/i.test(l)), 'tcpdump verifies every inner IPv4 and UDP checksum');

  // Blackhole only UDP 4789 inside network 1 (nftables bridge filter on its switch).
  const n1 = ns.n1!;
  nsExec(n1, 'nft', ['add', 'table', 'bridge', 'blackhole']);
  nsExec(n1, 'nft', ['add', 'chain', 'bridge', 'blackhole', 'fw', '{ type filter hook forward priority 0; }']);
  nsExec(n1, 'nft', ['add', 'rule', 'bridge', 'blackhole', 'fw', 'udp', 'dport', '4789', 'counter', 'drop']);
  const faultAt = Date.now();
  await waitFor(() => pl.state('net1', '192.168.1.87') === 'down' && pr.state('net1', '192.168.1.65') === 'down', 3000, 'net1 down on both');
  for (const [p, remote] of [[pl, '192.168.1.87'], [pr, '192.168.1.65']] as const) {
    const ev = p.states.find((s) => s.to === 'down' && s.remoteVtep === remote)!;
    const detect = ev.wallTime - faultAt;
    t.ok(detect <= INTERVAL * MULTIPLIER + MARGIN, `down on ${remote} detected ${detect} ms after the blackhole (limit ${INTERVAL * MULTIPLIER + MARGIN})`);
    t.equal(ev.reason, 'detect-timeout');
  }
  // Only VXLAN is cut: ICMP still crosses net1, and the overlay (whose FDB points at net1) is dead.
  nsExec(ns.sl!, 'ping', ['-c', '1', '-W', '2', '192.168.1.87']);
  t.throws(() => nsExec(ns.sl!, 'ping', ['-c', '1', '-W', '1', '192.168.0.87']), 'overlay via net1 broken');
  t.match(nsExec(n1, 'nft', ['list', 'table', 'bridge', 'blackhole']), /counter packets [1-9]/, 'the rule dropped VXLAN');
  await new Promise((r) => setTimeout(r, 500));
  t.equal(pl.state('net2', '192.168.2.87'), 'up', 'net2 stays up (sl)');
  t.equal(pr.state('net2', '192.168.2.65'), 'up', 'net2 stays up (sr)');
  t.equal(pl.states.filter((s) => s.network === 'net2').length, 1, 'no net2 flap');

  // Heal: hold-down, then up.
  nsExec(n1, 'nft', ['delete', 'table', 'bridge', 'blackhole']);
  const healAt = Date.now();
  await waitFor(() => pl.state('net1', '192.168.1.87') === 'holddown', 2000, 'holddown after heal');
  t.equal(pl.state('net1', '192.168.1.87'), 'holddown');
  await waitFor(() => pl.state('net1', '192.168.1.87') === 'up' && pr.state('net1', '192.168.1.65') === 'up', HOLD_DOWN + 3000, 'net1 up again');
  const upEv = pl.states.filter((s) => s.remoteVtep === '192.168.1.87').at(-1)!;
  const back = upEv.wallTime - healAt;
  // healAt is taken when nft returns, a few ms after the rule is really gone.
  t.ok(back >= HOLD_DOWN - 50 && back <= HOLD_DOWN + INTERVAL + MARGIN, `eligible again ${back} ms after heal (hold-down ${HOLD_DOWN})`);
  t.same(pl.states.filter((s) => s.network === 'net1' && s.remoteVtep === '192.168.1.87').map((s) => s.to), ['up', 'down', 'holddown', 'up']);


  // One direction only (sr -> sl VXLAN dropped): sl's requests still reach sr, but
  // sr's replies do not come back, and sr's requests never arrive: both see it.
  nsExec(n1, 'nft', ['add', 'table', 'bridge', 'oneway']);
  nsExec(n1, 'nft', ['add', 'chain', 'bridge', 'oneway', 'fw', '{ type filter hook forward priority 0; }']);
  nsExec(n1, 'nft', ['add', 'rule', 'bridge', 'oneway', 'fw', 'ip', 'saddr', '192.168.1.87', 'udp', 'dport', '4789', 'drop']);
  const oneWayAt = Date.now();
  await waitFor(() => pl.state('net1', '192.168.1.87') === 'down' && pr.state('net1', '192.168.1.65') === 'down', 3000, 'net1 down on both (one-way loss)');
  t.ok(Date.now() - oneWayAt <= INTERVAL * MULTIPLIER + MARGIN + 100, `one-way loss detected on both sides within ${Date.now() - oneWayAt} ms`);
  nsExec(n1, 'nft', ['delete', 'table', 'bridge', 'oneway']);
  await waitFor(() => pl.state('net1', '192.168.1.87') === 'up' && pr.state('net1', '192.168.1.65') === 'up', HOLD_DOWN + 3000, 'net1 up again (2)');

  // The target where nobody answers stayed unknown; nothing was dropped as junk.
  const st = await pl.status();
  t.equal(st.targets.find((x) => x.remoteVtep === '192.168.1.99')?.state, 'unknown');
  t.ok(st.targets.find((x) => x.remoteVtep === '192.168.1.99')!.sent > 10, 'it was probed');
  t.same(st.counters.dropped, {}, 'no packet dropped by the decoder');
  t.ok(st.counters.requestsAnswered > 20, `sl answered ${st.counters.requestsAnswered} requests of sr`);
});
