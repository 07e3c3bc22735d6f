// Stands in for `node-gyp-build` inside the single executable: netlink 0.3.0 loads
// its native addon with `require('node-gyp-build')(__dirname + '/..')`, and the
// build (scripts/build-binary.mjs) resolves that require to this file.
//
// The addon (prebuilds/linux-<arch>/node.napi.node) is embedded as the SEA asset
// "netlink.node": it is written to a fresh private directory (mode 0700, file 0500),
// loaded with process.dlopen, and the directory is removed at once (the mapping stays).
// Outside a SEA (the bundle run by plain node, for debugging) the file named by
// $EVPN_HA_NETLINK_ADDON, or netlink.node beside the bundle, is loaded instead.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { privateDir, remove } = require('./runtime.cjs');

let binding = null;

function isSea() {
  try { return require('node:sea').isSea(); } catch { return false; }
}

function load() {
  if (binding) return binding;
  const mod = { exports: {} };
  if (isSea()) {
    const bytes = Buffer.from(require('node:sea').getAsset('netlink.node'));
    const dir = privateDir();
    const file = path.join(dir, 'netlink.node');
    fs.writeFileSync(file, bytes, { mode: 0o500 });
    try {
      process.dlopen(mod, file);
    } catch (e) {
      const err = new Error(
        `evpn-ha: cannot load the embedded netlink addon from ${file}: ${e.message}` +
        ' (a noexec temp dir? set EVPN_HA_TMPDIR or TMPDIR to a directory that allows executables)',
      );
      err.cause = e;
      throw err;
    } finally {
      remove(dir);
    }
  } else {
    const file = process.env.EVPN_HA_NETLINK_ADDON || path.join(__dirname, 'netlink.node');
    process.dlopen(mod, file);
  }
  binding = mod.exports;
  return binding;
}

module.exports = load;
