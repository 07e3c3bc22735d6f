// AgentMetrics: names, labels and values in the exposition text after simulated
// state and events (a fake provider; no agent, no network).
import t from 'tap';
import { AgentMetrics } from '../../src/metrics/metrics.js';
import type { ControlEvent, ControlProvider, NeighborInfo, VtepInfo } from '../../src/control/types.js';

function neighbor(uplink: string, o: Partial<NeighborInfo> = {}): NeighborInfo {
  return {
    uplink, peer: uplink === 'net1' ? '192.168.1.2' : '192.168.2.2', localAddress: null, localAs: 65001, peerAs: 65001,
    state: 'Established', established: true, uptimeMs: 120_000, flaps: 0, peerRouterId: null, families: ['l2vpn-evpn'],
    capabilities: [], holdTime: 9, keepalive: 3, bfd: null,
    routes: { received: 10, accepted: 8, rejected: { 'route-target': 2 }, withdrawn: 1, paths: 7, best: 5, advertised: 3 },
    lastError: null, ...o,
  };
}

class Fake implements ControlProvider {
  ns: NeighborInfo[] = [];
  vs: VtepInfo[] = [];
  reads = 0;
  readonly listeners = new Set<(ev: ControlEvent) => void>();
  async neighbors(): Promise<NeighborInfo[]> { this.reads++; return this.ns; }
  async routes(): Promise<never[]> { return []; }
  async kernel(): Promise<never> { throw new Error('not used'); }
  async vteps(): Promise<VtepInfo[]> { return this.vs; }
  async reload(): Promise<{ ok: boolean; message: string }> { return { ok: true, message: '' }; }
  subscribe(cb: (ev: ControlEvent) => void): () => void {
    this.listeners.add(cb);
    return () => { this.listeners.delete(cb); };
  }
  emit(ev: ControlEvent): void { for (const l of this.listeners) l(ev); }
}

/** `name{labels} value` lines of one metric family (labels as written by prom-client). */
function samples(text: string, name: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m && m[1] === name) out.set(m[2] ?? '', Number(m[3]));
  }
  return out;
}

const TIME = '2026-11-21T10:00:00.000Z';
const PS = (uplink: string, nextHop: string, localPref: number) => ({ uplink, peer: 'p', nextHop, localPref, macMobilitySeq: 0, eligible: true });

t.test('session, BFD, route and probe state read at scrape time', async (t) => {
  const p = new Fake();
  const m = new AgentMetrics({ defaultMetrics: false, version: '1.2.3' });
  m.attach(p);
  p.ns = [
    neighbor('net1', { flaps: 2, bfd: { state: 'Up', remoteState: 'Up', diag: 'NoDiagnostic', txIntervalMs: 300, detectTimeMs: 900 } }),
    neighbor('net2', { state: 'Active', established: false, uptimeMs: null, routes: { received: 0, accepted: 0, rejected: {}, withdrawn: 0, paths: 0, best: 0, advertised: 3 } }),
  ];
  p.vs = [
    { network: 'net1', localVtep: '192.168.1.65', remoteVtep: '192.168.1.87', state: 'up', eligible: true, rttMs: 0.5, srttMs: 0.4, lastReplyAgoMs: 10, sinceMs: 1000, sent: 10, replies: 10, paths: 1 },
    { network: 'net2', localVtep: '192.168.2.65', remoteVtep: '192.168.2.87', state: 'down', eligible: false, rttMs: null, srttMs: null, lastReplyAgoMs: null, sinceMs: 1000, sent: 10, replies: 0, paths: 1 },
  ];
  const text = await m.render();
  t.equal(p.reads, 1, 'one provider read per scrape');
  t.match(text, /# HELP evpn_ha_bgp_session_up /);
  t.match(text, /# TYPE evpn_ha_bgp_session_flaps_total counter/);
  t.same(samples(text, 'evpn_ha_bgp_session_up'), new Map([['{uplink="net1",peer="192.168.1.2"}', 1], ['{uplink="net2",peer="192.168.2.2"}', 0]]));
  t.same(samples(text, 'evpn_ha_bgp_session_state'), new Map([['{uplink="net1",peer="192.168.1.2",state="Established"}', 1], ['{uplink="net2",peer="192.168.2.2",state="Active"}', 1]]));
  t.same(samples(text, 'evpn_ha_bgp_session_uptime_seconds'), new Map([['{uplink="net1",peer="192.168.1.2"}', 120], ['{uplink="net2",peer="192.168.2.2"}', 0]]));
  t.same(samples(text, 'evpn_ha_bgp_session_flaps_total'), new Map([['{uplink="net1",peer="192.168.1.2"}', 2], ['{uplink="net2",peer="192.168.2.2"}', 0]]));
  t.same(samples(text, 'evpn_ha_bfd_up'), new Map([['{uplink="net1",peer="192.168.1.2"}', 1]]), 'only uplinks with BFD');
  t.same(samples(text, 'evpn_ha_bfd_state'), new Map([['{uplink="net1",peer="192.168.1.2",state="Up"}', 1]]));
  t.same(samples(text, 'evpn_ha_routes_received_total'), new Map([['{network="net1"}', 10], ['{network="net2"}', 0]]));
  t.same(samples(text, 'evpn_ha_routes_accepted_total'), new Map([['{network="net1"}', 8], ['{network="net2"}', 0]]));
  t.same(samples(text, 'evpn_ha_routes_rejected_total'), new Map([['{network="net1",reason="route-target"}', 2]]));
  t.same(samples(text, 'evpn_ha_routes_withdrawn_total'), new Map([['{network="net1"}', 1], ['{network="net2"}', 0]]));
  t.same(samples(text, 'evpn_ha_paths'), new Map([['{network="net1"}', 7], ['{network="net2"}', 0]]));
  t.same(samples(text, 'evpn_ha_best_paths'), new Map([['{network="net1"}', 5], ['{network="net2"}', 0]]));
  t.same(samples(text, 'evpn_ha_routes_advertised'), new Map([['{network="net1"}', 3], ['{network="net2"}', 3]]));
  t.same(samples(text, 'evpn_ha_vtep_probe_rtt_seconds'), new Map([['{network="net1",remote_vtep="192.168.1.87"}', 0.0005]]), 'no RTT series without a reply');
  t.same(samples(text, 'evpn_ha_vtep_probe_up'), new Map([['{network="net1",remote_vtep="192.168.1.87"}', 1], ['{network="net2",remote_vtep="192.168.2.87"}', 0]]));
  t.same(samples(text, 'evpn_ha_vtep_probe_state'), new Map([['{network="net1",remote_vtep="192.168.1.87",state="up"}', 1], ['{network="net2",remote_vtep="192.168.2.87",state="down"}', 1]]));
  t.same(samples(text, 'evpn_ha_build_info'), new Map([['{version="1.2.3"}', 1]]));
  t.same(samples(text, 'evpn_ha_last_failover_timestamp_seconds'), new Map([['', 0]]));

  // State changes: the old series go (a VTEP no longer used, a session state left).
  p.ns = [neighbor('net1', { state: 'Idle', established: false, uptimeMs: null, flaps: 3 })];
  p.vs = [];
  const text2 = await m.render();
  t.same(samples(text2, 'evpn_ha_bgp_session_state'), new Map([['{uplink="net1",peer="192.168.1.2",state="Idle"}', 1]]));
  t.same(samples(text2, 'evpn_ha_bgp_session_flaps_total'), new Map([['{uplink="net1",peer="192.168.1.2"}', 3]]));
  t.same(samples(text2, 'evpn_ha_vtep_probe_up'), new Map());
  t.same(samples(text2, 'evpn_ha_bfd_up'), new Map());
  t.equal(p.reads, 2);
});

t.test('event counters: failovers by cause, last failover time, kernel writes and errors, probes, problems, reloads', async (t) => {
  const p = new Fake();
  const m = new AgentMetrics({ defaultMetrics: false });
  const detach = m.attach(p);
  const failover = (cause: 'session-down' | 'vtep-unreachable' | 'failback', from: string, to: string, time: string): ControlEvent => ({
    type: 'failover', vni: 100, mac: '02:00:00:00:00:87', ip: '192.168.0.87', cause, reason: 'only path',
    from: PS(from, `${from}-vtep`, 200), to: PS(to, `${to}-vtep`, 100), time,
  });
  p.emit(failover('session-down', 'net1', 'net2', TIME));
  p.emit(failover('session-down', 'net1', 'net2', TIME));
  p.emit(failover('vtep-unreachable', 'net1', 'net2', TIME));
  p.emit(failover('failback', 'net2', 'net1', '2026-11-21T10:00:05.500Z'));
  p.emit({ type: 'best-path', vni: 100, mac: 'm', ip: null, before: null, after: PS('net1', 'x', 200), reason: 'only path', time: TIME });
  const entry = { kind: 'fdb' as const, ifname: 'vxlan0', mac: '02:00:00:00:00:87', dst: '192.168.1.87' };
  p.emit({
    type: 'kernel', trigger: 'routes', replaced: 3, deleted: 1, time: TIME,
    ops: [{ op: 'replace', entry }, { op: 'replace', entry }, { op: 'replace', entry }, { op: 'replace', entry }, { op: 'delete', entry }, { op: 'delete', entry }],
    failed: [
      { op: { op: 'replace', entry }, code: 'ENODEV', message: 'No such device' },
      { op: { op: 'delete', entry }, code: 'EPERM', message: 'Operation not permitted' },
    ],
  });
  p.emit({
    type: 'kernel', trigger: 'resync', replaced: 0, deleted: 0, time: TIME, ops: [], failed: [], failedOmitted: 1000,
    failedCounts: [{ op: 'replace', code: 'ENODEV', count: 1000 }],
  });
  p.emit({ type: 'kernel-restore', keys: 2, time: TIME });
  p.emit({ type: 'kernel-conflict', entry, reason: 'foreign-static', time: TIME });
  p.emit({ type: 'probe', network: 'net1', remoteVtep: '192.168.1.87', from: 'up', to: 'down', reason: 'detect-timeout', eligible: false, rttMs: undefined, time: TIME });
  p.emit({ type: 'problem', message: 'x', time: TIME });
  p.emit({ type: 'reload', ok: false, message: 'bad', time: TIME });
  p.emit({ type: 'session', uplink: 'net1', state: 'up', peer: 'p', peerRouterId: 'r', time: TIME });
  const text = await m.render();
  t.same(samples(text, 'evpn_ha_failovers_total'), new Map([
    ['{cause="session-down",from_network="net1",to_network="net2"}', 2],
    ['{cause="vtep-unreachable",from_network="net1",to_network="net2"}', 1],
    ['{cause="failback",from_network="net2",to_network="net1"}', 1],
  ]));
  t.same(samples(text, 'evpn_ha_last_failover_timestamp_seconds'), new Map([['', Date.UTC(2026, 10, 21, 10, 0, 5, 500) / 1000]]));
  t.same(samples(text, 'evpn_ha_best_path_changes_total'), new Map([['', 1]]));
  t.same(samples(text, 'evpn_ha_kernel_writes_total'), new Map([['{op="replace"}', 3], ['{op="delete"}', 1]]));
  t.same(samples(text, 'evpn_ha_kernel_write_errors_total'), new Map([['{op="replace",code="ENODEV"}', 1001], ['{op="delete",code="EPERM"}', 1]]));
  t.same(samples(text, 'evpn_ha_kernel_restores_total'), new Map([['', 2]]));
  t.same(samples(text, 'evpn_ha_kernel_conflicts_total'), new Map([['{reason="foreign-static"}', 1]]));
  t.same(samples(text, 'evpn_ha_vtep_probe_transitions_total'), new Map([['{network="net1",to="down"}', 1]]));
  t.same(samples(text, 'evpn_ha_problems_total'), new Map([['', 1]]));
  t.same(samples(text, 'evpn_ha_reloads_total'), new Map([['{result="failed"}', 1]]));
  detach();
  t.equal(p.listeners.size, 0, 'detached');
  p.emit({ type: 'problem', message: 'y', time: TIME });
  t.same(samples(await m.render(), 'evpn_ha_problems_total'), new Map([['', 1]]), 'no counting after detach');
});

t.test('default process metrics carry the prefix; no provider means no state series', async (t) => {
  const m = new AgentMetrics();
  const text = await m.render();
  t.match(text, /^evpn_ha_process_resident_memory_bytes \d+/m);
  t.match(text, /^evpn_ha_nodejs_heap_size_used_bytes \d+/m);
  t.same(samples(text, 'evpn_ha_bgp_session_up'), new Map());
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    t.ok(line.startsWith('evpn_ha_'), `prefixed: ${line.slice(0, 40)}`);
  }
  t.match(m.contentType, /^text\/plain/);
});

t.test('a failing provider read fails the scrape, the next one works', async (t) => {
  const p = new Fake();
  const m = new AgentMetrics({ defaultMetrics: false });
  m.attach(p);
  let fail = true;
  p.neighbors = async () => {
    if (fail) throw new Error('agent busy');
    return [neighbor('net1')];
  };
  await t.rejects(m.render(), /agent busy/);
  fail = false;
  t.same(samples(await m.render(), 'evpn_ha_bgp_session_up'), new Map([['{uplink="net1",peer="192.168.1.2"}', 1]]));
});
