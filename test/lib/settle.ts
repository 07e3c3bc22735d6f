// Driving an agent under a ManualClock in unit tests, and waits with deadlines.
import { once as eventsOnce, type EventEmitter } from 'node:events';
import type { ManualClock } from '../../src/util/clock.js';

/**
 * Advance the clock by ms and let the agent settle; then, as long as a timer is
 * due (one that fired may arm another at `now`), fire it and settle again.
 */
export async function advanceAndSettle(clock: ManualClock, agent: { settled(): Promise<unknown> }, ms = 0): Promise<void> {
  clock.advance(ms);
  await agent.settled();
  while (clock.nextDueAt() !== undefined && clock.nextDueAt()! <= clock.now()) {
    clock.advance(0);
    await agent.settled();
  }
}

// Waiting on real sockets in unit tests: every wait has a deadline and fails
// with what it was waiting for, instead of hanging until tap's timeout.

/** Deadline of a wait in a unit test unless told otherwise: generous, for a loaded machine. */
export const WAIT_TIMEOUT_MS = 20_000;

export interface WaitOptions {
  /** What the wait is for, in the failure message. */
  what: string;
  timeoutMs?: number;
}

function timedOut(o: WaitOptions): Error {
  return new Error(`timed out after ${o.timeoutMs ?? WAIT_TIMEOUT_MS} ms waiting for ${o.what}`);
}

/**
 * Wait until `cond()` holds, checking it once per turn of the event loop
 * (setImmediate: socket events get their turn in between, nothing sleeps).
 * Rejects when the deadline passes first.
 */
export async function waitFor(cond: () => boolean, o: WaitOptions): Promise<void> {
  const deadline = performance.now() + (o.timeoutMs ?? WAIT_TIMEOUT_MS);
  while (!cond()) {
    if (performance.now() > deadline) throw timedOut(o);
    await new Promise((r) => setImmediate(r));
  }
}

/** `p`, or a rejection when the deadline passes first. The deadline timer does not keep the process alive. */
export function within<T>(p: Promise<T>, o: WaitOptions): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(timedOut(o)), o.timeoutMs ?? WAIT_TIMEOUT_MS);
    timer.unref();
  });
  return Promise.race([p, deadline]).finally(() => clearTimeout(timer));
}

/**
 * events.once with a deadline: the emitter's next `event` (its arguments), or a
 * rejection naming the event when the deadline passes first. A drop-in for
 * `once` from node:events in tests.
 */
export function once(emitter: EventEmitter, event: string, o: Partial<WaitOptions> = {}): Promise<any[]> {
  return within(eventsOnce(emitter, event), { what: o.what ?? `event '${event}'`, ...(o.timeoutMs === undefined ? {} : { timeoutMs: o.timeoutMs }) });
}
