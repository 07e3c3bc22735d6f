// The BGP finite state machine (RFC 4271 §8), pure: step(fsm, input) returns
// the next state and the outputs (connect, send, close, timers, events) that a
// thin shell (session.ts) carries out. Timer expiries come back as inputs.
//
// Deviations from RFC 4271 §8.2.2, on purpose:
// * No DelayOpen, no AllowAutomaticStart attributes. After a failure the FSM
//   always goes to Idle and arms an IdleHold timer (§8.1.1 "IdleHoldTimer", with
//   exponential backoff from connectRetry.min to connectRetry.max and jitter);
//   its expiry is an automatic start. A ManualStop is the only way to stay down.
// * A TCP failure in OpenSent goes to Idle (backoff) rather than Active.
//
// Connection collisions (§6.8) are decided here too: the shell numbers the
// connections and passes the number with each input (`conn`); a connection from
// the peer while we have one becomes the `candidate` until its OPEN arrives.
// Inputs without `conn`, and outputs without it, concern the current connection.
import type { Message, NotificationMessage, OpenMessage, RouteRefreshMessage, UpdateMessage } from './types.js';
import { BgpError, CeaseSubcode, ErrorCode, FsmSubcode, UpdateSubcode, describeNotification } from './errors.js';
import { attrTypeName } from './iana.js';
import { buildOpen, checkLocalConfig, negotiate, resolveCollision, type LocalBgpConfig, type Negotiated } from './negotiate.js';

export type StateName = 'Idle' | 'Connect' | 'Active' | 'OpenSent' | 'OpenConfirm' | 'Established';
export type TimerName = 'connectRetry' | 'hold' | 'keepalive' | 'idleHold';

export interface FsmConfig extends LocalBgpConfig {
  /** Backoff bounds of the IdleHold timer, in ms (default 1 s → 30 s). */
  connectRetry: { min: number; max: number };
  /** ConnectRetryTimer, ms: how long one TCP connect attempt may take (default 30 s). */
  connectRetryTime: number;
  /** Hold timer while waiting for the peer's OPEN, ms (RFC 4271 §8.2.2 suggests 4 minutes). */
  openHoldTime: number;
  /** Uniform random in [0, 1) for jitter (RFC 4271 §10: delay × 0.75..1.0). */
  random: () => number;
}

export interface FsmOptions extends LocalBgpConfig {
  connectRetry?: { min: number; max: number };
  connectRetryTime?: number;
  openHoldTime?: number;
  random?: () => number;
}

export interface Fsm {
  readonly state: StateName;
  readonly config: FsmConfig;
  /** Between ManualStart and ManualStop. */
  readonly started: boolean;
  /** Wait for the peer to connect instead of connecting. */
  readonly passive: boolean;
  /** Consecutive failures since the last Established (drives the backoff). */
  readonly failures: number;
  /** Set on the peer's valid OPEN; kept in OpenConfirm and Established. */
  readonly negotiated: Negotiated | null;
  /** Who opened the current connection (or attempt): we ('out') or the peer ('in'); null without one. */
  readonly direction: 'out' | 'in' | null;
  /** The peer's second connection, waiting for its OPEN to settle a collision (§6.8). */
  readonly candidate: number | null;
}

/** Inputs from a connection carry its number (`conn`) when the shell has more than one. */
export type FsmInput =
  | { type: 'ManualStart'; passive?: boolean }
  | { type: 'ManualStop'; reason?: string }
  /** Drop the session now (e.g. BFD down) with a Cease, then restart after the backoff. */
  | { type: 'Reset'; reason: string; subcode?: number }
  /**
   * The peer connected to us (RFC 4271 event 17). With `conn`, the FSM decides what
   * becomes of that connection (accept, candidate, reject); without, it is the current one.
   */
  | { type: 'TcpConnectionConfirmed'; conn?: number }
  /** Our connect() succeeded (event 16). */
  | { type: 'TcpConnectionAcknowledged'; conn?: number }
  | { type: 'TcpConnectionFails'; reason: string; conn?: number }
  | { type: 'ConnectRetryTimerExpires' }
  | { type: 'HoldTimerExpires' }
  | { type: 'KeepaliveTimerExpires' }
  | { type: 'IdleHoldTimerExpires' }
  | { type: 'BGPOpen'; message: OpenMessage; conn?: number }
  /** A message failed to frame or decode (events 21, 22, 28): the error goes into the NOTIFICATION. */
  | { type: 'DecodeError'; error: BgpError; conn?: number }
  | { type: 'KeepAliveMsg'; conn?: number }
  | { type: 'UpdateMsg'; message: UpdateMessage; conn?: number }
  | { type: 'NotifMsg'; message: NotificationMessage; conn?: number }
  | { type: 'RouteRefreshMsg'; message: RouteRefreshMessage; conn?: number }
  /** This connection lost a collision (event 23): Cease 7, then wait for the other one. */
  | { type: 'OpenCollisionDump' };

export interface NotificationInfo {
  code: number;
  subcode: number;
  data: Uint8Array;
  direction: 'sent' | 'received';
}

export type FsmOutput =
  | { type: 'connect' }
  | { type: 'send'; message: Message }
  /** Close the current connection, or connection `conn`; `abort`: at once, without flushing. */
  | { type: 'close'; conn?: number; abort?: true }
  /** Keep the peer's connection `conn`: as the current one, or as the collision candidate (§6.8). */
  | { type: 'accept'; conn: number; as: 'current' | 'candidate' }
  /** The candidate `conn` replaces the current connection (closed just before). */
  | { type: 'adopt'; conn: number; why: 'peer-first' | 'collision' }
  /** Send `notification` on connection `conn` (not the current one), then close it. */
  | { type: 'reject'; conn: number; notification: NotificationMessage; why: string }
  | { type: 'armTimer'; timer: TimerName; ms: number }
  | { type: 'cancelTimer'; timer: TimerName }
  | { type: 'established'; negotiated: Negotiated }
  /** The connection (or attempt) ended; the FSM is in Idle (or Active after a collision). */
  | { type: 'down'; reason: string; wasEstablished: boolean; notification?: NotificationInfo }
  /** An UPDATE or ROUTE-REFRESH accepted in Established, for the shell to act on. */
  | { type: 'deliver'; message: UpdateMessage | RouteRefreshMessage };

export interface StepResult {
  state: Fsm;
  outputs: FsmOutput[];
}

export const DEFAULT_CONNECT_RETRY = { min: 1000, max: 30_000 } as const;

export function createFsm(opts: FsmOptions): Fsm {
  checkLocalConfig(opts);
  const connectRetry = opts.connectRetry ?? DEFAULT_CONNECT_RETRY;
  if (!(connectRetry.min > 0 && connectRetry.max >= connectRetry.min)) {
    throw new RangeError(`connectRetry needs 0 < min <= max: ${connectRetry.min}, ${connectRetry.max}`);
  }
  return {
    state: 'Idle',
    config: {
      ...opts,
      connectRetry: { ...connectRetry },
      connectRetryTime: opts.connectRetryTime ?? 30_000,
      openHoldTime: opts.openHoldTime ?? 240_000,
      random: opts.random ?? Math.random,
    },
    started: false,
    passive: false,
    failures: 0,
    negotiated: null,
    direction: null,
    candidate: null,
  };
}

/** The FSM input for a decoded message (from connection `conn`, when given). */
export function messageInput(m: Message, conn?: number): FsmInput {
  const from = conn === undefined ? {} : { conn };
  switch (m.type) {
    case 'open': return { type: 'BGPOpen', message: m, ...from };
    case 'keepalive': return { type: 'KeepAliveMsg', ...from };
    case 'update': return { type: 'UpdateMsg', message: m, ...from };
    case 'notification': return { type: 'NotifMsg', message: m, ...from };
    case 'route-refresh': return { type: 'RouteRefreshMsg', message: m, ...from };
  }
}

/** IdleHold delay after `failures` consecutive failures: min·2^(n-1) capped at max, × 0.75..1.0. */
export function backoffDelay(cfg: Pick<FsmConfig, 'connectRetry' | 'random'>, failures: number): number {
  const n = Math.max(1, failures);
  const base = Math.min(cfg.connectRetry.max, cfg.connectRetry.min * 2 ** Math.min(n - 1, 30));
  return Math.round(base * (0.75 + 0.25 * cfg.random()));
}

/** RFC 8203 / RFC 9003 shutdown communication: length octet + UTF-8 (≤ 255 octets). */
export function encodeShutdownCommunication(text: string): Uint8Array {
  const full = new TextEncoder().encode(text);
  let end = Math.min(full.length, 255);
  // Do not cut a UTF-8 sequence in half: back up while the first dropped byte is a continuation byte.
  while (end > 0 && end < full.length && (full[end]! & 0xc0) === 0x80) end--;
  const bytes = full.subarray(0, end);
  const out = new Uint8Array(bytes.length + 1);
  out[0] = bytes.length;
  out.set(bytes, 1);
  return out;
}

export function decodeShutdownCommunication(data: Uint8Array): string | null {
  if (data.length === 0 || data[0]! + 1 > data.length) return null;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(data.subarray(1, 1 + data[0]!));
  } catch {
    return null;
  }
}

/** RFC 4271 §6.3: UPDATE error subcodes whose Data field is the erroneous attribute (flags, type, length, value). */
const ATTRIBUTE_IN_DATA: ReadonlySet<number> = new Set([
  UpdateSubcode.AttributeFlagsError, UpdateSubcode.AttributeLengthError, UpdateSubcode.InvalidOriginAttribute,
  UpdateSubcode.InvalidNextHopAttribute, UpdateSubcode.OptionalAttributeError,
]);

/**
 * "received NOTIFICATION Cease / Administrative Shutdown: "maintenance"",
 * "received NOTIFICATION UPDATE Message Error / Attribute Length Error: PMSI_TUNNEL".
 */
export function describeNotificationInfo(n: NotificationInfo): string {
  let s = `${n.direction} NOTIFICATION ${describeNotification(n.code, n.subcode)}`;
  if (n.code === ErrorCode.Cease &&
      (n.subcode === CeaseSubcode.AdministrativeShutdown || n.subcode === CeaseSubcode.AdministrativeReset)) {
    const text = decodeShutdownCommunication(n.data);
    if (text) s += `: "${text}"`;
  } else if (n.code === ErrorCode.UpdateMessage && ATTRIBUTE_IN_DATA.has(n.subcode) && n.data.length >= 2) {
    s += `: ${attrTypeName(n.data[1]!)}`;
  }
  return s;
}

function notification(code: number, subcode: number, data: Uint8Array = new Uint8Array(0)): NotificationMessage {
  return { type: 'notification', code, subcode, data };
}

const ALL_TIMERS: TimerName[] = ['connectRetry', 'hold', 'keepalive', 'idleHold'];

function cancelAll(): FsmOutput[] {
  return ALL_TIMERS.map((timer) => ({ type: 'cancelTimer', timer }));
}

function with_(s: Fsm, patch: Partial<Fsm>): Fsm {
  return { ...s, ...patch };
}

/** Start connecting (or waiting, when passive): Idle → Connect / Active. */
function start(s: Fsm): StepResult {
  if (s.passive) {
    // Passive: wait in Active for the peer; no ConnectRetryTimer, we never dial.
    return { state: with_(s, { state: 'Active', direction: null }), outputs: [] };
  }
  return {
    state: with_(s, { state: 'Connect', direction: 'out' }),
    outputs: [{ type: 'connect' }, { type: 'armTimer', timer: 'connectRetry', ms: s.config.connectRetryTime }],
  };
}

/**
 * End the connection: optionally send a NOTIFICATION, close, cancel timers,
 * go to Idle, and arm the IdleHold backoff unless stopped.
 */
function drop(s: Fsm, reason: string, opts: { send?: NotificationMessage; received?: NotificationMessage; stop?: boolean }): StepResult {
  const outputs: FsmOutput[] = [];
  let note: NotificationInfo | undefined;
  if (opts.send) {
    outputs.push({ type: 'send', message: opts.send });
    note = { code: opts.send.code, subcode: opts.send.subcode, data: opts.send.data, direction: 'sent' };
  } else if (opts.received) {
    const r = opts.received;
    note = { code: r.code, subcode: r.subcode, data: r.data, direction: 'received' };
  }
  outputs.push({ type: 'close' }, ...cancelAll());
  const failures = opts.stop ? 0 : s.failures + 1;
  const started = opts.stop ? false : s.started;
  const next = with_(s, { state: 'Idle', started, failures, negotiated: null, direction: null });
  if (started) outputs.push({ type: 'armTimer', timer: 'idleHold', ms: backoffDelay(s.config, failures) });
  const full = note ? `${reason} (${describeNotificationInfo(note)})` : reason;
  const down: FsmOutput = { type: 'down', reason: full, wasEstablished: s.state === 'Established' };
  if (note) down.notification = note;
  outputs.push(down);
  return { state: next, outputs };
}

function ceaseFor(reason: string | undefined, subcode: number): NotificationMessage {
  return notification(ErrorCode.Cease, subcode, reason ? encodeShutdownCommunication(reason) : new Uint8Array(0));
}

function fsmError(s: Fsm, subcode: number, what: string): StepResult {
  return drop(s, `unexpected ${what} in ${s.state}`, { send: notification(ErrorCode.FsmError, subcode) });
}

function errorName(e: BgpError): string {
  return e.message || describeNotification(e.code, e.subcode);
}

/** Inputs common to OpenSent, OpenConfirm and Established (a BGP connection exists). */
function connected(s: Fsm, input: FsmInput): StepResult | null {
  switch (input.type) {
    case 'ManualStart':
    case 'TcpConnectionConfirmed':
    case 'TcpConnectionAcknowledged':
      // A second connection is the shell's business (collision detection, §6.8).
      return { state: s, outputs: [] };
    case 'ManualStop':
      return drop(s, input.reason ? `stopped: ${input.reason}` : 'stopped',
        { send: ceaseFor(input.reason, CeaseSubcode.AdministrativeShutdown), stop: true });
    case 'Reset':
      return drop(s, `reset: ${input.reason}`,
        { send: ceaseFor(input.reason, input.subcode ?? CeaseSubcode.AdministrativeReset) });
    case 'HoldTimerExpires':
      return drop(s, 'hold timer expired', { send: notification(ErrorCode.HoldTimerExpired, 0) });
    case 'TcpConnectionFails':
      return drop(s, `connection lost: ${input.reason}`, {});
    case 'NotifMsg':
      return drop(s, 'peer closed the session', { received: input.message });
    case 'DecodeError':
      return drop(s, `bad message from peer: ${errorName(input.error)}`,
        { send: notification(input.error.code, input.error.subcode, input.error.data) });
    case 'OpenCollisionDump': {
      const r = drop(s, 'connection collision: this connection loses',
        { send: notification(ErrorCode.Cease, CeaseSubcode.ConnectionCollisionResolution) });
      // The surviving connection is handed over next: wait for it in Active, no backoff.
      const outputs = r.outputs.filter((o) => !(o.type === 'armTimer' && o.timer === 'idleHold'));
      return { state: with_(r.state, { state: s.started ? 'Active' : 'Idle', failures: s.failures }), outputs };
    }
    default:
      return null;
  }
}

function idle(s: Fsm, input: FsmInput): StepResult {
  switch (input.type) {
    case 'ManualStart':
      if (s.started) return { state: s, outputs: [] };
      return start(with_(s, { started: true, passive: input.passive ?? false, failures: 0 }));
    case 'IdleHoldTimerExpires':
      return s.started ? start(s) : { state: s, outputs: [] };
    case 'ManualStop':
      return { state: with_(s, { started: false, failures: 0 }), outputs: [{ type: 'cancelTimer', timer: 'idleHold' }] };
    case 'TcpConnectionConfirmed':
    case 'TcpConnectionAcknowledged':
      // Idle refuses connections (RFC 4271 §8.2.2).
      return { state: s, outputs: [{ type: 'close' }] };
    default:
      // "Any other event ... is ignored" in Idle.
      return { state: s, outputs: [] };
  }
}

/** Our socket is up or the peer's was accepted: send OPEN, wait for the peer's (§8.2.2). */
function openSent(s: Fsm): StepResult {
  return {
    state: with_(s, { state: 'OpenSent' }),
    outputs: [
      { type: 'cancelTimer', timer: 'connectRetry' },
      { type: 'send', message: buildOpen(s.config) },
      { type: 'armTimer', timer: 'hold', ms: s.config.openHoldTime },
    ],
  };
}

function connectOrActive(s: Fsm, input: FsmInput): StepResult {
  switch (input.type) {
    case 'ManualStart':
    case 'IdleHoldTimerExpires':
      return { state: s, outputs: [] };
    case 'ManualStop':
      return drop(s, input.reason ? `stopped: ${input.reason}` : 'stopped', { stop: true });
    case 'Reset':
      return drop(s, `reset: ${input.reason}`, {});
    case 'ConnectRetryTimerExpires':
      if (s.state === 'Connect') {
        return {
          state: s,
          outputs: [
            { type: 'close' },
            { type: 'connect' },
            { type: 'armTimer', timer: 'connectRetry', ms: s.config.connectRetryTime },
          ],
        };
      }
      if (s.passive) return { state: s, outputs: [] };
      return {
        state: with_(s, { state: 'Connect', direction: 'out' }),
        outputs: [{ type: 'connect' }, { type: 'armTimer', timer: 'connectRetry', ms: s.config.connectRetryTime }],
      };
    case 'TcpConnectionAcknowledged':
      return openSent(with_(s, { direction: 'out' }));
    case 'TcpConnectionConfirmed':
      return openSent(with_(s, { direction: 'in' }));
    case 'TcpConnectionFails':
      return drop(s, `connect failed: ${input.reason}`, {});
    default:
      // No BGP connection yet, so nothing to NOTIFY: drop and back off (§8.2.2, Connect/Active "any other event").
      return drop(s, `unexpected ${input.type} in ${s.state}`, {});
  }
}

function openSentState(s: Fsm, input: FsmInput): StepResult {
  const common = connected(s, input);
  if (common) return common;
  switch (input.type) {
    case 'BGPOpen': {
      let neg: Negotiated;
      try {
        neg = negotiate(s.config, input.message);
      } catch (e) {
        if (!(e instanceof BgpError)) throw e;
        return drop(s, `bad OPEN from peer: ${e.message}`, { send: notification(e.code, e.subcode, e.data) });
      }
      const outputs: FsmOutput[] = [{ type: 'send', message: { type: 'keepalive' } }];
      if (neg.holdTime > 0) {
        outputs.push(
          { type: 'armTimer', timer: 'keepalive', ms: neg.keepalive * 1000 },
          { type: 'armTimer', timer: 'hold', ms: neg.holdTime * 1000 },
        );
      } else {
        outputs.push({ type: 'cancelTimer', timer: 'hold' });
      }
      return { state: with_(s, { state: 'OpenConfirm', negotiated: neg }), outputs };
    }
    default:
      return fsmError(s, FsmSubcode.UnexpectedMessageInOpenSent, input.type);
  }
}

function holdRestart(s: Fsm): FsmOutput[] {
  const neg = s.negotiated;
  return neg && neg.holdTime > 0 ? [{ type: 'armTimer', timer: 'hold', ms: neg.holdTime * 1000 }] : [];
}

function keepaliveTick(s: Fsm): StepResult {
  const neg = s.negotiated;
  const outputs: FsmOutput[] = [{ type: 'send', message: { type: 'keepalive' } }];
  if (neg && neg.keepalive > 0) outputs.push({ type: 'armTimer', timer: 'keepalive', ms: neg.keepalive * 1000 });
  return { state: s, outputs };
}

function openConfirmState(s: Fsm, input: FsmInput): StepResult {
  const common = connected(s, input);
  if (common) return common;
  switch (input.type) {
    case 'KeepaliveTimerExpires':
      return keepaliveTick(s);
    case 'KeepAliveMsg': {
      const neg = s.negotiated!;
      return {
        state: with_(s, { state: 'Established', failures: 0 }),
        outputs: [...holdRestart(s), { type: 'established', negotiated: neg }],
      };
    }
    default:
      return fsmError(s, FsmSubcode.UnexpectedMessageInOpenConfirm, input.type);
  }
}

function establishedState(s: Fsm, input: FsmInput): StepResult {
  const common = connected(s, input);
  if (common) return common;
  switch (input.type) {
    case 'KeepaliveTimerExpires':
      return keepaliveTick(s);
    case 'KeepAliveMsg':
      return { state: s, outputs: holdRestart(s) };
    case 'UpdateMsg':
    case 'RouteRefreshMsg':
      return { state: s, outputs: [...holdRestart(s), { type: 'deliver', message: input.message }] };
    default:
      return fsmError(s, FsmSubcode.UnexpectedMessageInEstablished, input.type);
  }
}

// --- connection collisions (RFC 4271 §6.8) ---------------------------------

function reject(s: Fsm, conn: number, code: number, subcode: number, why: string): StepResult {
  return { state: s, outputs: [{ type: 'reject', conn, notification: notification(code, subcode), why }] };
}

/** Run `inputs` on the current connection one after the other, outputs in order. */
function chain(s: Fsm, outputs: FsmOutput[], inputs: FsmInput[]): StepResult {
  for (const i of inputs) {
    const r = stateStep(s, i);
    s = r.state;
    outputs.push(...r.outputs);
  }
  return { state: s, outputs };
}

/** The peer opened connection `conn` (event 17). */
function peerConnected(s: Fsm, conn: number): StepResult {
  switch (s.state) {
    case 'Idle':
      // §8.2.2: Idle refuses connections.
      return reject(s, conn, ErrorCode.Cease, CeaseSubcode.ConnectionRejected, 'session is idle');
    case 'Active':
      return chain(s, [{ type: 'accept', conn, as: 'current' }], [{ type: 'TcpConnectionConfirmed' }]);
    case 'Connect':
    case 'OpenSent':
    case 'OpenConfirm': {
      // §6.8: keep both until the peer's OPEN on the new one tells its BGP Identifier.
      const outputs: FsmOutput[] = [];
      if (s.candidate !== null) outputs.push({ type: 'close', conn: s.candidate, abort: true });
      outputs.push({ type: 'accept', conn, as: 'candidate' });
      return { state: with_(s, { candidate: conn }), outputs };
    }
    case 'Established':
      // §6.8: a collision with an Established session is resolved for the existing one.
      return reject(s, conn, ErrorCode.Cease, CeaseSubcode.ConnectionCollisionResolution, 'session already established');
  }
}

const MESSAGE_NAME: Partial<Record<FsmInput['type'], string>> = {
  KeepAliveMsg: 'keepalive', UpdateMsg: 'update', NotifMsg: 'notification', RouteRefreshMsg: 'route-refresh',
};

/** An input from the candidate connection `conn`: only its OPEN is expected. */
function candidateInput(s: Fsm, conn: number, input: FsmInput): StepResult {
  const rest = with_(s, { candidate: null });
  switch (input.type) {
    case 'TcpConnectionFails':
      return { state: rest, outputs: [] };
    case 'DecodeError':
      return reject(rest, conn, input.error.code, input.error.subcode, `bad message on second connection: ${input.error.message}`);
    case 'BGPOpen':
      return candidateOpen(rest, conn, input.message);
    default:
      return reject(rest, conn, ErrorCode.FsmError, 0, `expected OPEN, got ${MESSAGE_NAME[input.type] ?? input.type}`);
  }
}

/** The candidate's OPEN: which connection survives (§6.8). `s` has the candidate cleared. */
function candidateOpen(s: Fsm, conn: number, open: OpenMessage): StepResult {
  const then: FsmInput[] = [{ type: 'TcpConnectionConfirmed' }, { type: 'BGPOpen', message: open }];
  if (s.state === 'Connect') {
    // Our own attempt has not got anywhere yet: take the peer's connection instead.
    return chain(s, [{ type: 'close', abort: true }, { type: 'adopt', conn, why: 'peer-first' }], then);
  }
  if (s.state !== 'OpenSent' && s.state !== 'OpenConfirm') {
    return reject(s, conn, ErrorCode.Cease, CeaseSubcode.ConnectionCollisionResolution, `collision in ${s.state}`);
  }
  // Colliding with our own connection: the higher BGP Identifier keeps the connection it
  // opened (§6.8). Colliding with an earlier one of the peer's: it has given up on that one.
  const keepNew = s.direction === 'in' || resolveCollision(s.config.routerId, open.bgpId) === 'remotely-initiated';
  if (!keepNew) {
    return reject(s, conn, ErrorCode.Cease, CeaseSubcode.ConnectionCollisionResolution,
      'collision: keeping our connection (higher BGP Identifier)');
  }
  // The current connection is dumped (event 23, Cease 7), the candidate takes its place.
  const dump = stateStep(s, { type: 'OpenCollisionDump' });
  return chain(dump.state, [...dump.outputs, { type: 'adopt', conn, why: 'collision' }], then);
}

/** One FSM step. Pure: the same (fsm, input) always gives the same result (given config.random). */
export function step(s: Fsm, input: FsmInput): StepResult {
  if (input.type === 'TcpConnectionConfirmed' && input.conn !== undefined) return peerConnected(s, input.conn);
  if ('conn' in input && input.conn !== undefined && input.conn === s.candidate) return candidateInput(s, input.conn, input);
  const r = stateStep(s, input);
  if (input.type === 'ManualStop' && s.candidate !== null) {
    // Stopping drops the candidate as well.
    return { state: with_(r.state, { candidate: null }), outputs: [...r.outputs, { type: 'close', conn: s.candidate, abort: true }] };
  }
  return r;
}

/** The state table, for inputs on the current connection. */
function stateStep(s: Fsm, input: FsmInput): StepResult {
  switch (s.state) {
    case 'Idle': return idle(s, input);
    case 'Connect':
    case 'Active': return connectOrActive(s, input);
    case 'OpenSent': return openSentState(s, input);
    case 'OpenConfirm': return openConfirmState(s, input);
    case 'Established': return establishedState(s, input);
  }
}
