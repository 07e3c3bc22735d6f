// The floor under the prober's CPU (issue 9 §3, docs/probe.md "Probing at scale"):
// the same traffic as src/probe/cli.ts generates, with nothing but the socket layer.
// Takes the probe cli's config and speaks its stdout protocol, so
// `node build/bench/scale.js --probe-only --probe-cli build/bench/probe-floor.js`
// measures it in the same namespaces against the same responder. Every 5 ms it
// stamps and queues the requests due in that tick (each target every `interval`
// ms, or every 1000 ms for `active: false`, phases spread like the prober's), hands
// them to the kernel with sendmmsg (MmsgProbeTransport) and drains the replies with
// recvmmsg, counting them per target without looking at them beyond the sequence
// number. No state machine, no validation, no timers per target: what is left is
// the system calls, the kernel's work, stamping a request and one tick timer.
// A target is reported 'up' if a reply to it arrived in the last second.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { MmsgProbeTransport } from '../src/probe/mmsg.js';
import { ProbeRequestTemplate } from '../src/probe/packet.js';
import type { ProbeCliConfig } from '../src/probe/cli.js';

const TICK = 5;

function emit(obj: object): void {
  process.stdout.write(`${JSON.stringify(obj)}\n`);
}

function main(): void {
  const arg = process.argv[2]!;
  const cfg = JSON.parse(arg.startsWith('@') ? readFileSync(arg.slice(1), 'utf8') : arg) as ProbeCliConfig;
  const port = cfg.probePort ?? 4799;
  const tr = MmsgProbeTransport.open({ listenAddress: cfg.listenAddress ?? cfg.serviceIp, probePort: port });
  const interval = cfg.interval ?? 100;
  const targets = cfg.targets.map((t, i) => ({
    t,
    every: t.active === false ? 1000 : interval,
    phase: Math.floor(Math.random() * (t.active === false ? 1000 : interval) / TICK) * TICK,
    template: new ProbeRequestTemplate(
      { vni: cfg.vni, dstMac: t.remoteMac, srcMac: cfg.bridgeMac, srcIp: cfg.serviceIp, dstIp: t.remoteServiceIp, srcPort: port, dstPort: port },
      { nonce: 1n, senderVtep: t.localVtep, targetVtep: t.remoteVtep, senderMac: cfg.bridgeMac, network: t.network },
    ),
    index: i,
    lastReply: -Infinity,
  }));
  // Buckets of targets by phase within the longest period (1000 ms).
  const buckets = new Map<number, typeof targets>();
  for (const x of targets) {
    for (let at = x.phase; at < 1000; at += x.every) {
      const b = buckets.get(at) ?? [];
      b.push(x);
      buckets.set(at, b);
    }
  }
  let sent = 0;
  let replies = 0;
  tr.onReceive((payload) => {
    // Sequence (offset 8) carries the target's index here.
    const seq = ((payload[8]! << 24) | (payload[9]! << 16) | (payload[10]! << 8) | payload[11]!) >>> 0;
    const x = targets[seq];
    if (x) x.lastReply = performance.now();
    replies++;
  });
  const t0 = performance.now();
  let next = Math.ceil(t0 / TICK) * TICK;
  const tick = (): void => {
    tr.poll();
    const now = performance.now();
    for (; next <= now; next += TICK) {
      const b = buckets.get(Math.round(next - Math.floor(next / 1000) * 1000) % 1000);
      if (b) for (const x of b) { tr.send(x.t.localVtep, x.t.remoteVtep, x.template.stamp(x.index, now)); sent++; }
    }
    setTimeout(tick, next - performance.now());
  };
  tick();
  emit({ type: 'ready' });
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() !== 'status') return;
    const now = performance.now();
    emit({
      type: 'status',
      targets: targets.map((x) => ({ network: x.t.network, remoteVtep: x.t.remoteVtep, state: now - x.lastReply < 1000 ? 'up' : 'down' })),
      counters: { requestsSent: sent, repliesReceived: replies },
      transport: tr.stats,
    });
  }).on('close', () => process.exit(0));
}

main();
