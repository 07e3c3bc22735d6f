// `evpn-ha run` with IPv6 uplinks checks the vxlan device's family before anything
// else (issue 12 §1): against an IPv4 vxlan0 it exits 1 with lines that name the
// device and how to re-create it, and leaves no control socket, no session and no
// kernel entry; after `ip link add vxlan0 ... local ::` the same file starts.
// One namespace, no daemons: the peer does not exist.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, ip, isRoot, sh, waitFor } from '../lib/netns.js';
import { childEnv, defaultEvpnHaCommand } from '../../src/lab/twonet.js';

if (!isRoot()) {
  t.plan(0, 'needs root for network namespaces');
} else {
  const lab = new Lab('vf', t);
  const ns = lab.ns('srv');
  const dir = mkdtempSync(join(tmpdir(), `${lab.prefix}-`));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  ip(ns, 'link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1p');
  ip(ns, 'addr', 'add', '2001:db8:1::65/64', 'dev', 'eth1', 'nodad');
  ip(ns, 'link', 'set', 'eth1p', 'up');
  ip(ns, 'link', 'set', 'eth1', 'up');
  ip(ns, 'link', 'add', 'br-vxlan', 'type', 'bridge');
  ip(ns, 'addr', 'add', '192.168.0.65/24', 'dev', 'br-vxlan');
  ip(ns, 'link', 'set', 'br-vxlan', 'up');
  const vxlan = (...local: string[]): void => {
    ip(ns, 'link', 'add', 'vxlan0', 'type', 'vxlan', 'id', '100', 'dstport', '4789', 'nolearning', ...local);
    ip(ns, 'link', 'set', 'vxlan0', 'master', 'br-vxlan', 'up');
  };
  const sock = join(dir, 'evpn-ha.sock');
  const file = join(dir, 'agent.yaml');
  writeFileSync(file, [
    'routerId: 10.255.0.65',
    'vnis: [{vni: 100, bridge: br-vxlan, vxlan: vxlan0}]',
    'uplinks:',
    "  - {name: net1, interface: eth1, peer: '2001:db8:1::2', localAs: 65001}",
    'vtepProbe: false',
    `control: {socket: ${sock}}`,
    `stateDir: ${dir}`,
    '',
  ].join('\n'));
  // `env -u NODE_OPTIONS`: tap's spawn hooks put it back into every child's environment.
  const [node, ...cli] = defaultEvpnHaCommand();
  const fdb = (): string[] => sh('bridge', ['-n', ns, 'fdb', 'show', 'dev', 'vxlan0']).split('\n').filter((l) => l && !l.startsWith('00:00:00:00:00:00'));

  t.test('an IPv4 vxlan0 (no local): exit 1, the device and the fix named, nothing left', async (t) => {
    vxlan();
    const before = fdb();
    const r = spawnSync('ip', ['netns', 'exec', ns, 'env', '-u', 'NODE_OPTIONS', node!, ...cli, 'run', '--config', file], { encoding: 'utf8', env: childEnv(), timeout: 30_000 });
    t.equal(r.status, 1, 'exit code 1');
    t.match(r.stderr, /start-up failed/, 'the agent itself ran and refused');
    const lines = r.stderr.split('\n').filter((l) => l.startsWith('evpn-ha: '));
    t.match(lines[0], /^evpn-ha: vxlan device vxlan0 \(VNI 100\) sends over IPv4 but the uplinks are IPv6: the kernel refuses IPv6 VTEPs as its FDB dst \(EAFNOSUPPORT\)\. Re-create it as an IPv6 device: ip link del vxlan0; ip link add vxlan0 type vxlan id 100 dstport 4789 nolearning local ::/);
    t.equal(lines[1], 'evpn-ha: Nothing was started or changed.');
    t.notOk(existsSync(sock), 'no control socket left');
    t.same(fdb(), before, 'no FDB entry added');
    t.notOk(/connecting to/.test(r.stderr), 'no BGP session attempted');
    ip(ns, 'link', 'del', 'vxlan0');
  });

  t.test('re-created with local ::, the same configuration starts', async (t) => {
    vxlan('local', '::');
    const child = spawn('ip', ['netns', 'exec', ns, 'env', '-u', 'NODE_OPTIONS', node!, ...cli, 'run', '--config', file], { stdio: ['ignore', 'ignore', 'pipe'], env: childEnv() });
    lab.processes.push(child);
    let err = '';
    child.stderr!.on('data', (b: Buffer) => { err += b.toString(); });
    await waitFor(() => existsSync(sock) && err.includes('connecting to 2001:db8:1::2'), 15_000, 'agent started and connecting')
      .catch((e: unknown) => { throw new Error(`${String(e)}\n${err}`); });
    t.notMatch(err, /start-up failed/);
    const exited = once(child, 'exit');
    process.kill(child.pid!, 'SIGTERM');
    const [code] = await exited;
    t.equal(code, 0, 'stops cleanly on SIGTERM');
  });
}
