// Worker thread for test/unit/fuzz-corpus.test.ts: checks the inputs it is sent,
// one at a time, and posts each result, so the test can put a deadline on a
// synchronous decoder that never returns (a hang) and still fail cleanly.
import { parentPort } from 'node:worker_threads';
import { checkInput, describeFinding, newTally, TARGETS, type Target } from './fuzz.js';

export type ReplayRequest = { name: string; target: Target; hex: string } | { name: string; spin: true };
export interface ReplayResult { name: string; escaped: string[]; mismatched: string[] }

parentPort!.on('message', (req: ReplayRequest) => {
  if ('spin' in req) for (;;) { /* the harness's own test: a decoder that never returns */ }
  if (!TARGETS.includes(req.target)) throw new Error(`${req.name}: unknown target ${req.target}`);
  const tally = newTally();
  checkInput(req.target, Uint8Array.from(Buffer.from(req.hex, 'hex')), tally);
  parentPort!.postMessage({
    name: req.name, escaped: tally.escaped.map(describeFinding), mismatched: tally.mismatched.map(describeFinding),
  } satisfies ReplayResult);
});
