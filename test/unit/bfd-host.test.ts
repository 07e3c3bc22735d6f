import t from 'tap';
import { ManualClock } from '../../src/util/clock.js';
import { BfdManager } from '../../src/bfd/manager.js';
import { BfdProcessServer, processLog } from '../../src/bfd/child.js';
import { BFD_PROCESS_EXITED, BfdHost, type BfdProcessSpawner } from '../../src/bfd/host.js';
import { LineDecoder, encodeMessage, type FromBfdProcess, type ToBfdProcess } from '../../src/bfd/ipc.js';
import type { BfdDownEvent } from '../../src/bfd/types.js';
import { capture, FakeNet, flush, lcg } from '../lib/bfd-fakes.js';

/** Every message through its wire form (a JSON line), as between the real processes. */
function wire<M>(m: ToBfdProcess | FromBfdProcess): M {
  let out: unknown;
  new LineDecoder().push(encodeMessage(m), (v) => { out = v; }, (l) => { throw new Error(`bad line ${l}`); });
  return out as M;
}

/**
 * The BFD process in this thread: a BfdProcessServer over a BfdManager on the fake
 * network and the ManualClock. kill() is a crash (no AdminDown, sockets gone).
 */
function fakeSpawner(clock: ManualClock, net: FakeNet): { spawn: BfdProcessSpawner; spawned: number; alive: () => number } {
  let alive = 0;
  const r: { spawned: number; alive: () => number; spawn: BfdProcessSpawner } = {
    spawned: 0,
    alive: () => alive,
    spawn: ((on) => {
      r.spawned++;
      alive++;
      let dead = false;
      const manager = new BfdManager({ clock, transport: net.transport(), logger: capture().logger, random: lcg(10 + r.spawned) });
      const server = new BfdProcessServer(manager, (m) => { if (!dead) on.message(wire(m)); });
      // Like child.ts: every session's snapshot each second.
      const tick = (): void => { if (!dead) { on.message(wire(server.snapshot())); clock.setTimer(1000, tick); } };
      clock.setTimer(1000, tick);
      const die = (code: number | null, signal: string | null): void => {
        if (dead) return;
        dead = true;
        alive--;
        queueMicrotask(() => on.exit(code, signal));
      };
      return {
        pid: 1000 + r.spawned,
        send: (m) => { if (!dead) server.handle(wire(m)); },
        end: () => { server.handle({ t: 'close', adminDown: false }); die(0, null); },
        kill: () => { manager.close({ adminDown: false }); die(null, 'SIGKILL'); },
      };
    }) as BfdProcessSpawner,
  };
  return r;
}

function setup() {
  const clock = new ManualClock();
  const net = new FakeNet(clock);
  net.addresses.add('192.168.1.65');
  net.addresses.add('192.168.1.2');
  const fake = fakeSpawner(clock, net);
  const log = capture();
  const host = new BfdHost({ clock, spawn: fake.spawn, logger: log.logger });
  const peer = new BfdManager({ clock, transport: net.transport(), logger: capture().logger, random: lcg(2) });
  return { clock, net, fake, log, host, peer };
}

t.test('host: the process is started with the first session; events and snapshots cross; a silent peer goes down with its diag', async (t) => {
  const { clock, net, fake, host, peer } = setup();
  t.equal(fake.spawned, 0, 'no process without a session');
  const s = host.add({ local: '192.168.1.65', remote: '192.168.1.2', minTx: 100, minRx: 100 });
  const p = peer.add({ local: '192.168.1.2', remote: '192.168.1.65', minTx: 100, minRx: 100 });
  t.equal(fake.spawned, 1);
  t.equal(host.add({ local: '192.168.1.65', remote: '192.168.1.2', minTx: 100, minRx: 100 }), s, 'same key, same session');
  t.throws(() => host.add({ local: '192.168.1.65', remote: '192.168.1.9', multiplier: 0 }), RangeError);
  const events: string[] = [];
  const downs: BfdDownEvent[] = [];
  s.on('stateChange', (from, to) => events.push(`${from}->${to}`));
  s.on('up', () => events.push('up'));
  s.on('down', (d) => { events.push('down'); downs.push(d); });
  t.equal(s.state, 'Down');
  await flush();
  clock.advance(3000);
  t.equal(s.state, 'Up');
  t.equal(p.state, 'Up');
  t.equal(events.filter((e) => e === 'up').length, 1);
  t.equal(events.at(-1), 'up');
  t.equal(events.at(-2), 'Init->Up');
  const info = s.snapshot();
  t.equal(info.remoteDiscriminator, p.localDiscriminator);
  t.equal(p.remoteDiscriminator, info.localDiscriminator);
  t.match(info, { state: 'Up', detectTimeMs: 300, local: '192.168.1.65', remote: '192.168.1.2' });

  net.blocked.add('192.168.1.2');
  clock.advance(1000);
  t.equal(s.state, 'Down');
  t.equal(downs.length, 1);
  t.match(downs[0], { diag: 1, diagName: 'ControlDetectionTimeExpired' });
  await host.close();
  t.equal(fake.alive(), 0, 'the process has exited after close()');
  peer.close();
});

t.test('host: a dead process takes its Up sessions down with a clear cause, is logged and restarted with every session', async (t) => {
  const { clock, fake, log, host, peer } = setup();
  const s = host.add({ local: '192.168.1.65', remote: '192.168.1.2', minTx: 100, minRx: 100 });
  peer.add({ local: '192.168.1.2', remote: '192.168.1.65', minTx: 100, minRx: 100 });
  const downs: BfdDownEvent[] = [];
  s.on('down', (d) => downs.push(d));
  await flush();
  clock.advance(3000);
  t.equal(s.state, 'Up');
  const before = s.snapshot().counters;

  // The process dies (as the real one would of an uncaught exception or a signal).
  const pid = host.pid();
  t.ok(pid !== null);
  (host as unknown as { proc: { kill(): void } }).proc.kill();
  await flush();
  t.equal(s.state, 'Down');
  t.equal(downs.length, 1);
  t.match(downs[0], { diag: 0, diagName: BFD_PROCESS_EXITED });
  t.ok(downs[0]!.upForMs >= 2000, `upForMs ${downs[0]!.upForMs}`);
  t.ok(log.lines.some((l) => l.level === 50 && l.msg.includes('bfd process exited')), 'logged as an error');
  t.equal(host.pid(), null);

  // Restarted at once (first death), with the session; it comes back Up.
  clock.advance(0);
  t.equal(fake.spawned, 2);
  t.not(host.pid(), pid);
  await flush();
  clock.advance(5000);
  t.equal(s.state, 'Up', 'Up again through the new process');
  const after = s.snapshot().counters;
  t.ok(after.txPackets > before.txPackets, 'counters continue across the restart');
  t.equal(after.downTransitions, before.downTransitions + 1);

  // A second quick death waits restartMs (1 s) before the next start.
  (host as unknown as { proc: { kill(): void } }).proc.kill();
  await flush();
  clock.advance(500);
  t.equal(fake.spawned, 2, 'not yet restarted');
  clock.advance(600);
  t.equal(fake.spawned, 3);
  await host.close();
  t.equal(fake.alive(), 0);
  peer.close();
});

t.test('host: remove tells the peer AdminDown; admin state and options survive a restart', async (t) => {
  const { clock, net, host, peer } = setup();
  net.addresses.add('192.168.1.66');
  const s = host.add({ local: '192.168.1.65', remote: '192.168.1.2', minTx: 100, minRx: 100 });
  const p = peer.add({ local: '192.168.1.2', remote: '192.168.1.65', minTx: 100, minRx: 100 });
  const peerEvents: string[] = [];
  p.on('peerAdminDown', () => peerEvents.push('peerAdminDown'));
  p.on('down', () => peerEvents.push('down'));
  await flush();
  clock.advance(3000);
  t.equal(p.state, 'Up');
  s.setOptions({ minTx: 200, minRx: 200 });
  t.throws(() => s.setOptions({ multiplier: 300 }), RangeError);
  clock.advance(2000);
  t.equal(p.snapshot().remoteMinRxMs, 200, 'the new options reached the process');
  host.remove(s);
  clock.advance(10);
  t.same(peerEvents, ['peerAdminDown'], 'the peer saw AdminDown, not a failure');
  t.same(host.sessions(), []);
  await host.close();
  peer.close();
});

t.test('host: the process\'s log records are written by the host\'s logger, at their level, errors as messages', async (t) => {
  const msgs: FromBfdProcess[] = [];
  const plog = processLog('info', (m) => msgs.push(wire(m)));
  plog.debug({ a: 1 }, 'not at info');
  plog.warn({ local: '192.168.1.65', err: new Error('EADDRNOTAVAIL') }, 'bfd cannot open sockets, retrying');
  t.equal(msgs.length, 1);
  t.same(msgs[0], { t: 'log', record: { level: 40, local: '192.168.1.65', err: { type: 'Error', message: 'EADDRNOTAVAIL' }, msg: 'bfd cannot open sockets, retrying' } });
  const clock = new ManualClock();
  const log = capture();
  let on: Parameters<BfdProcessSpawner>[0] | undefined;
  const host = new BfdHost({ clock, logger: log.logger, spawn: (o) => { on = o; return { pid: 1, send: () => {}, end: () => { queueMicrotask(() => o.exit(0, null)); }, kill: () => {} }; } });
  host.add({ local: '192.168.1.65', remote: '192.168.1.2' });
  on!.message(msgs[0]!);
  const line = log.lines.at(-1) as unknown as Record<string, unknown>;
  t.match(line, { level: 40, local: '192.168.1.65', msg: 'bfd cannot open sockets, retrying', err: { message: 'EADDRNOTAVAIL' } });
  await host.close();
});
