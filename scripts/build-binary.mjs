#!/usr/bin/env node
// npm run build:binary -> dist/evpn-ha, a Node single-executable application (SEA).
//
//  1. esbuild bundles packaging/sea/entry.js (which lazily imports src/cli/main.ts,
//     src/kernel/event-pump.ts, src/bfd/child.ts and, for --evpn-ha-self-test,
//     src/kernel/rtnetlink.ts)
//     into one CommonJS file for node20. `import.meta.url` (yargs, main.ts) becomes a
//     file URL inside a private runtime directory (packaging/sea/runtime.cjs), and
//     netlink's `require('node-gyp-build')` becomes packaging/sea/netlink-addon.cjs,
//     which loads the addon embedded as the SEA asset "netlink.node"; koffi (the FFI
//     of src/net/sockopt.ts) is bundled from its CommonJS entry and its
//     `require('@koromix/koffi-linux-<arch>')` becomes packaging/sea/koffi-addon.cjs,
//     which loads the asset "koffi.node" the same way.
//  2. node --experimental-sea-config packaging/sea-config.json (arch filled in) makes
//     the blob (with a V8 code cache).
//  3. A copy of this node binary is stripped (`strip`, if present and if the stripped
//     copy still runs), then postject injects the blob (NODE_SEA_BLOB note, with the
//     NODE_SEA_FUSE sentinel flipped). Linux binaries carry no signature to remove.
//  4. Smoke test: dist/evpn-ha --version must print package.json's version.
//
// Options: --no-strip, --keep-work (keep dist/.sea-<pid>/: bundle, blob, config),
// --skip-if-fresh (do nothing when dist/evpn-ha is newer than
// every input: src/, packaging/, this script, package.json, package-lock.json).
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const require = createRequire(import.meta.url);
const args = new Set(process.argv.slice(2));
const out = join(root, 'dist', 'evpn-ha');
// A work directory per build, so that two builds at once (tests of several people
// in one tree) do not trample each other; the last rename into dist/evpn-ha wins.
const work = join(root, 'dist', `.sea-${process.pid}`);
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const SENTINEL = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

function log(msg) {
  process.stderr.write(`build-binary: ${msg}\n`);
}

function newestInput() {
  let newest = 0;
  const walk = (p) => {
    const st = statSync(p);
    if (st.isDirectory()) { for (const e of readdirSync(p)) walk(join(p, e)); return; }
    newest = Math.max(newest, st.mtimeMs);
  };
  for (const p of ['src', 'packaging', 'scripts/build-binary.mjs', 'package.json', 'package-lock.json']) {
    if (existsSync(join(root, p))) walk(join(root, p));
  }
  return newest;
}

if (args.has('--skip-if-fresh') && existsSync(out) && statSync(out).mtimeMs > newestInput()) {
  log(`${relative(root, out)} is up to date`);
  process.exit(0);
}

if (process.platform !== 'linux') throw new Error('build-binary: Linux only (netlink)');
const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 12)) throw new Error(`build-binary: needs Node >= 20.12 (SEA assets), have ${process.version}`);

rmSync(work, { recursive: true, force: true });
mkdirSync(work, { recursive: true });
process.on('exit', () => { if (!args.has('--keep-work')) rmSync(work, { recursive: true, force: true }); });
const t0 = performance.now();

// 1. Bundle.
const addonShim = join(root, 'packaging', 'sea', 'netlink-addon.cjs');
const koffiShim = join(root, 'packaging', 'sea', 'koffi-addon.cjs');
const koffiDir = dirname(require.resolve('koffi')); // index.cjs at the package root
const koffiVersion = JSON.parse(readFileSync(join(koffiDir, 'package.json'), 'utf8')).version;
const koffiPlatform = `@koromix/koffi-linux-${process.arch}`;
const seaPlugin = {
  name: 'evpn-ha-sea',
  setup(b) {
    // netlink/dist/raw.js: require('node-gyp-build')(__dirname + '/..') -> the asset loader.
    b.onResolve({ filter: /^node-gyp-build$/ }, (a) => {
      if (!/[\\/]node_modules[\\/]netlink[\\/]/.test(a.importer)) {
        return { errors: [{ text: `node-gyp-build required by ${a.importer}: only netlink's addon is embedded` }] };
      }
      return { path: addonShim };
    });
    // koffi: its CommonJS entry (the ESM one finds its native code with createRequire,
    // which a bundle cannot follow); this platform's native package is the asset
    // loader, the other platforms' packages are never reached (loadStatic picks ours).
    b.onResolve({ filter: /^koffi$/ }, () => ({ path: join(koffiDir, 'index.cjs') }));
    b.onResolve({ filter: /^@koromix\/koffi-/ }, (a) => {
      if (a.path === koffiPlatform) return { path: koffiShim };
      return { path: a.path, namespace: 'koffi-other-platform' };
    });
    b.onLoad({ filter: /.*/, namespace: 'koffi-other-platform' }, () => ({ contents: 'module.exports = null;', loader: 'js' }));
    // pino transports run in worker threads, which a SEA cannot start from the bundle.
    b.onResolve({ filter: /^(thread-stream|pino-pretty)$/ }, (a) => {
      if (/[\\/]node_modules[\\/]pino[\\/]/.test(a.importer)) return undefined;
      return { errors: [{ text: `${a.path} imported by ${a.importer}: pino transports do not work in the single executable` }] };
    });
    // Our own sources: refuse what cannot work from a bundle inside a SEA.
    const forbidden = [
      [/\bpino\.transport\s*\(|\btransport\s*:\s*\{/, 'pino transports (worker threads) do not work in the single executable'],
      [/['"]node:worker_threads['"]|['"]worker_threads['"]/, 'worker threads cannot load bundled code in the single executable'],
      [/import\.meta\.(dirname|filename|resolve)\b/, 'only import.meta.url is mapped in the bundle'],
    ];
    b.onLoad({ filter: /[\\/]src[\\/].*\.ts$/ }, async (a) => {
      const text = readFileSync(a.path, 'utf8');
      const errors = [];
      for (const [re, why] of forbidden) {
        const m = re.exec(text);
        if (m) errors.push({ text: `${relative(root, a.path)}: ${m[0]}: ${why}` });
      }
      return errors.length ? { errors } : undefined;
    });
  },
};
const result = await build({
  absWorkingDir: root,
  entryPoints: [join(root, 'packaging', 'sea', 'entry.js')],
  outfile: join(work, 'evpn-ha.cjs'),
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  mainFields: ['module', 'main'],
  conditions: ['node', 'import'],
  define: {
    'import.meta.url': '__evpnHaImportMetaUrl',
    __EVPN_HA_VERSION__: JSON.stringify(pkg.version),
    __EVPN_HA_NAME__: JSON.stringify(pkg.name),
    __EVPN_HA_KOFFI_VERSION__: JSON.stringify(koffiVersion),
  },
  banner: { js: `/* ${pkg.name} ${pkg.version}: single executable bundle (scripts/build-binary.mjs) */` },
  plugins: [seaPlugin],
  legalComments: 'none',
  minifySyntax: true,
  minifyWhitespace: true,
  keepNames: true,
  metafile: true,
  logLevel: 'warning',
});
const bundlePath = join(work, 'evpn-ha.cjs');
const inputs = Object.keys(result.metafile.inputs);
if (!inputs.some((p) => p.endsWith('netlink-addon.cjs'))) log('warning: netlink is not in the bundle');
if (!inputs.some((p) => p.endsWith('koffi-addon.cjs'))) log('warning: koffi is not in the bundle');
log(`bundle: ${(statSync(bundlePath).size / 1024).toFixed(0)} KiB from ${inputs.length} modules`);

// 2. The SEA blob.
const assetPath = `node_modules/netlink/prebuilds/linux-${process.arch}/node.napi.node`;
if (!existsSync(join(root, assetPath))) throw new Error(`build-binary: no netlink prebuild for ${process.arch} (${assetPath})`);
const koffiAsset = `node_modules/${koffiPlatform}/linux_${process.arch}/koffi.node`;
if (!existsSync(join(root, koffiAsset))) throw new Error(`build-binary: no koffi prebuild for ${process.arch} (${koffiAsset})`);
const seaConfig = JSON.parse(readFileSync(join(root, 'packaging', 'sea-config.json'), 'utf8').replaceAll('${arch}', process.arch));
// packaging/sea-config.json names dist/.sea/...; this build's files are in `work`.
seaConfig.main = bundlePath;
seaConfig.output = join(work, 'sea-prep.blob');
const seaConfigPath = join(work, 'sea-config.json');
writeFileSync(seaConfigPath, JSON.stringify(seaConfig, null, 2));
execFileSync(process.execPath, ['--experimental-sea-config', seaConfigPath], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
const blobPath = seaConfig.output;
log(`blob: ${(statSync(blobPath).size / 1024).toFixed(0)} KiB`);

// 3. Copy node, strip it, inject the blob.
const tmp = join(work, 'evpn-ha');
copyFileSync(process.execPath, tmp);
chmodSync(tmp, 0o755);
if (!args.has('--no-strip')) {
  try {
    const stripped = join(work, 'node-stripped');
    execFileSync('strip', ['--strip-all', '-o', stripped, tmp], { stdio: ['ignore', 'ignore', 'pipe'] });
    execFileSync(stripped, ['-e', '0'], { stdio: 'ignore' });
    renameSync(stripped, tmp);
  } catch (e) {
    log(`strip skipped (${e.message.split('\n')[0]})`);
  }
}
// postject's CLI in a child: LIEF prints one "Can't find string offset for section
// name '.note...'" warning per ELF note of node (harmless); keep the rest visible.
const postjectCli = join(dirname(require.resolve('postject/package.json')), 'dist', 'cli.js');
const pj = spawnSync(process.execPath, [postjectCli, tmp, 'NODE_SEA_BLOB', blobPath, '--sentinel-fuse', SENTINEL], { encoding: 'utf8' });
const noise = /^warning: Can't find string offset for section name '\.note[^']*'$/;
const chatter = /Start injection of|Injection done/;
for (const raw of `${pj.stdout}\n${pj.stderr}`.split('\n')) {
  const line = raw.replace(/\x1b\[[0-9;]*m/g, '').trim();
  if (line && !noise.test(line) && !chatter.test(line)) log(`postject: ${line}`);
}
if (pj.status !== 0) throw new Error(`build-binary: postject failed (exit ${pj.status})`);
chmodSync(tmp, 0o755);

// 4. Smoke test, then move into place.
const version = execFileSync(tmp, ['--version'], { encoding: 'utf8', env: { ...process.env, NODE_OPTIONS: '' } }).trim();
if (version !== pkg.version) throw new Error(`build-binary: --version printed "${version}", package.json says ${pkg.version}`);
renameSync(tmp, out);
log(`${relative(root, out)}: ${(statSync(out).size / 1e6).toFixed(1)} MB, version ${version}, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
