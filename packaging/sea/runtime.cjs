// Private runtime directories of the single executable (dist/evpn-ha).
//
// Each is made with mkdtemp under $EVPN_HA_TMPDIR or the OS temp dir ($TMPDIR, else
// /tmp), mode 0700, and removed as soon as it has served:
//   * the netlink addon is written to one, loaded with process.dlopen and the
//     directory removed at once (the mapping stays valid): see netlink-addon.cjs;
//   * `import.meta.url` in the bundle (yargs, src/cli/main.ts, src/kernel/rtnetlink.ts)
//     names a file in another, which holds package.json {name, version}: main.ts
//     finds its version by walking up from import.meta.url. entry.js removes it once
//     main.ts has been evaluated (it reads the version then); the 'exit' handler is
//     the fallback.
'use strict';
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

/** A fresh private directory (mode 0700). */
function privateDir() {
  const base = process.env.EVPN_HA_TMPDIR || os.tmpdir();
  const dir = fs.mkdtempSync(path.join(base, 'evpn-ha-sea-'));
  fs.chmodSync(dir, 0o700);
  return dir;
}

function remove(dir) {
  try { fs.rmSync(dir, { recursive: true, force: true }); } catch { /* best effort */ }
}

function isSea() {
  try { return require('node:sea').isSea(); } catch { return false; }
}

/**
 * Load a native addon: inside the SEA the asset `name` (e.g. "netlink.node") is
 * written to a fresh private directory (file 0500), process.dlopen'ed and the
 * directory removed at once (the mapping stays); outside a SEA the file named by
 * $`envVar`, or `name` beside the bundle (`dir`), is loaded. `what` names it in errors.
 */
function loadAddon(name, envVar, dir, what) {
  const mod = { exports: {} };
  if (!isSea()) {
    process.dlopen(mod, process.env[envVar] || path.join(dir, name));
    return mod.exports;
  }
  const bytes = Buffer.from(require('node:sea').getAsset(name));
  const tmp = privateDir();
  const file = path.join(tmp, name);
  fs.writeFileSync(file, bytes, { mode: 0o500 });
  try {
    process.dlopen(mod, file);
  } catch (e) {
    const err = new Error(
      `evpn-ha: cannot load the embedded ${what} addon from ${file}: ${e.message}` +
      ' (a noexec temp dir? set EVPN_HA_TMPDIR or TMPDIR to a directory that allows executables)',
    );
    err.cause = e;
    throw err;
  } finally {
    remove(tmp);
  }
  return mod.exports;
}

let metaDir = null;
let url = null;

/** What `import.meta.url` means inside the bundle (a getter on globalThis, see entry.js). */
function importMetaUrl() {
  if (url !== null) return url;
  const dir = privateDir();
  metaDir = dir;
  process.on('exit', () => remove(dir));
  fs.writeFileSync(
    path.join(dir, 'package.json'),
    JSON.stringify({ name: __EVPN_HA_NAME__, version: __EVPN_HA_VERSION__ }) + '\n',
    { mode: 0o600 },
  );
  url = require('node:url').pathToFileURL(path.join(dir, 'evpn-ha.js')).href;
  return url;
}

/** Remove the import.meta.url directory (the URL stays the same; nothing reads files there later). */
function releaseMetaDir() {
  if (metaDir !== null) remove(metaDir);
  metaDir = null;
}

module.exports = { privateDir, remove, loadAddon, importMetaUrl, releaseMetaDir };
