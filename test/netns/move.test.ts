// A container moves between servers (issue 11 §6, RFC 7432 §15): two servers with
// evpn-ha (advertiseEndpoints, flood on, ARP suppression off, mobility {maxMoves: 2,
// window: 60}) and FRR reflectors with BFD. Container m (fixed MAC and IP) starts
// behind server-l, container x stays behind server-l.
//
// A move is done as a live migration does it: the old container is paused (no ARP,
// its IP output dropped by iptables, so its veth and the bridge's FDB entry for it stay, as
// for a paused VM), a container with the same MAC and IP appears behind the other
// server and sends (with
// the old one's ARP cache, a ping to x: the bridge learns its MAC from it), then
// the old one is deleted. Asserted on kernel state, on the routes the other server
// and the reflectors hold, and on pings that really crossed:
//   * l -> r: x's ping to m follows within 1 s; server-r announces sequence 1,
//     server-l withdraws and its stale bridge entry on the old port is gone;
//   * r -> l: server-r's own ping to m (from its br-vxlan address) follows within
//     1 s; sequence 2 from server-l, server-r withdraws, its stale entry is gone;
//   * back and forth until a server marks m duplicate (`"duplicate": true` in its
//     `show routes --json`, no route of it for m at the reflectors);
//     `evpn-ha clear duplicate` lifts it: announced again, with a higher sequence.
import t from 'tap';
import {
  PROBE_FAST, diagnostics, setupE2e, showRoutes, skipReason, startAgents, stopAgents, type E2e,
} from '../lib/e2e.js';
import { bridgeOnPort, container, frrMacPaths, liveMove, removeOld, type Placed } from '../lib/containers.js';
import { ip, nsExec, waitFor } from '../lib/netns.js';
import { PingRun, type ServerName } from '../../src/lab/twonet.js';

const M = { mac: '02:cc:00:00:00:11', ip: '10.100.0.11' };
// BFD on every session as in production, but not at the 100 ms x 3 of the failover
// tests: nothing here fails over, and a session reset by a BFD flap under load in
// the second of a move is what the move's 1 s budget cannot absorb.
const BFD = { minTx: 300, minRx: 300, multiplier: 3 };
const X = { mac: '02:cc:00:00:00:13', ip: '10.100.0.13' };
const R_BR = '10.100.0.87';
const reason = skipReason();
if (reason) {
  t.plan(0, reason);
} else {
  let e: E2e;
  let gen = 0;
  let xNs: string;
  /** Where container m is now: its namespace, the bridge port on its server. */
  let where: Placed;
  const other = (s: ServerName): ServerName => (s === 'l' ? 'r' : 'l');
  const fail = (err: unknown): never => { throw new Error(`${String(err)}\n${diagnostics(e)}`); };

  const rrPaths = (mac: string): ReturnType<typeof frrMacPaths> => frrMacPaths(e.rr.net1, mac);

  /** Server s's remote MAC-only paths for a MAC (show routes --json): next hop, sequence. */
  const remoteMacPaths = (s: ServerName, mac: string): Array<{ nextHop: string; seq: number }> =>
    showRoutes(e, s).filter((r) => r.mac === mac && r.ip === null)
      .flatMap((r) => r.paths.map((p) => ({ nextHop: String(p.nextHop), seq: Number(p.macMobilitySeq) })));

  const duplicateOn = (s: ServerName, mac: string): boolean => showRoutes(e, s).some((r) => r.mac === mac && r.duplicate === true);

  /**
   * Move m to the other server as a live migration (test/lib/containers.ts liveMove):
   * the new one speaks with a ping to x. Returns the time it spoke; the old one stays
   * (paused) until `finishMove`.
   */
  const move = (to: ServerName): { at: number; old: Placed } => {
    gen++;
    const old = where;
    const mv = liveMove(e, old, `m${gen}`, to, `vm${gen}`, M, X.ip);
    where = mv.now;
    return { at: mv.at, old };
  };
  const finishMove = (old: Placed): void => removeOld(e, old);

  /** The highest sequence the reflector holds for m. */
  const rrSeq = (): number => Math.max(0, ...rrPaths(M.mac).map((p) => p.seq));

  t.before(async () => {
    e = await setupE2e('mv', t, { bfd: BFD });
    where = container(e, 'm0', 'l', 'vm0', M);
    xNs = container(e, 'x', 'l', 'vx', X).ns;
    ip(e.net.servers.r.ns, 'addr', 'add', `${R_BR}/24`, 'dev', 'br-vxlan');
    await startAgents(e, {
      holdTime: 9, keepalive: 3, bfd: BFD, vtepProbe: PROBE_FAST,
      vniExtra: ['advertiseEndpoints: true', 'arpSuppress: false', 'mobility: {maxMoves: 2, window: 60}'],
    });
    // m and x speak: both learned on server-l and announced (sequence 0, no MAC Mobility community).
    nsExec(where.ns, 'ping', ['-c', '2', '-i', '0.2', '-W', '1', X.ip]);
    await waitFor(() => e.net.fdbDst('r', M.mac) === e.net.servers.l.address.net1 && e.net.fdbDst('r', X.mac) === e.net.servers.l.address.net1,
      20_000, 'm and x in server-r\'s FDB behind server-l').catch(fail);
  });
  t.teardown(() => stopAgents(e));

  t.test('m moves to server-r: traffic follows within 1 s, sequence 1, server-l withdraws and drops its stale entry', async (t) => {
    t.same(rrPaths(M.mac).filter((p) => p.ip === null).map((p) => [p.nextHop, p.seq]), [[e.net.servers.l.address.net1, 0]],
      'before: the reflector holds server-l\'s route for m, sequence 0');
    const xPing = new PingRun(e.lab, xNs, M.ip, 10);
    try {
      await waitFor(() => xPing.repliesAfter(Date.now() - 300) > 5, 10_000, 'x reaches m on server-l').catch(fail);
      const { at, old } = move('r');
      const R = e.net.servers.r;
      await waitFor(() => xPing.repliesAfter(at) > 3, 10_000, 'x reaches m behind server-r').catch(fail);
      const first = xPing.replies.find((r) => r.at > at)!.at;
      t.ok(first - at < 1000, `x's ping followed m after ${Math.round(first - at)} ms`);
      t.comment(`follow time (x on server-l -> m moved to server-r, ping every 10 ms): ${Math.round(first - at)} ms`);
      await waitFor(() => e.net.fdbDst('l', M.mac) === R.address.net1, 5000, 'server-l: m behind server-r').catch(fail);
      await waitFor(() => remoteMacPaths('l', M.mac).some((p) => p.nextHop === R.address.net1 && p.seq === 1), 5000,
        'server-l holds server-r\'s route for m with sequence 1').catch(fail);
      await waitFor(() => { const p = rrPaths(M.mac); return p.length > 0 && p.every((x) => x.nextHop === R.address.net1 && x.seq === 1); }, 5000,
        'reflector: only server-r\'s routes for m, sequence 1').catch(fail);
      t.pass('server-r announces m with sequence 1; server-l withdrew its routes (MAC and MAC/IP)');
      t.same(bridgeOnPort(e, 'l', old.port, M.mac), [], 'server-l\'s stale bridge entry for m on the old port is gone (the old container still exists, paused)');
      finishMove(old);
    } finally {
      xPing.stop();
    }
  });

  t.test('m moves back to server-l: server-r\'s traffic follows within 1 s, sequence 2 on both sides', async (t) => {
    const L = e.net.servers.l;
    const rPing = e.net.ping('r', M.ip, 10);
    try {
      await waitFor(() => rPing.repliesAfter(Date.now() - 300) > 5, 10_000, 'server-r reaches m (local)').catch(fail);
      const { at, old } = move('l');
      await waitFor(() => rPing.repliesAfter(at) > 3, 10_000, 'server-r reaches m behind server-l').catch(fail);
      const first = rPing.replies.find((r) => r.at > at)!.at;
      t.ok(first - at < 1000, `server-r's ping followed m after ${Math.round(first - at)} ms`);
      t.comment(`follow time (server-r's br-vxlan -> m moved back to server-l): ${Math.round(first - at)} ms`);
      await waitFor(() => e.net.fdbDst('r', M.mac) === L.address.net1, 5000, 'server-r: m behind server-l').catch(fail);
      await waitFor(() => remoteMacPaths('r', M.mac).some((p) => p.nextHop === L.address.net1 && p.seq === 2), 5000,
        'server-r holds server-l\'s route for m with sequence 2').catch(fail);
      await waitFor(() => { const p = rrPaths(M.mac); return p.length > 0 && p.every((x) => x.nextHop === L.address.net1 && x.seq === 2); }, 5000,
        'reflector: only server-l\'s routes for m, sequence 2').catch(fail);
      t.pass('server-l announces m with sequence 2; server-r withdrew');
      t.same(bridgeOnPort(e, 'r', old.port, M.mac), [], 'server-r\'s stale bridge entry for m is gone');
      finishMove(old);
    } finally {
      rPing.stop();
    }
  });

  t.test('back and forth: m is marked duplicate, not announced; clear duplicate announces it again', async (t) => {
    let dup: ServerName | null = null;
    let seen = rrSeq(); // the highest sequence the reflector held so far
    for (let i = 0; i < 6 && dup === null; i++) {
      const before = rrSeq();
      seen = Math.max(seen, before);
      const { old } = move(other(where.server));
      // This move is done when the other side took note (a higher sequence at the reflector) or a side marked m duplicate.
      await waitFor(() => duplicateOn('l', M.mac) || duplicateOn('r', M.mac) || rrSeq() > before, 10_000, `move ${gen} seen`).catch(fail);
      seen = Math.max(seen, rrSeq());
      finishMove(old);
      await waitFor(() => bridgeOnPort(e, old.server, old.port, M.mac).length === 0, 5000, 'old port gone').catch(fail);
      if (duplicateOn('l', M.mac)) dup = 'l';
      else if (duplicateOn('r', M.mac)) dup = 'r';
    }
    if (dup === null) return fail('no server marked m duplicate after 6 moves (maxMoves 2 in 60 s)');
    t.pass(`server-${dup} marked m duplicate after ${gen} moves (maxMoves 2, window 60 s)`);
    const D = e.net.servers[dup];
    t.ok(showRoutes(e, dup).filter((r) => r.mac === M.mac).every((r) => r.duplicate === true), '"duplicate": true on every show routes entry of m');
    await waitFor(() => rrPaths(M.mac).every((p) => p.nextHop !== D.address.net1), 5000, `no route of server-${dup} for m at the reflector`).catch(fail);
    t.pass(`server-${dup} does not announce m`);
    const seqBefore = seen;
    const out = e.net.evpnHaCli(dup, ['clear', 'duplicate', M.mac, '--socket', e.net.socketPath(dup)]);
    t.match(out, /cleared duplicate 02:cc:00:00:00:11 in VNI 100/, out);
    t.notOk(duplicateOn(dup, M.mac), 'no longer duplicate');
    if (where.server === dup) {
      // m is here: announced again, with a sequence above every one seen.
      await waitFor(() => rrPaths(M.mac).some((p) => p.nextHop === D.address.net1 && p.ip === null && p.seq > seqBefore), 5000,
        `server-${dup} announces m again`).catch(fail);
      t.pass(`server-${dup} announces m again with sequence ${rrSeq()} > ${seqBefore}`);
      await waitFor(() => e.net.fdbDst(other(dup), M.mac) === D.address.net1, 5000, 'the other server follows').catch(fail);
      t.pass('the other server\'s FDB points m at it');
    } else {
      t.comment(`m is behind server-${where.server}, not the server that marked it: nothing to announce after clearing`);
    }
  });
}
