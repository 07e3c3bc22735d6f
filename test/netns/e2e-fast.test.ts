// End to end, part 2: fast failover. FRR 8.4 reflectors with bfdd (`neighbor
// CLIENTS bfd` + profile 100 ms x 3) and evpn-ha agents with BFD 100 ms x 3 and
// VTEP probes 100 ms x 3 (hold time stays 9 s: what is measured is BFD/probes).
//   * BFD interop: FRR bfdd shows both clients Up, and the agent shows BFD Up;
//   * scenario a: net1 blackholed on server-l: FRR's BFD session Down within the
//     detection time (+ margin), the BGP session with it, failover within 2 s;
//   * scenario b: server-r loses net1: RR-net1's BFD drops it, server-l fails over < 2 s;
//   * scenario c: only the VTEP-to-VTEP path on net1 broken (BGP stays up):
//     the probes move both servers to net2 within 2 s;
//   * scenario d: the brief's injection on server-l: within 2 s;
//   * the outage (ping every 10 ms) of each, in the test output.
import t, { type Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import {
  BFD_FAST, PROBE_FAST, agentSessionState, diagnostics, rrBfdStatus, rrPeerState, setupE2e, showNeighbors, skipReason, sleep, startAgent, startAgents,
  stopAgents, waitFdbDst, type E2e,
} from '../lib/e2e.js';
import { waitFor } from '../lib/netns.js';

const DETECT_MS = BFD_FAST.minRx * BFD_FAST.multiplier;
const FAILOVER_MS = 2000;
const reason = skipReason();
if (reason) {
  t.plan(0, reason);
} else {
  let e: E2e;
  const L = (): typeof e.net.servers.l => e.net.servers.l;
  const R = (): typeof e.net.servers.r => e.net.servers.r;

  t.before(async () => {
    e = await setupE2e('e2f', t, { bfd: BFD_FAST });
    await startAgents(e, { holdTime: 9, keepalive: 3, bfd: BFD_FAST, vtepProbe: PROBE_FAST });
  });

  async function allUp(): Promise<void> {
    await waitFor(() => ['l', 'r'].every((s) => showNeighbors(e, s as 'l' | 'r').every((x) => x.state === 'Established')), 30_000,
      'all sessions Established').catch((err: unknown) => { throw new Error(`${String(err)}\n${diagnostics(e)}`); });
    await waitFor(() => ['l', 'r'].every((s) => showNeighbors(e, s as 'l' | 'r').every((x) => (x.bfd as { state?: string } | null)?.state === 'Up')),
      15_000, 'all BFD sessions Up');
    await waitFdbDst(e, 'l', R().address.net1, 20_000);
    await waitFdbDst(e, 'r', L().address.net1, 20_000);
  }

  /**
   * One fault under a 10 ms ping: inject, require server-l (and with `serverR`
   * also server-r) to move its FDB entry to network 2 within FAILOVER_MS, run the
   * scenario's own checks, measure the outage, remove the fault, wait for the
   * failback and the steady state.
   */
  async function scenario(t: Test, label: string, inject: () => () => void,
    o: { serverR?: boolean; during?: (at: number) => Promise<void> } = {}): Promise<void> {
    const ping = e.net.ping('l', R().service, 10);
    await sleep(700);
    const at = Date.now();
    const undo = inject();
    try {
      const took = await waitFdbDst(e, 'l', R().address.net2, 15_000);
      t.ok(took <= FAILOVER_MS, `server-l fdb dst 192.168.2.87 after ${took} ms`);
      if (o.serverR) {
        const tookR = await waitFdbDst(e, 'r', L().address.net2, 15_000);
        t.ok(Date.now() - at <= FAILOVER_MS + 500, `server-r fdb dst 192.168.2.65 after ${Date.now() - at} ms (${tookR} ms after server-l)`);
      }
      await o.during?.(at);
      await waitFor(() => ping.repliesAfter(Date.now() - 300) > 5, 5000, 'ping replies again');
      const outage = ping.outageAround(at);
      t.ok(outage !== null && outage <= FAILOVER_MS, `outage ${String(outage)} ms`);
      t.comment(`outage (${label}, BFD 100x3 + probes 100x3, ping 10 ms): ${outage === null ? "none" : Math.round(outage)} ms`);
    } finally {
      undo();
    }
    const back = await waitFdbDst(e, 'l', R().address.net1, 30_000);
    t.pass(`failback ${back} ms after the fault was removed`);
    await waitFor(() => ping.repliesAfter(Date.now() - 300) > 5, 5000, 'ping after failback');
    ping.stop();
    await allUp();
  }

  t.test('BFD interop: FRR bfdd and the agents see the sessions Up', async (t) => {
    for (const n of ['net1', 'net2'] as const) {
      for (const s of ['l', 'r'] as const) {
        const addr = e.net.servers[s].address[n];
        await waitFor(() => rrBfdStatus(e.rr[n], addr) === 'up', 15_000, `FRR ${n} bfd peer ${addr} up`);
        t.pass(`FRR ${n}: BFD peer ${addr} up`);
      }
    }
    await allUp();
    const nb = showNeighbors(e, 'l');
    for (const x of nb) {
      const bfd = x.bfd as { state: string; detectTimeMs: number } | null;
      t.equal(bfd?.state, 'Up', `agent l ${String(x.uplink)}: BFD Up`);
      t.ok(bfd !== null && bfd.detectTimeMs <= 400, `detect time ${String(bfd?.detectTimeMs)} ms`);
    }
  });

  t.test('scenario a: net1 blackholed on server-l: BFD Down, BGP down, failover < 2 s', async (t) => {
    await scenario(t, 'scenario a, net1 blackholed on server-l', () => e.net.blackholeUplink('l', 'net1'), {
      serverR: true,
      during: async (at) => {
        await waitFor(() => rrBfdStatus(e.rr.net1, L().address.net1) !== 'up', 5000, 'FRR bfd peer leaves up');
        const bfdDown = Date.now() - at;
        t.ok(bfdDown <= DETECT_MS + 1500, `FRR bfdd: server-l's session ${String(rrBfdStatus(e.rr.net1, L().address.net1))} after ${bfdDown} ms (detect ${DETECT_MS} ms + margin)`);
        await waitFor(() => rrPeerState(e.rr.net1, L().address.net1) !== 'Established', 5000, 'FRR BGP session leaves Established');
        t.ok(Date.now() - at <= DETECT_MS + 2000, `FRR BGP session with server-l: ${String(rrPeerState(e.rr.net1, L().address.net1))} after ${Date.now() - at} ms`);
        t.not(agentSessionState(e, 'l', 'net1'), 'Established', 'agent l: net1 session down');
        // FRR deletes a dynamic neighbor (and its BFD session) as soon as it goes down, so
        // 'down' is rarely seen in `show bfd peers`; bgpd's log names the cause.
        const log = await waitFor(() => {
          const text = readFileSync(e.rr.net1.logs.bgpd!, 'utf8');
          return text.includes(`${L().address.net1} 6/10 (Cease/BFD Down)`) ? text : null;
        }, 5000, 'bgpd log: Cease/BFD Down sent to server-l');
        t.ok(log, 'FRR bgpd reset the session because of BFD (NOTIFICATION 6/10 Cease/BFD Down sent to server-l)');
      },
    });
  });

  t.test('scenario b: server-r loses net1: server-l fails over < 2 s (FRR BFD withdraw or probes)', async (t) => {
    await scenario(t, 'scenario b, server-r loses net1', () => e.net.blackholeUplink('r', 'net1'), {
      during: async () => {
        t.equal(agentSessionState(e, 'l', 'net1'), 'Established', 'server-l\'s own net1 session stays up');
      },
    });
  });

  t.test('scenario b with BFD only (probes off by reload): RR-net1\'s BFD drives server-l\'s failover', async (t) => {
    const noProbe = { holdTime: 9, keepalive: 3, bfd: BFD_FAST, vtepProbe: false } as const;
    for (const s of ['l', 'r'] as const) {
      writeFileSync(e.agents[s]!.configPath, e.net.agentConfig(s, noProbe));
      const out = e.net.evpnHaCli(s, ['reload', '--socket', e.net.socketPath(s)]);
      t.match(out, /reloaded/, `server-${s}: ${out.trim()}`);
    }
    await allUp();
    const undo = e.net.blackholeUplink('r', 'net1');
    try {
      const took = await waitFdbDst(e, 'l', R().address.net2, 15_000);
      t.ok(took <= FAILOVER_MS, `server-l fdb dst 192.168.2.87 after ${took} ms (RR-net1's BFD ${DETECT_MS} ms → BGP down → withdraw → reflect)`);
      t.comment(`scenario b, BFD only: server-l switched ${took} ms after server-r lost net1`);
    } finally {
      undo();
    }
    await waitFdbDst(e, 'l', R().address.net1, 30_000);
    for (const s of ['l', 'r'] as const) {
      writeFileSync(e.agents[s]!.configPath, e.net.agentConfig(s, { holdTime: 9, keepalive: 3, bfd: BFD_FAST, vtepProbe: PROBE_FAST }));
      e.net.evpnHaCli(s, ['reload', '--socket', e.net.socketPath(s)]);
    }
    await allUp();
  });

  t.test('scenario c: only the VTEP-to-VTEP path on net1 broken: probes fail over < 2 s, BGP stays up', async (t) => {
    await scenario(t, 'scenario c, VTEP path on net1 broken', () => e.net.blackholePath('net1'), {
      serverR: true,
      during: async () => {
        await sleep(1000);
        t.equal(agentSessionState(e, 'l', 'net1'), 'Established', 'BGP net1 stays Established on server-l');
        t.equal(rrPeerState(e.rr.net1, L().address.net1), 'Established', 'FRR still has server-l Established');
        t.equal(rrBfdStatus(e.rr.net1, L().address.net1), 'up', 'FRR BFD with server-l stays up');
      },
    });
  });

  t.test('scenario d: the brief\'s injection on server-l: failover < 2 s', async (t) => {
    await scenario(t, 'scenario d, brief injection on server-l', () => e.net.briefInjection('l'), { serverR: true });
  });

  t.test('agent restart without traffic loss (flushOnShutdown false + withdrawDelay 5 s)', async (t) => {
    const tuning = { holdTime: 9, keepalive: 3, bfd: BFD_FAST, vtepProbe: PROBE_FAST, extra: 'kernel: {flushOnShutdown: false, withdrawDelay: 5s}' };
    for (const s of ['l', 'r'] as const) {
      t.equal(await e.agents[s]!.stop('SIGTERM', 15_000), 0, `server-${s} agent stopped`);
      startAgent(e, s, tuning);
    }
    await allUp();
    const ping = e.net.ping('l', R().service, 10);
    const dsts: Array<string | null> = [];
    const poll = setInterval(() => { try { dsts.push(e.net.fdbDst('l', R().mac)); } catch { /* racing teardown */ } }, 20);
    try {
      await sleep(700);
      const at = Date.now();
      t.equal(await e.agents.r!.stop('SIGTERM', 15_000), 0, 'server-r agent stopped (SIGTERM)');
      t.equal(e.net.fdbDst('r', L().mac), L().address.net1, 'server-r keeps its own fdb entry (flushOnShutdown false)');
      startAgent(e, 'r', tuning);
      await allUp();
      await sleep(1500);
      const outage = ping.outageAround(at);
      t.ok(outage !== null && outage < 1000, `longest ping gap ${String(outage)} ms`);
      t.comment(`outage (server-r's agent restarted, flushOnShutdown false + withdrawDelay 5 s, ping 10 ms): ${String(outage)} ms, lost ${ping.lostBetween(at - 500, Date.now())}`);
      const stayed = dsts.length > 50 && dsts.every((d) => d === R().address.net1);
      // On failure: server-l's decisions in that time (best path and kernel lines of its log).
      const why = stayed ? '' : `\n${e.agents.l!.output().split('\n').filter((l) => /best path|nexthop group|session|VTEP path|withdraw/.test(l)).slice(-40).join('\n')}`;
      t.ok(stayed, `server-l's fdb entry stayed at 192.168.1.87 throughout (${dsts.length} samples, ${[...new Set(dsts)].join(',')})${why}`);
    } finally {
      clearInterval(poll);
      ping.stop();
    }
  });

  t.teardown(() => stopAgents(e));
}
