// The route generator as a child process, run inside its own namespace by
// bench/lib/scale-lab.ts (`ip netns exec <gen> node gen-child.js`). Commands are JSON
// lines on stdin, events JSON lines on stdout:
//   {"cmd":"peer","net":"net1","local":"192.168.1.10","remote":"192.168.1.2","asn":65001}
//     -> {"ev":"established","net":"net1"} | {"ev":"closed","net":"net1","why":...}
//   {"cmd":"prepare","n":10000,"k":4,"nets":{"net1":GenNetwork,...}}
//     -> {"ev":"prepared","ms":...,"updates":{"net1":...}}
//   {"cmd":"announce"|"withdraw","id":1,"nets":["net1","net2"]}
//     -> {"ev":"sent","id":1,"firstAt":<epoch ms of the first write>,"doneAt":...}
import { createInterface } from 'node:readline';
import { GenPeer, encodeAnnounce, encodeWithdraw, genRoutes, type Encoded, type GenNetwork } from '../../src/lab/routegen.js';

type Cmd =
  | { cmd: 'peer'; net: string; local: string; remote: string; asn: number }
  | { cmd: 'prepare'; n: number; k: number; nets: Record<string, GenNetwork> }
  | { cmd: 'announce' | 'withdraw'; id: number; nets: string[] };

const peers = new Map<string, GenPeer>();
const announce = new Map<string, Encoded>();
const withdraw = new Map<string, Encoded>();

function emit(o: object): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

async function handle(c: Cmd): Promise<void> {
  switch (c.cmd) {
    case 'peer': {
      const p = new GenPeer({ local: c.local, remote: c.remote, asn: c.asn });
      peers.get(c.net)?.close();
      peers.set(c.net, p);
      p.start(() => emit({ ev: 'established', net: c.net }), (why) => emit({ ev: 'closed', net: c.net, why }));
      return;
    }
    case 'prepare': {
      const t0 = Date.now();
      const updates: Record<string, number> = {};
      for (const [net, g] of Object.entries(c.nets)) {
        const routes = genRoutes(g, c.n, c.k);
        const a = encodeAnnounce(g, c.n, c.k, 100, routes);
        announce.set(net, a);
        withdraw.set(net, encodeWithdraw(g, c.n, c.k, routes));
        updates[net] = a.updates;
      }
      emit({ ev: 'prepared', ms: Date.now() - t0, updates });
      return;
    }
    case 'announce':
    case 'withdraw': {
      const src = c.cmd === 'announce' ? announce : withdraw;
      const firstAt = Date.now();
      await Promise.all(c.nets.map((net) => {
        const p = peers.get(net);
        const e = src.get(net);
        if (!p || !e) return Promise.reject(new Error(`no peer or no prepared routes for ${net}`));
        return p.send(e);
      }));
      emit({ ev: 'sent', id: c.id, firstAt, doneAt: Date.now() });
      return;
    }
  }
}

const rl = createInterface({ input: process.stdin });
rl.on('line', (line) => {
  if (!line.trim()) return;
  handle(JSON.parse(line) as Cmd).catch((e: unknown) => emit({ ev: 'error', message: e instanceof Error ? e.message : String(e) }));
});
rl.on('close', () => {
  for (const p of peers.values()) p.close();
  process.exit(0);
});
