// Driving an agent under a ManualClock in unit tests.
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
