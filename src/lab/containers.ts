// "Containers" behind the servers of the two-network lab (issue 11 §6): a namespace
// with eth0 (fixed MAC and IP, IPv6 off so it says nothing by itself) whose veth peer
// is a port of the server's br-vxlan; and a live-migration style move of one. Used by
// `evpn-ha demo --containers` and the namespace tests (test/lib/containers.ts).
import { ip, nsExec, type Lab } from './netns.js';
import type { ServerName, TwoNetworkLab } from './twonet.js';

/** A container's address: its MAC and IPv4 address (a /24 on eth0). */
export interface Endpoint { mac: string; ip: string }
/** Where a container is: its server, its namespace, its bridge port on that server. */
export interface Placed { server: ServerName; ns: string; port: string }
/** The lab the containers live in (an E2e setup or the demo). */
export interface ContainerLab { lab: Lab; net: TwoNetworkLab }

/** Create container `name` behind `server` on bridge port `port`. */
export function container(e: ContainerLab, name: string, server: ServerName, port: string, c: Endpoint): Placed {
  const ns = e.lab.ns(name);
  nsExec(ns, 'sysctl', ['-qw', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
  const srv = e.net.servers[server].ns;
  e.lab.veth(ns, 'eth0', srv, port, `${c.ip}/24`);
  ip(ns, 'link', 'set', 'eth0', 'address', c.mac);
  ip(srv, 'link', 'set', port, 'master', 'br-vxlan');
  return { server, ns, port };
}

/** The bridge's own (master) FDB entries for a MAC on one port of a server. */
export function bridgeOnPort(e: ContainerLab, s: ServerName, port: string, mac: string): unknown[] {
  const out = nsExec(e.net.servers[s].ns, 'bridge', ['-j', 'fdb', 'show', 'br', 'br-vxlan']);
  return (JSON.parse(out || '[]') as Array<{ mac: string; ifname?: string }>).filter((x) => x.mac === mac && x.ifname === port);
}

/**
 * Move a container as a live migration does: a new container `name` with the same MAC
 * and IP behind `to` on `port`, holding the old one's ARP cache (taken before the pause:
 * `arp off` flushes it); the old one paused (no ARP, IP output dropped by iptables: its
 * veth and the bridge's entry for it stay); then the new one speaks (a ping to
 * `speakTo`, from which its new bridge learns its MAC). Returns the new placement and
 * the time it spoke. The old one stays until `removeOld`.
 */
export function liveMove(e: ContainerLab, old: Placed, name: string, to: ServerName, port: string, c: Endpoint, speakTo: string): { now: Placed; at: number } {
  const now = container(e, name, to, port, c);
  const neigh = JSON.parse(ip(old.ns, '-j', 'neigh', 'show', 'dev', 'eth0') || '[]') as Array<{ dst: string; lladdr?: string }>;
  for (const n of neigh) if (n.lladdr) ip(now.ns, 'neigh', 'replace', n.dst, 'lladdr', n.lladdr, 'dev', 'eth0', 'nud', 'stale');
  ip(old.ns, 'link', 'set', 'eth0', 'arp', 'off');
  nsExec(old.ns, 'iptables', ['-w', '-A', 'OUTPUT', '-j', 'DROP']);
  const at = Date.now();
  try { nsExec(now.ns, 'ping', ['-c', '1', '-W', '1', speakTo]); } catch { /* the reply may still go to the old place */ }
  return { now, at };
}

/** The paused old container is gone: its veth deleted on its server. */
export function removeOld(e: ContainerLab, old: Placed): void {
  ip(e.net.servers[old.server].ns, 'link', 'del', old.port);
}
