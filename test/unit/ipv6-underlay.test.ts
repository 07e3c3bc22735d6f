// IPv6 underlays (issue 12 §1): configuration, the uplink's address, the RD fallback
// and what we announce over an IPv6 session.
import t from 'tap';
import { ConfigError, parseConfig, uplinkRdRt } from '../../src/agent/config.js';
import { originate, resolveRouterId, uplinkAddress } from '../../src/agent/origination.js';
import { encodeMessage } from '../../src/bgp/message.js';
import { IFA_F_DEPRECATED, IFA_F_TEMPORARY, IFA_F_TENTATIVE } from '../../src/kernel/nl.js';
import type { LinkInfo } from '../../src/kernel/port.js';

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

t.test('routes over an IPv6 uplink: 16-byte next hop (RFC 4760 §3, RFC 8365 §5.1.3), router-ID RD, IPv6 PMSI endpoint', (t) => {
  const c = parseConfig(V6);
  const links = [
    link('eth1', [{ family: 6, address: '2001:db8:1::65', prefixLen: 64 }]),
    link('br-vxlan', [{ family: 4, address: '192.168.0.65', prefixLen: 24 }], '02:00:00:00:00:65'),
  ];
  const o = originate(c, links);
  t.same(o.problems, []);
  const n1 = o.perUplink.get('net1')!;
  t.same(n1.map((a) => a.nextHop), ['2001:db8:1::65', '2001:db8:1::65', '2001:db8:1::65']);
  const macIp = n1[0]!.route;
  t.match(macIp, { type: 'mac-ip', rd: { type: 1, ip: '10.255.0.65', assigned: 100 }, ip: '192.168.0.65' });
  t.match(n1[2]!.route, { type: 'inclusive-multicast', originatorIp: '2001:db8:1::65' });
  t.same(n1[2]!.attributes.pmsiTunnel?.tunnelId, new Uint8Array([0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x65]));
  // The UPDATE carries MP_REACH_NLRI with a next hop length of 16.
  const bytes = encodeMessage({ type: 'update', withdrawn: [], nlri: [], attributes: {
    ...n1[0]!.attributes, mpReach: { afi: 25, safi: 70, nextHop: ['2001:db8:1::65'], nlri: { kind: 'evpn', routes: [macIp] } },
  } }, { fourOctetAs: true });
  const hex = Buffer.from(bytes).toString('hex');
  t.ok(hex.includes(`00194610${'20010db8000100000000000000000065'}00`), 'AFI 25 SAFI 70, next hop length 16, the address, reserved 0');
  // An uplink whose interface has no usable global IPv6 address announces nothing yet.
  const o2 = originate(c, [link('eth1', [{ family: 6, address: 'fe80::65', prefixLen: 64, scope: 253 }])]);
  t.match(o2.problems, [/uplink net1: eth1 has no usable global IPv6 address; nothing announced/]);
  t.end();
});
