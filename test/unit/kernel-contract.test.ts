// The KernelPort contract (test/lib/kernel-contract.ts) against FakeKernel. The same
// suite runs against the real kernel in test/netns/kernel-contract.test.ts.
import t from 'tap';
import { FakeKernel } from '../../src/kernel/fake.js';
import { NTF_EXT_LEARNED, NTF_SELF, NUD_PERMANENT } from '../../src/kernel/nl.js';
import { kernelContract } from '../lib/kernel-contract.js';

kernelContract(t, {
  async world(t) {
    const k = new FakeKernel();
    t.teardown(() => k.close());
    return {
      port: k,
      delNeigh: (ip) => { k.removeNeigh('br-vxlan', ip); },
      delFdb: (mac, table) => { k.removeFdb('vxlan0', mac, table); },
      moveFdb: (mac, dst) => {
        const old = k.fdb('vxlan0', mac, 'vxlan');
        k.foreignFdb({ ifname: 'vxlan0', mac, table: 'vxlan', dst, flags: NTF_SELF | NTF_EXT_LEARNED, ...(old ? { state: old.state } : {}) });
      },
      permanentNeigh: (ip, mac) => { k.foreignNeigh({ ifname: 'br-vxlan', ip, mac, state: NUD_PERMANENT }); },
      eventDelayMs: 0,
      eventsReady: async () => undefined,
    };
  },
});
