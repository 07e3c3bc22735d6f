// The control API over a real UNIX socket in a temp dir, with a fake provider:
// every method, JSON shapes, watch streaming, protocol errors, the socket file's
// life cycle, and the CLI commands (tables, --json, agent-not-running + exit 1).
import { mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import t, { type Test } from 'tap';
import { AgentNotRunningError, ControlClient, ControlError } from '../../src/control/client.js';
import { ControlServer, SocketInUseError, prepareSocketPath } from '../../src/control/server.js';
import type {
  ControlEvent, ControlProvider, KernelInfo, NeighborInfo, ReloadResult, RouteFilter, RouteInfo, VtepInfo,
} from '../../src/control/types.js';
import { runControlCli } from '../../src/cli/show.js';
import { waitFor, within } from '../lib/settle.js';

// A deadline for the whole file, behind the deadline of each wait: awaits such
// as stop() fail the run in time instead of at tap's 600 s.
t.setTimeout(120_000);

const NEIGHBORS: NeighborInfo[] = [
  {
    uplink: 'net1', peer: '192.168.1.2', localAddress: '192.168.1.65', localAs: 65001, peerAs: 65001, state: 'Established',
    established: true, uptimeMs: 3_725_000, flaps: 1, peerRouterId: '192.168.1.2', families: ['l2vpn-evpn'],
    capabilities: ['four-octet-as', 'route-refresh', 'graceful-restart'], holdTime: 9, keepalive: 3,
    bfd: { state: 'Up', remoteState: 'Up', diag: 'NoDiagnostic', txIntervalMs: 300, detectTimeMs: 900 },
    routes: { received: 4, accepted: 3, rejected: { 'route-target': 1 }, withdrawn: 0, paths: 3, best: 3, advertised: 1 },
    lastError: null,
  },
  {
    uplink: 'net2', peer: '192.168.2.2', localAddress: '192.168.2.65', localAs: 65002, peerAs: 65002, state: 'Active',
    established: false, uptimeMs: null, flaps: 2, peerRouterId: null, families: [], capabilities: [], holdTime: 9, keepalive: 3,
    bfd: null,
    routes: { received: 0, accepted: 0, rejected: {}, withdrawn: 0, paths: 0, best: 0, advertised: 1 },
    lastError: { code: 4, subcode: 0, notification: 'Hold Timer Expired / Unspecific', text: 'sent NOTIFICATION Hold Timer Expired' },
  },
];

const ROUTES: RouteInfo[] = [
  {
    vni: 100, mac: '02:00:00:00:00:87', ip: '192.168.0.87', bestReason: 'local-pref 200 > 100',
    paths: [
      { network: 'net1', peer: '192.168.1.2', nextHop: '192.168.1.87', rd: '192.168.1.87:100', routeTargets: ['65001:100'], localPref: 200, macMobilitySeq: 0, originatorId: '192.168.1.87', vtep: 'up', eligible: true, best: true },
      { network: 'net2', peer: '192.168.2.2', nextHop: '192.168.2.87', rd: '192.168.2.87:100', routeTargets: ['65002:100'], localPref: 100, macMobilitySeq: 0, originatorId: '192.168.2.87', vtep: 'down', eligible: false, best: false },
    ],
  },
  {
    vni: 200, mac: '02:00:00:00:00:99', ip: null, bestReason: 'only path',
    paths: [
      { network: 'net1', peer: '192.168.1.2', nextHop: '192.168.1.99', rd: '192.168.1.99:200', routeTargets: ['65001:200'], localPref: 200, macMobilitySeq: 3, originatorId: null, vtep: 'not-probed', eligible: true, best: true },
    ],
  },
];

const KERNEL: KernelInfo = {
  protocol: 231, staleGateOpen: true, source: 'agent',
  counts: { ok: 1, missing: 1, different: 1, extra: 1, conflict: 0 },
  entries: [
    { kind: 'fdb', device: 'vxlan0', ip: null, mac: '02:00:00:00:00:87', status: 'different', desired: { kind: 'fdb', ifname: 'vxlan0', mac: '02:00:00:00:00:87', dst: '192.168.1.87' },
      observed: [{ kind: 'fdb', ifname: 'vxlan0', ifindex: 5, mac: '02:00:00:00:00:87', table: 'vxlan', dst: '192.168.2.87', vlan: null, master: null, state: 2, flags: 0x12, protocol: null, externLearned: true }] },
    { kind: 'fdb', device: 'vxlan0', ip: null, mac: '02:00:00:00:00:99', status: 'missing', desired: { kind: 'fdb', ifname: 'vxlan0', mac: '02:00:00:00:00:99', dst: '192.168.1.99' }, observed: [] },
    { kind: 'neigh', device: 'br-vxlan', ip: '192.168.0.87', mac: '02:00:00:00:00:87', status: 'ok', desired: { kind: 'neigh', ifname: 'br-vxlan', ip: '192.168.0.87', mac: '02:00:00:00:00:87' },
      observed: [{ kind: 'neigh', ifname: 'br-vxlan', ifindex: 4, family: 4, ip: '192.168.0.87', mac: '02:00:00:00:00:87', state: 0x40, flags: 0x10, protocol: 231, externLearned: true }] },
    { kind: 'neigh', device: 'br-vxlan', ip: '192.168.0.50', mac: '02:00:00:00:00:50', status: 'extra', desired: null,
      observed: [{ kind: 'neigh', ifname: 'br-vxlan', ifindex: 4, family: 4, ip: '192.168.0.50', mac: '02:00:00:00:00:50', state: 0x40, flags: 0x10, protocol: 231, externLearned: true }] },
  ],
};

const VTEPS: VtepInfo[] = [
  { network: 'net1', localVtep: '192.168.1.65', remoteVtep: '192.168.1.87', state: 'up', eligible: true, rttMs: 0.42, srttMs: 0.4, lastReplyAgoMs: 80, sinceMs: 60_000, sent: 600, replies: 599, paths: 1 },
  { network: 'net2', localVtep: '192.168.2.65', remoteVtep: '192.168.2.87', state: 'down', eligible: false, rttMs: null, srttMs: null, lastReplyAgoMs: 5000, sinceMs: 4700, sent: 600, replies: 550, paths: 1 },
];

class FakeProvider implements ControlProvider {
  readonly filters: RouteFilter[] = [];
  reloads = 0;
  reloadResult: ReloadResult = { ok: true, message: 'configuration reloaded' };
  failNeighbors: Error | null = null;
  readonly listeners = new Set<(ev: ControlEvent) => void>();
  async neighbors(): Promise<NeighborInfo[]> {
    if (this.failNeighbors) throw this.failNeighbors;
    return NEIGHBORS;
  }
  async routes(filter: RouteFilter): Promise<RouteInfo[]> {
    this.filters.push(filter);
    return ROUTES.filter((r) => (filter.vni === undefined || r.vni === filter.vni) && (filter.mac === undefined || r.mac === filter.mac) && (filter.ip === undefined || r.ip === filter.ip));
  }
  async kernel(): Promise<KernelInfo> { return KERNEL; }
  async vteps(): Promise<VtepInfo[]> { return VTEPS; }
  async reload(): Promise<ReloadResult> {
    this.reloads++;
    return this.reloadResult;
  }
  subscribe(cb: (ev: ControlEvent) => void): () => void {
    this.listeners.add(cb);
    return () => { this.listeners.delete(cb); };
  }
  emit(ev: ControlEvent): void {
    for (const l of [...this.listeners]) l(ev);
  }
}

const EV_DOWN: ControlEvent = { type: 'session', uplink: 'net1', state: 'down', peer: '192.168.1.2', reason: 'BFD down', pathsDropped: 3, time: '2026-11-21T10:00:00.000Z' };
const EV_FAILOVER: ControlEvent = {
  type: 'failover', vni: 100, mac: '02:00:00:00:00:87', ip: '192.168.0.87', cause: 'session-down', reason: 'only path',
  from: { uplink: 'net1', peer: '192.168.1.2', nextHop: '192.168.1.87', localPref: 200, macMobilitySeq: 0, eligible: true },
  to: { uplink: 'net2', peer: '192.168.2.2', nextHop: '192.168.2.87', localPref: 100, macMobilitySeq: 0, eligible: true },
  time: '2026-11-21T10:00:00.001Z',
};

function tempDir(t: Test): string {
  const d = mkdtempSync(join(tmpdir(), 'evpn-ha-control-'));
  t.teardown(() => rmSync(d, { recursive: true, force: true }));
  return d;
}

async function rig(t: Test): Promise<{ path: string; provider: FakeProvider; server: ControlServer }> {
  const dir = tempDir(t);
  const path = join(dir, 'run', 'evpn-ha.sock');
  const provider = new FakeProvider();
  const server = new ControlServer({ path, provider });
  await server.start();
  t.teardown(() => server.close());
  return { path, provider, server };
}

/** Send raw lines, collect `n` response lines. */
function raw(path: string, text: string, n: number): Promise<unknown[]> {
  return within(new Promise((resolve, reject) => {
    const s = createConnection({ path });
    let buf = '';
    const out: unknown[] = [];
    s.on('data', (d) => {
      buf += d.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        out.push(JSON.parse(buf.slice(0, i)));
        buf = buf.slice(i + 1);
        if (out.length === n) {
          s.destroy();
          resolve(out);
        }
      }
    });
    s.on('error', reject);
    s.write(text);
  }), { what: `${n} response line(s)` });
}

function sink(): { stream: PassThrough; text(): string } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, text: () => Buffer.concat(chunks).toString() };
}

/** Run a control CLI command; `out`, when given, can be read while the command runs. */
async function cli(argv: string[], until?: Promise<string>, out = sink()): Promise<{ code: number; out: string; err: string }> {
  const err = sink();
  const code = await runControlCli(argv, { stdout: out.stream, stderr: err.stream, ...(until ? { until } : {}) });
  return { code, out: out.text(), err: err.text() };
}

function until(cond: () => boolean, what: string): Promise<void> {
  return waitFor(cond, { what });
}

/** Number of lines written so far. */
function lineCount(text: string): number {
  return text.split('\n').length - 1;
}

// --- server + client ---

t.test('socket file: parent dir created, mode 0600, removed on close', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'a', 'b', 'evpn-ha.sock');
  const server = new ControlServer({ path, provider: new FakeProvider() });
  await server.start();
  const st = statSync(path);
  t.ok(st.isSocket(), 'a socket');
  t.equal(st.mode & 0o777, 0o600, 'mode 0600');
  await server.close();
  t.notOk(existsSync(path), 'removed on close');
  await server.close();
  t.pass('close twice is harmless');
});

t.test('stale socket removed at start; a live one refused; a regular file never removed', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'evpn-ha.sock');
  // A stale socket: bound, then the listener closed without unlinking (like a crash).
  const stale = createServer();
  await new Promise<void>((r) => stale.listen(path, r));
  const live = new ControlServer({ path, provider: new FakeProvider() });
  await t.rejects(live.start(), SocketInUseError, 'a socket that answers is another agent');
  t.ok(existsSync(path), 'the live socket is left alone');
  // Make it stale: a closed server unlinks its path, so simulate a crash by a plain file bind.
  await new Promise<void>((r) => stale.close(() => r()));
  const { spawnSync } = await import('node:child_process');
  const py = spawnSync('python3', ['-c', `import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])`, path]);
  if (py.status !== 0 || !existsSync(path)) {
    t.comment('could not create a stale socket file (python3 missing): part skipped');
  } else {
    await prepareSocketPath(path);
    t.notOk(existsSync(path), 'stale socket removed');
    const s2 = new ControlServer({ path, provider: new FakeProvider() });
    await s2.start();
    t.ok(statSync(path).isSocket(), 'started over the stale socket');
    await s2.close();
  }
  writeFileSync(path, 'not a socket');
  await t.rejects(prepareSocketPath(path), /not a socket/);
  t.ok(existsSync(path), 'the regular file is still there');
});

t.test('every method through the client, JSON shapes', async (t) => {
  const { path, provider } = await rig(t);
  const c = await ControlClient.connect(path);
  t.teardown(() => c.close());
  t.same(await c.call('neighbors'), NEIGHBORS);
  t.same(await c.call('routes'), ROUTES);
  t.same(await c.call('routes', { vni: 200 }), [ROUTES[1]]);
  t.same(await c.call('routes', { mac: '02-00-00-00-00-87', ip: '192.168.0.87' }), [ROUTES[0]]);
  t.same(provider.filters, [{}, { vni: 200 }, { mac: '02:00:00:00:00:87', ip: '192.168.0.87' }], 'filters validated and normalised');
  t.same(await c.call('kernel'), KERNEL);
  t.same(await c.call('vteps'), VTEPS);
  t.same(await c.call('reload'), { ok: true, message: 'configuration reloaded' });
  t.equal(provider.reloads, 1);
  const pong = await c.call('ping');
  t.equal(pong.pong, true);
  t.equal(pong.pid, process.pid);
  // Concurrent requests on one connection are answered by id.
  const [a, b] = await Promise.all([c.call('vteps'), c.call('neighbors')]);
  t.same(a, VTEPS);
  t.same(b, NEIGHBORS);
});

t.test('errors: bad params, provider failure, protocol errors', async (t) => {
  const { path, provider } = await rig(t);
  const c = await ControlClient.connect(path);
  t.teardown(() => c.close());
  await t.rejects(c.call('routes', { vni: 'x' }), { name: 'ControlError', code: 'invalid-params' });
  await t.rejects(c.call('routes', { mac: 'zz' }), { code: 'invalid-params' });
  await t.rejects(c.call('routes', { ip: '1.2.3' }), { code: 'invalid-params' });
  await t.rejects(c.call('routes', { colour: 'red' }), { code: 'invalid-params' });
  provider.failNeighbors = new Error('rib exploded');
  await t.rejects(c.call('neighbors'), new ControlError('internal-error', 'rib exploded'));
  t.same(await c.call('vteps'), VTEPS, 'the connection survives errors');

  const lines = await raw(path, 'not json\n{"id": 7}\n{"id": 8, "method": "frobnicate"}\n[1]\n{"id": 9, "method": "vteps", "params": 3}\n{"id": "s", "method": "ping"}\n', 6);
  t.match(lines[0], { id: null, error: { code: 'parse-error' } });
  t.match(lines[1], { id: 7, error: { code: 'invalid-request', message: /method/ } });
  t.match(lines[2], { id: 8, error: { code: 'unknown-method', message: /frobnicate/ } });
  t.match(lines[3], { id: null, error: { code: 'invalid-request' } });
  t.match(lines[4], { id: 9, error: { code: 'invalid-params' } });
  t.match(lines[5], { id: 's', result: { pong: true } });
});

t.test('a client that shuts down its side after sending still gets every answer, then EOF', async (t) => {
  const { path } = await rig(t);
  const got = await new Promise<string>((resolve, reject) => {
    const s = createConnection({ path, allowHalfOpen: true });
    let buf = '';
    s.on('data', (d) => { buf += d.toString(); });
    s.on('end', () => resolve(buf));
    s.on('error', reject);
    s.end('{"id": 1, "method": "vteps"}\n{"id": 2, "method": "neighbors"}\n');
  });
  const lines = got.trim().split('\n').map((l) => JSON.parse(l) as { id: number });
  t.same(lines.map((l) => l.id).sort(), [1, 2]);
});

t.test('an over-long line is refused and the connection closed', async (t) => {
  const { path } = await rig(t);
  const lines = await raw(path, `{"id": 1, "method": "ping", "params": {"x": "${'a'.repeat(70_000)}"}}\n`, 1);
  t.match(lines[0], { id: null, error: { code: 'invalid-request', message: /longer than/ } });
});

t.test('watch streams events until the client disconnects', async (t) => {
  const { path, provider, server } = await rig(t);
  const c = await ControlClient.connect(path);
  const got: ControlEvent[] = [];
  const done = c.watch((ev) => got.push(ev));
  await until(() => provider.listeners.size === 1, 'the subscription');
  provider.emit(EV_DOWN);
  provider.emit(EV_FAILOVER);
  await until(() => got.length === 2, 'two events');
  t.same(got, [EV_DOWN, EV_FAILOVER]);
  // A second watcher sees the same events.
  const lines = raw(path, '{"id": 1, "method": "watch"}\n', 2);
  await until(() => provider.listeners.size === 2, 'the second subscription');
  provider.emit(EV_DOWN);
  t.same(await lines, [{ id: 1, result: { watching: true } }, { event: EV_DOWN }]);
  c.close();
  await done;
  await until(() => provider.listeners.size === 0 && server.connections === 0, 'unsubscribed on disconnect');
  t.pass('both watchers unsubscribed');
});

t.test('the client: agent not running', async (t) => {
  const dir = tempDir(t);
  await t.rejects(ControlClient.connect(join(dir, 'nope.sock')), AgentNotRunningError);
  // A socket file nobody listens on.
  const path = join(dir, 'dead.sock');
  const { spawnSync } = await import('node:child_process');
  spawnSync('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])', path]);
  if (existsSync(path)) await t.rejects(ControlClient.connect(path), { name: 'AgentNotRunningError', message: `agent not running (no control socket at ${path})` });
});

t.test('server close ends a watch', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 's.sock');
  const provider = new FakeProvider();
  const server = new ControlServer({ path, provider });
  await server.start();
  const c = await ControlClient.connect(path);
  const done = c.watch(() => undefined);
  await until(() => provider.listeners.size === 1, 'the watch subscription');
  await server.close();
  await done;
  t.pass('watch resolved when the agent went away');
});

// --- the CLI commands ---

t.test('cli: agent not running -> one line, exit 1 (every command)', async (t) => {
  const dir = tempDir(t);
  const path = join(dir, 'missing.sock');
  for (const argv of [['show', 'neighbors'], ['show', 'routes'], ['show', 'kernel'], ['show', 'vteps'], ['watch'], ['reload']]) {
    const r = await cli([...argv, '--socket', path]);
    t.equal(r.code, 1, `${argv.join(' ')}: exit 1`);
    t.equal(r.err, `evpn-ha: agent not running (no control socket at ${path})\n`, `${argv.join(' ')}: the one line`);
    t.equal(r.out, '');
  }
});

t.test('cli: show neighbors (table and --json)', async (t) => {
  const { path } = await rig(t);
  const r = await cli(['show', 'neighbors', '--socket', path]);
  t.equal(r.code, 0);
  t.equal(r.err, '');
  const lines = r.out.split('\n');
  t.match(lines[0], /^UPLINK\s+PEER\s+LOCAL\s+AS\s+PEER-AS\s+STATE\s+UPTIME\s+FLAPS\s+HOLD\/KA\s+BFD\s+RCVD\s+ACCEPTED\s+BEST\s+ADVERTISED$/);
  t.match(lines[1], /^net1\s+192\.168\.1\.2\s+192\.168\.1\.65\s+65001\s+65001\s+Established\s+1h02m05s\s+1\s+9\/3\s+Up\s+4\s+3\s+3\s+1$/);
  t.match(lines[2], /^net2\s+192\.168\.2\.2\s+.*Active\s+-\s+2\s+9\/3\s+-\s+0\s+0\s+0\s+1$/);
  t.match(r.out, /net1: router-id 192\.168\.1\.2; families l2vpn-evpn; capabilities four-octet-as,route-refresh,graceful-restart; rejected route-target=1; bfd Up/);
  t.match(r.out, /net2: last error: NOTIFICATION 4\/0 \(Hold Timer Expired \/ Unspecific\): sent NOTIFICATION Hold Timer Expired/);
  const j = await cli(['show', 'neighbors', '--json', '--socket', path]);
  t.equal(j.code, 0);
  t.same(JSON.parse(j.out), NEIGHBORS);
});

t.test('cli: show routes with filters', async (t) => {
  const { path, provider } = await rig(t);
  const r = await cli(['show', 'routes', '--socket', path]);
  t.equal(r.code, 0);
  const lines = r.out.trimEnd().split('\n');
  t.match(lines[0], /^\s+VNI\s+MAC\s+IP\s+NETWORK\s+NEXT HOP\s+RD\s+LPREF\s+SEQ\s+VTEP\s+BEST BECAUSE$/);
  t.match(lines[1], /^\*\s+100\s+02:00:00:00:00:87\s+192\.168\.0\.87\s+net1\s+192\.168\.1\.87\s+192\.168\.1\.87:100\s+200\s+0\s+up\s+local-pref 200 > 100$/);
  t.match(lines[2], /^\s+net2\s+192\.168\.2\.87\s+192\.168\.2\.87:100\s+100\s+0\s+down \(ineligible\)$/);
  t.match(lines[3], /^\*\s+200\s+02:00:00:00:00:99\s+-\s+net1\s+.*\s+3\s+not-probed\s+only path$/);
  t.equal(lines[4], '2 entries, 3 paths; * = best');
  const f = await cli(['show', 'routes', '--vni', '100', '--mac', '02:00:00:00:00:87', '--ip', '192.168.0.87', '--json', '--socket', path]);
  t.equal(f.code, 0);
  t.same(JSON.parse(f.out), [ROUTES[0]]);
  t.same(provider.filters.at(-1), { vni: 100, mac: '02:00:00:00:00:87', ip: '192.168.0.87' });
  const none = await cli(['show', 'routes', '--vni', '7', '--socket', path]);
  t.equal(none.out, 'no routes\n');
  const bad = await cli(['show', 'routes', '--vni', 'x', '--socket', path]);
  t.equal(bad.code, 2, 'bad --vni is a usage error');
  t.match(bad.err, /^evpn-ha: --vni needs a decimal integer/);
  const badMac = await cli(['show', 'routes', '--mac', 'nope', '--socket', path]);
  t.equal(badMac.code, 2);
  t.match(badMac.err, /mac must be a MAC address/);
});

t.test('cli: show kernel highlights missing/extra/different', async (t) => {
  const { path } = await rig(t);
  const r = await cli(['show', 'kernel', '--socket', path]);
  t.equal(r.code, 0);
  const lines = r.out.trimEnd().split('\n');
  t.match(lines[0], /^STATUS\s+KIND\s+DEVICE\s+IP\s+MAC\s+WANTED\s+KERNEL$/);
  t.match(lines[1], /^!DIFFERENT\s+fdb\s+vxlan0\s+-\s+02:00:00:00:00:87\s+dst 192\.168\.1\.87\s+dst 192\.168\.2\.87 extern_learn$/);
  t.match(lines[2], /^!MISSING\s+fdb\s+vxlan0\s+-\s+02:00:00:00:00:99\s+dst 192\.168\.1\.99\s+-$/);
  t.match(lines[3], /^ok\s+neigh\s+br-vxlan\s+192\.168\.0\.87\s+02:00:00:00:00:87\s+lladdr 02:00:00:00:00:87\s+lladdr 02:00:00:00:00:87 extern_learn proto ours$/);
  t.match(lines[4], /^!EXTRA\s+neigh\s+br-vxlan\s+192\.168\.0\.50\s+02:00:00:00:00:50\s+-\s+lladdr/);
  t.equal(lines[5], '4 entries: 1 ok, 1 missing, 1 different, 1 extra (kernel view: agent, protocol 231)');
  t.notMatch(r.out, /\x1b\[/, 'no colour when not a terminal');
  const j = await cli(['show', 'kernel', '--json', '--socket', path]);
  t.same(JSON.parse(j.out), KERNEL);
});

t.test('cli: show vteps', async (t) => {
  const { path } = await rig(t);
  const r = await cli(['show', 'vteps', '--socket', path]);
  t.equal(r.code, 0);
  const lines = r.out.trimEnd().split('\n');
  t.match(lines[0], /^NETWORK\s+LOCAL VTEP\s+REMOTE VTEP\s+STATE\s+ELIGIBLE\s+RTT\s+SRTT\s+LAST REPLY\s+IN STATE\s+SENT\/REPLIES\s+PATHS$/);
  t.match(lines[1], /^net1\s+192\.168\.1\.65\s+192\.168\.1\.87\s+up\s+yes\s+0\.42 ms\s+0\.40 ms\s+0s ago\s+1m00s\s+600\/599\s+1$/);
  t.match(lines[2], /^net2\s+192\.168\.2\.65\s+192\.168\.2\.87\s+down\s+NO\s+-\s+-\s+5s ago\s+4s\s+600\/550\s+1$/);
  const j = await cli(['show', 'vteps', '--json', '--socket', path]);
  t.same(JSON.parse(j.out), VTEPS);
});

t.test('cli: reload', async (t) => {
  const { path, provider } = await rig(t);
  const r = await cli(['reload', '--socket', path]);
  t.same(r, { code: 0, out: 'reloaded: configuration reloaded\n', err: '' });
  provider.reloadResult = { ok: false, message: 'agent.yaml:3: uplinks[0].peer: required' };
  const f = await cli(['reload', '--json', '--socket', path]);
  t.equal(f.code, 1, 'a failed reload exits 1');
  t.same(JSON.parse(f.out), provider.reloadResult);
  t.equal(provider.reloads, 2);
});

t.test('cli: watch prints events until interrupted; exit 1 when the agent goes away', async (t) => {
  const { path, provider, server } = await rig(t);
  let stop!: (why: string) => void;
  const interrupted = new Promise<string>((r) => { stop = r; });
  const out = sink();
  const running = cli(['watch', '--socket', path], interrupted, out);
  await until(() => provider.listeners.size === 1, 'the watch subscription');
  provider.emit(EV_DOWN);
  provider.emit(EV_FAILOVER);
  await until(() => lineCount(out.text()) === 2, 'both events printed');
  stop('SIGINT');
  const r = await running;
  t.equal(r.code, 0);
  t.equal(r.out,
    '2026-11-21T10:00:00.000Z session net1 down (peer 192.168.1.2): BFD down; 3 paths dropped\n' +
    '2026-11-21T10:00:00.001Z FAILOVER vni 100 02:00:00:00:00:87 192.168.0.87: net1 via 192.168.1.87 (lpref 200) -> net2 via 192.168.2.87 (lpref 100) cause session-down (only path)\n');

  // The first watch's subscription goes when the server sees its connection close.
  await until(() => provider.listeners.size === 0, 'the first watch unsubscribed');
  const jsonOut = sink();
  const json = cli(['watch', '--json', '--socket', path], new Promise(() => undefined), jsonOut);
  await until(() => provider.listeners.size === 1, 'the json watch subscription');
  provider.emit(EV_FAILOVER);
  await until(() => lineCount(jsonOut.text()) === 1, 'the event printed');
  await server.close();
  const j = await json;
  t.equal(j.code, 1, 'the agent closing the stream is exit 1');
  t.same(JSON.parse(j.out.trim()), EV_FAILOVER);
  t.equal(j.err, 'evpn-ha: the agent closed the connection\n');
});

t.test('formatEvent: every event type on one line', async (t) => {
  const { formatEvent } = await import('../../src/cli/control-format.js');
  const entry = { kind: 'fdb' as const, ifname: 'vxlan0', mac: '02:00:00:00:00:87', dst: '192.168.1.87' };
  const time = 'T';
  const lines = [
    formatEvent({ type: 'session', uplink: 'net1', state: 'up', peer: '192.168.1.2', peerRouterId: '192.168.1.2', time }),
    formatEvent({ type: 'best-path', vni: 100, mac: 'm', ip: null, before: null, after: EV_FAILOVER.type === 'failover' ? EV_FAILOVER.to : null, reason: 'only path', time }),
    formatEvent({ type: 'kernel', trigger: 'routes', replaced: 1, deleted: 0, ops: [], failed: [{ op: { op: 'replace', entry }, code: 'ENODEV', message: 'x' }], failedOmitted: 9, time }),
    formatEvent({ type: 'kernel-conflict', entry, reason: 'foreign-static', time }),
    formatEvent({ type: 'kernel-restore', keys: 2, time }),
    formatEvent({ type: 'stale-cleanup', cause: 'end-of-rib', time }),
    formatEvent({ type: 'origination', uplink: 'net1', address: '192.168.1.65', advertised: 3, withdrawn: 0, time }),
    formatEvent({ type: 'probe', network: 'net1', remoteVtep: '192.168.1.87', from: 'up', to: 'down', reason: 'detect-timeout', eligible: false, rttMs: undefined, time }),
    formatEvent({ type: 'reload', ok: false, message: 'bad', time }),
    formatEvent({ type: 'problem', message: 'p', time }),
  ];
  t.same(lines, [
    'T session net1 up (peer 192.168.1.2, router-id 192.168.1.2)',
    'T best-path vni 100 m -: none -> net2 via 192.168.2.87 (lpref 100) (only path)',
    'T kernel routes: 1 replaced, 0 deleted, 10 failed: replace fdb 02:00:00:00:00:87 dev vxlan0 dst 192.168.1.87: ENODEV; ... 9 more',
    'T kernel-conflict fdb 02:00:00:00:00:87 dev vxlan0 dst 192.168.1.87: foreign-static',
    'T kernel-restore 2 entries changed by someone else',
    'T stale-cleanup (end-of-rib)',
    'T origination net1 address 192.168.1.65: 3 advertised, 0 withdrawn',
    'T probe net1 192.168.1.87: up -> down (detect-timeout) INELIGIBLE',
    'T reload FAILED: bad',
    'T problem: p',
  ]);
});

t.test('cli: usage errors exit 2', async (t) => {
  const r = await cli(['show']);
  t.equal(r.code, 2);
  const r2 = await cli(['show', 'bogus', '--socket', '/nonexistent']);
  t.equal(r2.code, 2);
});

// --- through main() (the registered commands) ---

t.test('main(): show/watch/reload are registered; agent not running is one line and exit 1', async (t) => {
  const { main } = await import('../../src/cli/main.js');
  const dir = tempDir(t);
  const path = join(dir, 'missing.sock');
  const out = sink();
  const err = sink();
  const code = await main(['show', 'vteps', '--socket', path], { stdout: out.stream, stderr: err.stream, stdin: null });
  t.equal(code, 1);
  t.equal(err.text(), `evpn-ha: agent not running (no control socket at ${path})\n`);
  t.equal(out.text(), '');
  const { path: live } = await rig(t);
  const out2 = sink();
  const code2 = await main(['show', 'routes', '--vni', '200', '--json', '--socket', live], { stdout: out2.stream, stderr: err.stream, stdin: null });
  t.equal(code2, 0);
  t.same(JSON.parse(out2.text()), [ROUTES[1]]);
  const err3 = sink();
  t.equal(await main(['show', 'routes', '--vni', 'x', '--socket', live], { stdout: out2.stream, stderr: err3.stream, stdin: null }), 2);
  t.match(err3.text(), /^evpn-ha: --vni needs a decimal integer/);
});
