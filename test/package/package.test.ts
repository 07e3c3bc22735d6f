// The npm package as a user gets it: `npm pack` (which runs `prepare`, the build),
// the tarball installed with `npm install --omit=dev` into an empty directory outside
// the checkout (so nothing resolves into our node_modules: no TypeScript, no tap),
// then `npx evpn-ha --version` and two `npx evpn-ha peer` processes on 127.0.0.1:
// the passive one announces a type-2 route, the connecting one must print it.
// Needs the npm registry (or npm's cache) for the runtime dependencies; no root.
import t from 'tap';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childEnv } from '../../src/lab/twonet.js';
import { waitFor } from '../lib/netns.js';
import { PAIR_ROUTE_JSON, runPeerPair } from '../lib/peerpair.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string };

const work = mkdtempSync(join(tmpdir(), 'evpn-ha-pkgtest-'));
t.teardown(() => rmSync(work, { recursive: true, force: true }));
// Not only tap's variables: `npx tap` also exports npm's own (npm_config_local_prefix
// and friends point at this checkout, and PATH holds its node_modules/.bin), which a
// nested npm would follow back into this checkout.
const env = Object.fromEntries(Object.entries(childEnv())
  .filter(([k]) => !/^npm_/i.test(k) && k !== 'INIT_CWD' && k !== 'NODE')
  .map(([k, v]) => [k, k === 'PATH' ? (v ?? '').split(':').filter((d) => !d.includes('node_modules')).join(':') : v]));
// tap re-adds its loader to NODE_OPTIONS in every child it sees spawned: `env -u` drops
// it, so the installed program runs as a user's would.
const NPX = ['env', '-u', 'NODE_OPTIONS', 'npx'];

interface PackResult { filename: string; size: number; unpackedSize: number; files: Array<{ path: string }> }

t.test('npm pack builds and ships what runs, not tests or sources', async (t) => {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT, env, encoding: 'utf8', timeout: 300_000 });
  // `prepare` output (tsc) may precede the JSON on stdout.
  const [packed] = JSON.parse(out.slice(out.indexOf('['))) as PackResult[];
  t.ok(packed, 'npm pack reported the tarball');
  if (!packed) return;
  t.comment(`${packed.filename}: ${packed.files.length} files, ${packed.size} bytes packed, ${packed.unpackedSize} unpacked`);
  const paths = packed.files.map((f) => f.path);
  t.ok(paths.includes('build/src/cli/main.js'), 'the compiled CLI is in the package');
  t.ok(paths.includes('bin/evpn-ha'), 'the bin script is in the package');
  for (const f of ['README.md', 'LICENSE', 'package.json', 'docs/install.md', 'packaging/evpn-ha.service']) t.ok(paths.includes(f), `${f} is in the package`);
  t.same(paths.filter((p) => p.startsWith('test/') || p.startsWith('build/test/') || p.startsWith('build/bench/')), [], 'no tests or benchmarks');
  t.same(paths.filter((p) => p.endsWith('.ts') || p.endsWith('.map')), [], 'no TypeScript sources or source maps');
  writeFileSync(join(work, 'tarball'), join(work, packed.filename));
});

const app = join(work, 'app');

t.test('the tarball installs with --omit=dev and runs without TypeScript', async (t) => {
  const tarball = readFileSync(join(work, 'tarball'), 'utf8');
  execFileSync('mkdir', ['-p', app]);
  writeFileSync(join(app, 'package.json'), '{"name":"evpn-ha-pkgtest","private":true}\n');
  const inst = spawnSync('npm', ['install', '--omit=dev', '--no-audit', '--no-fund', '--prefer-offline', tarball],
    { cwd: app, env, encoding: 'utf8', timeout: 300_000 });
  t.equal(inst.status, 0, `npm install of the tarball${inst.status === 0 ? '' : `: ${inst.stderr}`}`);
  t.notOk(existsSync(join(app, 'node_modules', 'typescript')), 'typescript is not installed');
  t.notOk(existsSync(join(app, 'node_modules', 'tap')), 'tap is not installed');
  t.ok(existsSync(join(app, 'node_modules', 'netlink')), 'the netlink addon package is installed');
  const v = spawnSync(NPX[0]!, [...NPX.slice(1), 'evpn-ha', '--version'], { cwd: app, env, encoding: 'utf8', timeout: 60_000 });
  t.equal(v.status, 0, `npx evpn-ha --version exits 0${v.status === 0 ? '' : `: ${v.stderr}`}`);
  t.equal(v.stdout.trim(), pkg.version, 'prints the package version');
  // The netlink addon loads from the installed package (it ships prebuilt).
  const nl = spawnSync('env', ['-u', 'NODE_OPTIONS', process.execPath, '-e', "require('netlink'); console.log('ok')"], { cwd: app, env, encoding: 'utf8', timeout: 30_000 });
  t.equal(nl.stdout.trim(), 'ok', `the netlink addon loads${nl.status === 0 ? '' : `: ${nl.stderr}`}`);
});

t.test('two `npx evpn-ha peer` sessions from the install exchange a type-2 route', async (t) => {
  const r = await runPeerPair([...NPX, 'evpn-ha'], {
    announcer: 'passive', processGroups: true, spawn: { cwd: app, env: { ...env, LOG_LEVEL: 'warn' } }, deadlineMs: 60_000,
  });
  t.ok(r.complete, `the connecting side printed End-of-RIB${r.complete ? '' : `: ${r.stderr}`}`);
  t.equal(r.lines.find((l) => l['event'] === 'established')?.['peerRouterId'], '10.0.0.1', 'session established with the passive side');
  t.match(r.lines.find((l) => l['event'] === 'update'), PAIR_ROUTE_JSON, 'the announced route arrived as sent');
  const left = (): string => spawnSync('pgrep', ['-f', `${app}/node_modules/.bin/evpn-ha`], { encoding: 'utf8' }).stdout.trim();
  await waitFor(() => left() === '', 10_000, 'the install\'s evpn-ha processes to exit').catch(() => undefined);
  t.equal(left(), '', 'no evpn-ha process of the install is left after SIGTERM to both process groups');
});

t.test('the installed program itself exits 0 on SIGTERM (npx is only a wrapper)', async (t) => {
  const r = await runPeerPair(['env', '-u', 'NODE_OPTIONS', join(app, 'node_modules', '.bin', 'evpn-ha')], {
    announcer: 'passive', spawn: { cwd: app, env: { ...env, LOG_LEVEL: 'warn' } }, deadlineMs: 60_000,
  });
  t.ok(r.complete, `the route arrived${r.complete ? '' : `: ${r.stderr}`}`);
  t.equal(r.activeExit, 0, 'connecting side exits 0 on SIGTERM');
  t.equal(r.passiveExit, 0, 'passive side exits 0 on SIGTERM');
});
