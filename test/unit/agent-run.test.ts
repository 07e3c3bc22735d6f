// startAgent(): the real wiring (BgpSession, control socket) on FakeKernel, a
// ManualClock and the in-memory BGP transport. Nobody listens for the BGP peer:
// sessions just stay down.
import t from 'tap';
import { writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { DEFAULT_FAKE_LINKS, FakeKernel } from '../../src/kernel/fake.js';
import { ManualClock } from '../../src/util/clock.js';
import { loadConfig } from '../../src/agent/config.js';
import { startAgent } from '../../src/cli/agent-daemon.js';
import { FakeNetwork } from '../lib/bgp-transport.js';
import { tempDir } from '../lib/tmp.js';

t.test('startAgent wires the agent, the control socket and reload; stop undoes it', async (t) => {
  const dir = tempDir('evpn-ha-run-');
  const sock = join(dir, 'ctl', 'evpn-ha.sock');
  const file = join(dir, 'agent.yaml');
  const text = `
vnis: [{vni: 100, bridge: br-vxlan, vxlan: vxlan0}]
uplinks:
  - {name: net1, address: 127.0.0.1, peer: 127.0.0.1, peerPort: 1, localAs: 65001, localPref: 200, passive: false}
vtepProbe: false
control: {socket: ${sock}}
stateDir: ${dir}
`;
  writeFileSync(file, text);
  const kernel = new FakeKernel({ links: DEFAULT_FAKE_LINKS.map((l) => ({ ...l, addresses: [...(l.addresses ?? [])] })) });
  const clock = new ManualClock();
  const running = await startAgent(loadConfig(file), { logger: pino({ level: 'silent' }), configPath: file, clock, kernel,
    bgpTransport: new FakeNetwork().transport() });
  t.ok(existsSync(sock), 'control socket created');
  t.ok(running.daemon.registry.bgp.has('net1'), 'a BgpSession per uplink');
  const n = await running.provider.neighbors();
  t.match(n, [{ uplink: 'net1' }]);
  t.same(await running.reload(), { ok: true, message: 'configuration unchanged; links re-read' });
  writeFileSync(file, text.replace('localPref: 200', 'localPref: 300'));
  t.same(await running.reload(), { ok: true, message: 'applied: uplinks.net1.localPref 200 -> 300' });
  t.same(await running.reload(), { ok: true, message: 'configuration unchanged; links re-read' });
  writeFileSync(file, text.replace('localPref: 200', 'localPref: 300').replace('vtepProbe: false', 'vtepProbe: false\nlogLevel: debug'));
  t.same(await running.reload(), { ok: false, message: 'nothing to apply; needs a restart (not applied): logLevel' });
  writeFileSync(file, text.replace('localAs: 65001', 'localAs: -5'));
  t.match(await running.reload(), { ok: false, message: /^not reloaded:\n.*uplinks\[0\]\.localAs: must be an integer/ });
  await running.stop({ reason: 'test' });
  t.notOk(existsSync(sock), 'control socket removed');
  t.equal(running.daemon.registry.bgp.size, 0);
  await running.stop();
  t.end();
});

t.test('IPv6 uplinks and an IPv4 vxlan device: start-up fails, names the device and the fix, leaves nothing behind', async (t) => {
  const dir = tempDir('evpn-ha-run-');
  const sock = join(dir, 'ctl', 'evpn-ha.sock');
  const file = join(dir, 'agent.yaml');
  writeFileSync(file, `
routerId: 10.255.0.65
vnis: [{vni: 100, bridge: br-vxlan, vxlan: vxlan0}]
uplinks:
  - {name: net1, address: '::1', peer: '::1', peerPort: 1, localAs: 65001}
vtepProbe: false
control: {socket: ${sock}}
stateDir: ${dir}
`);
  const links = (family: 4 | 6) => DEFAULT_FAKE_LINKS.map((l) => ({ ...l, addresses: [...(l.addresses ?? [])], ...(l.kind === 'vxlan' ? { family } : {}) }));
  const kernel = new FakeKernel({ links: links(4) });
  let subscribed = 0;
  const subscribe = kernel.subscribe.bind(kernel);
  kernel.subscribe = (cb) => { subscribed++; return subscribe(cb); };
  const err = await startAgent(loadConfig(file), { logger: pino({ level: 'silent' }), configPath: file, clock: new ManualClock(), kernel })
    .then(() => null, (e: unknown) => e as Error);
  t.equal(err?.name, 'StartupError');
  t.match(err?.message, /^vxlan device vxlan0 \(VNI 100\) sends over IPv4 but the uplinks are IPv6: .*EAFNOSUPPORT\)\. Re-create it as an IPv6 device: ip link del vxlan0; ip link add vxlan0 type vxlan id 100 dstport 4789 nolearning local :: .*; ip link set vxlan0 master br-vxlan up\nNothing was started or changed\.$/);
  t.notOk(existsSync(sock), 'no control socket left');
  t.equal(kernel.applied.length, 0, 'nothing written to the kernel');
  t.equal(subscribed, 0, 'the kernel was not even subscribed to');

  // The same configuration with an IPv6 vxlan device starts.
  const ok = await startAgent(loadConfig(file), { logger: pino({ level: 'silent' }), configPath: file, clock: new ManualClock(), kernel: new FakeKernel({ links: links(6) }) });
  t.ok(existsSync(sock));
  await ok.stop({ reason: 'test' });
  t.end();
});
