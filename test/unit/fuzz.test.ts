// Seeded mutation fuzzing of Framer + decodeMessage. From a corpus of valid
// messages (OPEN, KEEPALIVE, NOTIFICATION, ROUTE-REFRESH, IPv4 and EVPN
// UPDATEs), each iteration applies bit flips, byte changes, truncations,
// length-field edits, duplicated attributes, insertions, deletions and
// splices, then checks that only BgpError escapes, and that whatever decodes
// re-encodes and decodes again to the same message. The corpus, mutator and
// checker are test/lib/fuzz.ts, shared with `npm run fuzz` (scripts/fuzz.ts),
// which runs 10M mutants of every decoder's input.
import t from 'tap';
import { bgpCorpus as corpus, checkBgp, ctx2, ctx4, describeFinding, mutate, newTally } from '../lib/fuzz.js';
import { mulberry32 as rng } from '../lib/prng.js';
import '../../src/evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

const ITERATIONS = Number(process.env.FUZZ_ITERATIONS ?? 100_000);
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eed);

t.test(`fuzz: ${ITERATIONS} mutated messages through Framer and decodeMessage`, (t) => {
  const rand = rng(SEED);
  // Stack traces are most of the cost of a thrown BgpError; the hex input is
  // what reproduces a failure, so capture none during the loop.
  const stackLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  t.teardown(() => {
    Error.stackTraceLimit = stackLimit;
  });
  const started = performance.now();
  const tally = newTally();
  for (let i = 0; i < ITERATIONS; i++) {
    const src = corpus[i % corpus.length]!;
    const m = mutate(src, rand, corpus);
    const ctx = rand() < 0.5 ? ctx2 : ctx4;
    // Framer: the mutated message followed by a KEEPALIVE, split at a random offset.
    checkBgp(m, ctx, rand(), tally);
  }
  const seconds = (performance.now() - started) / 1000;
  Error.stackTraceLimit = stackLimit;
  const { stats, codes } = tally;
  const escaped = tally.escaped.map(describeFinding);
  const mismatched = tally.mismatched.map(describeFinding);
  t.comment(`seed ${SEED}: ${ITERATIONS} iterations in ${seconds.toFixed(1)} s; ${JSON.stringify(stats)}`);
  t.comment(`NOTIFICATIONs: ${[...codes].sort().map(([k, v]) => `${k}:${v}`).join(' ')}`);
  t.same(escaped.slice(0, 5), [], 'nothing but BgpError escapes');
  t.equal(escaped.length, 0);
  t.same(mismatched.slice(0, 5), [], 'decoded messages re-encode to the same message');
  t.ok(stats.decoded > ITERATIONS / 20, 'a fair share of mutants still decode');
  t.ok(stats.bgpErrors > ITERATIONS / 20, 'a fair share of mutants are rejected');
  t.end();
});
