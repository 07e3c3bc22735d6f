// Session security against FRR 8.4 and between evpn-ha processes, with `evpn-ha peer`
// clients (the agent's BgpSession; test/netns/auth-agent.test.ts runs the agent).
// Namespaces on one switch: rr 192.168.1.2 (FRR or `evpn-ha reflector`), a .65,
// b .87, c .100.
//  * TCP-MD5 (RFC 2385), static neighbours: FRR `neighbor X password`; the right
//    password establishes and every captured segment carries the MD5 option (kind
//    19), a wrong one never establishes and is reported as "no answer; check
//    authentication".
//  * TCP-MD5, dynamic neighbours: FRR `bgp listen range` + `neighbor PG password`;
//    evpn-ha's reflector with `password` on a listen range (TCP_MD5SIG_EXT prefix).
//  * GTSM (RFC 5082): FRR `neighbor X ttl-security hops 1`; with --ttl-security 1
//    we send TTL 255 and establish; without it FRR's IP_MINTTL drops our TTL 64.
//  * TCP-AO (RFC 5925) between `peer` and `peer`, and `peer` and the reflector,
//    when the kernel has it; without it, the key is a config error.
import t, { type Test } from 'tap';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, netnsSkipReason, waitFor } from '../lib/netns.js';
import { EvpnHaCli, ensureBuilt, peerCli } from '../lib/evpnha.js';
import { Switch } from '../lib/topology.js';
import { startCapture } from '../lib/capture.js';
import { frrPeerState, startFrr, waitFrrEstablished, type FrrHandle } from '../lib/frr.js';
import { kernelTcpAuth } from '../../src/net/sockopt.js';
import '../../src/evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

const RR = '192.168.1.2';
import { tempDir } from '../lib/tmp.js';
const A = '192.168.1.65';
const B = '192.168.1.87';
const C = '192.168.1.100';
const PASSWORD = 'evpn-ha.s3cret'; // FRR takes one word

/** bgpd with static neighbours (each with its own extra lines) and, optionally, a listen range. */
function frrConf(neighbors: Array<{ address: string; lines: string[] }>, range?: { prefix: string; lines: string[] }): string {
  return [
    'frr defaults traditional',
    'hostname rr',
    'log timestamp precision 3',
    '!',
    'router bgp 65001',
    ` bgp router-id ${RR}`,
    ' no bgp default ipv4-unicast',
    ' bgp log-neighbor-changes',
    ' timers bgp 3 9',
    ...neighbors.flatMap((n) => [` neighbor ${n.address} remote-as 65001`, ` neighbor ${n.address} timers connect 1`,
      ...n.lines.map((l) => ` neighbor ${n.address} ${l}`)]),
    ...(range ? [' neighbor CLIENTS peer-group', ' neighbor CLIENTS remote-as 65001', ...range.lines.map((l) => ` neighbor CLIENTS ${l}`),
      ` bgp listen range ${range.prefix} peer-group CLIENTS`] : []),
    ' !',
    ' address-family l2vpn evpn',
    ...neighbors.map((n) => `  neighbor ${n.address} activate`),
    ...(range ? ['  neighbor CLIENTS activate'] : []),
    ' exit-address-family',
    'exit',
    '',
  ].join('\n');
}

function lab4(t: Test, tag: string): { lab: Lab; rr: string; a: string; b: string; c: string } {
  const lab = new Lab(tag, t);
  const sw = new Switch(lab, 'sw');
  const rr = lab.ns('rr');
  const a = lab.ns('a');
  const b = lab.ns('b');
  const c = lab.ns('c');
  sw.plug(rr, `${RR}/24`);
  sw.plug(a, `${A}/24`);
  sw.plug(b, `${B}/24`);
  sw.plug(c, `${C}/24`);
  return { lab, rr, a, b, c };
}

/** SYN / SYN-ACK segments in a pcap as tshark sees them: source, TTL, TCP option kinds. */
function synSegments(file: string): Array<{ src: string; ttl: number; options: number[] }> {
  const out = execFileSync('tshark', ['-r', file, '-Y', 'tcp.flags.syn == 1', '-T', 'fields', '-E', 'separator=|',
    '-e', 'ip.src', '-e', 'ip.ttl', '-e', 'tcp.option_kind'], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l.trim()).map((l) => {
    const [src, ttl, kinds] = l.split('|');
    return { src: src ?? '', ttl: Number(ttl), options: (kinds ?? '').split(',').filter(Boolean).map(Number) };
  });
}

function peer(lab: Lab, ns: string, local: string, extra: string[], to = RR): EvpnHaCli {
  return peerCli(lab, ns, [to, '--local-as', '65001', '--local-address', local, '--hold-time', '9', ...extra]);
}

/** Nothing reaches Established within `ms` (the wait that must fail). */
async function staysDown(cli: EvpnHaCli, ms: number): Promise<boolean> {
  return waitFor(() => cli.find((l) => l.event === 'established'), ms, 'established').then(() => false, () => true);
}

const skip = netnsSkipReason(['vtysh', 'tcpdump', 'tshark']);
if (skip) {
  t.plan(0, skip);
} else {
  ensureBuilt();

  t.test('TCP-MD5 with FRR static neighbours: right password establishes, wrong one never does', async (t) => {
    const { lab, rr, a, b } = lab4(t, 'md');
    const frr: FrrHandle = await startFrr(lab, rr, {
      bgpdConf: frrConf([{ address: A, lines: [`password ${PASSWORD}`] }, { address: B, lines: [`password ${PASSWORD}`] }]),
    });
    const cap = await startCapture(lab, rr, 'eth1');
    const pa = peer(lab, a, A, ['--password', PASSWORD]);
    const pb = peer(lab, b, B, ['--password', 'not the password']);
    try {
      await pa.wait((l) => l.event === 'established', 'A established with the password', 30000);
      await waitFrrEstablished(frr, A);
      t.ok(await staysDown(pb, 8000), 'B (wrong password) does not establish');
      t.not(frrPeerState(frr, B), 'Established', 'FRR has no session with B');
      t.equal(pb.child.exitCode, null, 'B still running');
      await cap.stop();
      const syns = synSegments(cap.file);
      const fromA = syns.filter((s) => s.src === A);
      const fromRr = syns.filter((s) => s.src === RR);
      t.ok(fromA.length > 0 && fromA.every((s) => s.options.includes(19)), 'every SYN from A carries the TCP MD5 option (kind 19)');
      t.ok(fromRr.some((s) => s.options.includes(19)), 'FRR answers with a signed SYN-ACK');
      t.ok(syns.filter((s) => s.src === B).every((s) => s.options.includes(19)), 'B signs too (with the wrong key)');
      // The kernel drops B's segments silently: after the connect timeout (30 s) evpn-ha says what to check.
      const w = await pb.waitLog((l) => /no answer from 192\.168\.1\.2/.test(String(l.msg)), 'B explains', 45000);
      t.match(String(w.msg), /check authentication \(TCP-MD5 password/);
      t.notMatch(pb.stderr + pa.stderr, /s3cret|not the password/, 'no secret in any log line');
    } catch (e) {
      t.comment(frr.logTail(20));
      throw e;
    }
    t.equal(await pa.interrupt(), 0);
    t.equal(await pb.interrupt(), 0);
  });

  t.test('TCP-MD5 with FRR dynamic neighbours (bgp listen range ... password)', async (t) => {
    const { lab, rr, a, b } = lab4(t, 'mr');
    const frr = await startFrr(lab, rr, { bgpdConf: frrConf([], { prefix: '192.168.1.0/24', lines: [`password ${PASSWORD}`] }) });
    const pa = peer(lab, a, A, ['--password', PASSWORD]);
    const pb = peer(lab, b, B, []);
    try {
      await pa.wait((l) => l.event === 'established', 'A established through the listen range', 30000);
      await waitFrrEstablished(frr, A);
      t.ok(await staysDown(pb, 8000), 'B without a password does not establish');
      t.not(frrPeerState(frr, B), 'Established');
    } catch (e) {
      t.comment(frr.logTail(20));
      throw e;
    }
    t.equal(await pa.interrupt(), 0);
    t.equal(await pb.interrupt(), 0);
  });

  t.test('GTSM with FRR: ttl-security hops 1', async (t) => {
    const { lab, rr, a, c } = lab4(t, 'gt');
    const frr = await startFrr(lab, rr, {
      bgpdConf: frrConf([{ address: A, lines: ['ttl-security hops 1'] }, { address: C, lines: ['ttl-security hops 1'] }]),
    });
    const cap = await startCapture(lab, rr, 'eth1');
    const pa = peer(lab, a, A, ['--ttl-security', '1']);
    const pc = peer(lab, c, C, []);
    try {
      await pa.wait((l) => l.event === 'established', 'A established with TTL 255', 30000);
      await waitFrrEstablished(frr, A);
      t.ok(await staysDown(pc, 8000), 'C (TTL 64) does not establish: FRR drops its segments');
      await cap.stop();
      const syns = synSegments(cap.file);
      t.ok(syns.some((s) => s.src === A) && syns.filter((s) => s.src === A).every((s) => s.ttl === 255), 'A sends TTL 255');
      t.ok(syns.some((s) => s.src === C && s.ttl === 64), 'C sends TTL 64');
      t.ok(syns.filter((s) => s.src === RR).every((s) => s.ttl === 255), 'FRR sends TTL 255');
    } catch (e) {
      t.comment(frr.logTail(20));
      throw e;
    }
    t.equal(await pa.interrupt(), 0);
    t.equal(await pc.interrupt(), 0);
  });

  t.test('evpn-ha reflector: password on a listen range', async (t) => {
    const { lab, rr, a, b } = lab4(t, 'rm');
    const dir = tempDir('evpn-ha-auth-');
    const conf = join(dir, 'rr.yaml');
    writeFileSync(conf, [
      `routerId: ${RR}`, 'asn: 65001', `listen: { address: ${RR} }`,
      'listenRanges:', `  - { range: 192.168.1.64/26, password: "${PASSWORD}" }`, `  - 192.168.1.0/24`, '',
    ].join('\n'));
    const R = new EvpnHaCli(lab, rr, ['reflector', '--config', conf]);
    await R.waitLog((l) => l.msg === 'route reflector listening', 'reflector listening');
    const pa = peer(lab, a, A, ['--password', PASSWORD]);
    const pb = peer(lab, b, B, ['--password', 'wrong']);
    await pa.wait((l) => l.event === 'established', 'A (in the password range) established', 30000);
    t.ok(await staysDown(pb, 8000), 'B (wrong password) does not establish');
    t.notMatch(R.stderr, /s3cret/, 'the reflector logs no secret');
    t.equal(await pa.interrupt(), 0);
    t.equal(await pb.interrupt(), 0);
    R.child.kill('SIGTERM');
    t.equal(await R.exit, 0);
  });

  t.test('TCP-AO between evpn-ha processes', async (t) => {
    const { lab, rr, a, b } = lab4(t, 'ao');
    const ao = ['--tcp-ao-key-id', '1', '--tcp-ao-algorithm', 'hmac-sha-256', '--tcp-ao-secret', PASSWORD];
    if (!kernelTcpAuth().ao) {
      // A kernel without TCP-AO: the key is a usage / config error, exit 2, naming it.
      const p = peer(lab, a, A, ao);
      t.equal(await p.exit, 2, 'peer exits 2');
      t.match(p.stderr, /--tcp-ao-secret: this kernel has no TCP-AO/);
      const dir = tempDir('evpn-ha-auth-');
      const conf = join(dir, 'rr.yaml');
      writeFileSync(conf, [`routerId: ${RR}`, 'asn: 65001', 'listenRanges:',
        `  - { range: 192.168.1.0/24, tcpAo: { keyId: 1, algorithm: hmac-sha-256, secret: "${PASSWORD}" } }`, ''].join('\n'));
      const R = new EvpnHaCli(lab, rr, ['reflector', '--config', conf]);
      t.equal(await R.exit, 2, 'reflector exits 2');
      t.match(R.stderr, new RegExp(`${conf.replace(/[/.]/g, '\\$&')}:4: listenRanges\\[0\\]\\.tcpAo: this kernel has no TCP-AO`));
      t.notMatch(R.stderr + p.stderr, /s3cret/);
      return;
    }
    // peer <-> peer: A listens (passive), B connects; KeyIDs differ per direction.
    const pa = peerCli(lab, a, [B, '--local-as', '65001', '--local-address', A, '--passive',
      '--tcp-ao-key-id', '1', '--tcp-ao-rnext-key-id', '2', '--tcp-ao-secret', PASSWORD]);
    const pb = peerCli(lab, b, [A, '--local-as', '65001', '--local-address', B,
      '--tcp-ao-key-id', '2', '--tcp-ao-rnext-key-id', '1', '--tcp-ao-secret', PASSWORD]);
    await pa.wait((l) => l.event === 'established', 'A established (TCP-AO)', 30000);
    await pb.wait((l) => l.event === 'established', 'B established (TCP-AO)', 30000);
    t.equal(await pa.interrupt(), 0);
    t.equal(await pb.interrupt(), 0);
    // peer -> reflector with tcpAo on the listen range; a wrong secret never establishes.
    const dir = tempDir('evpn-ha-auth-');
    const conf = join(dir, 'rr.yaml');
    writeFileSync(conf, [`routerId: ${RR}`, 'asn: 65001', `listen: { address: ${RR} }`, 'listenRanges:',
      `  - { range: 192.168.1.0/24, tcpAo: { keyId: 1, algorithm: hmac-sha-256, secret: "${PASSWORD}" } }`, ''].join('\n'));
    const R = new EvpnHaCli(lab, rr, ['reflector', '--config', conf]);
    await R.waitLog((l) => l.msg === 'route reflector listening', 'reflector listening');
    const ra = peer(lab, a, A, ao);
    const rb = peer(lab, b, B, ['--tcp-ao-key-id', '1', '--tcp-ao-secret', 'wrong']);
    await ra.wait((l) => l.event === 'established', 'A established with the reflector (TCP-AO)', 30000);
    t.ok(await staysDown(rb, 8000), 'B (wrong secret) does not establish');
    t.equal(await ra.interrupt(), 0);
    t.equal(await rb.interrupt(), 0);
    R.child.kill('SIGTERM');
    t.equal(await R.exit, 0);
  });
}
