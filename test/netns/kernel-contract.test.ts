// The KernelPort contract (test/lib/kernel-contract.ts) against RtnetlinkPort and the
// real kernel, in a fresh namespace: the same suite that test/unit/kernel-contract.test.ts
// runs against FakeKernel. Each test gets the reference topology created anew (br-vxlan,
// vxlan0 VNI 100, no nexthops) and a new port; "someone else" is iproute2. Like
// kernel.test.ts, the parent creates the namespace and runs this file inside it.
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { RtnetlinkPort } from '../../src/kernel/rtnetlink.js';
import { Lab, ip, isRoot, sh } from '../lib/netns.js';
import { kernelContract } from '../lib/kernel-contract.js';

const NS = process.env['EH_CONTRACT_NS'];

function topology(ns: string): void {
  for (const dev of ['vxlan0', 'br-vxlan']) {
    try { ip(ns, 'link', 'del', dev); } catch { /* not there yet */ }
  }
  try { ip(ns, 'nexthop', 'flush'); } catch { /* none */ }
  ip(ns, 'link', 'add', 'br-vxlan', 'type', 'bridge');
  ip(ns, 'link', 'add', 'vxlan0', 'type', 'vxlan', 'id', '100', 'dstport', '4789', 'nolearning');
  ip(ns, 'link', 'set', 'vxlan0', 'master', 'br-vxlan');
  ip(ns, 'addr', 'add', '192.168.0.65/24', 'dev', 'br-vxlan');
  ip(ns, 'link', 'set', 'br-vxlan', 'up');
  ip(ns, 'link', 'set', 'vxlan0', 'up');
}

function inNamespace(ns: string): void {
  kernelContract(t, {
    async world(t) {
      topology(ns);
      const port = new RtnetlinkPort();
      t.teardown(() => port.close());
      return {
        port,
        delNeigh: (addr) => { ip(ns, 'neigh', 'del', addr, 'dev', 'br-vxlan'); },
        delFdb: (mac, table) => { sh('bridge', ['-n', ns, 'fdb', 'del', mac, 'dev', 'vxlan0', table === 'bridge' ? 'master' : 'self']); },
        moveFdb: (mac, dst) => { sh('bridge', ['-n', ns, 'fdb', 'replace', mac, 'dev', 'vxlan0', 'dst', dst, 'self', 'extern_learn']); },
        permanentNeigh: (addr, mac) => { ip(ns, 'neigh', 'add', addr, 'lladdr', mac, 'dev', 'br-vxlan', 'nud', 'permanent'); },
        eventDelayMs: 300,
        eventsReady: () => port.eventsReady(),
      };
    },
  });
}

function parent(): void {
  if (!isRoot()) {
    t.plan(0, 'needs root for network namespaces');
    return;
  }
  const lab = new Lab('kc', t);
  const ns = lab.ns('contract');
  const self = fileURLToPath(import.meta.url);
  void t.spawn('ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, self], {
    env: { ...process.env, EH_CONTRACT_NS: ns },
  }, 'KernelPort contract against the kernel inside a namespace');
}

if (NS) inNamespace(NS);
else parent();
