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
const { loadAddon } = require('./runtime.cjs');

function load() {
  return loadAddon('koffi.node', 'EVPN_HA_KOFFI_ADDON', __dirname, 'koffi');
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
