// RFC 5881 §5: a single-hop BFD Control packet received with a TTL / Hop Limit
// below 255 is discarded. evpn-ha's reflector (namespace rr) runs a BFD session
// with the neighbor b; from b we send well-formed Control packets (state Down, Your
// Discriminator 0) ourselves, from a UDP socket with IP_TTL / IPV6_UNICAST_HOPS
// 254: the session must stay Down. The same packet with 255 must move it to Init
// (RFC 5880 §6.8.6), which shows the packets do arrive and the check can fail.
// Over IPv4 and IPv6.
import t from 'tap';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Lab, ip, netnsSkipReason, waitFor } from '../lib/netns.js';
import { EvpnHaCli, cleanEnv, ensureBuilt } from '../lib/evpnha.js';
import { Switch } from '../lib/topology.js';
import { tempDir } from '../lib/tmp.js';

/** A BFD Control packet (RFC 5880 §4.1), built by hand: version 1, state Down, Detect Mult 3, 1 s intervals. */
function controlDown(myDiscriminator: number): string {
  const b = Buffer.alloc(24);
  b[0] = 1 << 5; // Vers 1, Diag 0
  b[1] = 1 << 6; // Sta Down, no flags
  b[2] = 3; // Detect Mult
  b[3] = 24; // Length
  b.writeUInt32BE(myDiscriminator, 4);
  b.writeUInt32BE(0, 8); // Your Discriminator 0: selected by addresses
  b.writeUInt32BE(1_000_000, 12); // Desired Min TX, µs
  b.writeUInt32BE(1_000_000, 16); // Required Min RX, µs
  b.writeUInt32BE(0, 20); // Required Min Echo RX
  return b.toString('hex');
}

/** Send `count` copies of `hex` from ns to dst:3784 with the given TTL (a node child in the namespace). */
function sendFrom(ns: string, src: string, dst: string, ttl: number, hex: string, count: number): void {
  const v6 = dst.includes(':');
  const script = [
    "const dgram = require('node:dgram');",
    `const s = dgram.createSocket('${v6 ? 'udp6' : 'udp4'}');`,
    `s.bind({ address: '${src}', port: 49999 }, async () => {`,
    `  s.setTTL(${ttl});`,
    `  for (let i = 0; i < ${count}; i++) await new Promise((r) => s.send(Buffer.from('${hex}', 'hex'), 3784, '${dst}', r));`,
    '  s.close();',
    '});',
  ].join('\n');
  execFileSync('ip', ['netns', 'exec', ns, 'env', '-u', 'NODE_OPTIONS', process.execPath, '-e', script], { env: cleanEnv(), timeout: 10000 });
}

async function bfdState(R: EvpnHaCli, peer: string): Promise<unknown> {
  const before = R.out.length;
  R.child.kill('SIGUSR1');
  const st = await waitFor(() => R.out.slice(before).find((l) => l.event === 'status'), 5000, 'status line');
  return (st['peers'] as Array<Record<string, unknown>>).find((p) => p['address'] === peer)?.['bfd'];
}

const skip = netnsSkipReason([]);
if (skip) {
  t.plan(0, skip);
} else {
  ensureBuilt();
  for (const fam of [4, 6] as const) {
    t.test(`IPv${fam}: a single-hop BFD packet with TTL 254 is ignored, 255 is taken`, async (t) => {
      const lab = new Lab(`bt${fam}`, t);
      const sw = new Switch(lab, 'sw');
      const rr = lab.ns('rr');
      const b = lab.ns('b');
      sw.plug(rr, '192.168.1.2/24');
      sw.plug(b, '192.168.1.87/24');
      const [rrAddr, bAddr] = fam === 4 ? ['192.168.1.2', '192.168.1.87'] : ['fd00:1::2', 'fd00:1::87'];
      if (fam === 6) {
        ip(rr, '-6', 'addr', 'add', `${rrAddr}/64`, 'dev', 'eth1', 'nodad');
        ip(b, '-6', 'addr', 'add', `${bAddr}/64`, 'dev', 'eth1', 'nodad');
      }
      const dir = tempDir('evpn-ha-bfdttl-');
      const conf = join(dir, 'rr.yaml');
      writeFileSync(conf, [
        'routerId: 192.168.1.2', 'asn: 65001', `listen: { address: "${rrAddr}" }`,
        `neighbors: [{ address: "${bAddr}" }]`, 'bfd: { minTx: 300, minRx: 300, multiplier: 3 }', '',
      ].join('\n'));
      const R = new EvpnHaCli(lab, rr, ['reflector', '--config', conf]);
      t.teardown(() => { R.child.kill('SIGTERM'); });
      await R.waitLog((l) => l.msg === 'route reflector listening', 'reflector listening');
      await waitFor(async () => (await bfdState(R, bAddr)) === 'Down' || undefined, 10000, 'BFD session Down');

      sendFrom(b, bAddr, rrAddr, 254, controlDown(0x11223344), 5);
      await new Promise((r) => setTimeout(r, 500));
      t.equal(await bfdState(R, bAddr), 'Down', 'TTL 254: ignored, the session stays Down');

      sendFrom(b, bAddr, rrAddr, 255, controlDown(0x11223344), 1);
      t.equal(await waitFor(async () => {
        const s = await bfdState(R, bAddr);
        return s === 'Init' || s === 'Up' ? s : undefined;
      }, 3000, 'BFD session Init'), 'Init', 'TTL 255: taken, Down -> Init (RFC 5880 §6.8.6)');
      R.child.kill('SIGTERM');
      t.equal(await R.exit, 0);
    });
  }
}
