// The single executable (npm run build:binary -> dist/evpn-ha): built unless it is
// newer than every input (scripts/build-binary.mjs --skip-if-fresh), copied into an
// empty directory (no node_modules anywhere near it) and run from there:
//   * --version (package.json's), --help, peer --help, a usage error (exit 2);
//   * the hidden --evpn-ha-self-test of the binary's entry (packaging/sea/entry.js):
//     the embedded netlink addon loads, an RtnetlinkPort lists links, its event pump
//     (the binary re-run as a child with --evpn-ha-event-pump) reports ready;
//     also in a fresh network namespace, and as an unprivileged user holding only
//     CAP_NET_ADMIN (what packaging/evpn-ha.service grants), which can write neigh
//     and FDB entries while the same user without it gets EPERM;
//   * two copies exchange an EVPN route over BGP on 127.0.0.1 (`peer`);
//   * the design brief's two-network lab run entirely from the binary (two
//     `reflector`s, two `run` agents): kernel entries programmed, then the upgrade
//     procedure of docs/install.md (restart with kernel.flushOnShutdown: false):
//     the restarted server's entries stay, and the ping outage is reported;
//   * the private directories the binary unpacks into are gone afterwards.
import t from 'tap';
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab, isRoot, waitFor } from '../lib/netns.js';
import { PAIR_ROUTE_JSON, runPeerPair } from '../lib/peerpair.js';
import { childEnv, TwoNetworkLab, type RunningAgent } from '../../src/lab/twonet.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;

interface SelfTest {
  version: string;
  sea: boolean;
  netlink: string;
  links: number;
  linkNames?: string[];
  eventPump: string;
  eventSocket?: string;
  write?: string;
  error?: string;
  ffi?: string;
  tcpAuth?: { md5: boolean; ao: boolean };
  ms: number;
}

// Build (or reuse) dist/evpn-ha.
const built = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-binary.mjs'), '--skip-if-fresh'], {
  cwd: ROOT, encoding: 'utf8', timeout: 300_000,
});
if (built.status !== 0) {
  t.fail(`npm run build:binary failed (exit ${built.status})`, { stderr: built.stderr });
  t.end();
} else {
  t.comment(built.stderr.trim().split('\n').filter((l) => l.includes('dist/evpn-ha')).join('; '));
  run();
}

function run(): void {
  // An empty directory, readable by the unprivileged user of the capability test.
  const dir = mkdtempSync(join(tmpdir(), 'evpn-ha-bintest-'));
  chmodSync(dir, 0o755);
  const bin = join(dir, 'evpn-ha');
  copyFileSync(join(ROOT, 'dist', 'evpn-ha'), bin);
  chmodSync(bin, 0o755);
  // Where the binary unpacks (checked empty at the end).
  const rt = mkdtempSync(join(tmpdir(), 'evpn-ha-binrt-'));
  chmodSync(rt, 0o1777);
  const env: NodeJS.ProcessEnv = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', EVPN_HA_TMPDIR: rt, LOG_LEVEL: 'warn' };
  const exec = (args: string[], prefix: string[] = []): SpawnSyncReturns<string> => {
    const [cmd, ...rest] = [...prefix, bin, ...args];
    return spawnSync(cmd!, rest, { cwd: dir, env, encoding: 'utf8', timeout: 20_000 });
  };
  const selfTest = (prefix: string[] = [], extra: string[] = []): SelfTest => {
    const r = exec(['--evpn-ha-self-test', ...extra], prefix);
    if (r.status !== 0 && !extra.length) t.comment(`self-test exit ${r.status}: ${r.stdout} ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as SelfTest;
  };

  t.teardown(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(rt, { recursive: true, force: true });
  });

  t.test('a single file: no node_modules beside it, not a script', async (t) => {
    t.same(readdirSync(dir), ['evpn-ha']);
    t.ok(statSync(bin).size > 10e6, `size ${(statSync(bin).size / 1e6).toFixed(1)} MB`);
    t.equal(readFileSync(bin).subarray(0, 4).toString('latin1'), '\x7fELF');
  });

  t.test('--version, --help, peer --help, usage error', async (t) => {
    const started = performance.now();
    const v = exec(['--version']);
    const ms = performance.now() - started;
    t.equal(v.status, 0, v.stderr);
    t.equal(v.stdout.trim(), VERSION);
    t.comment(`--version took ${ms.toFixed(0)} ms`);
    t.ok(ms < 10_000, 'starts in well under 10 s even on a loaded machine');

    const h = exec(['--help']);
    t.equal(h.status, 0, h.stderr);
    t.match(h.stdout, /evpn-ha <command>/);
    t.match(h.stdout, /peer <address>/);

    const p = exec(['peer', '--help']);
    t.equal(p.status, 0, p.stderr);
    t.match(p.stdout, /--local-as/);

    const bad = exec(['no-such-command']);
    t.equal(bad.status, 2);
    t.match(bad.stderr, /^evpn-ha: /);
  });

  t.test('self-test: embedded netlink addon, RtnetlinkPort, event pump child, koffi FFI', async (t) => {
    const r = selfTest();
    t.equal(r.version, VERSION);
    t.equal(r.sea, true, 'runs as a single executable application');
    t.equal(r.netlink, 'ok', r.error ?? '');
    t.equal(r.ffi, 'ok', 'the embedded koffi addon loads');
    t.equal(r.tcpAuth?.md5, true, 'and asks the kernel: TCP-MD5 present');
    t.equal(r.eventPump, 'ready', r.error ?? '');
    t.equal(r.eventSocket, 'direct', 'the default event socket: in the process, through the embedded koffi');
    t.ok(r.linkNames?.includes('lo'), 'links include lo');
    t.comment(`self-test ${r.ms} ms`);
  });

  t.test('self-test in a fresh network namespace', { skip: !isRoot() && 'needs root' }, async (t) => {
    const ns = `evpnha-bin-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    t.teardown(() => { spawnSync('ip', ['netns', 'del', ns]); });
    const r = selfTest(['ip', 'netns', 'exec', ns]);
    t.equal(r.netlink, 'ok', r.error ?? '');
    t.equal(r.eventPump, 'ready', r.error ?? '');
    t.same(r.linkNames, ['lo'], 'sees only the namespace\'s links');
  });

  t.test('unprivileged user with only CAP_NET_ADMIN (as the systemd unit runs it)', { skip: !isRoot() && 'needs root' }, async (t) => {
    // A namespace with the service bridge and the vxlan device, where the self-test
    // writes, reads back and deletes a neighbour and an FDB entry.
    const ns = `evpnha-binw-${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    t.teardown(() => { spawnSync('ip', ['netns', 'del', ns]); });
    const nsIp = (...a: string[]): void => { execFileSync('ip', ['netns', 'exec', ns, 'ip', ...a]); };
    nsIp('link', 'add', 'br-vxlan', 'type', 'bridge');
    nsIp('link', 'add', 'vxlan0', 'type', 'vxlan', 'id', '100', 'dstport', '4789', 'nolearning');
    nsIp('link', 'set', 'vxlan0', 'master', 'br-vxlan');
    nsIp('link', 'set', 'br-vxlan', 'up');
    nsIp('link', 'set', 'vxlan0', 'up');
    const user = ['ip', 'netns', 'exec', ns, 'setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--no-new-privs'];
    const netAdmin = [...user, '--inh-caps=-all,+net_admin', '--ambient-caps=-all,+net_admin', '--bounding-set=-all,+net_admin'];
    const noCaps = [...user, '--inh-caps=-all', '--bounding-set=-all'];

    const who = exec([], [...netAdmin, 'sh', '-c', 'id -u; grep CapEff /proc/self/status; exec "$0" --version']);
    t.equal(who.status, 0, who.stderr);
    const [uid, capEff, version] = who.stdout.trim().split('\n');
    t.equal(uid, '65534');
    t.equal(capEff?.replace(/\s+/g, ' '), 'CapEff: 0000000000001000', 'CAP_NET_ADMIN only');
    t.equal(version, VERSION);

    const r = selfTest([...netAdmin], ['--write', 'br-vxlan', 'vxlan0']);
    t.equal(r.netlink, 'ok', r.error ?? '');
    t.equal(r.eventPump, 'ready', r.error ?? '');
    t.equal(r.write, 'ok', 'neigh + FDB written, read back and deleted with CAP_NET_ADMIN alone');
    t.equal(r.eventSocket, 'direct', 'the event socket in the process with CAP_NET_ADMIN alone');

    const denied = selfTest([...noCaps], ['--write', 'br-vxlan', 'vxlan0']);
    t.equal(denied.netlink, 'ok', 'reading needs no capability');
    t.match(denied.write, /replace neigh: EPERM.*replace fdb: EPERM/, 'without CAP_NET_ADMIN the kernel refuses the writes');
  });

  t.test('a noexec unpack directory fails with a clear message and leaves nothing', { skip: !isRoot() && 'needs root' }, async (t) => {
    const nx = mkdtempSync(join(tmpdir(), 'evpn-ha-binnx-'));
    t.teardown(() => rmSync(nx, { recursive: true, force: true }));
    // A private mount namespace, so the tmpfs vanishes with the shell.
    const r = spawnSync('unshare', ['-m', 'sh', '-c',
      'mount -t tmpfs -o noexec tmpfs "$1" && EVPN_HA_TMPDIR="$1" "$2" --evpn-ha-self-test --inline; echo "exit=$?"; ls -A "$1"', 'sh', nx, bin],
    { cwd: dir, env, encoding: 'utf8', timeout: 20_000 });
    const [json, exit, ...left] = r.stdout.trim().split('\n');
    const st = JSON.parse(json ?? '{}') as SelfTest;
    t.equal(exit, 'exit=1');
    t.match(st.error, /cannot load the embedded netlink addon .*failed to map segment.*EVPN_HA_TMPDIR/);
    t.same(left, [], 'the unpack directory was removed');
  });

  t.test('two copies exchange an EVPN route over BGP (peer, with TCP-MD5 and GTSM through the embedded FFI)', async (t) => {
    const r = await runPeerPair([bin], { announcer: 'active', spawn: { cwd: dir, env }, extraArgs: ['--password', 'bin-test', '--ttl-security', '1'] });
    t.ok(r.complete, `the passive side printed End-of-RIB${r.complete ? '' : `: ${r.stderr}`}`);
    t.equal(r.activeExit, 0, 'active side exits 0 on SIGTERM');
    t.equal(r.passiveExit, 0, 'passive side exits 0 on SIGTERM');
    const up = r.lines.find((l) => l['event'] === 'established');
    t.equal(up?.['peerRouterId'], '10.0.0.2');
    t.match(r.lines.find((l) => l['event'] === 'update'), PAIR_ROUTE_JSON);
  });

  t.test('two-network lab from the binary: reflectors, agents, restart as an upgrade', { skip: !isRoot() && 'needs root' }, async (t) => {
    const lab = new Lab('bin', t);
    const tn = new TwoNetworkLab(lab, [bin]);
    tn.build();
    const childOpts = { env: { ...childEnv(), EVPN_HA_TMPDIR: rt } };
    const rrLogs: string[] = [];
    for (const n of Object.values(tn.networks)) {
      const cfg = join(tn.dir, `rr${n.index}.yaml`);
      writeFileSync(cfg, [
        `routerId: ${n.rrAddress}`, `asn: ${65000 + n.index}`,
        'listen:', `  address: ${n.rrAddress}`, 'listenRanges:', `  - 192.168.${n.index}.0/24`,
        'holdTime: 9', 'logLevel: warn', 'bfd: { minTx: 100, minRx: 100, multiplier: 3 }', '',
      ].join('\n'));
      const rr = lab.spawn(n.rrNs, bin, ['reflector', '--config', cfg], childOpts);
      rr.stderr?.on('data', (d: Buffer) => { rrLogs.push(d.toString()); });
    }
    const tuning = {
      vtepProbe: false as const, logLevel: 'warn', bfd: { minTx: 100, minRx: 100, multiplier: 3 },
      extra: 'kernel:\n  flushOnShutdown: false\n  startupGrace: 5',
    };
    const { l, r } = tn.servers;
    tn.startAgent('l', tuning);
    let agentR: RunningAgent = tn.startAgent('r', tuning);
    const programmed = (on: 'l' | 'r', other: typeof l): boolean =>
      tn.fdbDst(on, other.mac) === other.address.net1 && tn.neigh(on, other.service)?.lladdr === other.mac;
    try {
      await waitFor(() => programmed('l', r) && programmed('r', l), 30_000, 'both servers programmed via net1');
    } catch (e) {
      t.comment(`agent r: ${agentR.output().slice(-2000)}\nreflectors: ${rrLogs.join('').slice(-1000)}`);
      throw e;
    }
    t.pass('each server has the other\'s neigh + FDB entry (primary network, dst on net1)');
    t.match(tn.neigh('l', r.service), { protocol: '231', state: ['NOARP'] });
    // BFD runs in the BFD process, which is the binary itself with --evpn-ha-bfd.
    const bfdStates = (name: 'l' | 'r'): string[] => {
      const j = JSON.parse(tn.evpnHaCli(name, ['show', 'neighbors', '--json', '--socket', tn.socketPath(name)])) as unknown;
      const list = (Array.isArray(j) ? j : (j as { neighbors?: unknown[] }).neighbors ?? []) as Array<{ bfd?: { state?: string } | null }>;
      return list.map((n) => n.bfd?.state ?? 'none');
    };
    await waitFor(() => (['l', 'r'] as const).every((n) => { const st = bfdStates(n); return st.length === 2 && st.every((x) => x === 'Up'); }),
      20_000, 'BFD Up on both uplinks of both servers');
    t.pass('BFD Up on both uplinks of both servers (binary, BFD process)');
    const bfdChildren = (pid: number | undefined): string[] => {
      if (pid === undefined) return [];
      const kids = spawnSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
      return kids.map((k) => { try { return readFileSync(`/proc/${k}/cmdline`, 'utf8').split('\0').join(' '); } catch { return ''; } })
        .filter((c) => c.includes('--evpn-ha-bfd'));
    };
    const bfdR = bfdChildren(agentR.child.pid);
    t.equal(bfdR.length, 1, `agent r has one BFD process: ${bfdR.join(' | ')}`);
    t.ok(bfdR[0]?.startsWith(bin), 'the BFD process is the binary itself');
    const bfdPidR = Number(spawnSync('pgrep', ['-P', String(agentR.child.pid), '-f', '--', '--evpn-ha-bfd'], { encoding: 'utf8' }).stdout.trim().split('\n')[0]);
    t.ok(tn.pingOnce('l', r.service), 'service addresses reach each other over VXLAN');

    // Upgrade: replace the binary (a copy: same path, new inode), restart agent r.
    const ping = tn.ping('l', r.service, 10);
    await waitFor(() => ping.replies.length > 20, 5000, 'ping running');
    copyFileSync(bin, `${bin}.new`);
    renameSync(`${bin}.new`, bin);
    const stoppedAt = Date.now();
    t.equal(await agentR.stop('SIGTERM'), 0, 'agent r exits 0 on SIGTERM');
    await waitFor(() => !existsSync(`/proc/${bfdPidR}`) || readFileSync(`/proc/${bfdPidR}/stat`, 'utf8').split(' ')[2] === 'Z', 3000, 'agent r\'s BFD process gone');
    t.pass('agent r\'s BFD process exited with it');
    t.ok(programmed('r', l), 'r\'s kernel entries towards l survive the stop (flushOnShutdown: false)');
    // The other side: r's sessions closed, so the reflectors withdrew r's routes from l
    // (no graceful restart yet); see whether l removed its entry for r.
    let removedOnL = false;
    try { removedOnL = await waitFor(() => !programmed('l', r), 2000, 'l dropping r'); } catch { /* kept */ }
    agentR = tn.startAgent('r', tuning);
    await waitFor(() => programmed('l', r), 30_000, 'l programmed again for r');
    const restartedAt = Date.now();
    await waitFor(() => ping.repliesAfter(restartedAt) > 50, 10_000, 'ping replies after the restart');
    ping.stop();
    t.ok(programmed('r', l), 'r\'s entries towards l are still there after the new process started');
    const outage = ping.outageAround(stoppedAt);
    t.comment(`restart of agent r: l's entry for r ${removedOnL ? 'was removed (withdrawn via the reflectors)' : 'stayed'}; ` +
      `stop -> l programmed again: ${restartedAt - stoppedAt} ms; longest gap between ping replies l->r: ` +
      `${outage === null ? 'n/a' : Math.round(outage)} ms`);
    await agentR.stop('SIGTERM');
  });

  t.test('nothing left in the unpack directory', async (t) => {
    t.same(readdirSync(rt), []);
  });
}

