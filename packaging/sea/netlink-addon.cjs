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
const { loadAddon } = require('./runtime.cjs');

let binding = null;

function load() {
  if (binding === null) binding = loadAddon('netlink.node', 'EVPN_HA_NETLINK_ADDON', __dirname, 'netlink');
  return binding;
}

module.exports = load;
