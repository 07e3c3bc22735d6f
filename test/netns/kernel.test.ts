// RtnetlinkPort against a real kernel, in a fresh namespace. A process cannot move
// its netlink sockets into a namespace, so the parent run creates the namespace and
// runs this same file inside it (EH_KERNEL_NS set) as a TAP subprocess.
// Kernel state is checked with iproute2 (`ip -j neigh`, `bridge -j fdb`), not with
// the code under test. The port's behaviour that FakeKernel must share (dumps, events,
// in-place replace, deletes, errors, nexthops) is the contract suite:
// test/netns/kernel-contract.test.ts.
import t from 'tap';
import { readdirSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Lab, ip, isRoot, nsExec, sh, waitFor } from '../lib/netns.js';
import { RtnetlinkPort } from '../../src/kernel/rtnetlink.js';
import { plan } from '../../src/kernel/reconcile.js';
import type { KernelEntry, KernelEvent, KernelOp } from '../../src/kernel/port.js';
import { describeKernelEvent as describe } from '../lib/kernel-events.js';

const NS = process.env['EH_KERNEL_NS'];
const MAC = '02:00:00:00:00:87';
const BR = 'br-vxlan';
const VX = 'vxlan0';
const DEVICES = [BR, VX];
const neighWant: Extract<KernelEntry, { kind: 'neigh' }> = { kind: 'neigh', ifname: BR, ip: '192.168.0.87', mac: MAC };
const neigh6Want: KernelEntry = { kind: 'neigh', ifname: BR, ip: 'fd00::87', mac: MAC };
const fdbWant: Extract<KernelEntry, { kind: 'fdb' }> = { kind: 'fdb', ifname: VX, mac: MAC, dst: '192.168.1.87' };

interface IpNeigh { dst: string; dev?: string; lladdr?: string; state?: string[]; extern_learn?: null; protocol?: string }
interface BridgeFdb { mac: string; ifname: string; dst?: string; master?: string; flags: string[]; state: string }

function neighs(ns: string, dev = BR): IpNeigh[] {
  return JSON.parse(ip(ns, '-j', 'neigh', 'show', 'dev', dev)) as IpNeigh[];
}

function neighs6(ns: string, dev = BR): IpNeigh[] {
  return JSON.parse(ip(ns, '-6', '-j', 'neigh', 'show', 'dev', dev)) as IpNeigh[];
}

function fdbs(ns: string, mac?: string): BridgeFdb[] {
  const all = JSON.parse(sh('bridge', ['-n', ns, '-j', 'fdb', 'show', 'dev', VX])) as BridgeFdb[];
  return mac ? all.filter((e) => e.mac === mac) : all;
}

function codes(res: Array<{ ok: boolean } & ({ ok: true } | { ok: false; code: string })>): string[] {
  return res.map((r) => (r.ok ? 'ok' : r.code));
}

async function inNamespace(ns: string): Promise<void> {
  const port = new RtnetlinkPort();
  t.teardown(() => port.close());

  t.test('links: bridge, vxlan with its VNI/port, addresses', async (t) => {
    const links = await port.links();
    const br = links.find((l) => l.name === BR);
    const vx = links.find((l) => l.name === VX);
    t.ok(br && vx);
    t.equal(br!.kind, 'bridge');
    t.ok(br!.up);
    t.same(br!.addresses.filter((a) => a.family === 4).map(({ family, address, prefixLen }) => ({ family, address, prefixLen })),
      [{ family: 4, address: '192.168.0.65', prefixLen: 24 }]);
    t.match(br!.addresses.find((a) => a.family === 4), { scope: 0, flags: Number }, 'scope and IFA_FLAGS read too');
    t.equal(vx!.kind, 'vxlan');
    t.equal(vx!.master, BR);
    t.equal(vx!.masterIndex, br!.index);
    t.same(vx!.vxlan, { vni: 100, port: 4789, local: null, learning: false });
    t.equal(links.find((l) => l.name === 'lo')!.kind, null);
  });

  t.test('replace writes what zebra writes for a remote MAC', async (t) => {
    const res = await port.apply([
      { op: 'replace', entry: neighWant },
      { op: 'replace', entry: neigh6Want },
      { op: 'replace', entry: fdbWant },
    ]);
    t.same(codes(res), ['ok', 'ok', 'ok']);
    // 192.168.0.87 dev br-vxlan lladdr 02:00:00:00:00:87 extern_learn NOARP proto 231
    const n = neighs(ns).find((x) => x.dst === '192.168.0.87');
    t.match(n, { lladdr: MAC, state: ['NOARP'], protocol: '231' });
    t.ok(n && 'extern_learn' in n, 'extern_learn');
    const n6 = neighs6(ns).find((x) => x.dst === 'fd00::87');
    t.match(n6, { lladdr: MAC, state: ['NOARP'], protocol: '231' });
    // <mac> dev vxlan0 extern_learn master br-vxlan
    // <mac> dev vxlan0 dst 192.168.1.87 self extern_learn
    const f = fdbs(ns, MAC);
    t.equal(f.length, 2);
    const master = f.find((e) => e.master === BR);
    const self = f.find((e) => e.flags.includes('self'));
    t.match(master, { flags: ['extern_learn'], master: BR });
    t.match(self, { dst: '192.168.1.87', flags: ['self', 'extern_learn'] });
    t.notMatch(self?.state ?? '', /permanent/, 'not permanent: NUD_REACHABLE like zebra');
  });

  t.test('neigh_suppress: read and set on the vxlan bridge port; the bridge then answers ARP for a remote endpoint', async (t) => {
    const cns = process.env['EH_KERNEL_CNS']!;
    const flag = (): unknown => (JSON.parse(sh('bridge', ['-n', ns, '-j', '-d', 'link', 'show', 'dev', VX])) as Array<Record<string, unknown>>)[0]?.['neigh_suppress'];
    /** Resolve 192.168.0.87 from the container (ping fails: nothing answers behind the VTEP); its neighbour entry's MAC, if any. */
    const resolve = (): string | null => {
      ip(cns, 'neigh', 'flush', 'all');
      try { nsExec(cns, 'ping', ['-c', '1', '-W', '1', '192.168.0.87']); } catch { /* no echo reply expected */ }
      const n = (JSON.parse(ip(cns, '-j', 'neigh', 'show', '192.168.0.87')) as IpNeigh[])[0];
      return n?.lladdr ?? null;
    };
    t.same(codes(await port.apply([{ op: 'replace', entry: neighWant }, { op: 'replace', entry: fdbWant }])), ['ok', 'ok']);
    t.equal(await port.neighSuppress(VX), false, 'off on a new port');
    t.equal(flag(), false);
    t.equal(await port.neighSuppress(BR), null, 'the bridge itself is no bridge port');
    t.equal(resolve(), null, 'without suppression the ARP request is flooded and nobody answers');
    await port.setNeighSuppress(VX, true);
    t.equal(flag(), true, 'bridge -d link shows neigh_suppress on');
    t.equal(await port.neighSuppress(VX), true);
    t.equal(resolve(), MAC, 'the bridge answered from our neighbour entry');
    await port.setNeighSuppress(VX, false);
    t.equal(flag(), false, 'off again');
    await t.rejects(port.setNeighSuppress('nosuchdev0', true), { code: 'ENODEV' });
  });

  t.test('concurrent dumps, link listings and writes do not collide (one dump at a time per socket)', async (t) => {
    const [a, b, c, d] = await Promise.all([
      port.dump(DEVICES), port.links(), port.dump(DEVICES),
      port.apply([{ op: 'replace', entry: neighWant }]),
    ]);
    t.same(a.length, c.length);
    t.ok(b.length >= 3);
    t.same(codes(d), ['ok']);
  });

  t.test('foreign entries are untouched by reconcile', async (t) => {
    ip(ns, 'neigh', 'add', '192.168.0.5', 'lladdr', '02:00:00:00:00:05', 'dev', BR, 'nud', 'permanent');
    ip(ns, 'neigh', 'add', '192.168.0.6', 'lladdr', '02:00:00:00:00:06', 'dev', BR, 'nud', 'noarp', 'extern_learn', 'protocol', '186');
    sh('bridge', ['-n', ns, 'fdb', 'append', '00:00:00:00:00:00', 'dev', VX, 'dst', '192.168.1.5']);
    sh('bridge', ['-n', ns, 'fdb', 'add', '02:00:00:00:00:07', 'dev', VX, 'master', 'static']);
    // Nothing desired any more: only our own entries go.
    const p = plan([], await port.dump(DEVICES));
    t.equal(p.ops.length, 3, 'neigh v4, neigh v6, fdb pair');
    t.ok(p.ops.every((o) => o.op === 'delete'));
    t.same(codes(await port.apply(p.ops)), ['ok', 'ok', 'ok']);
    t.notOk(neighs(ns).some((x) => x.dst === '192.168.0.87'));
    t.notOk(neighs6(ns).some((x) => x.dst === 'fd00::87'));
    t.same(fdbs(ns, MAC), []);
    t.ok(neighs(ns).some((x) => x.dst === '192.168.0.5'), 'permanent neigh kept');
    t.ok(neighs(ns).some((x) => x.dst === '192.168.0.6'), "another daemon's extern_learn neigh kept");
    t.ok(fdbs(ns, '00:00:00:00:00:00').some((e) => e.dst === '192.168.1.5'), 'flood entry kept');
    t.equal(fdbs(ns, '02:00:00:00:00:07').length, 1, 'static bridge entry kept');
    // A desired key held by a foreign static entry is reported, not overwritten.
    const clash = plan([{ kind: 'neigh', ifname: BR, ip: '192.168.0.5', mac: MAC }], await port.dump(DEVICES));
    t.same(clash.ops, []);
    t.equal(clash.skipped[0]?.reason, 'foreign-static');
  });

  t.test('errors are typed results, attributed to the right op in a pipelined batch', async (t) => {
    ip(ns, 'link', 'add', 've0', 'type', 'veth', 'peer', 'name', 've1');
    // An fdb replace on a device that is neither a bridge port nor vxlan: EINVAL from the kernel.
    const onVeth: KernelOp = { op: 'replace', entry: { kind: 'fdb', ifname: 've0', mac: MAC, dst: '192.168.1.87' } };
    const small = new RtnetlinkPort({ window: 4, chunk: 3 });
    t.teardown(() => small.close());
    const ops: KernelOp[] = [];
    for (let i = 0; i < 60; i++) {
      if (i % 7 === 3) ops.push(onVeth);
      else if (i % 11 === 5) ops.push({ op: 'replace', entry: { ...neighWant, ifname: 'missing0' } });
      else if (i % 13 === 6) ops.push({ op: 'delete', entry: { kind: 'neigh', ifname: BR, ip: '192.168.0.200', mac: MAC } });
      else ops.push({ op: 'replace', entry: { kind: 'neigh', ifname: BR, ip: `192.168.0.${100 + i}`, mac: MAC } });
    }
    const res = await small.apply(ops);
    const expected = ops.map((o) => (o === onVeth ? 'EINVAL' : 'ifname' in o.entry && o.entry.ifname === 'missing0' ? 'ENODEV' : 'ok'));
    t.same(codes(res), expected);
    const bad = res.find((r) => !r.ok);
    t.match(bad, { ok: false, errno: Number });
    const written = neighs(ns).filter((x) => x.dst.startsWith('192.168.0.1') && x.dst !== '192.168.0.1');
    t.equal(written.length, expected.filter((c, i) => c === 'ok' && ops[i]!.op === 'replace').length);
    t.same(codes(await small.apply(written.map((x) => ({ op: 'delete', entry: { kind: 'neigh', ifname: BR, ip: x.dst, mac: MAC } })))),
      written.map(() => 'ok'));
    t.same(codes(await small.apply([{ op: 'delete', entry: fdbWant }])), ['ok'], 'deleting what is gone succeeds');
  });

  t.test('a device created after the port opened is found', async (t) => {
    ip(ns, 'link', 'add', 'br2', 'type', 'bridge');
    ip(ns, 'link', 'set', 'br2', 'up');
    t.same(codes(await port.apply([{ op: 'replace', entry: { ...neighWant, ifname: 'br2' } }])), ['ok']);
    t.ok(neighs(ns, 'br2').some((x) => x.dst === '192.168.0.87'));
    const evs: KernelEvent[] = [];
    const off = port.subscribe((e) => evs.push(e));
    t.teardown(off);
    await port.eventsReady();
    ip(ns, 'link', 'del', 'br2');
    await waitFor(() => evs.some((e) => e.type === 'link' && e.action === 'del' && e.link.name === 'br2'), 2000, 'link del event');
  });

  t.test('a device recreated under the same name (new ifindex) is found again', async (t) => {
    const p = new RtnetlinkPort();
    t.teardown(() => p.close());
    ip(ns, 'link', 'add', 'br3', 'type', 'bridge');
    t.same(codes(await p.apply([{ op: 'replace', entry: { ...neighWant, ifname: 'br3' } }])), ['ok']);
    ip(ns, 'link', 'del', 'br3');
    ip(ns, 'link', 'add', 'br3', 'type', 'bridge');
    t.same(codes(await p.apply([{ op: 'replace', entry: { ...neighWant, ifname: 'br3' } }])), ['ok']);
    t.ok(neighs(ns, 'br3').some((x) => x.dst === '192.168.0.87'));
    ip(ns, 'link', 'del', 'br3');
  });

  t.test('our entries do not age out (extern_learn), unlike learned ones', async (t) => {
    // A second bridge/vxlan pair with 1 s ageing on both.
    ip(ns, 'link', 'add', 'br-age', 'type', 'bridge', 'ageing_time', '100');
    ip(ns, 'link', 'add', 'vx-age', 'type', 'vxlan', 'id', '200', 'dstport', '4789', 'nolearning', 'ageing', '1');
    ip(ns, 'link', 'set', 'vx-age', 'master', 'br-age');
    ip(ns, 'link', 'set', 'br-age', 'up');
    ip(ns, 'link', 'set', 'vx-age', 'up');
    t.teardown(() => { ip(ns, 'link', 'del', 'vx-age'); ip(ns, 'link', 'del', 'br-age'); });
    t.same(codes(await port.apply([{ op: 'replace', entry: { kind: 'fdb', ifname: 'vx-age', mac: MAC, dst: '192.168.1.87' } }])), ['ok']);
    // A plain (not extern_learn, not permanent) vxlan entry for comparison: it should age.
    sh('bridge', ['-n', ns, 'fdb', 'add', '02:00:00:00:00:99', 'dev', 'vx-age', 'dst', '192.168.1.99', 'self', 'dynamic']);
    const show = (): BridgeFdb[] => JSON.parse(sh('bridge', ['-n', ns, '-j', 'fdb', 'show', 'dev', 'vx-age'])) as BridgeFdb[];
    // The vxlan ageing sweep runs every 10 s: wait until it has removed the dynamic entry.
    t.ok(await waitFor(() => !show().some((e) => e.mac === '02:00:00:00:00:99'), 25_000, 'dynamic entry to age out', 500), 'dynamic entry aged out');
    t.equal(show().filter((e) => e.mac === MAC).length, 2, 'both halves of ours still there');
  });

  t.test('address and link events', async (t) => {
    const evs: KernelEvent[] = [];
    const off = port.subscribe((e) => evs.push(e));
    t.teardown(off);
    await port.eventsReady();
    ip(ns, 'addr', 'add', '192.168.0.66/24', 'dev', BR);
    ip(ns, 'link', 'set', VX, 'down');
    ip(ns, 'link', 'set', VX, 'up');
    t.ok(await waitFor(() => evs.some((e) => e.type === 'addr' && e.action === 'new' && e.address.address === '192.168.0.66'
      && e.ifname === BR && e.address.prefixLen === 24), 2000, 'addr event'), 'addr event');
    t.ok(await waitFor(() => evs.some((e) => e.type === 'link' && e.link.name === VX && !e.link.up), 2000, 'link down event'), 'link down');
    t.ok(await waitFor(() => evs.some((e) => e.type === 'link' && e.link.name === VX && e.link.up), 2000, 'link up event'), 'link up');
  });

  t.test('event pump: killed -> overflow reported, restarted, events flow again', async (t) => {
    const port = new RtnetlinkPort({ events: 'process' });
    t.teardown(() => port.close());
    const evs: KernelEvent[] = [];
    const off = port.subscribe((e) => evs.push(e));
    t.teardown(off);
    await port.eventsReady();
    const pid = port.eventPumpPid();
    t.type(pid, 'number');
    t.equal(port.eventSocketMode(), 'process');
    process.kill(pid!, 'SIGKILL');
    t.ok(await waitFor(() => evs.some((e) => e.type === 'overflow'), 2000, 'overflow after pump death'), 'overflow');
    await port.eventsReady();
    t.not(port.eventPumpPid(), pid, 'a new pump');
    ip(ns, 'neigh', 'replace', '192.168.0.77', 'lladdr', MAC, 'dev', BR, 'nud', 'permanent');
    t.ok(await waitFor(() => evs.some((e) => describe(e) === 'new neigh 192.168.0.77'), 2000, 'event after restart'), 'events again');
    ip(ns, 'neigh', 'del', '192.168.0.77', 'dev', BR);
  });

  t.test('an event pump that cannot start: backoff, then the in-process socket', async (t) => {
    const p = new RtnetlinkPort({ events: 'process', eventPumpCommand: ['/bin/false'] });
    t.teardown(() => p.close());
    const evs: KernelEvent[] = [];
    p.subscribe((e) => evs.push(e));
    await p.eventsReady();
    t.ok(evs.filter((e) => e.type === 'overflow').length >= 5, 'each failed start reported');
    ip(ns, 'neigh', 'replace', '192.168.0.79', 'lladdr', MAC, 'dev', BR, 'nud', 'permanent');
    t.ok(await waitFor(() => evs.some((e) => describe(e) === 'new neigh 192.168.0.79'), 2000, 'event via fallback'), 'events flow');
    ip(ns, 'neigh', 'del', '192.168.0.79', 'dev', BR);
  });

  t.test('inline event socket (events: inline)', async (t) => {
    const p = new RtnetlinkPort({ events: 'inline' });
    t.teardown(() => p.close());
    const evs: KernelEvent[] = [];
    p.subscribe((e) => evs.push(e));
    t.equal(p.eventPumpPid(), null);
    ip(ns, 'neigh', 'replace', '192.168.0.78', 'lladdr', MAC, 'dev', BR, 'nud', 'permanent');
    t.ok(await waitFor(() => evs.some((e) => describe(e) === 'new neigh 192.168.0.78'), 2000, 'inline event'), 'event');
    ip(ns, 'neigh', 'del', '192.168.0.78', 'dev', BR);
  });

  t.test('the event socket in this process through libc (the default, events: direct)', async (t) => {
    t.equal(new RtnetlinkPort().eventSocketMode(), null, 'no socket before a subscriber');
    const evs: KernelEvent[] = [];
    const off = port.subscribe((e) => evs.push(e));
    t.teardown(off);
    await port.eventsReady();
    t.equal(port.eventSocketMode(), 'direct');
    t.equal(port.eventPumpPid(), null, 'no child process');
    ip(ns, 'neigh', 'replace', '192.168.0.76', 'lladdr', MAC, 'dev', BR, 'nud', 'permanent');
    t.ok(await waitFor(() => evs.some((e) => describe(e) === 'new neigh 192.168.0.76'), 2000, 'direct event'), 'event');
    ip(ns, 'neigh', 'del', '192.168.0.76', 'dev', BR);
    t.ok(await waitFor(() => evs.some((e) => describe(e) === 'del neigh 192.168.0.76'), 2000, 'direct del event'), 'del event');
  });

  t.test('direct event socket: a burst arrives whole; an overflow is reported, then events flow again', async (t) => {
    // Every event of a 3,000-neighbour burst written while the loop is blocked (the
    // kernel's buffer holds it), then read. (That every turn empties the socket, so
    // that a slow subscriber does not let it overflow, shows in bench:scale: no
    // overflow at 50,000 and 200,000 routes; docs/kernel.md.)
    const big = new RtnetlinkPort({ events: 'direct' });
    t.teardown(() => big.close());
    const seen = new Set<string>();
    let overflows = 0;
    big.subscribe((e) => {
      if (e.type === 'overflow') overflows++;
      else if (e.type === 'entry' && e.entry.kind === 'neigh' && e.action === 'new') seen.add(e.entry.ip);
    });
    await big.eventsReady();
    const ips = Array.from({ length: 3000 }, (_, i) => `10.77.${i >> 8}.${i & 255}`);
    sh('ip', ['-n', ns, '-batch', '-'], ips.map((a) => `neigh replace ${a} lladdr ${MAC} dev ${BR} nud permanent`).join('\n') + '\n');
    t.teardown(() => sh('ip', ['-n', ns, '-batch', '-'], ips.map((a) => `neigh del ${a} dev ${BR}`).join('\n') + '\n'));
    t.ok(await waitFor(() => ips.every((a) => seen.has(a)), 10_000, 'all 3,000 neighbour events'), `${seen.size} of 3,000 events`);
    t.equal(overflows, 0, 'no overflow with the loop free');

    // A small buffer and an event loop held busy during the burst: the kernel drops
    // notifications; the port says so (overflow) and reads on.
    const small = new RtnetlinkPort({ events: 'direct', recvBufferSize: 16 * 1024 });
    t.teardown(() => small.close());
    const evs: KernelEvent[] = [];
    small.subscribe((e) => evs.push(e));
    await small.eventsReady();
    const more = Array.from({ length: 3000 }, (_, i) => `10.78.${i >> 8}.${i & 255}`);
    // Synchronous: the loop does not turn until ip has written all 3,000.
    sh('ip', ['-n', ns, '-batch', '-'], more.map((a) => `neigh replace ${a} lladdr ${MAC} dev ${BR} nud permanent`).join('\n') + '\n');
    t.teardown(() => sh('ip', ['-n', ns, '-batch', '-'], more.map((a) => `neigh del ${a} dev ${BR}`).join('\n') + '\n'));
    t.ok(await waitFor(() => evs.some((e) => e.type === 'overflow'), 5000, 'overflow'), 'overflow reported');
    ip(ns, 'neigh', 'replace', '192.168.0.75', 'lladdr', MAC, 'dev', BR, 'nud', 'permanent');
    t.ok(await waitFor(() => evs.some((e) => describe(e) === 'new neigh 192.168.0.75'), 2000, 'event after the overflow'), 'events again');
    ip(ns, 'neigh', 'del', '192.168.0.75', 'dev', BR);
  });

  t.test('direct event socket: after the last unsubscribe nothing is delivered and its fds are closed at once', async (t) => {
    // This port's own fds: those that appear when it subscribes (other tests' sockets
    // may close meanwhile, so counts would not do).
    const fds = (): Map<string, string> => new Map(readdirSync('/proc/self/fd').flatMap((f) => {
      try { return [[f, readlinkSync(`/proc/self/fd/${f}`)] as [string, string]]; } catch { return []; }
    }));
    const p = new RtnetlinkPort({ events: 'direct' });
    t.teardown(() => p.close());
    const evs: KernelEvent[] = [];
    const before = fds();
    const off = p.subscribe((e) => evs.push(e));
    await p.eventsReady();
    const mine = [...fds()].filter(([f, target]) => before.get(f) !== target);
    t.same(mine.map(([, target]) => target.replace(/\d+/, 'N')).sort(), ['anon_inode:[eventfd]', 'socket:[N]'], 'the socket and the poll\'s wake-up eventfd');
    off();
    t.equal(p.eventSocketMode(), null, 'no event socket without subscribers');
    ip(ns, 'neigh', 'replace', '192.168.0.74', 'lladdr', MAC, 'dev', BR, 'nud', 'permanent');
    const open = (): string[] => { const now = fds(); return mine.filter(([f, target]) => now.get(f) === target).map(([f]) => f); };
    t.ok(await waitFor(() => open().length === 0, 1000, 'fds closed'), 'the poll woke up and both fds are closed');
    await new Promise((r) => setTimeout(r, 100));
    t.same(evs.filter((e) => describe(e) === 'new neigh 192.168.0.74'), [], 'nothing delivered after the unsubscribe');
    ip(ns, 'neigh', 'del', '192.168.0.74', 'dev', BR);
    // A new subscriber opens a new socket.
    const again: KernelEvent[] = [];
    const off2 = p.subscribe((e) => again.push(e));
    t.teardown(off2);
    await p.eventsReady();
    ip(ns, 'neigh', 'replace', '192.168.0.73', 'lladdr', MAC, 'dev', BR, 'nud', 'permanent');
    t.ok(await waitFor(() => again.some((e) => describe(e) === 'new neigh 192.168.0.73'), 2000, 'event after re-subscribing'), 'events again');
    ip(ns, 'neigh', 'del', '192.168.0.73', 'dev', BR);
  });

  t.test('vxlanFamily: the family a vxlan device takes as FDB dst, asked without changing anything', async (t) => {
    const devs: Array<[string, string[], 4 | 6]> = [
      ['vx-fam4', [], 4], // no local: IPv4
      ['vx-fam6', ['local', '::'], 6], // `local ::` is not in the link dump
      ['vx-fam4l', ['local', '192.0.2.1'], 4],
      ['vx-fam6l', ['local', '2001:db8::1'], 6],
    ];
    devs.forEach(([name, local], i) => ip(ns, 'link', 'add', name, 'type', 'vxlan', 'id', String(300 + i), 'dstport', '4789', 'nolearning', ...local));
    t.teardown(() => { for (const [name] of devs) ip(ns, 'link', 'del', name); });
    for (const [name, , family] of devs) t.equal(await port.vxlanFamily(name), family, `${name}: IPv${family}`);
    t.equal(await port.vxlanFamily(BR), null, 'a bridge is not a vxlan device');
    t.equal(await port.vxlanFamily('no-such-dev'), null);
    for (const [name] of devs) {
      const fdb = JSON.parse(sh('bridge', ['-n', ns, '-j', 'fdb', 'show', 'dev', name])) as BridgeFdb[];
      t.same(fdb.filter((e) => e.mac !== '00:00:00:00:00:00'), [], `${name}: no FDB entry left by the question`);
    }
    // What the answer predicts: the kernel takes a dst of that family only.
    ip(ns, 'link', 'add', 'br-fam', 'type', 'bridge');
    t.teardown(() => ip(ns, 'link', 'del', 'br-fam'));
    ip(ns, 'link', 'set', 'vx-fam6', 'master', 'br-fam');
    ip(ns, 'link', 'set', 'vx-fam4', 'master', 'br-fam');
    const fdb6 = { kind: 'fdb' as const, ifname: 'vx-fam6', mac: MAC, dst: '2001:db8:1::87' };
    t.same(codes(await port.apply([{ op: 'replace', entry: fdb6 }, { op: 'replace', entry: { ...fdb6, ifname: 'vx-fam4' } }])),
      ['ok', 'EAFNOSUPPORT']);
    t.same(codes(await port.apply([{ op: 'delete', entry: fdb6 }])), ['ok']);
  });

  t.test('after close: typed failures, no throw', async (t) => {
    const p = new RtnetlinkPort();
    await p.close();
    const res = await p.apply([{ op: 'replace', entry: neighWant }]);
    t.same(codes(res), ['ECANCELED']);
    await t.rejects(p.dump(DEVICES));
    await p.close();
  });
}

function parent(): void {
  if (!isRoot()) {
    t.plan(0, 'needs root for network namespaces');
    return;
  }
  const lab = new Lab('kn', t);
  const ns = lab.ns('kernel');
  ip(ns, 'link', 'add', BR, 'type', 'bridge');
  ip(ns, 'link', 'add', VX, 'type', 'vxlan', 'id', '100', 'dstport', '4789', 'nolearning');
  ip(ns, 'link', 'set', VX, 'master', BR);
  ip(ns, 'addr', 'add', '192.168.0.65/24', 'dev', BR);
  ip(ns, 'link', 'set', BR, 'up');
  ip(ns, 'link', 'set', VX, 'up');
  // A container: its own namespace, a veth into br-vxlan (for neigh_suppress).
  const cns = lab.ns('container');
  lab.veth(ns, 'vc0', cns, 'eth0', undefined, '192.168.0.10/24');
  ip(ns, 'link', 'set', 'vc0', 'master', BR);
  const self = fileURLToPath(import.meta.url);
  void t.spawn('ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, self], {
    env: { ...process.env, EH_KERNEL_NS: ns, EH_KERNEL_CNS: cns },
  }, 'kernel port inside a namespace');
}

if (NS) void inNamespace(NS);
else parent();
