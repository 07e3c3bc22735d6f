// Interop: our BFD session against FRR bfdd 8.4 over a veth between two namespaces.
// FRR runs in `rr` (192.168.1.2), our BfdManager runs in a child Node process in
// `srv` (192.168.1.65): Node cannot enter a namespace itself, so this file re-runs
// itself there as a small driver (EVPN_HA_BFD_DRIVER=1) that prints JSON lines.
// The link is blackholed with iptables in `rr` (UDP 3784/4784 both directions; no
// carrier change), then healed.
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const SELF = fileURLToPath(import.meta.url);

interface DriverLine {
  ev: 'ready' | 'stateChange' | 'snapshot' | 'error';
  at: number;
  from?: string;
  to?: string;
  diag?: number;
  info?: Record<string, unknown>;
  message?: string;
}

async function driver(): Promise<void> {
  const { BfdManager } = await import('../../src/bfd/manager.js');
  const { pino } = await import('pino');
  const cfg = JSON.parse(process.env.EVPN_HA_BFD_CFG ?? '{}') as {
    local: string; remote: string; multihop?: boolean; minTx: number; minRx: number; multiplier: number;
  };
  const print = (l: Omit<DriverLine, 'at'>): void => { process.stdout.write(`${JSON.stringify({ ...l, at: Date.now() })}\n`); };
  const logger = pino({ level: 'debug' }, process.stderr);
  const mgr = new BfdManager({ logger });
  const s = mgr.add(cfg);
  s.on('stateChange', (from, to, diag) => print({ ev: 'stateChange', from, to, diag }));
  const rl = createInterface({ input: process.stdin });
  rl.on('line', (line) => {
    if (line === 'snapshot') print({ ev: 'snapshot', info: s.snapshot() as unknown as Record<string, unknown> });
    if (line === 'close') { mgr.close(); rl.close(); print({ ev: 'snapshot', info: s.snapshot() as unknown as Record<string, unknown> }); setTimeout(() => process.exit(0), 200); }
  });
  print({ ev: 'ready' });
}

if (process.env.EVPN_HA_BFD_DRIVER === '1') {
  await driver();
} else {
  await tests();
}

async function tests(): Promise<void> {
  const { default: t } = await import('tap');
  const { Lab, isRoot, nsExec, waitFor, sh } = await import('../lib/netns.js');
  const { startFrr } = await import('../lib/frr.js');

  if (!isRoot()) {
    t.plan(0, 'needs root for network namespaces');
    return;
  }
  try { sh('which', ['vtysh']); sh('which', ['iptables']); } catch {
    t.plan(0, 'FRR (vtysh) or iptables not installed');
    return;
  }

  /** Our side, running in `ns` as a child process; lines parsed as they come. */
  class Driver {
    readonly lines: DriverLine[] = [];
    readonly child: ChildProcess;
    stderr = '';
    constructor(ns: string, cfg: object, lab: InstanceType<typeof Lab>) {
      // The same loaders tap gave us (TypeScript), so the child can run this .ts file.
      this.child = spawn('ip', ['netns', 'exec', ns, process.execPath, ...process.execArgv, SELF], {
        env: { ...process.env, EVPN_HA_BFD_DRIVER: '1', EVPN_HA_BFD_CFG: JSON.stringify(cfg) },
        stdio: ['pipe', 'pipe', 'pipe'],
      });
      lab.processes.push(this.child);
      createInterface({ input: this.child.stdout! }).on('line', (l) => {
        try { this.lines.push(JSON.parse(l) as DriverLine); } catch { /* not ours */ }
      });
      this.child.stderr!.on('data', (d: Buffer) => { this.stderr = (this.stderr + d.toString()).slice(-20000); });
    }
    get state(): string {
      const last = this.lines.filter((l) => l.ev === 'stateChange').at(-1);
      return last?.to ?? 'Down';
    }
    lastChange(to: string): DriverLine | undefined {
      return this.lines.filter((l) => l.ev === 'stateChange' && l.to === to).at(-1);
    }
    async snapshot(): Promise<Record<string, unknown>> {
      const n = this.lines.length;
      this.child.stdin!.write('snapshot\n');
      const line = await waitFor(() => this.lines.slice(n).find((l) => l.ev === 'snapshot'), 5000, 'driver snapshot');
      return line.info ?? {};
    }
    async close(): Promise<void> {
      this.child.stdin!.write('close\n');
      await new Promise<void>((r) => { if (this.child.exitCode !== null) r(); else this.child.once('exit', () => r()); setTimeout(r, 3000); });
    }
  }

  interface FrrPeer {
    peer: string;
    status: string;
    diagnostic?: string;
    'remote-diagnostic'?: string;
    id?: number;
    'remote-id'?: number;
    'transmit-interval'?: number;
    'receive-interval'?: number;
    'remote-transmit-interval'?: number;
    'remote-receive-interval'?: number;
    'remote-detect-multiplier'?: number;
    multihop?: boolean;
  }

  t.test('a peer without BFD (ICMP port unreachable): stays Down quietly, 1 packet/s, no warnings', async (t) => {
    const lab = new Lab('bq', t);
    const rr = lab.ns('rr');
    const srv = lab.ns('srv');
    lab.veth(rr, 'eth0', srv, 'eth1', '192.168.1.2/24', '192.168.1.65/24');
    const ours = new Driver(srv, { local: '192.168.1.65', remote: '192.168.1.2', minTx: 100, minRx: 100, multiplier: 3 }, lab);
    t.teardown(() => { if (ours.child.exitCode === null) ours.child.kill('SIGKILL'); });
    await waitFor(() => ours.lines.some((l) => l.ev === 'ready'), 60_000, 'driver ready');
    await new Promise((r) => setTimeout(r, 4200));
    const snap = await ours.snapshot();
    t.match(snap, { state: 'Down', remoteDiscriminator: 0 });
    const c = snap.counters as { txPackets: number; txErrors: number; rxPackets: number };
    t.ok(c.txPackets >= 4 && c.txPackets <= 7, `${c.txPackets} packets in ~4 s (slow tx)`);
    t.equal(c.txErrors, 0, 'ICMP port unreachable does not surface as send errors');
    t.equal(ours.lines.filter((l) => l.ev === 'stateChange').length, 0, 'no state changes');
    const warnings = ours.stderr.split('\n').filter((l) => /"level":(4|5|6)0/.test(l));
    t.same(warnings, [], 'nothing logged at warn or above');
    await ours.close();
  });

  for (const multihop of [false, true]) {
    t.test(`FRR bfdd ${multihop ? 'multihop (RFC 5883)' : 'single hop (RFC 5881)'}: Up, blackhole -> Down on both sides, heal -> Up`, async (t) => {
      const lab = new Lab(multihop ? 'bm' : 'bs', t);
      const rr = lab.ns('rr');
      const srv = lab.ns('srv');
      lab.veth(rr, 'eth0', srv, 'eth1', '192.168.1.2/24', '192.168.1.65/24');
      const port = multihop ? 4784 : 3784;
      const frr = await startFrr(lab, rr, {
        bgpdConf: 'hostname rr\n',
        bfdd: true,
        bfddConf: [
          'hostname rr',
          'log timestamp precision 3',
          'bfd',
          ` peer 192.168.1.65 ${multihop ? 'multihop ' : ''}local-address 192.168.1.2`,
          '  receive-interval 100',
          '  transmit-interval 100',
          '  detect-multiplier 3',
          ' exit',
          'exit',
          '',
        ].join('\n'),
      });
      const frrPeer = (): FrrPeer | undefined => {
        const j = frr.vtyshJson('show bfd peers') as FrrPeer[];
        return j.find((p) => p.peer === '192.168.1.65');
      };
      const ours = new Driver(srv, { local: '192.168.1.65', remote: '192.168.1.2', multihop, minTx: 100, minRx: 100, multiplier: 3 }, lab);
      const diagnostics = (): string => `\n--- our driver stderr (tail) ---\n${ours.stderr.split('\n').slice(-30).join('\n')}\n${frr.logTail(30)}`;
      t.teardown(() => { if (ours.child.exitCode === null) ours.child.kill('SIGKILL'); });
      await waitFor(() => ours.lines.some((l) => l.ev === 'ready'), 60_000, 'driver ready').catch((e: unknown) => { throw new Error(`${String(e)}${diagnostics()}`); });

      // 1. Up on both sides.
      const upFrr = await waitFor(() => { const p = frrPeer(); return p?.status === 'up' ? p : undefined; }, 15000, 'FRR peer up')
        .catch((e: unknown) => { throw new Error(`${String(e)}${diagnostics()}`); });
      await waitFor(() => ours.state === 'Up', 5000, 'our session Up');
      // FRR's poll moves it to 100 ms after Up; let both finish the poll sequence.
      await waitFor(() => { const p = frrPeer(); return p?.['transmit-interval'] === 100 && p['remote-transmit-interval'] === 100; }, 5000, 'FRR negotiated 100 ms');
      const snap = await ours.snapshot();
      t.match(snap, { state: 'Up', remoteState: 'Up', txIntervalMs: 100, detectTimeMs: 300, remoteMultiplier: 3, multihop });
      t.equal(snap.remoteDiscriminator, upFrr.id, 'our Remote Discriminator is FRR\'s local id');
      t.equal(snap.localDiscriminator, upFrr['remote-id'], 'FRR learned our discriminator');
      const p1 = frrPeer()!;
      t.equal(p1['remote-receive-interval'], 100);
      t.equal(p1['remote-detect-multiplier'], 3);

      // 2. Blackhole BFD in both directions (no carrier change) and time the fall.
      const rules = [
        ['INPUT', '-p', 'udp', '--dport', String(port), '-j', 'DROP'],
        ['OUTPUT', '-p', 'udp', '--dport', String(port), '-j', 'DROP'],
      ];
      const blockAt = Date.now();
      for (const r of rules) nsExec(rr, 'iptables', ['-A', ...r]);
      const frrDown = await waitFor(() => { const p = frrPeer(); return p?.status === 'down' ? { at: Date.now(), p } : undefined; }, 3000, 'FRR peer down', 10)
        .catch((e: unknown) => { throw new Error(`${String(e)}${diagnostics()}`); });
      await waitFor(() => ours.state === 'Down', 3000, 'our session Down', 10);
      const ourDown = ours.lastChange('Down')!;
      const detect = 300;
      const margin = 250; // scheduling + iptables command latency
      t.ok(ourDown.at - blockAt <= detect + margin, `our side Down ${ourDown.at - blockAt} ms after the blackhole (detection ${detect} ms)`);
      t.equal(ourDown.diag, 1, 'our diag: Control Detection Time Expired');
      t.ok(frrDown.at - blockAt <= detect + margin + 450, `FRR saw Down within ${frrDown.at - blockAt} ms (polled)`);
      t.match(frrDown.p.diagnostic ?? '', /detection time expired/i, 'FRR diag: control detection time expired');
      const downs = ours.lines.filter((l) => l.ev === 'stateChange' && l.from === 'Up').length;

      // While blackholed: we stay Down (no flapping, no errors).
      await new Promise((r) => setTimeout(r, 2500));
      t.equal(ours.state, 'Down');
      t.equal(frrPeer()?.status, 'down');
      t.equal(ours.lines.filter((l) => l.ev === 'stateChange' && l.from === 'Up').length, downs, 'no further Up->Down');

      // 3. Heal: both come back Up.
      for (const r of rules) nsExec(rr, 'iptables', ['-D', ...r]);
      const healAt = Date.now();
      await waitFor(() => frrPeer()?.status === 'up', 10000, 'FRR peer up again').catch((e: unknown) => { throw new Error(`${String(e)}${diagnostics()}`); });
      await waitFor(() => ours.state === 'Up', 5000, 'our session Up again');
      t.pass(`both Up again ${Date.now() - healAt} ms after healing`);

      // 4. Graceful stop: FRR sees our AdminDown (remote diagnostic administratively down).
      await ours.close();
      const p4 = await waitFor(() => { const p = frrPeer(); return p?.status === 'down' ? p : undefined; }, 3000, 'FRR down after our AdminDown');
      t.match(p4['remote-diagnostic'] ?? '', /administratively down/i, 'FRR got AdminDown from us');
      t.match(p4.diagnostic ?? '', /neighbor signaled session down|control detection time expired/i);
    });
  }
}
