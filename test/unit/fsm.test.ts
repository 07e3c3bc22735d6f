import t from 'tap';
import {
  backoffDelay, createFsm, decodeShutdownCommunication, encodeShutdownCommunication, messageInput, step,
  type Fsm, type FsmInput, type FsmOptions, type FsmOutput, type StateName, type TimerName,
} from '../../src/bgp/fsm.js';
import { buildOpen, negotiate, resolveCollision, type LocalBgpConfig } from '../../src/bgp/negotiate.js';
import { BgpError } from '../../src/bgp/errors.js';
import type { Capability, NotificationMessage, OpenMessage } from '../../src/bgp/types.js';
import { ManualClock, type Timer } from '../../src/util/clock.js';

const EVPN = { afi: 25, safi: 70 };

function opts(over: Partial<FsmOptions> = {}): FsmOptions {
  return {
    localAs: 65001, peerAs: 65001, routerId: '10.0.0.1', holdTime: 90, families: [EVPN],
    gracefulRestart: false, random: () => 1, ...over,
  };
}

function peerOpen(over: Partial<OpenMessage> = {}, caps?: Capability[]): OpenMessage {
  return {
    type: 'open', version: 4, myAs: 65001, holdTime: 90, bgpId: '10.0.0.2',
    capabilities: caps ?? [
      { kind: 'multiprotocol', afi: 25, safi: 70 }, { kind: 'route-refresh' }, { kind: 'four-octet-as', asn: 65001 },
    ],
    ...over,
  };
}

function run(s: Fsm, ...inputs: FsmInput[]): { state: Fsm; outputs: FsmOutput[] } {
  let outputs: FsmOutput[] = [];
  for (const i of inputs) {
    const r = step(s, i);
    s = r.state;
    outputs = r.outputs;
  }
  return { state: s, outputs };
}

/** FSM brought to `target` along the normal active path. */
function at(target: StateName, o: Partial<FsmOptions> = {}): Fsm {
  const path: Array<[StateName, FsmInput]> = [
    ['Idle', { type: 'ManualStart' }],
    ['Connect', { type: 'TcpConnectionAcknowledged' }],
    ['OpenSent', { type: 'BGPOpen', message: peerOpen() }],
    ['OpenConfirm', { type: 'KeepAliveMsg' }],
  ];
  let s = createFsm(opts(o));
  for (const [name, input] of path) {
    if (s.state === target) return s;
    t.equal(s.state, name);
    s = step(s, input).state;
  }
  if (target === 'Active') return step(createFsm(opts(o)), { type: 'ManualStart', passive: true }).state;
  return s;
}

function sent(outputs: FsmOutput[]): NotificationMessage | undefined {
  for (const o of outputs) if (o.type === 'send' && o.message.type === 'notification') return o.message;
  return undefined;
}

function armed(outputs: FsmOutput[], timer: TimerName): number | undefined {
  for (const o of outputs) if (o.type === 'armTimer' && o.timer === timer) return o.ms;
  return undefined;
}

const ALL_INPUTS: FsmInput[] = [
  { type: 'ManualStart' }, { type: 'ManualStop' }, { type: 'Reset', reason: 'x' },
  { type: 'TcpConnectionConfirmed' }, { type: 'TcpConnectionAcknowledged' }, { type: 'TcpConnectionFails', reason: 'x' },
  { type: 'ConnectRetryTimerExpires' }, { type: 'HoldTimerExpires' }, { type: 'KeepaliveTimerExpires' },
  { type: 'IdleHoldTimerExpires' }, { type: 'BGPOpen', message: peerOpen() },
  { type: 'DecodeError', error: new BgpError(1, 2) }, { type: 'KeepAliveMsg' },
  { type: 'UpdateMsg', message: { type: 'update', withdrawn: [], attributes: {}, nlri: [] } },
  { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 2, data: new Uint8Array(0) } },
  { type: 'RouteRefreshMsg', message: { type: 'route-refresh', afi: 25, safi: 70, subtype: 0 } },
  { type: 'OpenCollisionDump' },
];

// Expected [next state, NOTIFICATION code/subcode sent or null] for every state × input.
const TABLE: Record<StateName, Record<string, [StateName, string | null]>> = {
  Idle: {
    ManualStart: ['Connect', null], ManualStop: ['Idle', null], Reset: ['Idle', null],
    TcpConnectionConfirmed: ['Idle', null], TcpConnectionAcknowledged: ['Idle', null], TcpConnectionFails: ['Idle', null],
    ConnectRetryTimerExpires: ['Idle', null], HoldTimerExpires: ['Idle', null], KeepaliveTimerExpires: ['Idle', null],
    IdleHoldTimerExpires: ['Idle', null], BGPOpen: ['Idle', null], DecodeError: ['Idle', null], KeepAliveMsg: ['Idle', null],
    UpdateMsg: ['Idle', null], NotifMsg: ['Idle', null], RouteRefreshMsg: ['Idle', null], OpenCollisionDump: ['Idle', null],
  },
  Connect: {
    ManualStart: ['Connect', null], ManualStop: ['Idle', null], Reset: ['Idle', null],
    TcpConnectionConfirmed: ['OpenSent', null], TcpConnectionAcknowledged: ['OpenSent', null],
    TcpConnectionFails: ['Idle', null], ConnectRetryTimerExpires: ['Connect', null], HoldTimerExpires: ['Idle', null],
    KeepaliveTimerExpires: ['Idle', null], IdleHoldTimerExpires: ['Connect', null], BGPOpen: ['Idle', null],
    DecodeError: ['Idle', null], KeepAliveMsg: ['Idle', null], UpdateMsg: ['Idle', null], NotifMsg: ['Idle', null],
    RouteRefreshMsg: ['Idle', null], OpenCollisionDump: ['Idle', null],
  },
  Active: {
    ManualStart: ['Active', null], ManualStop: ['Idle', null], Reset: ['Idle', null],
    TcpConnectionConfirmed: ['OpenSent', null], TcpConnectionAcknowledged: ['OpenSent', null],
    TcpConnectionFails: ['Idle', null], ConnectRetryTimerExpires: ['Active', null], HoldTimerExpires: ['Idle', null],
    KeepaliveTimerExpires: ['Idle', null], IdleHoldTimerExpires: ['Active', null], BGPOpen: ['Idle', null],
    DecodeError: ['Idle', null], KeepAliveMsg: ['Idle', null], UpdateMsg: ['Idle', null], NotifMsg: ['Idle', null],
    RouteRefreshMsg: ['Idle', null], OpenCollisionDump: ['Idle', null],
  },
  OpenSent: {
    ManualStart: ['OpenSent', null], ManualStop: ['Idle', '6/2'], Reset: ['Idle', '6/4'],
    TcpConnectionConfirmed: ['OpenSent', null], TcpConnectionAcknowledged: ['OpenSent', null],
    TcpConnectionFails: ['Idle', null], ConnectRetryTimerExpires: ['Idle', '5/1'], HoldTimerExpires: ['Idle', '4/0'],
    KeepaliveTimerExpires: ['Idle', '5/1'], IdleHoldTimerExpires: ['Idle', '5/1'], BGPOpen: ['OpenConfirm', null],
    DecodeError: ['Idle', '1/2'], KeepAliveMsg: ['Idle', '5/1'], UpdateMsg: ['Idle', '5/1'], NotifMsg: ['Idle', null],
    RouteRefreshMsg: ['Idle', '5/1'], OpenCollisionDump: ['Active', '6/7'],
  },
  OpenConfirm: {
    ManualStart: ['OpenConfirm', null], ManualStop: ['Idle', '6/2'], Reset: ['Idle', '6/4'],
    TcpConnectionConfirmed: ['OpenConfirm', null], TcpConnectionAcknowledged: ['OpenConfirm', null],
    TcpConnectionFails: ['Idle', null], ConnectRetryTimerExpires: ['Idle', '5/2'], HoldTimerExpires: ['Idle', '4/0'],
    KeepaliveTimerExpires: ['OpenConfirm', null], IdleHoldTimerExpires: ['Idle', '5/2'], BGPOpen: ['Idle', '5/2'],
    DecodeError: ['Idle', '1/2'], KeepAliveMsg: ['Established', null], UpdateMsg: ['Idle', '5/2'],
    NotifMsg: ['Idle', null], RouteRefreshMsg: ['Idle', '5/2'], OpenCollisionDump: ['Active', '6/7'],
  },
  Established: {
    ManualStart: ['Established', null], ManualStop: ['Idle', '6/2'], Reset: ['Idle', '6/4'],
    TcpConnectionConfirmed: ['Established', null], TcpConnectionAcknowledged: ['Established', null],
    TcpConnectionFails: ['Idle', null], ConnectRetryTimerExpires: ['Idle', '5/3'], HoldTimerExpires: ['Idle', '4/0'],
    KeepaliveTimerExpires: ['Established', null], IdleHoldTimerExpires: ['Idle', '5/3'], BGPOpen: ['Idle', '5/3'],
    DecodeError: ['Idle', '1/2'], KeepAliveMsg: ['Established', null], UpdateMsg: ['Established', null],
    NotifMsg: ['Idle', null], RouteRefreshMsg: ['Established', null], OpenCollisionDump: ['Active', '6/7'],
  },
};

t.test('every state × every input', (t) => {
  for (const state of Object.keys(TABLE) as StateName[]) {
    for (const input of ALL_INPUTS) {
      const s = at(state);
      t.equal(s.state, state);
      const r = step(s, input);
      const [next, notif] = TABLE[state][input.type]!;
      const n = sent(r.outputs);
      t.equal(r.state.state, next, `${state} + ${input.type} → ${next}`);
      t.equal(n ? `${n.code}/${n.subcode}` : null, notif, `${state} + ${input.type} sends ${notif}`);
      if (next === 'Idle' && state !== 'Idle') {
        t.ok(r.outputs.some((o) => o.type === 'close'), `${state} + ${input.type} closes`);
        const down = r.outputs.find((o) => o.type === 'down');
        t.ok(down, 'reports down');
        if (down?.type === 'down') t.equal(down.wasEstablished, state === 'Established');
        // Stopped FSMs stay down, everything else backs off and restarts.
        t.equal(armed(r.outputs, 'idleHold') !== undefined, input.type !== 'ManualStop', `${state} + ${input.type} idleHold`);
      }
    }
  }
  t.end();
});

t.test('Idle: start active, start passive, refuse connections', (t) => {
  const s0 = createFsm(opts());
  let r = step(s0, { type: 'ManualStart' });
  t.same(r.outputs, [{ type: 'connect' }, { type: 'armTimer', timer: 'connectRetry', ms: 30_000 }]);
  t.ok(r.state.started);
  r = step(s0, { type: 'ManualStart', passive: true });
  t.equal(r.state.state, 'Active');
  t.same(r.outputs, []);
  t.same(step(s0, { type: 'TcpConnectionConfirmed' }).outputs, [{ type: 'close' }]);
  // Stopped Idle ignores IdleHold expiry.
  t.same(step(s0, { type: 'IdleHoldTimerExpires' }).outputs, []);
  t.end();
});

t.test('Connect: connect timeout retries, TCP up sends OPEN', (t) => {
  const s = at('Connect');
  let r = step(s, { type: 'ConnectRetryTimerExpires' });
  t.same(r.outputs, [{ type: 'close' }, { type: 'connect' }, { type: 'armTimer', timer: 'connectRetry', ms: 30_000 }]);
  r = step(s, { type: 'TcpConnectionAcknowledged' });
  t.same(r.outputs[0], { type: 'cancelTimer', timer: 'connectRetry' });
  const open = r.outputs.find((o) => o.type === 'send');
  t.same(open?.type === 'send' && open.message, buildOpen(s.config));
  t.equal(armed(r.outputs, 'hold'), 240_000, 'large hold timer until the OPEN arrives');
  t.end();
});

t.test('Active: passive never dials; active dials on ConnectRetry', (t) => {
  const passive = at('Active');
  t.same(step(passive, { type: 'ConnectRetryTimerExpires' }).outputs, []);
  const dump = run(at('OpenConfirm'), { type: 'OpenCollisionDump' });
  t.equal(dump.state.state, 'Active');
  t.equal(armed(dump.outputs, 'idleHold'), undefined, 'no backoff after losing a collision');
  const r = step(dump.state, { type: 'ConnectRetryTimerExpires' });
  t.equal(r.state.state, 'Connect');
  t.same(r.outputs[0], { type: 'connect' });
  t.end();
});

t.test('backoff: exponential from min to max, jitter 0.75..1', (t) => {
  const cfg = { connectRetry: { min: 1000, max: 30_000 }, random: () => 1 };
  t.same([1, 2, 3, 4, 5, 6, 7, 20].map((n) => backoffDelay(cfg, n)), [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
  t.equal(backoffDelay({ ...cfg, random: () => 0 }, 1), 750);
  t.equal(backoffDelay({ ...cfg, random: () => 0.5 }, 3), 3500);
  // Through the FSM: consecutive connect failures back off, Established resets the count.
  let s = step(createFsm(opts({ connectRetry: { min: 100, max: 1000 } })), { type: 'ManualStart' }).state;
  const delays: number[] = [];
  for (let i = 0; i < 6; i++) {
    const r = step(s, { type: 'TcpConnectionFails', reason: 'ECONNREFUSED' });
    delays.push(armed(r.outputs, 'idleHold')!);
    s = step(r.state, { type: 'IdleHoldTimerExpires' }).state;
    t.equal(s.state, 'Connect');
  }
  t.same(delays, [100, 200, 400, 800, 1000, 1000]);
  s = run(s, { type: 'TcpConnectionAcknowledged' }, { type: 'BGPOpen', message: peerOpen() }, { type: 'KeepAliveMsg' }).state;
  t.equal(s.failures, 0);
  t.equal(armed(step(s, { type: 'HoldTimerExpires' }).outputs, 'idleHold'), 100);
  t.throws(() => createFsm(opts({ connectRetry: { min: 0, max: 5 } })), RangeError);
  t.end();
});

t.test('OpenSent → OpenConfirm → Established: timers and events', (t) => {
  let r = step(at('OpenSent'), { type: 'BGPOpen', message: peerOpen({ holdTime: 30 }) });
  t.equal(r.state.state, 'OpenConfirm');
  t.same(r.outputs, [
    { type: 'send', message: { type: 'keepalive' } },
    { type: 'armTimer', timer: 'keepalive', ms: 10_000 },
    { type: 'armTimer', timer: 'hold', ms: 30_000 },
  ]);
  r = step(r.state, { type: 'KeepAliveMsg' });
  t.equal(r.state.state, 'Established');
  t.same(r.outputs[0], { type: 'armTimer', timer: 'hold', ms: 30_000 });
  t.equal(r.outputs[1]?.type, 'established');
  const upd = { type: 'update' as const, withdrawn: [], attributes: {}, nlri: [] };
  r = step(r.state, { type: 'UpdateMsg', message: upd });
  t.same(r.outputs, [{ type: 'armTimer', timer: 'hold', ms: 30_000 }, { type: 'deliver', message: upd }]);
  // Hold time 0: no hold timer, no keepalives.
  r = step(at('OpenSent'), { type: 'BGPOpen', message: peerOpen({ holdTime: 0 }) });
  t.same(r.outputs, [{ type: 'send', message: { type: 'keepalive' } }, { type: 'cancelTimer', timer: 'hold' }]);
  r = step(r.state, { type: 'KeepAliveMsg' });
  t.same(r.outputs.map((o) => o.type), ['established']);
  t.end();
});

t.test('NOTIFICATIONs: hold expiry, decode error, received, stop with shutdown communication', (t) => {
  let r = step(at('Established'), { type: 'HoldTimerExpires' });
  t.same(sent(r.outputs), { type: 'notification', code: 4, subcode: 0, data: new Uint8Array(0) });
  const down = r.outputs.find((o) => o.type === 'down');
  t.match(down, { reason: /hold timer expired/, wasEstablished: true, notification: { code: 4, direction: 'sent' } });

  r = step(at('OpenConfirm'), { type: 'DecodeError', error: new BgpError(3, 1, new Uint8Array([9]), 'bad attr') });
  t.same(sent(r.outputs), { type: 'notification', code: 3, subcode: 1, data: new Uint8Array([9]) });

  const text = new Uint8Array([...encodeShutdownCommunication('maintenance')]);
  r = step(at('Established'), { type: 'NotifMsg', message: { type: 'notification', code: 6, subcode: 2, data: text } });
  t.match(r.outputs.find((o) => o.type === 'down'), {
    reason: /received NOTIFICATION Cease \/ Administrative Shutdown: "maintenance"/,
    notification: { code: 6, subcode: 2, direction: 'received' },
  });
  t.equal(sent(r.outputs), undefined, 'no NOTIFICATION in reply to one');

  // RFC 4271 §6.3: an Attribute Length Error carries the attribute; its type is named.
  // (What FRR 8.4 sends for a PMSI_TUNNEL with an IPv6 endpoint, docs/interop.md.)
  const pmsi = new Uint8Array([0xc0, 0x16, 0x15, 0x00, 0x06, 0x00, 0x00, 0x64]);
  r = step(at('Established'), { type: 'NotifMsg', message: { type: 'notification', code: 3, subcode: 5, data: pmsi } });
  t.match(r.outputs.find((o) => o.type === 'down'), { reason: /received NOTIFICATION UPDATE Message Error \/ Attribute Length Error: PMSI_TUNNEL\)?$/ });
  r = step(at('Established'), { type: 'NotifMsg', message: { type: 'notification', code: 3, subcode: 1, data: pmsi } });
  t.notMatch(r.outputs.find((o) => o.type === 'down'), { reason: /PMSI/ }, 'Malformed Attribute List carries no attribute');

  r = step(at('Established'), { type: 'ManualStop', reason: 'bye' });
  t.same(sent(r.outputs), { type: 'notification', code: 6, subcode: 2, data: encodeShutdownCommunication('bye') });
  t.equal(r.state.started, false);
  t.same(step(r.state, { type: 'IdleHoldTimerExpires' }).outputs, []);
  t.equal(sent(step(at('Established'), { type: 'ManualStop' }).outputs)?.data.length, 0);

  r = step(at('Established'), { type: 'Reset', reason: 'BFD down', subcode: 10 });
  t.match(sent(r.outputs), { code: 6, subcode: 10 });
  t.equal(r.state.started, true);
  t.equal(armed(r.outputs, 'idleHold'), 1000);
  t.end();
});

t.test('shutdown communication: length octet, UTF-8, truncation at 255 on a character boundary', (t) => {
  t.same([...encodeShutdownCommunication('ab')], [2, 97, 98]);
  const long = encodeShutdownCommunication('é'.repeat(200)); // 400 bytes of 2-byte characters
  t.equal(long[0], 254);
  t.equal(decodeShutdownCommunication(long), 'é'.repeat(127));
  t.equal(decodeShutdownCommunication(new Uint8Array([5, 1])), null);
  t.equal(decodeShutdownCommunication(new Uint8Array([2, 0xff, 0xfe])), null);
  t.end();
});

t.test('OPEN validation errors (RFC 4271 §6.2)', (t) => {
  const cfg: LocalBgpConfig = opts();
  const code = (o: OpenMessage, c: LocalBgpConfig = cfg): string => {
    try {
      negotiate(c, o);
      return 'ok';
    } catch (e) {
      if (!(e instanceof BgpError)) throw e;
      return `${e.code}/${e.subcode}`;
    }
  };
  t.equal(code(peerOpen({ version: 3 })), '2/1');
  try { negotiate(cfg, peerOpen({ version: 3 })); } catch (e) { t.same([...(e as BgpError).data], [0, 4]); }
  t.equal(code(peerOpen({}, [{ kind: 'four-octet-as', asn: 65002 }])), '2/2');
  t.equal(code(peerOpen({ myAs: 65002 }, [])), '2/2', 'no 4-octet cap: My AS counts');
  t.equal(code(peerOpen({ holdTime: 1 })), '2/6');
  t.equal(code(peerOpen({ holdTime: 2 })), '2/6');
  t.equal(code(peerOpen({ holdTime: 3 })), 'ok');
  t.equal(code(peerOpen({ bgpId: '0.0.0.0' })), '2/3');
  t.equal(code(peerOpen({ bgpId: '10.0.0.1' })), '2/3', 'iBGP: same identifier');
  const ebgp = opts({ peerAs: 65002 });
  t.equal(code(peerOpen({ myAs: 65002, bgpId: '10.0.0.1' }, [{ kind: 'four-octet-as', asn: 65002 }]), ebgp), 'ok',
    'eBGP: same identifier allowed (RFC 6286)');
  // RFC 6793: 4-octet peer AS sends AS_TRANS in My AS and the real AS in the capability.
  const as4 = opts({ peerAs: 4_200_000_001 });
  t.equal(code(peerOpen({ myAs: 23456 }, [{ kind: 'four-octet-as', asn: 4_200_000_001 }]), as4), 'ok');
  t.equal(code(peerOpen({ myAs: 23456 }, []), as4), '2/2', 'old speaker: AS_TRANS is not the peer AS');
  // Through the FSM: the error is sent and the FSM backs off.
  const r = step(at('OpenSent'), { type: 'BGPOpen', message: peerOpen({ holdTime: 1 }) });
  t.match(sent(r.outputs), { code: 2, subcode: 6 });
  t.equal(r.state.state, 'Idle');
  t.end();
});

t.test('our OPEN: AS_TRANS, capabilities, GR only when asked', (t) => {
  const o = buildOpen(opts({ localAs: 4_200_000_001 }));
  t.equal(o.myAs, 23456);
  t.same(o.capabilities, [
    { kind: 'multiprotocol', afi: 25, safi: 70 }, { kind: 'route-refresh' }, { kind: 'enhanced-route-refresh' },
    { kind: 'four-octet-as', asn: 4_200_000_001 },
  ]);
  const gr = buildOpen(opts({ gracefulRestart: { restartTime: 120 } }));
  t.match(gr.capabilities.at(-1), { kind: 'graceful-restart', restartTime: 120, families: [{ afi: 25, safi: 70 }] });
  const eorOnly = buildOpen(opts({ gracefulRestart: { restartTime: 0, families: [] } }));
  t.same(eorOnly.capabilities.at(-1), { kind: 'graceful-restart', restartState: false, notification: false, restartTime: 0, families: [] },
    'End-of-RIB-only form: no AFI/SAFI, restart time 0');
  t.equal(buildOpen(opts({ enhancedRouteRefresh: false })).capabilities.some((c) => c.kind === 'enhanced-route-refresh'), false);
  t.throws(() => createFsm(opts({ holdTime: 2 })), RangeError);
  t.throws(() => createFsm(opts({ routerId: '1.2.3' })), RangeError);
  t.throws(() => createFsm(opts({ localAs: 0 })), RangeError);
  t.throws(() => createFsm(opts({ peerAs: 2 ** 32 })), RangeError);
  t.end();
});

t.test('negotiated results', (t) => {
  const n = negotiate(opts({ holdTime: 9, families: [EVPN, { afi: 1, safi: 1 }] }), peerOpen({ holdTime: 30 }, [
    { kind: 'multiprotocol', afi: 25, safi: 70 }, { kind: 'multiprotocol', afi: 2, safi: 1 },
    { kind: 'route-refresh' }, { kind: 'enhanced-route-refresh' }, { kind: 'four-octet-as', asn: 65001 },
    { kind: 'graceful-restart', restartState: true, notification: false, restartTime: 120,
      families: [{ afi: 25, safi: 70, forwardingPreserved: true }] },
  ]));
  t.same(n.families, [EVPN]);
  t.equal(n.holdTime, 9);
  t.equal(n.keepalive, 3);
  t.equal(n.peerAs, 65001);
  t.equal(n.peerRouterId, '10.0.0.2');
  t.ok(n.fourOctetAs && n.routeRefresh && n.enhancedRouteRefresh);
  t.same(n.gracefulRestart, { local: false, peer: { restartState: true, notification: false, restartTime: 120,
    families: [{ afi: 25, safi: 70, forwardingPreserved: true }] } });
  t.same(n.notes, []);
  const bare = negotiate(opts({ keepalive: 1 }), peerOpen({}, []));
  t.same(bare.families, []);
  t.match(bare.notes[0], /no common address family/);
  t.equal(bare.keepalive, 1, 'configured keepalive lower than hold/3 wins');
  t.ok(!bare.fourOctetAs && !bare.routeRefresh && !bare.enhancedRouteRefresh);
  t.equal(bare.gracefulRestart.peer, null);
  t.equal(negotiate(opts({ keepalive: 60 }), peerOpen()).keepalive, 30, 'keepalive never above hold/3');
  t.equal(negotiate(opts({ holdTime: 0 }), peerOpen()).keepalive, 0);
  t.end();
});

t.test('collision resolution (RFC 4271 §6.8)', (t) => {
  t.equal(resolveCollision('10.0.0.1', '10.0.0.2'), 'remotely-initiated', 'lower local ID: keep the peer\'s connection');
  t.equal(resolveCollision('10.0.0.2', '10.0.0.1'), 'locally-initiated');
  t.equal(resolveCollision('200.0.0.1', '10.0.0.1'), 'locally-initiated', 'compared as unsigned 32-bit');
  t.equal(resolveCollision('1.1.1.1', '1.1.1.1'), 'locally-initiated');
  t.end();
});

t.test('messageInput maps decoded messages to FSM inputs', (t) => {
  t.equal(messageInput({ type: 'keepalive' }).type, 'KeepAliveMsg');
  t.equal(messageInput(peerOpen()).type, 'BGPOpen');
  t.equal(messageInput({ type: 'update', withdrawn: [], attributes: {}, nlri: [] }).type, 'UpdateMsg');
  t.equal(messageInput({ type: 'notification', code: 6, subcode: 2, data: new Uint8Array(0) }).type, 'NotifMsg');
  t.equal(messageInput({ type: 'route-refresh', afi: 25, safi: 70, subtype: 0 }).type, 'RouteRefreshMsg');
  t.end();
});

/** Runs the FSM on a ManualClock the way session.ts does: timers post inputs back. */
class Harness {
  fsm: Fsm;
  log: Array<[number, FsmOutput]> = [];
  private timers = new Map<TimerName, Timer>();
  constructor(readonly clock: ManualClock, o: Partial<FsmOptions> = {}) {
    this.fsm = createFsm(opts(o));
  }
  input(i: FsmInput): void {
    const r = step(this.fsm, i);
    this.fsm = r.state;
    for (const o of r.outputs) {
      this.log.push([this.clock.now(), o]);
      if (o.type === 'armTimer') {
        this.timers.get(o.timer)?.cancel();
        const ev: Record<TimerName, FsmInput> = {
          connectRetry: { type: 'ConnectRetryTimerExpires' }, hold: { type: 'HoldTimerExpires' },
          keepalive: { type: 'KeepaliveTimerExpires' }, idleHold: { type: 'IdleHoldTimerExpires' },
        };
        this.timers.set(o.timer, this.clock.setTimer(o.ms, () => this.input(ev[o.timer])));
      } else if (o.type === 'cancelTimer') {
        this.timers.get(o.timer)?.cancel();
        this.timers.delete(o.timer);
      }
    }
  }
  sentAt(kind: string): number[] {
    return this.log.filter(([, o]) => o.type === 'send' && o.message.type === kind).map(([at]) => at);
  }
}

t.test('on a clock: keepalive cadence and hold timer expiry', (t) => {
  const clock = new ManualClock();
  const h = new Harness(clock, { holdTime: 9 });
  h.input({ type: 'ManualStart' });
  h.input({ type: 'TcpConnectionAcknowledged' });
  h.input({ type: 'BGPOpen', message: peerOpen({ holdTime: 90 }) });
  h.input({ type: 'KeepAliveMsg' });
  t.equal(h.fsm.state, 'Established');
  // The peer sends a KEEPALIVE every 3 s for 30 s: the session stays up.
  for (let i = 0; i < 10; i++) {
    clock.advance(3000);
    h.input({ type: 'KeepAliveMsg' });
  }
  t.equal(h.fsm.state, 'Established');
  t.same(h.sentAt('keepalive'), [0, 3000, 6000, 9000, 12000, 15000, 18000, 21000, 24000, 27000, 30000]);
  // Silence: the hold timer fires 9 s after the last KEEPALIVE.
  clock.advance(8999);
  t.equal(h.fsm.state, 'Established');
  clock.advance(1);
  t.equal(h.fsm.state, 'Idle');
  t.same(h.sentAt('notification'), [39000]);
  // ... and the IdleHold backoff reconnects after 1 s.
  clock.advance(999);
  t.equal(h.fsm.state, 'Idle');
  clock.advance(1);
  t.equal(h.fsm.state, 'Connect');
  // The connect attempt times out and is retried every connectRetryTime.
  const connects = (): number => h.log.filter(([, o]) => o.type === 'connect').length;
  const before = connects();
  clock.advance(60_000);
  t.equal(connects() - before, 2);
  t.end();
});

t.test('on a clock: OpenSent waits 240 s for the OPEN, then Hold Timer Expired', (t) => {
  const clock = new ManualClock();
  const h = new Harness(clock);
  h.input({ type: 'ManualStart', passive: true });
  h.input({ type: 'TcpConnectionConfirmed' });
  clock.advance(239_999);
  t.equal(h.fsm.state, 'OpenSent');
  clock.advance(1);
  t.equal(h.fsm.state, 'Idle');
  t.same(h.sentAt('notification'), [240_000]);
  clock.advance(1000);
  t.equal(h.fsm.state, 'Active', 'passive restarts waiting');
  t.end();
});

// --- connection collisions (RFC 4271 §6.8), decided by step() ----------------

function types(outputs: FsmOutput[]): string[] {
  return outputs.map((o) => (o.type === 'send' ? `send ${o.message.type}` : o.type));
}

t.test('§6.8: the peer connects while Idle, Active, Established', (t) => {
  t.same(step(createFsm(opts()), { type: 'TcpConnectionConfirmed', conn: 7 }).outputs,
    [{ type: 'reject', conn: 7, notification: { type: 'notification', code: 6, subcode: 5, data: new Uint8Array(0) }, why: 'session is idle' }],
    'Idle: Cease / Connection Rejected');
  const r = step(at('Active'), { type: 'TcpConnectionConfirmed', conn: 7 });
  t.equal(r.state.state, 'OpenSent');
  t.equal(r.state.direction, 'in');
  t.same(r.outputs[0], { type: 'accept', conn: 7, as: 'current' });
  t.same(types(r.outputs), ['accept', 'cancelTimer', 'send open', 'armTimer']);
  const e = step(at('Established'), { type: 'TcpConnectionConfirmed', conn: 7 });
  t.equal(e.state.state, 'Established');
  t.same(e.outputs, [{ type: 'reject', conn: 7, why: 'session already established',
    notification: { type: 'notification', code: 6, subcode: 7, data: new Uint8Array(0) } }], 'Established: Cease / Collision Resolution');
  t.end();
});

t.test('§6.8: a second connection waits for its OPEN as the candidate; a third replaces it', (t) => {
  for (const state of ['Connect', 'OpenSent', 'OpenConfirm'] as const) {
    let r = step(at(state), { type: 'TcpConnectionConfirmed', conn: 7 });
    t.equal(r.state.state, state);
    t.equal(r.state.candidate, 7);
    t.same(r.outputs, [{ type: 'accept', conn: 7, as: 'candidate' }]);
    r = step(r.state, { type: 'TcpConnectionConfirmed', conn: 8 });
    t.equal(r.state.candidate, 8);
    t.same(r.outputs, [{ type: 'close', conn: 7, abort: true }, { type: 'accept', conn: 8, as: 'candidate' }]);
  }
  t.end();
});

t.test('§6.8: the candidate\'s OPEN against our connection: the higher BGP Identifier keeps the one it opened', (t) => {
  // We are 10.0.0.1, the peer 10.0.0.2: the peer's connection survives, ours is dumped with Cease 7.
  let r = run(at('OpenSent'), { type: 'TcpConnectionConfirmed', conn: 7 }, { type: 'BGPOpen', message: peerOpen(), conn: 7 });
  t.equal(r.state.state, 'OpenConfirm');
  t.equal(r.state.candidate, null);
  t.equal(r.state.direction, 'in');
  t.match(sent(r.outputs), { code: 6, subcode: 7 }, 'Cease / Connection Collision Resolution on our connection');
  t.same(types(r.outputs), [
    'send notification', 'close', 'cancelTimer', 'cancelTimer', 'cancelTimer', 'cancelTimer', 'down',
    'adopt', 'cancelTimer', 'send open', 'armTimer', 'send keepalive', 'armTimer', 'armTimer',
  ]);
  t.match(r.outputs.find((o) => o.type === 'adopt'), { conn: 7, why: 'collision' });
  t.equal(armed(r.outputs, 'idleHold'), undefined, 'no backoff');
  t.match(r.outputs.find((o) => o.type === 'down'), { wasEstablished: false, reason: /connection collision: this connection loses/ });

  // We are 10.0.0.9: our connection survives, the candidate gets Cease 7.
  r = run(at('OpenConfirm', { routerId: '10.0.0.9' }), { type: 'TcpConnectionConfirmed', conn: 7 },
    { type: 'BGPOpen', message: peerOpen(), conn: 7 });
  t.equal(r.state.state, 'OpenConfirm');
  t.equal(r.state.candidate, null);
  t.same(r.outputs, [{ type: 'reject', conn: 7, why: 'collision: keeping our connection (higher BGP Identifier)',
    notification: { type: 'notification', code: 6, subcode: 7, data: new Uint8Array(0) } }]);
  t.end();
});

t.test('§6.8: a new connection of the peer\'s replaces its older one whatever the identifiers', (t) => {
  let s = step(at('Active', { routerId: '10.0.0.9' }), { type: 'TcpConnectionConfirmed', conn: 6 }).state;
  t.equal(s.state, 'OpenSent');
  s = step(s, { type: 'TcpConnectionConfirmed', conn: 7 }).state;
  const r = step(s, { type: 'BGPOpen', message: peerOpen(), conn: 7 });
  t.equal(r.state.state, 'OpenConfirm');
  t.match(r.outputs.find((o) => o.type === 'adopt'), { conn: 7, why: 'collision' });
  t.end();
});

t.test('§6.8: in Connect the peer\'s connection is taken instead of our attempt', (t) => {
  const r = run(at('Connect'), { type: 'TcpConnectionConfirmed', conn: 7 }, { type: 'BGPOpen', message: peerOpen(), conn: 7 });
  t.equal(r.state.state, 'OpenConfirm');
  t.same(r.outputs.slice(0, 2), [{ type: 'close', abort: true }, { type: 'adopt', conn: 7, why: 'peer-first' }]);
  t.same(types(r.outputs.slice(2)), ['cancelTimer', 'send open', 'armTimer', 'send keepalive', 'armTimer', 'armTimer']);
  t.equal(sent(r.outputs), undefined, 'no NOTIFICATION: our attempt never got anywhere');
  t.end();
});

t.test('§6.8: the candidate must send OPEN first; its errors and its close touch only the candidate', (t) => {
  const s = step(at('OpenConfirm'), { type: 'TcpConnectionConfirmed', conn: 7 }).state;
  let r = step(s, { type: 'KeepAliveMsg', conn: 7 });
  t.same(r.outputs, [{ type: 'reject', conn: 7, why: 'expected OPEN, got keepalive',
    notification: { type: 'notification', code: 5, subcode: 0, data: new Uint8Array(0) } }]);
  t.equal(r.state.state, 'OpenConfirm');
  t.equal(r.state.candidate, null);
  r = step(s, { type: 'DecodeError', error: new BgpError(1, 2, new Uint8Array([0, 1]), 'Bad Message Length'), conn: 7 });
  t.same(r.outputs, [{ type: 'reject', conn: 7, why: 'bad message on second connection: Bad Message Length',
    notification: { type: 'notification', code: 1, subcode: 2, data: new Uint8Array(0) } }]);
  r = step(s, { type: 'TcpConnectionFails', reason: 'closed by peer', conn: 7 });
  t.same(r.outputs, []);
  t.equal(r.state.candidate, null);
  t.equal(r.state.state, 'OpenConfirm');
  // The current connection's input (any other number) goes through the state table.
  r = step(s, { type: 'KeepAliveMsg', conn: 3 });
  t.equal(r.state.state, 'Established');
  t.equal(r.state.candidate, 7, 'the candidate waits on');
  // The candidate's OPEN after the session came up: refused.
  r = step(r.state, { type: 'BGPOpen', message: peerOpen(), conn: 7 });
  t.equal(r.state.state, 'Established');
  t.match(r.outputs, [{ type: 'reject', conn: 7, why: 'collision in Established', notification: { code: 6, subcode: 7 } }]);
  t.end();
});

t.test('§6.8: ManualStop drops the candidate too', (t) => {
  const s = step(at('OpenSent'), { type: 'TcpConnectionConfirmed', conn: 7 }).state;
  const r = step(s, { type: 'ManualStop' });
  t.equal(r.state.state, 'Idle');
  t.equal(r.state.candidate, null);
  t.same(r.outputs.at(-1), { type: 'close', conn: 7, abort: true });
  t.end();
});
