// IPv6 underlays (issue 12 §1): configuration, the uplink's address, the RD fallback
// and what we announce over an IPv6 session.
import t from 'tap';
import { ConfigError, parseConfig, uplinkRdRt } from '../../src/agent/config.js';
import { originate, resolveRouterId, uplinkAddress } from '../../src/agent/origination.js';
import { encodeMessage } from '../../src/bgp/message.js';
import { packUpdates } from '../../src/bgp/pack.js';
import { IFA_F_DEPRECATED, IFA_F_TEMPORARY, IFA_F_TENTATIVE } from '../../src/kernel/nl.js';
import type { LinkInfo } from '../../src/kernel/port.js';
import * as B from '../lib/bytes.js';
import '../../src/evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

const V6 = `
routerId: 10.255.0.65
vnis: [{vni: 100, bridge: br-vxlan, vxlan: vxlan0}]
uplinks:
  - {name: net1, interface: eth1, peer: '2001:db8:1::2', localAs: 65001, localPref: 200}
  - {name: net2, address: '2001:DB8:2:0:0:0:0:65', peer: '2001:db8:2::2', localAs: 65002}
`;

function errorsOf(text: string): string[] {
  try {
    parseConfig(text, 'v6.yaml');
  } catch (e) {
    if (e instanceof ConfigError) return e.lines();
    throw e;
  }
  throw new Error('expected a ConfigError');
}

function link(name: string, addresses: LinkInfo['addresses'], mac: string | null = null): LinkInfo {
  return { name, index: 1, mac, up: true, carrier: true, operstate: 'up', mtu: 1500, masterIndex: null, master: null, kind: null, vxlan: null, addresses };
}

const LINKS: LinkInfo[] = [
  link('eth1', [{ family: 6, address: '2001:db8:1::65', prefixLen: 64 }]),
  link('br-vxlan', [{ family: 4, address: '192.168.0.65', prefixLen: 24 }], '02:00:00:00:00:65'),
];

t.test('IPv6 peers and addresses are accepted, in RFC 5952 text, with the router-ID RD', (t) => {
  const c = parseConfig(V6, 'v6.yaml');
  const [n1, n2] = c.uplinks;
  t.equal(n1!.family, 6);
  t.equal(n1!.peer, '2001:db8:1::2');
  t.equal(n2!.address, '2001:db8:2::65', 'canonical text, as the kernel and the wire give it');
  t.equal(n1!.rd, '{routerId}:{vni}', 'RFC 4364 §4.2: no IPv6 administrator field, so the router ID');
  t.same(uplinkRdRt(n1!, 100, '2001:db8:1::65', '10.255.0.65').rd, { type: 1, ip: '10.255.0.65', assigned: 100 });
  const v4 = parseConfig(V6.replace("'2001:db8:1::2'", '192.168.1.2').replace(/  - \{name: net2.*\n/, ''));
  t.equal(v4.uplinks[0]!.family, 4);
  t.equal(v4.uplinks[0]!.rd, '{address}:{vni}', 'IPv4 uplinks keep the address RD');
  t.end();
});

t.test('IPv6 configuration errors name the key', (t) => {
  t.match(errorsOf(V6.replace('routerId: 10.255.0.65\n', '')),
    [/^v6\.yaml:\d+: uplinks: IPv6 uplinks need routerId/]);
  t.match(errorsOf(V6.replace("peer: '2001:db8:2::2'", 'peer: 192.168.2.2').replace("address: '2001:DB8:2:0:0:0:0:65'", 'address: 192.168.2.65')),
    [/uplinks\[1\]\.peer: is IPv4 but uplink net1 is IPv6: all uplinks must use one address family/]);
  t.match(errorsOf(V6.replace("address: '2001:DB8:2:0:0:0:0:65'", 'address: 192.168.2.65')),
    [/uplinks\[1\]\.address: must be an IPv6 address like peer 2001:db8:2::2/]);
  t.match(errorsOf(V6.replace('localPref: 200}', "localPref: 200, rd: '{address}:{vni}'}")),
    [/uplinks\[0\]\.rd: cannot use \{address\} on an IPv6 uplink .*use \{routerId\}/]);
  t.match(errorsOf(V6.replace('localPref: 200}', "localPref: 200, routeTarget: '{address}:{vni}'}")),
    [/uplinks\[0\]\.routeTarget: cannot use \{address\} on an IPv6 uplink/]);
  t.match(errorsOf(V6.replace("peer: '2001:db8:1::2'", "peer: '2001:db8:1::zz'")), [/uplinks\[0\]\.peer: must be an IP address/]);
  t.end();
});

t.test('the uplink address of an IPv6 uplink: global, not temporary, deprecated or tentative', (t) => {
  const c = parseConfig(V6);
  const u = c.uplinks[0]!;
  const eth1 = (addresses: LinkInfo['addresses']): LinkInfo[] => [link('eth1', addresses)];
  t.equal(uplinkAddress(u, eth1([{ family: 4, address: '192.168.1.65', prefixLen: 24 }])), null, 'an IPv4 address does not serve an IPv6 uplink');
  t.equal(uplinkAddress(u, eth1([
    { family: 6, address: 'fe80::1', prefixLen: 64, scope: 253 },
    { family: 6, address: '2001:db8:1::aaaa', prefixLen: 64, flags: IFA_F_TEMPORARY },
    { family: 6, address: '2001:db8:1::bbbb', prefixLen: 64, flags: IFA_F_DEPRECATED },
    { family: 6, address: '2001:db8:1::cccc', prefixLen: 64, flags: IFA_F_TENTATIVE },
    { family: 6, address: '2001:db8:1::65', prefixLen: 64, scope: 0, flags: 0x80 /* IFA_F_PERMANENT */ },
  ])), '2001:db8:1::65');
  t.equal(resolveRouterId(c, eth1([])), '10.255.0.65');
  t.equal(resolveRouterId({ ...c, routerId: null }, eth1([{ family: 6, address: '2001:db8:1::65', prefixLen: 64 }])), null,
    'never an IPv6 address as router ID');
  t.end();
});

t.test('routes over an IPv6 uplink: 16-byte next hop, router-ID RD, no type-3 by default', (t) => {
  const c = parseConfig(V6);
  t.equal(c.uplinks[0]!.inclusiveMulticastRoute, false, 'IPv6 uplinks default to no type-3 route (FRR < 10.7 resets the session)');
  const o = originate(c, LINKS);
  t.same(o.problems, []);
  const n1 = o.perUplink.get('net1')!;
  t.same(n1.map((a) => a.route.type), ['mac-ip', 'mac-ip'], 'MAC+IP and MAC-only type-2, no type-3');
  t.same(n1.map((a) => a.nextHop), ['2001:db8:1::65', '2001:db8:1::65']);
  t.match(n1[0]!.route, { type: 'mac-ip', rd: { type: 1, ip: '10.255.0.65', assigned: 100 }, ip: '192.168.0.65' });
  const v4 = parseConfig(V6.replace("'2001:db8:1::2'", '192.168.1.2').replace(/  - \{name: net2.*\n/, ''));
  t.equal(v4.uplinks[0]!.inclusiveMulticastRoute, true, 'IPv4 uplinks keep announcing type-3');
  // An uplink whose interface has no usable global IPv6 address announces nothing yet.
  const o2 = originate(c, [link('eth1', [{ family: 6, address: 'fe80::65', prefixLen: 64, scope: 253 }])]);
  t.match(o2.problems, [/uplink net1: eth1 has no usable global IPv6 address; nothing announced/]);
  t.end();
});

// The wire bytes of what an IPv6 uplink sends, built by test/lib/bytes.ts (from the
// RFC diagrams, not the encoder), including the type-3 route when it is turned on.
t.test('UPDATE bytes over an IPv6 uplink (RFC 4760 §3, RFC 7432 §7.2/§7.3, RFC 6514 §5)', (t) => {
  const c = parseConfig(V6.replace('localPref: 200}', 'localPref: 200, inclusiveMulticastRoute: true}'));
  const n1 = originate(c, LINKS).perUplink.get('net1')!;
  t.same(n1.map((a) => a.route.type), ['mac-ip', 'mac-ip', 'inclusive-multicast']);
  const encodeGroup = (ads: typeof n1): Uint8Array[] => packUpdates({
    announce: [{ attributes: { ...ads[0]!.attributes, localPref: 100 }, nextHop: ads[0]!.nextHop, routes: ads.map((a) => a.route) }],
  }, { fourOctetAs: true }).map((u) => encodeMessage(u, { fourOctetAs: true }));
  const rd = B.rdIp('10.255.0.65', 100);
  const nh = B.ip6('2001:db8:1::65');
  const common = [
    B.attr(0x40, 1, '00'), // ORIGIN IGP
    B.attr(0x40, 2), // AS_PATH empty (iBGP)
    B.attr(0x40, 5, B.u32(100)), // LOCAL_PREF
    B.attr(0xc0, 16, B.rtAs2(65001, 100), B.encap(8)), // RT 65001:100, VXLAN encapsulation
  ];
  // Type-2: MP_REACH_NLRI AFI 25 SAFI 70, next hop length 16 (RFC 4760 §3; RFC 8365 §5.1.3).
  const type2 = B.update({ attrs: [
    B.attr(0x80, 14, B.mpReachValue(25, 70, nh, B.cat(
      B.evpnMacIp({ rd, mac: '02:00:00:00:00:65', ip: '192.168.0.65', label: 100 }),
      B.evpnMacIp({ rd, mac: '02:00:00:00:00:65', label: 100 })))),
    ...common,
  ] });
  t.equal(B.toHex(encodeGroup(n1.slice(0, 2))[0]!), B.toHex(type2));
  // Type-3: originating router IP length 128 (RFC 7432 §7.3, NLRI length 29) and the
  // PMSI ingress replication endpoint as 16 bytes (RFC 6514 §5: attribute length 21).
  const type3 = B.update({ attrs: [
    B.attr(0x80, 14, B.mpReachValue(25, 70, nh, B.evpnImet({ rd, ip: '2001:db8:1::65' }))),
    ...common,
    B.attr(0xc0, 22, B.pmsiValue(6, 100, nh)),
  ] });
  const got3 = encodeGroup(n1.slice(2))[0]!;
  t.equal(B.toHex(got3), B.toHex(type3));
  t.ok(B.toHex(got3).includes('c0161500060000642001'), 'PMSI_TUNNEL flags c0, type 22, length 21, IR, label 100, IPv6 endpoint');
  t.end();
});
