// Stands in for `@koromix/koffi-linux-<arch>` inside the single executable: koffi
// 3.x requires its native code from that platform package, and the build
// (scripts/build-binary.mjs) resolves the require to this file.
//
// The addon (linux_<arch>/koffi.node, glibc) is embedded as the SEA asset
// "koffi.node" and loaded like netlink's (netlink-addon.cjs): written to a fresh
// private directory (0700, file 0500), process.dlopen, directory removed at once.
// koffi evaluates its native module when src/net/sockopt.ts is imported, i.e. when
// the CLI starts; if it cannot be loaded (a noexec temp dir), a stand-in is
// returned whose every FFI call throws the reason, so that only TCP-MD5/TCP-AO,
// GTSM and BFD's TTL filter fail, not the whole program.
// Outside a SEA (the bundle run by plain node, for debugging) the file named by
// $EVPN_HA_KOFFI_ADDON, or koffi.node beside the bundle, is loaded instead.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { privateDir, remove } = require('./runtime.cjs');

function isSea() {
  try { return require('node:sea').isSea(); } catch { return false; }
}

function load() {
  const mod = { exports: {} };
  if (isSea()) {
    const bytes = Buffer.from(require('node:sea').getAsset('koffi.node'));
    const dir = privateDir();
    const file = path.join(dir, 'koffi.node');
    fs.writeFileSync(file, bytes, { mode: 0o500 });
    try {
      process.dlopen(mod, file);
    } catch (e) {
      const err = new Error(
        `evpn-ha: cannot load the embedded koffi addon from ${file}: ${e.message}` +
        ' (a noexec temp dir? set EVPN_HA_TMPDIR or TMPDIR to a directory that allows executables)',
      );
      err.cause = e;
      throw err;
    } finally {
      remove(dir);
    }
  } else {
    process.dlopen(mod, process.env.EVPN_HA_KOFFI_ADDON || path.join(__dirname, 'koffi.node'));
  }
  return mod.exports;
}

/** What koffi reads of its native module at import, with every call failing with `err`. */
function unavailable(err) {
  const fail = () => { throw err; };
  return {
    version: __EVPN_HA_KOFFI_VERSION__,
    load: fail, register: fail, type: fail, errno: fail, address: fail,
    os: { errno: {} }, types: {},
  };
}

let exported;
try {
  exported = load();
} catch (e) {
  exported = unavailable(e);
}
module.exports = exported;
