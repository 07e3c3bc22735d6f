// Entry point of the single executable (bundled by scripts/build-binary.mjs).
//
// One binary, four roles, chosen by argv before anything else is evaluated:
//   * `--evpn-ha-event-pump`: the rtnetlink event pump child (src/kernel/event-pump.ts);
//     RtnetlinkPort starts it as `<execPath> <event-pump.js> --evpn-ha-event-pump`,
//     and in the SEA execPath is this binary;
//   * `--evpn-ha-bfd`: the BFD process (src/bfd/child.ts), started the same way by
//     BfdHost (src/bfd/host.ts) as `<execPath> <child.js> --evpn-ha-bfd`;
//   * `--evpn-ha-self-test [--inline] [--write BRIDGE VXLAN]` (hidden, binary only):
//     load the embedded netlink addon, open an RtnetlinkPort with its event pump
//     (--inline: without), list links; open the default event socket (in this
//     process, through koffi: `eventSocket` 'direct'); with --write also write a neighbour entry
//     (192.0.2.1, TEST-NET-1) on BRIDGE and an FDB entry (02:00:5e:00:53:01 -> dst
//     192.0.2.2) on VXLAN, read them back and delete them (needs CAP_NET_ADMIN);
//     load the embedded koffi addon and ask the kernel for TCP-MD5 / TCP-AO;
//     print one JSON line, exit 0 if all of it worked;
//   * anything else: the CLI (src/cli/main.ts runs itself when argv[1] ends in evpn-ha).
// Lazy imports keep the unused roles unevaluated (esbuild wraps them in CommonJS).
import { importMetaUrl, releaseMetaDir } from './runtime.cjs';

// The build defines `import.meta.url` as this global (yargs and src/ use it): a
// getter, so the runtime directory is made only by the modules that ask.
Object.defineProperty(globalThis, '__evpnHaImportMetaUrl', { configurable: true, get: importMetaUrl });

const argv = process.argv;

if (argv.includes('--evpn-ha-event-pump')) {
  void import('../../src/kernel/event-pump.ts');
} else if (argv.includes('--evpn-ha-bfd')) {
  void import('../../src/bfd/child.ts');
} else if (argv[2] === '--evpn-ha-self-test') {
  void selfTest();
} else {
  // main.ts decides by argv[1] whether it is the program; in a SEA argv[1] is the
  // binary's own path. Give it a name main.ts recognises whatever the file is called.
  if (!/(^|\/)evpn-ha$/.test(argv[1] ?? '')) argv[1] = `${argv[1] ?? process.execPath}/evpn-ha`;
  // main.ts reads its version (package.json beside import.meta.url) while it is
  // evaluated; after that the directory holding that package.json can go.
  void import('../../src/cli/main.ts').finally(releaseMetaDir);
}

async function selfTest() {
  const started = performance.now();
  const out = { version: __EVPN_HA_VERSION__, sea: false, netlink: 'not loaded', links: 0, eventPump: 'not started' };
  try {
    out.sea = require('node:sea').isSea();
  } catch { /* not a SEA */ }
  let port = null;
  let code = 0;
  try {
    const { openRtnetlink } = await import('../../src/kernel/rtnetlink.ts');
    port = openRtnetlink({ events: argv.includes('--inline') ? 'inline' : 'process' });
    out.netlink = 'ok';
    const links = await port.links();
    out.links = links.length;
    out.linkNames = links.map((l) => l.name).slice(0, 16);
    const stop = port.subscribe(() => {});
    const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('event pump not ready after 5 s')), 5000).unref());
    await Promise.race([port.eventsReady(), timeout]);
    out.eventPump = 'ready';
    stop();
    // The default event socket: in this process, read through the embedded koffi addon.
    const direct = openRtnetlink({ events: 'direct' });
    try {
      const off = direct.subscribe(() => {});
      await direct.eventsReady();
      out.eventSocket = direct.eventSocketMode();
      off();
    } finally {
      await direct.close();
    }
    const w = argv.indexOf('--write');
    if (w >= 0) out.write = await writeCheck(port, argv[w + 1], argv[w + 2]);
    if (out.write && out.write !== 'ok') code = 1;
  } catch (e) {
    out.error = e instanceof Error ? e.message : String(e);
    code = 1;
  }
  try { await port?.close(); } catch { /* closing */ }
  // The embedded koffi addon (src/net/sockopt.ts): what this kernel offers for TCP-MD5 / TCP-AO.
  try {
    const { kernelTcpAuth } = await import('../../src/net/sockopt.ts');
    out.tcpAuth = kernelTcpAuth();
    out.ffi = 'ok';
  } catch (e) {
    out.ffi = e instanceof Error ? e.message : String(e);
    code = 1;
  }
  out.ms = Math.round(performance.now() - started);
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(code);
}

async function writeCheck(port, bridge, vxlan) {
  if (!bridge || !vxlan) return 'usage: --write BRIDGE VXLAN';
  const mac = '02:00:5e:00:53:01';
  const neigh = { kind: 'neigh', ifname: bridge, ip: '192.0.2.1', mac };
  const fdb = { kind: 'fdb', ifname: vxlan, mac, dst: '192.0.2.2' };
  const failed = (res) => res.filter((r) => !r.ok).map((r) => `${r.op.op} ${r.op.entry.kind}: ${r.code} ${r.message}`);
  const added = failed(await port.apply([{ op: 'replace', entry: neigh }, { op: 'replace', entry: fdb }]));
  if (added.length) return added.join('; ');
  const seen = await port.dump([bridge, vxlan]);
  const n = seen.find((e) => e.kind === 'neigh' && e.ip === neigh.ip && e.mac === mac);
  const f = seen.find((e) => e.kind === 'fdb' && e.table === 'vxlan' && e.mac === mac && e.dst === fdb.dst);
  const removed = failed(await port.apply([{ op: 'delete', entry: neigh }, { op: 'delete', entry: fdb }]));
  if (!n || !f) return `written but not read back (neigh ${n ? 'ok' : 'missing'}, fdb ${f ? 'ok' : 'missing'})`;
  if (removed.length) return removed.join('; ');
  const left = (await port.dump([bridge, vxlan])).filter((e) => e.mac === mac);
  return left.length ? `${left.length} entries left after delete` : 'ok';
}
