// vnis[].arpSuppress: the agent turns neigh_suppress on for the vxlan bridge port at
// start and back off at shutdown (only what it turned on), on FakeKernel.
import t from 'tap';
import { DEFAULT_FAKE_LINKS, FakeKernel, type FakeLinkSpec } from '../../src/kernel/fake.js';
import { ManualClock } from '../../src/util/clock.js';
import { parseConfig } from '../../src/agent/config.js';
import { Agent, type AgentEvent } from '../../src/agent/agent.js';
import { FakeSession } from '../lib/agent-fakes.js';

function config(arpSuppress: string): string {
  return `
vnis: [{vni: 100, bridge: br-vxlan, vxlan: vxlan0${arpSuppress}}]
uplinks:
  - {name: net1, interface: eth1, peer: 192.168.1.2, localAs: 65001}
vtepProbe: false
`;
}

async function run(arpSuppress: string, links: FakeLinkSpec[] = DEFAULT_FAKE_LINKS, before?: (k: FakeKernel) => Promise<void>) {
  const kernel = new FakeKernel({ links: links.map((l) => ({ ...l, addresses: [...(l.addresses ?? [])] })) });
  if (before) await before(kernel);
  const events: AgentEvent[] = [];
  const agent = new Agent({ config: parseConfig(config(arpSuppress)), kernel, clock: new ManualClock(1000), sessions: (spec, h) => new FakeSession(spec, h) });
  agent.subscribe((ev) => events.push(ev));
  await agent.start();
  const during = await kernel.neighSuppress('vxlan0');
  await agent.shutdown();
  const after = await kernel.neighSuppress('vxlan0');
  return { during, after, events: events.filter((e) => e.type === 'arp-suppress') };
}

t.test('off by default: the bridge port flag is not touched', async (t) => {
  const r = await run('');
  t.equal(r.during, false);
  t.equal(r.after, false);
  t.same(r.events, []);
});

t.test('arpSuppress: on while running, off again at shutdown', async (t) => {
  const r = await run(', arpSuppress: true');
  t.equal(r.during, true, 'neigh_suppress on after start');
  t.equal(r.after, false, 'turned off again at shutdown');
  t.same(r.events.map((e) => e.type === 'arp-suppress' && e.state), ['on', 'restored']);
});

t.test('already on before start: left on at shutdown', async (t) => {
  const r = await run(', arpSuppress: true', DEFAULT_FAKE_LINKS, (k) => k.setNeighSuppress('vxlan0', true));
  t.equal(r.during, true);
  t.equal(r.after, true, 'not ours to turn off');
  t.same(r.events.map((e) => e.type === 'arp-suppress' && e.state), ['was-on']);
});

t.test('vxlan device not in a bridge: reported, the agent still runs', async (t) => {
  const links = DEFAULT_FAKE_LINKS.map((l) => (l.name === 'vxlan0' ? { ...l, master: null } : l));
  const r = await run(', arpSuppress: true', links);
  t.equal(r.during, null);
  t.equal(r.events.length, 1);
  const ev = r.events[0]!;
  t.ok(ev.type === 'arp-suppress' && ev.state === 'failed' && /vxlan0 is not a bridge port/.test(ev.reason), 'failed with the device named');
});

t.test('config: arpSuppress must be a boolean, named in the error', async (t) => {
  t.throws(() => parseConfig(config(', arpSuppress: maybe')), /vnis\[0\]\.arpSuppress/);
  t.equal(parseConfig(config('')).vnis[0]!.arpSuppress, false);
  t.equal(parseConfig(config(', arpSuppress: true')).vnis[0]!.arpSuppress, true);
});
