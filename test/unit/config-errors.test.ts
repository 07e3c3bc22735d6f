// Golden error lines of the three validators: the agent's YAML configuration, the
// reflector's, and the control socket's requests. Every case feeds one bad input
// and compares every line the validator gives (text and order) with the lines
// recorded in test/golden/config-errors.json from the hand-written validators
// these schemas replaced: `file:line: key.path: message`, the "did you mean"
// hints, the line numbers from the YAML source. Record again (only when a message
// is meant to change) with UPDATE_GOLDEN=1.
import t from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError, parseConfig, type KernelTcpAuth } from '../../src/agent/config.js';
import { parseReflectorConfig } from '../../src/reflector/config.js';
import { parseRequest, parseRouteFilter, ProtocolError } from '../../src/control/protocol.js';

const GOLDEN = new URL('../golden/config-errors.json', import.meta.url);

type Case =
  | { kind: 'agent' | 'reflector'; name: string; yaml: string; kernel?: KernelTcpAuth }
  | { kind: 'request'; name: string; line: string }
  | { kind: 'filter'; name: string; params: Record<string, unknown> };

const VNI = 'vnis: [{vni: 100, bridge: br0, vxlan: vx0}]\n';
/** A valid agent file with one uplink; `u` adds keys to the uplink, `top` adds top-level keys. */
const agent = (u = '', top = ''): string => `${VNI}uplinks:\n  - name: a\n    interface: eth1\n    peer: 10.0.0.2\n    localAs: 65001\n${u}${top}`;
const up = (...lines: string[]): string => lines.map((l) => `    ${l}\n`).join('');
const RR = 'routerId: 192.0.2.1\nasn: 65001\n';
const NOAUTH: KernelTcpAuth = { md5: false, ao: false };

const A = (name: string, yaml: string, kernel?: KernelTcpAuth): Case => ({ kind: 'agent', name, yaml, ...(kernel ? { kernel } : {}) });
const R = (name: string, yaml: string, kernel?: KernelTcpAuth): Case => ({ kind: 'reflector', name, yaml, ...(kernel ? { kernel } : {}) });

const CASES: Case[] = [
  // --- agent: document and shapes
  A('yaml syntax', 'vnis: [\n'),
  A('yaml duplicate key', `${agent()}vnis: []\n`),
  A('empty', ''),
  A('only a comment', '# nothing\n'),
  A('null document', '~\n'),
  A('root is a list', '- 1\n'),
  A('root is a scalar', 'hello\n'),
  A('unknown top keys with hints', `${agent()}kernl: {}\nvtepprobe: false\nLOGLEVEL: info\nzzzzzz: 1\n`),
  A('non-string top key', `${agent()}1: x\n[a]: b\n`),
  A('vnis missing, uplinks missing', 'logLevel: info\n'),
  A('vnis not a list', 'vnis: 5\nuplinks: []\n'),
  A('vnis empty', 'vnis: []\n'),
  A('vnis null, uplinks mapping', 'vnis:\nuplinks: {a: 1}\n'),
  // --- agent: vnis
  A('vni item not a mapping', 'vnis: [5, null, [1]]\nuplinks: [{name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001}]\n'),
  A('vni ranges', 'vnis:\n  - {vni: 0, bridge: br0, vxlan: vx0}\n  - {vni: 16777216, bridge: br1, vxlan: vx1}\n  - {vni: 1.5, bridge: br2, vxlan: vx2}\n  - {vni: "100", bridge: br3, vxlan: vx3}\nuplinks: [{name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001}]\n'),
  A('vni missing keys', 'vnis:\n  - {arpSuppress: true}\nuplinks: [{name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001}]\n'),
  A('vni endpoint keys bad types', 'vnis:\n  - {vni: 100, bridge: br0, vxlan: vx0, advertiseEndpoints: yes, flood: 1}\nuplinks: [{name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001}]\n'),
  A('vni mobility bad values and unknown key', 'vnis:\n  - vni: 100\n    bridge: br0\n    vxlan: vx0\n    mobility: {maxMoves: 0, window: 2h, freeze: false, maxMove: 1}\nuplinks: [{name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001}]\n'),
  A('vni mobility out of range', 'vnis:\n  - vni: 100\n    bridge: br0\n    vxlan: vx0\n    mobility: {maxMoves: 1.5, window: 0.5, freeze: 999999999}\nuplinks: [{name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001}]\n'),
  A('vni mobility not a mapping', 'vnis:\n  - {vni: 100, bridge: br0, vxlan: vx0, mobility: 5}\nuplinks: [{name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001}]\n'),
  A('vni bad names and types', 'vnis:\n  - {vni: 100, bridge: "this-name-is-too-long", vxlan: "a/b", arpSuppress: yes}\n  - {vni: 200, bridge: "", vxlan: 5, arpSuppress: 1}\n  - {vni: 300, bridge: ".", vxlan: "a b"}\n  - {vni: 400, bridge: "x:y", vxlan: ".."}\nuplinks: [{name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001}]\n'),
  A('vni unknown key', 'vnis:\n  - {vni: 100, bridge: br0, vxlan: vx0, brige: x, arpsuppress: true}\nuplinks: [{name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001}]\n'),
  A('vni duplicates', 'vnis:\n  - {vni: 100, bridge: br0, vxlan: vx0}\n  - {vni: 100, bridge: br0, vxlan: vx0}\n  - {vni: 200, bridge: br0, vxlan: vx1}\nuplinks: [{name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001}]\n'),
  A('vni duplicates after a bad item', 'vnis:\n  - 7\n  - {vni: 100, bridge: br0, vxlan: vx0}\n  - {vni: 100, bridge: br1, vxlan: vx1}\nuplinks: [{name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001}]\n'),
  // --- agent: uplinks
  A('uplinks empty', `${VNI}uplinks: []\n`),
  A('uplinks not a list', `${VNI}uplinks: a\n`),
  A('uplink not a mapping', `${VNI}uplinks: [a, 5]\n`),
  A('uplink unknown keys with hints', agent(up('localPerf: 200', 'peeras: 65001', 'holdtime: 9', 'bfdd: true', 'xyzzy: 1', 'tcpao: {}'))),
  A('uplink missing everything', `${VNI}uplinks:\n  - {}\n`),
  A('uplink interface and address', agent(up('address: 10.0.0.1'))),
  A('uplink name rules', `${VNI}uplinks:\n  - {name: "-a", interface: eth1, peer: 10.0.0.2, localAs: 65001}\n  - {name: "a b", interface: eth2, peer: 10.0.1.2, localAs: 65001}\n  - {name: 5, interface: eth3, peer: 10.0.3.2, localAs: 65001}\n  - {name: "${'x'.repeat(33)}", interface: eth4, peer: 10.0.4.2, localAs: 65001}\n  - {name: "", interface: eth5, peer: 10.0.5.2, localAs: 65001}\n`),
  A('uplink interface name rules', `${VNI}uplinks:\n  - {name: a, interface: "abcdefghijklmnop", peer: 10.0.0.2, localAs: 65001}\n  - {name: b, interface: 7, peer: 10.0.1.2, localAs: 65001}\n`),
  A('uplink bad peer and address', `${VNI}uplinks:\n  - {name: a, address: 10.0.0.999, peer: 192.168.1.999, localAs: 65001}\n  - {name: b, address: 5, peer: true, localAs: 65001}\n  - {name: c, address: "fe80::1%eth0", peer: 10.0.2.2, localAs: 65001}\n`),
  A('uplink address family differs from peer', `${VNI}uplinks:\n  - {name: a, address: "2001:db8::1", peer: 10.0.0.2, localAs: 65001}\n  - {name: b, address: 10.0.1.1, peer: "2001:db8:1::2", localAs: 65001}\n`),
  A('uplinks mixed families', `routerId: 192.0.2.1\n${VNI}uplinks:\n  - {name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001}\n  - {name: b, interface: eth2, peer: "2001:db8::2", localAs: 65001}\n  - {name: c, interface: eth3, peer: "2001:db8:1::2", localAs: 65001}\n`),
  A('ipv6 uplinks without routerId', `${VNI}uplinks:\n  - {name: a, interface: eth1, peer: "2001:db8::2", localAs: 65001}\n`),
  A('ipv6 uplink with {address} templates', `routerId: 192.0.2.1\n${VNI}uplinks:\n  - {name: a, interface: eth1, peer: "2001:db8::2", localAs: 65001, rd: "{address}:{vni}", routeTarget: "{address}:5"}\n`),
  A('bad routerId', `routerId: "2001:db8::1"\n${agent()}`),
  A('bad routerId type', `routerId: 5\n${agent()}`),
  A('uplink integer ranges', `${VNI}uplinks:\n  - {name: a, interface: eth1, peer: 10.0.0.2, localAs: 0, peerAs: 4294967296, localPref: -1, peerPort: 0, connectRetry: 3601}\n`),
  A('uplink integer types', agent(up('peerAs: "65001"', 'localPref: 1.5', 'peerPort: [1]', 'connectRetry: {a: 1}', 'passive: "yes"', 'inclusiveMulticastRoute: 1'))),
  A('uplink localAs missing', `${VNI}uplinks:\n  - {name: a, interface: eth1, peer: 10.0.0.2}\n`),
  A('holdTime 1', agent(up('holdTime: 1'))),
  A('holdTime 2 keepalive 1', agent(up('holdTime: 2', 'keepalive: 1'))),
  A('holdTime 0 keepalive 3', agent(up('holdTime: 0', 'keepalive: 3'))),
  A('holdTime 30 keepalive 11', agent(up('holdTime: 30', 'keepalive: 11'))),
  A('holdTime 9 keepalive 0', agent(up('holdTime: 9', 'keepalive: 0'))),
  A('holdTime bad type keepalive 5', agent(up('holdTime: x', 'keepalive: 5'))),
  A('holdTime too big', agent(up('holdTime: 65536'))),
  A('keepalive too big', agent(up('holdTime: 65535', 'keepalive: 21846'))),
  A('keepalive bad type', agent(up('keepalive: "3"'))),
  A('rd and routeTarget types', agent(up('rd: 5', 'routeTarget: ""'))),
  A('template placeholders', agent(up('rd: "{asn}:{vni}"', 'routeTarget: "{localAs}:{vnid}"'))),
  A('templates need {vni}', `vnis: [{vni: 100, bridge: b0, vxlan: v0}, {vni: 200, bridge: b1, vxlan: v1}]\nuplinks:\n  - {name: a, address: 10.0.0.1, peer: 10.0.0.2, localAs: 65001, rd: "10.0.0.1:7", routeTarget: "65001:7"}\n`),
  A('templates expand to bad values', `vnis: [{vni: 100, bridge: b0, vxlan: v0}, {vni: 70000, bridge: b1, vxlan: v1}]\nuplinks:\n  - {name: a, address: 10.0.0.1, peer: 10.0.0.2, localAs: 4200000000, rd: "{address}:7", routeTarget: "{localAs}:{vni}"}\n  - {name: b, address: 10.0.1.1, peer: 10.0.1.2, localAs: 65001, routeTarget: "{asn}:{vni}", importRouteTargets: ["x:y"], keepalive: 5}\n`),
  A('template with bad localAs', `vnis: [{vni: 70000, bridge: b0, vxlan: v0}]\nuplinks:\n  - {name: a, address: 10.0.0.1, peer: 10.0.0.2, localAs: x}\n`),
  A('template garbage', agent(up('rd: "hello"', 'routeTarget: "1:2:3:x"'))),
  A('importRouteTargets', agent(up('importRouteTargets: ["65001:*", "x:y", 5, "*", "1.2.3:4", "4294967296:1", "*:{vni}", "10.0.0.1:{vnix}"]'))),
  A('importRouteTargets empty', agent(up('importRouteTargets: []'))),
  A('importRouteTargets not a list', agent(up('importRouteTargets: "65001:*"'))),
  A('bfd scalar', agent(up('bfd: fast'))),
  A('bfd number', agent(up('bfd: 5'))),
  A('bfd list', agent(up('bfd: [1]'))),
  A('bfd fields', agent(up('bfd: {minTx: fast, minRx: 0, multiplier: 256, minrx: 5}'))),
  A('bfd durations', agent(up('bfd: {minTx: "2m", minRx: "60001ms", multiplier: 0}'))),
  A('bfd duration spellings', agent(up('bfd: {minTx: "1.5 s", minRx: " 300ms ", multiplier: 3.5}'))),
  A('gracefulRestart', `${VNI}uplinks:\n  - {name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001, gracefulRestart: 4096}\n  - {name: b, interface: eth2, peer: 10.0.1.2, localAs: 65001, gracefulRestart: yes}\n  - {name: c, interface: eth3, peer: 10.0.2.2, localAs: 65001, gracefulRestart: true}\n  - {name: d, interface: eth4, peer: 10.0.3.2, localAs: 65001, gracefulRestart: 1.5}\n  - {name: e, interface: eth5, peer: 10.0.4.2, localAs: 65001, gracefulRestart: [1]}\n`),
  A('uplink duplicates', `${VNI}uplinks:\n  - {name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001}\n  - {name: a, interface: eth1, peer: 10.0.1.2, localAs: 65001}\n  - {name: b, address: 10.0.2.1, peer: 10.0.2.2, localAs: 65001}\n  - {name: c, address: 10.0.2.1, peer: 10.0.3.2, localAs: 65001}\n`),
  A('uplink duplicates after other kinds', `${VNI}uplinks:\n  - {name: a, address: 10.0.0.1, peer: 10.0.0.2, localAs: 65001}\n  - {name: b, interface: eth1, peer: 10.0.1.2, localAs: 65001}\n  - {name: c, interface: eth1, peer: 10.0.2.2, localAs: 65001}\n`),
  // --- agent: security
  A('password types', `${VNI}uplinks:\n  - {name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001, password: 12345}\n  - {name: b, interface: eth2, peer: 10.0.1.2, localAs: 65001, password: ""}\n  - {name: c, interface: eth3, peer: 10.0.2.2, localAs: 65001, password: "${'p'.repeat(81)}"}\n  - {name: d, interface: eth4, peer: 10.0.3.2, localAs: 65001, password: true}\n`),
  A('tcpAo shapes', `${VNI}uplinks:\n  - {name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001, tcpAo: secret}\n  - {name: b, interface: eth2, peer: 10.0.1.2, localAs: 65001, tcpAo: {}}\n  - {name: c, interface: eth3, peer: 10.0.2.2, localAs: 65001, tcpAo: {keyId: 256, rnextKeyId: -1, algorithm: md5, secret: 5, keyid: 1}}\n  - {name: d, interface: eth4, peer: 10.0.3.2, localAs: 65001, tcpAo: {keyId: x, algorithm: 7, secret: "${'s'.repeat(81)}"}}\n  - {name: e, interface: eth5, peer: 10.0.4.2, localAs: 65001, tcpAo: [1]}\n`),
  A('password and tcpAo', agent(up('password: pw', 'tcpAo: {keyId: 1, algorithm: hmac-sha-1, secret: s}'))),
  A('password and bad tcpAo', agent(up('password: pw', 'tcpAo: 5'))),
  A('ttlSecurity', `${VNI}uplinks:\n  - {name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001, ttlSecurity: 0}\n  - {name: b, interface: eth2, peer: 10.0.1.2, localAs: 65001, ttlSecurity: 255}\n  - {name: c, interface: eth3, peer: 10.0.2.2, localAs: 65001, ttlSecurity: "1"}\n  - {name: d, interface: eth4, peer: 10.0.3.2, localAs: 65001, ttlSecurity: 1.5}\n`),
  A('kernel without md5 and ao', `${VNI}uplinks:\n  - {name: a, interface: eth1, peer: 10.0.0.2, localAs: 65001, password: pw}\n  - {name: b, interface: eth2, peer: 10.0.1.2, localAs: 65001, tcpAo: {keyId: 1, algorithm: aes-128-cmac, secret: s}}\n`, NOAUTH),
  A('kernel check after other errors', `${VNI}uplinks:\n  - {name: a, interface: eth1, peer: 10.0.0.2, localAs: 0, password: pw, tcpAo: {keyId: 1, algorithm: x, secret: s}}\n`, NOAUTH),
  // --- agent: other sections
  A('vtepProbe scalar', agent('', 'vtepProbe: 5\n')),
  A('vtepProbe string', agent('', 'vtepProbe: on\n')),
  A('vtepProbe list', agent('', 'vtepProbe: [1]\n')),
  A('vtepProbe fields', agent('', 'vtepProbe: {interval: 5, multiplier: 0, holdDown: 2h, port: 70000, intervall: 1}\n')),
  A('vtepProbe durations', agent('', 'vtepProbe: {interval: 61s, holdDown: "61m"}\n')),
  A('control', agent('', 'control: {socket: relative.sock, sockets: 1}\n')),
  A('control scalar', agent('', 'control: /run/x.sock\n')),
  A('control socket type', agent('', 'control: {socket: 5}\n')),
  A('stateDir', agent('', 'stateDir: var/lib\n')),
  A('stateDir type', agent('', 'stateDir: [a]\n')),
  A('metrics', agent('', 'metrics: {listen: nowhere, port: 1}\n')),
  A('metrics listen forms', `${agent()}metrics: {listen: "[1.2.3.4]:80"}\n`),
  A('metrics listen port', `${agent()}metrics: {listen: "127.0.0.1:65536"}\n`),
  A('metrics listen missing', `${agent()}metrics: {}\n`),
  A('metrics scalar', `${agent()}metrics: ":9477"\n`),
  A('kernel section', agent('', 'kernel: {protocol: 0, restoreDelay: 1001, startupGrace: -1, flushOnShutdown: no, withdrawDelay: "601s", nexthopGroups: sometimes, protocl: 1}\n')),
  A('kernel section types', agent('', 'kernel: {protocol: "231", restoreDelay: 1.5s, startupGrace: "10x", withdrawDelay: [1], nexthopGroups: 1}\n')),
  A('kernel scalar', agent('', 'kernel: 5\n')),
  A('logLevel', agent('', 'logLevel: verbose\n')),
  A('logLevel type', agent('', 'logLevel: 5\n')),
  A('many errors at once', `
vnis:
  - vni: 0
    bridge: br-vxlan
    vxlan: vxlan0
  - vni: 100
    bridge: br-vxlan
    vxlan: "this-name-is-too-long"
uplinks:
  - name: net1
    interface: eth1
    address: 10.0.0.1
    peer: 192.168.1.999
    localAs: 65001
    localPerf: 200
  - name: net1
    peer: 192.168.2.2
    localAs: -1
    holdTime: 2
    bfd: {minTx: fast}
metrics: {listen: nowhere}
stateDir: relative/dir
kernl: {}
`),
  A('yaml anchors and aliases', `${VNI}x: &a 1\nuplinks:\n  - {name: a, interface: eth1, peer: 10.0.0.2, localAs: *a}\n`),
  // --- reflector
  R('yaml syntax', 'routerId: [\n'),
  R('empty', ''),
  R('root is a list', '- 1\n'),
  R('unknown keys', `${RR}listenRanges: [10.0.0.0/8]\nlistenrange: 1\n5: x\n`),
  R('missing routerId and asn', 'listenRanges: [10.0.0.0/8]\n'),
  R('bad routerId and asn', 'routerId: 0.0.0.0\nasn: 0\nlistenRanges: [10.0.0.0/8]\n'),
  R('routerId forms', 'routerId: "2001:db8::1"\nasn: 4294967296\nclusterId: 0\nlistenRanges: [10.0.0.0/8]\n'),
  R('clusterId forms', `${RR}clusterId: x\nlistenRanges: [10.0.0.0/8]\n`),
  R('clusterId number too big', `${RR}clusterId: 4294967296\nlistenRanges: [10.0.0.0/8]\n`),
  R('no peers', RR),
  R('listen', `${RR}listen: {address: nowhere, port: 65536, prot: 1}\nlistenRanges: [10.0.0.0/8]\n`),
  R('listen types', `${RR}listen: {address: 5, port: x}\nlistenRanges: [10.0.0.0/8]\n`),
  R('listen scalar', `${RR}listen: 5\nlistenRanges: [10.0.0.0/8]\n`),
  R('listenRanges not a list', `${RR}listenRanges: 10.0.0.0/8\n`),
  R('listen ranges', `${RR}listenRanges:\n  - 10.0.0.1/8\n  - 10.0.0.0/33\n  - nowhere/8\n  - 10.0.0.0\n  - 5\n  - "2001:db8::1/32"\n  - "2001:db8::/129"\n  - {asn: 5}\n  - {range: 10.1.0.0/16, asn: 0, foo: 1}\n  - {range: 7}\n`),
  R('listen range security', `${RR}listenRanges:\n  - {range: 10.0.0.0/8, password: 5}\n  - {range: 10.1.0.0/16, password: pw, tcpAo: {keyId: 1, algorithm: hmac-sha-1, secret: s}}\n  - {range: 10.2.0.0/16, tcpAo: {keyId: 300, algorithm: x, ttl: 1}}\n  - {range: 10.3.0.0/16, tcpAo: 5}\n`),
  R('holdTime', `${RR}holdTime: 2\nlistenRanges: [10.0.0.0/8]\n`),
  R('holdTime 0 keepalive', `${RR}holdTime: 0\nkeepalive: 1\nlistenRanges: [10.0.0.0/8]\n`),
  R('keepalive too big', `${RR}holdTime: 9\nkeepalive: 4\nlistenRanges: [10.0.0.0/8]\n`),
  R('holdTime type', `${RR}holdTime: x\nkeepalive: 4\nlistenRanges: [10.0.0.0/8]\n`),
  R('holdTime 1 keepalive', `${RR}holdTime: 1\nkeepalive: 1\nlistenRanges: [10.0.0.0/8]\n`),
  R('bfd', `${RR}bfd: {minTx: 0, minRx: 4294968, multiplier: 256, mintx: 1}\nlistenRanges: [10.0.0.0/8]\n`),
  R('bfd scalar', `${RR}bfd: fast\nlistenRanges: [10.0.0.0/8]\n`),
  R('bfd durations are not taken', `${RR}bfd: {minTx: 300ms}\nlistenRanges: [10.0.0.0/8]\n`),
  R('neighbors', `${RR}neighbors:\n  - {address: 10.0.0.1, asn: 0, port: 0}\n  - {address: nowhere}\n  - {asn: 65001}\n  - {address: 10.0.0.1}\n  - 10.0.0.2\n  - {address: 5, adress: 1}\n`),
  R('neighbors not a list', `${RR}neighbors: {address: 10.0.0.1}\n`),
  R('neighbor security', `${RR}neighbors:\n  - {address: 10.0.0.1, password: ""}\n  - {address: 10.0.0.2, tcpAo: {keyId: 1, rnextKeyId: 256, algorithm: aes-128-cmac}}\n  - {address: 10.0.0.3, password: pw, tcpAo: {keyId: 1, algorithm: aes-128-cmac, secret: s}}\n`),
  R('ttlSecurity is not a reflector key', `${RR}neighbors:\n  - {address: 10.0.0.1, ttlSecurity: 1}\n`),
  R('logLevel', `${RR}logLevel: verbose\nlistenRanges: [10.0.0.0/8]\n`),
  R('logLevel type', `${RR}logLevel: 5\nlistenRanges: [10.0.0.0/8]\n`),
  R('kernel without md5 and ao', `${RR}listenRanges:\n  - {range: 10.0.0.0/8, password: pw}\nneighbors:\n  - {address: 10.0.0.1, tcpAo: {keyId: 1, algorithm: aes-128-cmac, secret: s}}\n`, NOAUTH),
  R('null values are absent', `${RR}listen:\nholdTime:\nlistenRanges: [10.0.0.0/8]\nbfd:\nlogLevel:\n`),
  // --- control requests
  { kind: 'request', name: 'not JSON', line: '{"id": 1,' },
  { kind: 'request', name: 'not an object', line: '[1]' },
  { kind: 'request', name: 'null', line: 'null' },
  { kind: 'request', name: 'no id', line: '{"method": "ping"}' },
  { kind: 'request', name: 'id null', line: '{"id": null, "method": "ping"}' },
  { kind: 'request', name: 'id object', line: '{"id": {}, "method": "ping"}' },
  { kind: 'request', name: 'no method', line: '{"id": 1}' },
  { kind: 'request', name: 'method number', line: '{"id": "x", "method": 5}' },
  { kind: 'request', name: 'unknown method', line: '{"id": 2, "method": "shutdown"}' },
  { kind: 'request', name: 'params list', line: '{"id": 3, "method": "routes", "params": [1]}' },
  { kind: 'request', name: 'params string', line: '{"id": 3, "method": "routes", "params": "x"}' },
  { kind: 'request', name: 'unknown method and bad params', line: '{"id": 4, "method": "x", "params": 5}' },
  { kind: 'filter', name: 'unknown filter', params: { vrf: 1, vni: 'x' } },
  { kind: 'filter', name: 'vni type', params: { vni: '100' } },
  { kind: 'filter', name: 'vni range', params: { vni: 16777216 } },
  { kind: 'filter', name: 'vni negative', params: { vni: -1 } },
  { kind: 'filter', name: 'vni fraction', params: { vni: 1.5 } },
  { kind: 'filter', name: 'mac', params: { mac: '02:00:00:00:00' } },
  { kind: 'filter', name: 'mac type', params: { mac: 5 } },
  { kind: 'filter', name: 'mac null', params: { mac: null } },
  { kind: 'filter', name: 'ip', params: { ip: '10.0.0.256' } },
  { kind: 'filter', name: 'ip type', params: { ip: ['10.0.0.1'] } },
  { kind: 'filter', name: 'mac and ip', params: { ip: 'x', mac: 'y' } },
];

/** What a case gives: the error lines (ConfigError) or `code: message [id]` (ProtocolError). */
function run(c: Case): string[] {
  try {
    switch (c.kind) {
      case 'agent':
        parseConfig(c.yaml, 'a.yaml', c.kernel ? { kernel: () => c.kernel! } : {});
        break;
      case 'reflector':
        parseReflectorConfig(c.yaml, 'rr.yaml', c.kernel ? { kernel: () => c.kernel! } : {});
        break;
      case 'request':
        parseRequest(c.line);
        break;
      case 'filter':
        parseRouteFilter(c.params, 9);
        break;
    }
  } catch (e) {
    if (e instanceof ConfigError) return e.lines();
    if (e instanceof ProtocolError) return [`${e.code}: ${e.message} [id ${JSON.stringify(e.id)}]`];
    throw e;
  }
  return ['(accepted)'];
}

const key = (c: Case): string => `${c.kind}: ${c.name}`;

if (process.env['UPDATE_GOLDEN'] === '1') {
  const out: Record<string, string[]> = {};
  for (const c of CASES) out[key(c)] = run(c);
  writeFileSync(GOLDEN, `${JSON.stringify(out, null, 1)}\n`);
}

const golden = JSON.parse(readFileSync(GOLDEN, 'utf8')) as Record<string, string[]>;

t.test('every case has a recorded answer and every recorded answer a case', (t) => {
  t.same(CASES.map(key).sort(), Object.keys(golden).sort());
  t.equal(new Set(CASES.map(key)).size, CASES.length, 'case names are unique');
  t.end();
});

for (const c of CASES) {
  t.test(key(c), (t) => {
    t.same(run(c), golden[key(c)]);
    t.end();
  });
}
