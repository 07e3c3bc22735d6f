// Shared setup for the end-to-end tests (test/netns/e2e-*.test.ts): the design
// brief's two-network topology (src/lab/twonet.ts) with real FRR 8.4 route
// reflectors (RR-net1 AS 65001, RR-net2 AS 65002, `bgp listen range`,
// route-reflector-client under l2vpn evpn, bfdd when BFD is on) and evpn-ha
// agents on server-l and server-r.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, netnsSkipReason, nsExec, waitFor } from './netns.js';
import { bfdConfig, startFrr, type BfdTimers, type FrrHandle } from './frr.js';
import { startCapture, type Capture } from './capture.js';
import { TwoNetworkLab, type AgentTuning, type NetworkName, type RunningAgent, type ServerName } from '../../src/lab/twonet.js';

/** The e2e tests take sleep() from here. */
export { sleep } from './netns.js';

export const BFD_FAST: BfdTimers = { minTx: 100, minRx: 100, multiplier: 3 };
export const PROBE_FAST = { interval: 100, multiplier: 3, holdDown: 1000 };

/** Why the e2e tests cannot run here, or null. */
export function skipReason(): string | null {
  return netnsSkipReason(['vtysh', 'iptables', 'tcpdump', 'ping']);
}

export interface RrSetup {
  /** AS of each reflector (default net1 65001, net2 65002). */
  asn?: Record<NetworkName, number>;
  /** BGP timers of the reflectors (default 3/9, as in the published setups). */
  timers?: { keepalive: number; hold: number };
  /** BFD on the reflector's client peer-group (bfdd with a profile). */
  bfd?: BfdTimers;
  /**
   * Configure these client host numbers (65, 87) as static neighbors in the
   * peer-group instead of `bgp listen range` (FRR treats dynamic neighbors
   * differently: they are deleted, routes and all, when their session goes).
   */
  staticClients?: number[];
  /** Lines for the client peer-group per network, e.g. `password X` or `ttl-security hops 1`. */
  clientLines?: Partial<Record<NetworkName, string[]>>;
  /** Underlay address family (default 4): 6 builds IPv6-only underlays (TwoNetworkLab). */
  family?: 4 | 6;
}

/** bgpd configuration of one reflector: dynamic iBGP clients from the whole subnet. */
export function reflectorConfig(asn: number, routerId: string, subnet: string, o: RrSetup, network?: NetworkName): string {
  const t = o.timers ?? { keepalive: 3, hold: 9 };
  return [
    'frr defaults traditional',
    `hostname rr-${routerId}`,
    'log timestamp precision 3',
    '!',
    `router bgp ${asn}`,
    ` bgp router-id ${routerId}`,
    ' no bgp ebgp-requires-policy',
    ' no bgp default ipv4-unicast',
    ' bgp log-neighbor-changes',
    ` timers bgp ${t.keepalive} ${t.hold}`,
    ' neighbor CLIENTS peer-group',
    ` neighbor CLIENTS remote-as ${asn}`,
    ` neighbor CLIENTS timers ${t.keepalive} ${t.hold}`,
    ...(o.bfd ? [' neighbor CLIENTS bfd', ' neighbor CLIENTS bfd profile evpn-ha'] : []),
    ...((network && o.clientLines?.[network]) || []).map((l) => ` neighbor CLIENTS ${l}`),
    ...(o.staticClients
      ? o.staticClients.map((h) => ` neighbor ${subnet.replace(/\.0\/24$/, `.${h}`).replace(/::\/64$/, `::${h}`)} peer-group CLIENTS`)
      : [` bgp listen range ${subnet} peer-group CLIENTS`]),
    ' !',
    ' address-family l2vpn evpn',
    '  neighbor CLIENTS activate',
    '  neighbor CLIENTS route-reflector-client',
    ' exit-address-family',
    'exit',
    '!',
    '',
  ].join('\n');
}

export interface E2e {
  lab: Lab;
  net: TwoNetworkLab;
  rr: Record<NetworkName, FrrHandle>;
  agents: Partial<Record<ServerName, RunningAgent>>;
  /** Agents replaced by a restart (their output is saved too). */
  oldAgents: RunningAgent[];
  /** Where agent logs are saved at teardown. */
  logDir: string;
}

/** Build the topology and start both reflectors. Agents are started by the caller. */
export async function setupE2e(tag: string, tap: { teardown(fn: () => void): void }, rr: RrSetup = {}): Promise<E2e> {
  const lab = new Lab(tag, tap);
  const net = new TwoNetworkLab(lab, undefined, rr.family ?? 4);
  net.build();
  const asn = rr.asn ?? { net1: 65001, net2: 65002 };
  const handles = {} as Record<NetworkName, FrrHandle>;
  for (const n of ['net1', 'net2'] as const) {
    const info = net.networks[n];
    handles[n] = await startFrr(lab, info.rrNs, {
      bgpdConf: reflectorConfig(asn[n], net.family === 6 ? `10.255.${info.index}.2` : info.rrAddress, net.subnet(n), rr, n),
      bfdd: rr.bfd !== undefined,
      ...(rr.bfd ? { bfddConf: bfdConfig(rr.bfd) } : {}),
    });
  }
  const e: E2e = { lab, net, rr: handles, agents: {}, oldAgents: [], logDir: join('/tmp/evpn-ha-logs', lab.prefix) };
  // Keep every agent's output for post-mortem reading (written before the lab goes).
  lab.onDispose(() => saveAgentLogs(e));
  return e;
}

/** Write the agents' output to /tmp/evpn-ha-logs/<prefix>/agent-<server>-<n>.log. */
export function saveAgentLogs(e: E2e): void {
  mkdirSync(e.logDir, { recursive: true });
  e.oldAgents.forEach((a, i) => writeFileSync(join(e.logDir, `agent-${a.server.name}-${i}.log`), a.output()));
  for (const a of Object.values(e.agents)) if (a) writeFileSync(join(e.logDir, `agent-${a.server.name}.log`), a.output());
}

/** Start (or restart) one agent; a previous one's output is kept for saveAgentLogs(). */
export function startAgent(e: E2e, name: ServerName, tuning: AgentTuning = {}): RunningAgent {
  const old = e.agents[name];
  if (old) e.oldAgents.push(old);
  const a = e.net.startAgent(name, tuning);
  e.agents[name] = a;
  return a;
}

/** Stop every running agent (SIGTERM, 5 s grace): a test file's teardown; e is undefined when setup failed early. */
export async function stopAgents(e: E2e | undefined): Promise<void> {
  for (const a of Object.values(e?.agents ?? {})) await a?.stop('SIGTERM', 5000);
}

/** `evpn-ha show neighbors --json` through the agent's control socket. */
export function showNeighbors(e: E2e, name: ServerName): Array<Record<string, unknown>> {
  const out = e.net.evpnHaCli(name, ['show', 'neighbors', '--json', '--socket', e.net.socketPath(name)]);
  const j = JSON.parse(out) as unknown;
  if (Array.isArray(j)) return j as Array<Record<string, unknown>>;
  const o = j as { neighbors?: unknown };
  return Array.isArray(o.neighbors) ? o.neighbors as Array<Record<string, unknown>> : [];
}

/** `evpn-ha show routes --json` (optionally for one IP) through the agent's control socket. */
export function showRoutes(e: E2e, name: ServerName, ip?: string): Array<{ mac: string; ip: string | null; paths: Array<Record<string, unknown>>; duplicate?: true }> {
  const out = e.net.evpnHaCli(name, ['show', 'routes', '--json', ...(ip ? ['--ip', ip] : []), '--socket', e.net.socketPath(name)]);
  const j = JSON.parse(out) as unknown;
  const list = Array.isArray(j) ? j : (j as { routes?: unknown }).routes;
  return Array.isArray(list) ? list as Array<{ mac: string; ip: string | null; paths: Array<Record<string, unknown>>; duplicate?: true }> : [];
}

/** `evpn-ha show vteps --json`: the VTEP probe state per (network, remote VTEP). */
export function showVteps(e: E2e, name: ServerName): Array<{ network: string; localVtep: string | null; remoteVtep: string; state: string; rttMs: number | null }> {
  const out = e.net.evpnHaCli(name, ['show', 'vteps', '--json', '--socket', e.net.socketPath(name)]);
  const j = JSON.parse(out) as unknown;
  const list = Array.isArray(j) ? j : (j as { vteps?: unknown }).vteps;
  return Array.isArray(list) ? list as Array<{ network: string; localVtep: string | null; remoteVtep: string; state: string; rttMs: number | null }> : [];
}

/** The state of one uplink's session as the agent reports it (`state` field), or undefined. */
export function agentSessionState(e: E2e, name: ServerName, uplink: NetworkName): string | undefined {
  try {
    const n = showNeighbors(e, name).find((x) => x.name === uplink || x.uplink === uplink);
    return n ? String(n.state ?? n.bgpState ?? '') : undefined;
  } catch { return undefined; }
}

/** FRR's view of one client (`show bgp summary json`, l2vpn evpn peers). */
export function rrPeerState(rr: FrrHandle, client: string): string | undefined {
  const j = rr.vtyshJson('show bgp l2vpn evpn summary') as { peers?: Record<string, { state?: string }> };
  return j.peers?.[client]?.state;
}

/** FRR bfdd's view of one peer (`show bfd peers json`). */
export function rrBfdStatus(rr: FrrHandle, client: string): string | undefined {
  const j = rr.vtyshJson('show bfd peers') as Array<{ peer?: string; status?: string }>;
  return j.find((p) => p.peer === client)?.status;
}

/** Wait until server `on` has the other server's MAC behind `dst` (and its neighbour entry). */
export async function waitFdbDst(e: E2e, on: ServerName, dst: string | null, timeoutMs = 30_000): Promise<number> {
  const other = e.net.servers[on === 'l' ? 'r' : 'l'];
  const t0 = Date.now();
  await waitFor(() => e.net.fdbDst(on, other.mac) === dst, timeoutMs,
    `server-${on}: fdb ${other.mac} dst ${String(dst)} (now ${String(e.net.fdbDst(on, other.mac))})`, 20)
    .catch((err: unknown) => { throw new Error(`${String(err)}\n${diagnostics(e)}`); });
  return Date.now() - t0;
}

/** The last lines an agent wrote, for failure messages. */
export function agentTail(e: E2e, name: ServerName, lines = 30): string {
  const a = e.agents[name];
  return a ? `--- agent ${name} ---\n${a.output().split('\n').slice(-lines).join('\n')}` : '';
}

/** Agents' last lines and the reflectors' EVPN tables, for failure messages. */
export function diagnostics(e: E2e): string {
  const parts = [agentTail(e, 'l', 15), agentTail(e, 'r', 15)];
  for (const n of ['net1', 'net2'] as const) {
    try { parts.push(`--- ${n} reflector ---\n${e.rr[n].vtysh('show bgp l2vpn evpn summary', 'show bgp l2vpn evpn route type macip')}`); } catch (err) { parts.push(String(err)); }
  }
  saveAgentLogs(e);
  parts.push(`(agent logs in ${e.logDir})`);
  return parts.join('\n');
}

/** Start both agents with the same tuning and wait until each programmed the other's primary path. */
export async function startAgents(e: E2e, tuning: AgentTuning = {}): Promise<void> {
  for (const s of ['l', 'r'] as const) startAgent(e, s, tuning);
  await waitFdbDst(e, 'l', e.net.servers.r.address.net1, 40_000);
  await waitFdbDst(e, 'r', e.net.servers.l.address.net1, 40_000);
}

/** tcpdump of the VXLAN traffic on a server's uplinks (eth1, eth2). */
export async function captureVxlan(e: E2e, name: ServerName): Promise<Capture[]> {
  const ns = e.net.servers[name].ns;
  return Promise.all(['eth1', 'eth2'].map((i) => startCapture(e.lab, ns, i, { filter: 'udp port 4789' })));
}

export interface InnerFrame { etherType: number; src: string; dst: string; arpOp?: number; ipProto?: number }

function macText(b: Uint8Array, o: number): string {
  return Array.from(b.subarray(o, o + 6), (x) => x.toString(16).padStart(2, '0')).join(':');
}

/**
 * Decode the inner Ethernet frames of VXLAN packets (UDP 4789) in a pcap file
 * (Ethernet link type, IPv4 outer header). Returns one entry per VXLAN packet.
 */
export function vxlanInnerFrames(file: string): InnerFrame[] {
  const b = new Uint8Array(readFileSync(file));
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 24) return [];
  const magic = dv.getUint32(0, true);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const linkType = dv.getUint32(20, le);
  const out: InnerFrame[] = [];
  let o = 24;
  while (o + 16 <= b.length) {
    const incl = dv.getUint32(o + 8, le);
    const p = o + 16;
    o = p + incl;
    if (o > b.length) break;
    let l3 = p;
    if (linkType === 1) { // Ethernet
      if (dv.getUint16(p + 12) !== 0x0800) continue;
      l3 = p + 14;
    } else if (linkType === 113) { // Linux cooked
      if (dv.getUint16(p + 14) !== 0x0800) continue;
      l3 = p + 16;
    } else continue;
    const ihl = (b[l3]! & 0x0f) * 4;
    if (b[l3 + 9] !== 17) continue;
    const udp = l3 + ihl;
    if (dv.getUint16(udp + 2) !== 4789) continue;
    const inner = udp + 8 + 8;
    if (inner + 14 > p + incl) continue;
    const etherType = dv.getUint16(inner + 12);
    const f: InnerFrame = { etherType, dst: macText(b, inner), src: macText(b, inner + 6) };
    if (etherType === 0x0806 && inner + 22 <= p + incl) f.arpOp = dv.getUint16(inner + 14 + 6);
    if (etherType === 0x0800) f.ipProto = b[inner + 14 + 9];
    out.push(f);
  }
  return out;
}

/** Kernel entries the agent wrote, as `ip neigh` / `bridge fdb` print them (for diagnostics and assertions). */
export function kernelText(e: E2e, name: ServerName): { neigh: string; fdb: string } {
  const ns = e.net.servers[name].ns;
  return {
    neigh: nsExec(ns, 'ip', ['neigh', 'show', 'dev', 'br-vxlan']),
    fdb: nsExec(ns, 'bridge', ['fdb', 'show', 'dev', 'vxlan0']),
  };
}
