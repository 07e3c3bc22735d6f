// Replays the kept fuzz corpus: every input in test/golden/fuzz/ that ever made
// a decoder throw something other than its contract's error, hang, or fail to
// round-trip (found by `npm run fuzz`, scripts/fuzz.ts) must now decode cleanly
// or be rejected with the contract's error (test/lib/fuzz.ts checkInput), within
// a deadline. The decoders are synchronous, so the inputs are checked in a
// worker thread that the test terminates when the deadline passes.
import t from 'tap';
import { readdirSync, readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { TARGETS, type Target } from '../lib/fuzz.js';
import type { ReplayRequest, ReplayResult } from '../lib/fuzz-replay-worker.js';

const DIR = new URL('../golden/fuzz/', import.meta.url);
/** Per input, from the request to the result. The slowest checker (a BGP input framed at every split) takes milliseconds. */
const DEADLINE_MS = 10_000;
/** Starting a worker under tap's TypeScript loader takes seconds on a loaded machine. */
const STARTUP_MS = 60_000;

type Outcome = ReplayResult | { name: string; timedOut: true };

/** Check each request in a worker; a request without a result by its deadline ends the worker and is reported as timed out. */
async function replay(requests: ReplayRequest[], deadlineMs = DEADLINE_MS): Promise<Outcome[]> {
  const out: Outcome[] = [];
  let rest = requests;
  while (rest.length > 0) {
    const worker = new Worker(new URL('../lib/fuzz-replay-worker.ts', import.meta.url));
    try {
      for (const [i, req] of rest.entries()) {
        const ms = deadlineMs + (i === 0 ? STARTUP_MS : 0);
        const got = await new Promise<Outcome>((resolve, reject) => {
          const timer = setTimeout(() => { cleanup(); resolve({ name: req.name, timedOut: true }); }, ms);
          const onMessage = (r: ReplayResult): void => { cleanup(); resolve(r); };
          const onError = (e: Error): void => { cleanup(); reject(e); };
          const cleanup = (): void => { clearTimeout(timer); worker.off('message', onMessage); worker.off('error', onError); };
          worker.on('message', onMessage);
          worker.on('error', onError);
          worker.postMessage(req);
        });
        out.push(got);
        if ('timedOut' in got) break;
      }
    } finally {
      await worker.terminate();
    }
    rest = requests.slice(out.length);
  }
  return out;
}

const files = readdirSync(DIR).filter((f) => f.endsWith('.hex')).sort();

t.test('every kept input decodes cleanly or is rejected with the contract\'s error, in time', async (t) => {
  const requests: ReplayRequest[] = files.map((f) => {
    const target = TARGETS.find((x) => f.startsWith(`${x}-`));
    if (target === undefined) throw new Error(`${f}: the name must start with a target (${TARGETS.join(', ')})`);
    return { name: f, target: target as Target, hex: readFileSync(new URL(f, DIR), 'utf8').replace(/\s+/g, '') };
  });
  if (requests.length === 0) {
    t.pass('the corpus is empty: no input has escaped yet');
    return;
  }
  for (const r of await replay(requests)) {
    if ('timedOut' in r) t.fail(`${r.name}: no result within ${DEADLINE_MS} ms (a hang)`);
    else t.same([...r.escaped, ...r.mismatched], [], `${r.name}: no escape, round trip holds`);
  }
});

t.test('the harness fails a hang and goes on with the next input', async (t) => {
  const got = await replay([
    { name: 'keepalive', target: 'bgp', hex: `${'ff'.repeat(16)}001304` },
    { name: 'spin', spin: true },
    { name: 'after', target: 'bfd', hex: '00' },
  ], 500);
  t.same(got, [
    { name: 'keepalive', escaped: [], mismatched: [] },
    { name: 'spin', timedOut: true },
    { name: 'after', escaped: [], mismatched: [] },
  ]);
});
