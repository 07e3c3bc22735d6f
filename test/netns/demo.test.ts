// `evpn-ha demo` from the compiled bin (build/ from `npx tsc -p tsconfig.json`, as
// scripts/test.sh does first), environment without NODE_OPTIONS:
//   * happy path: exit 0, the failover timeline (BFD/probe detection, best path
//     moved, FDB dst -> 192.168.2.87, first reply) with an outage figure, the
//     failback (FDB back to 192.168.1.87), and no namespace or directory with the
//     demo's prefix afterwards;
//   * --keep leaves a working topology (the agent answers `show routes` through
//     the printed command's socket), --teardown removes it;
//   * SIGINT in the middle of the run: exit 130, nothing left;
//   * --reflector frr (when FRR is installed): the same failover, nothing left;
//   * --fault path: sessions stay up, the VTEP probes move both servers;
//   * --ipv6: the same story over IPv6-only underlays with evpn-ha reflectors on
//     IPv6 listen ranges (clients, BFD and reflected next hops in IPv6; the FDB
//     moves to 2001:db8:2::87, read back from the kernel after the run through
//     the printed `ip nexthop`/`bridge fdb` lines), and with --reflector frr;
//   * ping missing, or as an unprivileged user: one line, exit 1;
//   * --containers --keep: each move's timeline (the new place learns the container and
//     announces it with the next MAC Mobility sequence; the old place withdraws, its
//     `show routes` has the new sequence, its FDB entry leads to the new place; the
//     ping from the old place gets replies across the overlay); then, on the kept
//     topology, from the kernel and the agents: server-r's FDB entry for the container
//     leads to server-l (where it ended), server-r's `show routes --json` holds the
//     sequence, a ping from server-r's bridge crosses the overlay; --teardown removes
//     the container namespaces too. SIGINT during a move; --fault path refused.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isRoot, nsExec, sh } from '../lib/netns.js';
import { childEnv, groupDst, type NexthopJson } from '../../src/lab/twonet.js';

/** server's FDB entry for `mac` moved to `to`: per-entry dst, or its FDB nexthop group's member (kernel.nexthopGroups). */
function moved(server: string, mac: string, from: string, to: string): RegExp {
  const e = (x: string): string => x.replace(/\./g, '\\.');
  return new RegExp(`${server}\\s+(kernel write: replace fdb ${mac} dev vxlan0 dst ${e(to)}|nexthop group \\d+ moved: ${e(from)} -> ${e(to)})`);
}

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const BIN = join(ROOT, 'bin', 'evpn-ha');
// Through `env -u NODE_OPTIONS`: tap's process-info hook puts its loader back
// into the environment of every child spawned from here.
const NODE = ['-u', 'NODE_OPTIONS', process.execPath, BIN];

function prefix(): string {
  return `ehdt${randomBytes(2).toString('hex')}`;
}

function leftovers(p: string): string[] {
  const nss = sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(/\s+/)[0] ?? '').filter((n) => n.startsWith(`${p}-`));
  const dirs = readdirSync(tmpdir()).filter((d) => d.startsWith(`${p}-`));
  return [...nss, ...dirs];
}

interface Run { code: number | null; signal: string | null; out: string; err: string }

/** The container of `demo --containers`. */
const C = { mac: '02:00:c0:a8:00:0a', ip: '192.168.0.10' };

/** The text of one move's step: from its heading to the next step. */
function step(out: string, n: number): string {
  const a = out.indexOf(`[${n}/9]`);
  const b = out.indexOf(`[${n + 1}/9]`);
  return a < 0 ? '' : out.slice(a, b < 0 ? undefined : b);
}

/** ms after T0 of a timeline row matching `re` (the row's offset), or null. */
function rowAt(text: string, re: RegExp): number | null {
  for (const line of text.split('\n')) {
    const m = /^\s+([+-])\s*(\d+) ms\s+(.*)$/.exec(line);
    if (m && re.test(m[3]!)) return (m[1] === '-' ? -1 : 1) * Number(m[2]);
  }
  return null;
}


function demo(args: string[], opts: { timeoutMs?: number; interruptOn?: RegExp } = {}): Promise<Run> {
  return new Promise((res) => {
    const child = spawn('env', [...NODE, 'demo', ...args], { env: childEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let interrupted = false;
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (opts.interruptOn && !interrupted && opts.interruptOn.test(out)) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    child.on('exit', (code, signal) => { clearTimeout(timer); res({ code, signal, out, err }); });
  });
}

if (!isRoot()) {
  t.pass('skipped: namespace tests need root');
} else if (!existsSync(join(ROOT, 'build', 'src', 'cli', 'demo.js'))) {
  t.fail('build/ is missing: run npx tsc -p tsconfig.json first');
} else {
  t.test('happy path: failover timeline with an outage, failback, nothing left', async (t) => {
    const p = prefix();
    t.teardown(() => { spawnSync('env', [...NODE, 'demo', '--teardown', p], { env: childEnv() }); });
    const r = await demo(['--prefix', p]);
    t.equal(r.code, 0, 'exit 0', { stderr: r.err, stdout: r.out.slice(-3000) });
    t.match(r.out, /\[1\/9\] checking prerequisites/);
    t.match(r.out, /\[4\/9\] starting agents \(evpn-ha run\) on server-l and server-r/);
    // Kernel entries shown from server-l before the fault.
    t.match(r.out, /192\.168\.0\.87 lladdr 02:00:c0:a8:00:57 extern_learn NOARP/);
    t.match(r.out, /02:00:c0:a8:00:57 dst 192\.168\.1\.87 self extern_learn|02:00:c0:a8:00:57 nhid \d+ self extern_learn[\s\S]*id \d+ via 192\.168\.1\.87 scope link proto 231 fdb/);
    const failover = r.out.slice(r.out.indexOf('failover timeline'), r.out.indexOf('[8/9]'));
    t.ok(failover.length > 0, 'a failover timeline');
    t.match(failover, /\+\s+0 ms\s+fault\s+network 1 blackholed on server-l/);
    t.match(failover, /server-l\s+session net1 down: .*BFD down/, 'detection by BFD on server-l');
    t.match(failover, /server-l\s+best path for 192\.168\.0\.87 .*moved: net1 via 192\.168\.1\.87 .* -> net2 via 192\.168\.2\.87 .*; cause \S+/);
    t.match(failover, moved('server-l', '02:00:c0:a8:00:57', '192.168.1.87', '192.168.2.87'));
    t.match(failover, moved('server-r', '02:00:c0:a8:00:41', '192.168.1.65', '192.168.2.65'));
    t.match(failover, /ping\s+first reply after the fault/);
    const m = /OUTAGE \(failover\): (\d+) ms without replies/.exec(r.out);
    t.ok(m, 'an outage figure');
    const outage = Number(m?.[1]);
    t.comment(`failover outage ${outage} ms`);
    t.ok(outage > 0 && outage < 3000, `outage ${outage} ms well under a hold time`);
    const failback = r.out.slice(r.out.indexOf('failback timeline'));
    t.match(failback, moved('server-l', '02:00:c0:a8:00:57', '192.168.2.87', '192.168.1.87'));
    t.match(failback, /FAILBACK: \d+ echo requests lost/);
    t.match(r.out, /\[9\/9\] tearing down/);
    t.same(leftovers(p), [], 'no namespace or directory with the prefix left');
  });

  t.test('--keep leaves a working topology; --teardown removes it', async (t) => {
    const p = prefix();
    t.teardown(() => { spawnSync('env', [...NODE, 'demo', '--teardown', p], { env: childEnv() }); });
    const r = await demo(['--prefix', p, '--keep', '--fault-ms', '1000']);
    t.equal(r.code, 0, 'exit 0', { stderr: r.err });
    const show = new RegExp(`ip netns exec (${p}-srvl) (.*) show routes --socket (\\S+)`).exec(r.out);
    t.ok(show, 'prints the show routes command');
    if (show) {
      const routes = sh('ip', ['netns', 'exec', show[1]!, 'env', ...NODE, 'show', 'routes', '--socket', show[3]!]);
      t.match(routes, /192\.168\.0\.87/, 'the kept agent answers');
    }
    t.match(r.out, new RegExp(`demo --teardown ${p}`));
    t.ok(leftovers(p).length >= 6, 'namespaces kept');
    const td = spawnSync('env', [...NODE, 'demo', '--teardown', p], { env: childEnv(), encoding: 'utf8' });
    t.equal(td.status, 0);
    t.match(td.stdout, /deleted /);
    t.same(leftovers(p), [], 'nothing left after --teardown');
  });

  t.test('SIGINT during the run tears everything down', async (t) => {
    const p = prefix();
    t.teardown(() => { spawnSync('env', [...NODE, 'demo', '--teardown', p], { env: childEnv() }); });
    const r = await demo(['--prefix', p], { interruptOn: /\[6\/9\]/ });
    t.equal(r.code, 130, 'exit 130', { stderr: r.err });
    t.match(r.err, /SIGINT: tearing down/);
    t.same(leftovers(p), [], 'nothing left');
  });

  t.test('--reflector frr: the same failover with FRR bgpd + bfdd as reflectors', { skip: existsSync('/usr/lib/frr/bgpd') ? false : 'FRR not installed' }, async (t) => {
    const p = prefix();
    t.teardown(() => { spawnSync('env', [...NODE, 'demo', '--teardown', p], { env: childEnv() }); });
    const r = await demo(['--prefix', p, '--reflector', 'frr', '--fault-ms', '1000']);
    t.equal(r.code, 0, 'exit 0', { stderr: r.err, stdout: r.out.slice(-3000) });
    t.match(r.out, /starting route reflectors \(FRR zebra \+ bgpd \+ bfdd\)/);
    t.match(r.out, moved('server-l', '02:00:c0:a8:00:57', '192.168.1.87', '192.168.2.87'));
    const m = /OUTAGE \(failover\): (\d+) ms/.exec(r.out);
    t.ok(m && Number(m[1]) < 3000, `outage ${m?.[1]} ms`);
    t.same(leftovers(p), [], 'nothing left');
    t.same(readdirSync('/var/run/frr').filter((d) => d.startsWith(`${p}-`)), [], 'no FRR pathspace left');
  });

  t.test('--fault path: only the probes see it, both servers still fail over', async (t) => {
    const p = prefix();
    t.teardown(() => { spawnSync('env', [...NODE, 'demo', '--teardown', p], { env: childEnv() }); });
    const r = await demo(['--prefix', p, '--fault', 'path', '--fault-ms', '1500']);
    t.equal(r.code, 0, 'exit 0', { stderr: r.err, stdout: r.out.slice(-3000) });
    const failover = r.out.slice(r.out.indexOf('failover timeline'), r.out.indexOf('[8/9]'));
    t.notMatch(failover, /session net1 down/, 'no session goes down');
    t.match(failover, /server-l\s+VTEP probe 192\.168\.1\.87 on net1: up -> down/);
    t.match(failover, /server-l\s+best path for 192\.168\.0\.87 .*cause vtep-unreachable/);
    t.match(failover, moved('server-l', '02:00:c0:a8:00:57', '192.168.1.87', '192.168.2.87'));
    t.match(r.out, /OUTAGE \(failover\): \d+ ms/);
    t.match(r.out, /server-l now: 02:00:c0:a8:00:57 (dst 192\.168\.1\.87|nhid \d+ self extern_learn\s+\(group \d+ -> via 192\.168\.1\.87\))/, 'failback');
    t.same(leftovers(p), [], 'nothing left');
  });

  t.test('--ipv6: the failover over IPv6 underlays, evpn-ha reflectors on IPv6 listen ranges, nothing left', async (t) => {
    const p = prefix();
    t.teardown(() => { spawnSync('env', [...NODE, 'demo', '--teardown', p], { env: childEnv() }); });
    const r = await demo(['--prefix', p, '--ipv6', '--fault-ms', '1500']);
    t.equal(r.code, 0, 'exit 0', { stderr: r.err, stdout: r.out.slice(-3000) });
    t.match(r.out, /rr1: 2001:db8:1::2 AS 65001, listen range 2001:db8:1::\/64/);
    t.match(r.out, /server-l \(\S+\): eth1 2001:db8:1::65, eth2 2001:db8:2::65, .*local :: \(IPv6\)/);
    // Before the fault, from the kernel of server-l: the FDB (or its nexthop group) leads to the IPv6 VTEP.
    t.match(r.out, /02:00:c0:a8:00:57 dst 2001:db8:1::87 self extern_learn|id \d+ via 2001:db8:1::87 scope link proto 231 fdb/);
    // The reflector took both clients from its IPv6 range and reflected their routes with
    // the 16-byte next hops: server-l learned server-r's route on both networks.
    t.match(r.out, /192\.168\.0\.87\s+net1\s+2001:db8:1::87\s+10\.255\.0\.87:100\s+200[^\n]*\n\s+net2\s+2001:db8:2::87\s+10\.255\.0\.87:100\s+100/,
      'show routes: IPv6 next hops on both networks, RD from the router ID');
    const failover = r.out.slice(r.out.indexOf('failover timeline'), r.out.indexOf('[8/9]'));
    t.match(failover, /\+\s+0 ms\s+fault\s+network 1 blackholed on server-l/);
    t.match(r.out, /ip6tables DROP in and out on eth1/);
    t.match(failover, /server-l\s+(session net1 down: .*BFD down|VTEP probe 2001:db8:1::87 on net1: up -> down)/, 'detected by BFD or the probes over IPv6');
    t.match(failover, /server-l\s+best path for 192\.168\.0\.87 .*moved: net1 via 2001:db8:1::87 .* -> net2 via 2001:db8:2::87 /);
    t.match(failover, moved('server-l', '02:00:c0:a8:00:57', '2001:db8:1::87', '2001:db8:2::87'));
    t.match(failover, moved('server-r', '02:00:c0:a8:00:41', '2001:db8:1::65', '2001:db8:2::65'));
    t.match(failover, /rr1\s+BFD with 2001:db8:1::65: Up -> Down/, 'rr1 runs BFD with its IPv6 client');
    t.match(r.out, /server-l now: 02:00:c0:a8:00:57 (dst 2001:db8:2::87|nhid \d+ self extern_learn\s+\(group \d+ -> via 2001:db8:2::87\))/, 'failed over (read from the kernel)');
    const m = /OUTAGE \(failover\): (\d+) ms without replies/.exec(r.out);
    t.ok(m, 'an outage figure');
    const outage = Number(m?.[1]);
    t.comment(`IPv6 failover outage ${outage} ms`);
    t.ok(outage > 0 && outage < 1500, `outage ${outage} ms (BFD and probes 100 ms x 3)`);
    const failback = r.out.slice(r.out.indexOf('failback timeline'));
    t.match(failback, /rr1\s+session with client 2001:db8:1::65 established/);
    t.match(failback, moved('server-l', '02:00:c0:a8:00:57', '2001:db8:2::87', '2001:db8:1::87'));
    t.match(r.out, /server-l now: 02:00:c0:a8:00:57 (dst 2001:db8:1::87|nhid \d+ self extern_learn\s+\(group \d+ -> via 2001:db8:1::87\))/, 'failed back');
    t.match(r.out, /IPv6 underlays\); failback lost \d+ echo requests/);
    t.same(leftovers(p), [], 'no namespace or directory with the prefix left');
  });

  t.test('--ipv6 --reflector frr: FRR reflectors on IPv6 listen ranges', { skip: existsSync('/usr/lib/frr/bgpd') ? false : 'FRR not installed' }, async (t) => {
    const p = prefix();
    t.teardown(() => { spawnSync('env', [...NODE, 'demo', '--teardown', p], { env: childEnv() }); });
    const r = await demo(['--prefix', p, '--ipv6', '--reflector', 'frr', '--fault-ms', '1000']);
    t.equal(r.code, 0, 'exit 0', { stderr: r.err, stdout: r.out.slice(-3000) });
    t.match(r.out, /rr1: 2001:db8:1::2 AS 65001, listen range 2001:db8:1::\/64/);
    t.match(r.out, moved('server-l', '02:00:c0:a8:00:57', '2001:db8:1::87', '2001:db8:2::87'));
    const m = /OUTAGE \(failover\): (\d+) ms/.exec(r.out);
    t.ok(m && Number(m[1]) < 1500, `outage ${m?.[1]} ms`);
    t.match(r.out, /server-l now: 02:00:c0:a8:00:57 (dst 2001:db8:1::87|nhid \d+ self extern_learn\s+\(group \d+ -> via 2001:db8:1::87\))/, 'failed back');
    t.same(leftovers(p), [], 'nothing left');
    t.same(readdirSync('/var/run/frr').filter((d) => d.startsWith(`${p}-`)), [], 'no FRR pathspace left');
  });

  t.test('ping missing: one line naming the Debian package, exit 1', async (t) => {
    // A private mount namespace where /usr/bin/ping is /dev/null (not executable).
    const r = spawnSync('unshare', ['-m', 'sh', '-c', `mount --bind /dev/null "$(command -v ping)" && exec env ${NODE.join(' ')} demo`],
      { env: childEnv(), encoding: 'utf8' });
    t.equal(r.status, 1, r.stderr);
    t.equal(r.stderr, 'evpn-ha demo: "ping" not found: install the Debian package iputils-ping (apt-get install iputils-ping)\n');
  });

  t.test('not root: one line, exit 1', async (t) => {
    const r = spawnSync('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'env', ...NODE, 'demo'], { env: childEnv(), encoding: 'utf8' });
    t.equal(r.status, 1, r.stderr);
    t.match(r.stderr, /^evpn-ha demo: the demo needs root .*\n$/);
  });

  t.test('--containers --keep: two moves with their timelines; the kept topology shows where the container is; --teardown', async (t) => {
    const p = prefix();
    t.teardown(() => { spawnSync('env', [...NODE, 'demo', '--teardown', p], { env: childEnv() }); });
    const r = await demo(['--prefix', p, '--containers', '--keep'], { timeoutMs: 120_000 });
    t.equal(r.code, 0, 'exit 0', { stderr: r.err, stdout: r.out.slice(-4000) });
    t.match(r.out, /VNI 100: advertiseEndpoints: true/);
    t.match(r.out, new RegExp(`container ${p}-ctr0: eth0 192\\.168\\.0\\.10/24 \\(02:00:c0:a8:00:0a\\)`));
    // Before the moves, server-r has the container behind server-l (route from the kernel's FDB and neighbour table).
    t.match(step(r.out, 5), /192\.168\.0\.10 lladdr 02:00:c0:a8:00:0a extern_learn NOARP/);
    t.match(step(r.out, 5), /00:00:00:00:00:00 dst 192\.168\.[12]\.65 self/, 'server-r floods to server-l (type-3 route)');

    const first = step(r.out, 7);
    t.match(first, /server-r\s+local endpoint 02:00:c0:a8:00:0a up/, 'server-r learned the container locally');
    t.match(first, /server-r\s+announce 02:00:c0:a8:00:0a with MAC Mobility sequence 1/);
    t.match(first, /server-l\s+02:00:c0:a8:00:0a moved to VTEP 192\.168\.[12]\.87 \(sequence 1\)/, 'server-l saw the higher sequence');
    t.match(first, /server-l\s+show routes: 02:00:c0:a8:00:0a best path net[12] via 192\.168\.[12]\.87, MAC Mobility sequence 1/, 'sequence 1 in server-l\'s show routes');
    t.match(first, /server-l now: .*02:00:c0:a8:00:0a (dst 192\.168\.[12]\.87 self|nhid \d+ self extern_learn\s+\(group \d+ -> via 192\.168\.[12]\.87\))/,
      'server-l\'s FDB entry (from the kernel) leads to server-r');
    const follow1 = rowAt(first, /^ping\s+server-l -> 192\.168\.0\.10: first reply after the move/);
    t.ok(follow1 !== null, `server-l's ping got a reply across the overlay after the move (${follow1} ms)`);
    t.ok(follow1 !== null && follow1 < 1000, `within 1 s (${follow1} ms)`);

    const second = step(r.out, 8);
    // Sequence 2: the highest seen (server-r's 1) + 1.
    const seq2 = Number(/server-l\s+announce 02:00:c0:a8:00:0a with MAC Mobility sequence (\d+)/.exec(second)?.[1] ?? NaN);
    t.equal(seq2, 2, 'server-l announces the highest sequence it saw (1) + 1');
    t.match(second, new RegExp(`server-r\\s+02:00:c0:a8:00:0a moved to VTEP 192\\.168\\.[12]\\.65 \\(sequence ${seq2}\\)`), 'server-r saw the higher sequence');
    t.match(second, new RegExp(`server-r\\s+show routes: 02:00:c0:a8:00:0a best path net[12] via 192\\.168\\.[12]\\.65, MAC Mobility sequence ${seq2}`), `sequence ${seq2} in server-r's show routes`);
    const follow2 = rowAt(second, /^ping\s+server-r -> 192\.168\.0\.10: first reply after the move/);
    t.ok(follow2 !== null, `server-r's ping got a reply across the overlay after the move (${follow2} ms)`);
    t.ok(follow2 !== null && follow2 < 1000, `within 1 s (${follow2} ms)`);
    const gaps = [...r.out.matchAll(/MOVE server-. -> server-.: .*longest gap (\d+) ms, \d+ echo requests lost; ping from server-. \(now local\): longest gap (\d+) ms/g)]
      .flatMap((m) => [Number(m[1]), Number(m[2])]);
    t.equal(gaps.length, 4, 'gap figures for both pings of both moves');
    t.comment(`follow times ${follow1} / ${follow2} ms; longest gaps ${gaps.join(', ')} ms`);
    t.ok(gaps.every((g) => g < 1000), `no ping goes without replies for 1 s (longest gaps ${gaps.join(', ')} ms)`);
    t.match(r.out, /summary: container 02:00:c0:a8:00:0a 192\.168\.0\.10 moved twice/);

    // The kept topology: the container ended behind server-l.
    const srvl = `${p}-srvl`;
    const srvr = `${p}-srvr`;
    const fdb = JSON.parse(nsExec(srvr, 'bridge', ['-j', 'fdb', 'show', 'dev', 'vxlan0']) || '[]') as Array<{ mac: string; dst?: string; nhid?: number }>;
    const nh = new Map((JSON.parse(nsExec(srvr, 'ip', ['-j', 'nexthop', 'show']) || '[]') as NexthopJson[]).map((n) => [n.id, n]));
    const dsts = fdb.filter((e) => e.mac === C.mac).map((e) => e.dst ?? (e.nhid !== undefined ? groupDst(nh, e.nhid) : undefined)).filter(Boolean);
    t.ok(dsts.length > 0 && dsts.every((d) => d === '192.168.1.65' || d === '192.168.2.65'), `server-r's FDB entry for the container leads to server-l (${dsts.join(', ')})`);
    const sock = new RegExp(`ip netns exec ${srvr} .* show routes --mac 02:00:c0:a8:00:0a --json --socket (\\S+)`).exec(r.out)?.[1];
    t.ok(sock, 'prints the show routes command for the container');
    if (sock) {
      const routes = JSON.parse(sh('ip', ['netns', 'exec', srvr, 'env', ...NODE, 'show', 'routes', '--mac', C.mac, '--json', '--socket', sock])) as
        Array<{ mac: string; ip: string | null; paths: Array<{ nextHop: string; macMobilitySeq: number; best: boolean }> }>;
      const best = routes.find((x) => x.mac === C.mac && x.ip === null)?.paths.find((x) => x.best);
      t.equal(best?.macMobilitySeq, seq2, `server-r's show routes --json: sequence ${seq2}`);
      t.match(best?.nextHop ?? '', /^192\.168\.[12]\.65$/, 'from server-l');
    }
    const ping = nsExec(srvr, 'ping', ['-c', '3', '-i', '0.2', '-W', '1', C.ip]);
    t.match(ping, /3 received/, 'server-r\'s bridge reaches the container behind server-l across the overlay');
    t.match(nsExec(srvl, 'bridge', ['fdb', 'show', 'br', 'br-vxlan']), new RegExp(`${C.mac} dev vc2 master br-vxlan`), 'server-l\'s bridge has it on the new port vc2');
    t.ok(leftovers(p).length >= 9, 'namespaces (with the containers\') and the directory kept');
    const td = spawnSync('env', [...NODE, 'demo', '--teardown', p], { env: childEnv(), encoding: 'utf8' });
    t.equal(td.status, 0);
    t.match(td.stdout, new RegExp(`${p}-ctr2`), 'the container namespaces go too');
    t.same(leftovers(p), [], 'nothing left after --teardown');
  });

  t.test('--containers: SIGINT during the first move tears everything down', async (t) => {
    const p = prefix();
    t.teardown(() => { spawnSync('env', [...NODE, 'demo', '--teardown', p], { env: childEnv() }); });
    const r = await demo(['--prefix', p, '--containers'], { timeoutMs: 120_000, interruptOn: /live migration: container ctr1/ });
    t.equal(r.code, 130, 'exit 130', { stderr: r.err });
    t.match(r.err, /SIGINT: tearing down/);
    t.same(leftovers(p), [], 'nothing left');
  });

  t.test('--containers does not combine with --fault path: exit 2', async (t) => {
    const r = spawnSync('env', [...NODE, 'demo', '--containers', '--fault', 'path'], { env: childEnv(), encoding: 'utf8' });
    t.equal(r.status, 2, r.stderr);
    t.match(r.stderr, /--fault does not combine with --containers/);
  });
}
