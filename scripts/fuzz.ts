// `npm run fuzz [-- --count N --seed S --jobs J --budget-ms MS]`: mutation
// fuzzing of every decoder input (BGP messages of every type through the Framer
// and decodeMessage, BFD Control packets, probe frames and probe messages) with
// the mutator and checkers of test/lib/fuzz.ts. Prints exactly one line on
// stdout:
//   fuzz: <n> messages, <m> escapes
// An escape is anything a decoder throws other than its contract's error
// (BgpError, BfdPacketError; the probe decoders throw nothing), or an input that
// takes more than the time budget (a hang). Every escaping, hanging or
// non-round-tripping input is saved under test/golden/fuzz/ (NAME.hex and a note
// NAME.txt) and replayed by test/unit/fuzz-corpus.test.ts. Exit 1 when anything
// was found, 2 on bad arguments.
//
// Input i is a function of (seed, i) alone, so `--seed S --from i --count 1`
// reproduces it. The decoders are synchronous: each job runs in a worker thread
// that publishes the input it is on in shared memory; the main thread kills a
// worker whose input has used more than the budget of CPU time and wall time
// (both, so that a descheduled worker on a loaded machine is not a hang), keeps
// the input and starts a new worker after it.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join as joinPath } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { encodeMessage } from '../src/bgp/message.js';
import {
  bfdCorpus, bgpCorpus, checkBfd, checkBgp, checkProbe, ctx2, ctx4, fixBfd, fixProbeFrame, mutate, newTally,
  probeCorpus, probeFrameCorpus, TARGETS, type Finding, type Target,
} from '../test/lib/fuzz.js';
import { mulberry32 } from '../test/lib/prng.js';
import '../src/evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

interface Options {
  count: number;
  seed: number;
  from: number;
  jobs: number;
  budgetMs: number;
  corpusDir: string;
}

interface Job {
  seed: number;
  from: number;
  to: number;
  root: string;
  shared: SharedArrayBuffer;
}

/** Shared memory of a worker: Int32 [current index, input length, target, done], then the input bytes. */
const HEADER_BYTES = 16;
const MAX_INPUT = 65536;

type FromWorker =
  | { type: 'ready' }
  | { type: 'finding'; index: number; finding: Finding }
  | { type: 'stats'; stats: Record<Target, { decoded: number; rejected: number }> };

/** The repository root: the nearest directory above this file with a package.json. */
function repoRoot(): string {
  let d = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(joinPath(d, 'package.json'))) {
    const up = dirname(d);
    if (up === d) throw new Error('fuzz: no package.json above the script');
    d = up;
  }
  return d;
}

/** A well-mixed 32-bit seed for input `i` (murmur3 finalizer). */
function inputSeed(seed: number, i: number): number {
  let x = (seed ^ Math.imul(i, 0x9e3779b9)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** BGP seeds: the unit test's corpus, the FRR and GoBGP golden vectors, and an UPDATE with opaque NLRI (an AFI/SAFI we do not parse). */
function bgpSeeds(root: string): Uint8Array[] {
  const seeds = [...bgpCorpus];
  for (const impl of ['frr', 'gobgp']) {
    const dir = joinPath(root, 'test', 'golden', impl);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir).filter((n) => n.endsWith('.hex')).sort()) {
      seeds.push(new Uint8Array(Buffer.from(readFileSync(joinPath(dir, f), 'utf8').replace(/[^0-9a-f]/gi, ''), 'hex')));
    }
  }
  seeds.push(encodeMessage({
    type: 'update', withdrawn: [], nlri: [],
    attributes: { origin: 0, asPath: [], mpReach: { afi: 1, safi: 128, nextHop: ['192.0.2.1'], nlri: { kind: 'opaque', bytes: Uint8Array.of(0x58, 0, 0, 1, 0, 0, 0, 1, 10, 0, 0) } } },
  }, ctx4));
  return seeds;
}

// ---------------------------------------------------------------------------
// Worker: fuzz inputs [from, to)

function runWorker(job: Job): void {
  const port = parentPort!;
  const head = new Int32Array(job.shared, 0, 4);
  const bytes = new Uint8Array(job.shared, HEADER_BYTES);
  const pools: Record<Target, Uint8Array[]> = {
    bgp: bgpSeeds(job.root), bfd: bfdCorpus, 'probe-frame': probeFrameCorpus, probe: probeCorpus,
  };
  const fresh = (): Record<Target, { decoded: number; rejected: number }> =>
    Object.fromEntries(TARGETS.map((t) => [t, { decoded: 0, rejected: 0 }])) as Record<Target, { decoded: number; rejected: number }>;
  let stats = fresh();
  // Stack traces are most of the cost of a thrown error; one is captured again for a finding.
  Error.stackTraceLimit = 0;
  port.postMessage({ type: 'ready' } satisfies FromWorker);
  for (let i = job.from; i < job.to; i++) {
    const rand = mulberry32(inputSeed(job.seed, i));
    const r = rand();
    const target: Target = r < 0.7 ? 'bgp' : r < 0.8 ? 'bfd' : r < 0.9 ? 'probe-frame' : 'probe';
    const pool = pools[target];
    const m = mutate(pool[Math.floor(rand() * pool.length)]!, rand, pool, target === 'bgp');
    if (target === 'probe-frame') fixProbeFrame(m, rand);
    else if (target === 'bfd') fixBfd(m, rand);
    const n = Math.min(m.length, MAX_INPUT);
    bytes.set(m.subarray(0, n));
    head[1] = n;
    head[2] = TARGETS.indexOf(target);
    Atomics.store(head, 0, i);
    const tally = newTally();
    let ctx = ctx2;
    let cut = 0;
    if (target === 'bgp') {
      ctx = rand() < 0.5 ? ctx2 : ctx4;
      cut = rand();
      checkBgp(m, ctx, cut, tally);
    } else if (target === 'bfd') checkBfd(m, tally);
    else checkProbe(target, m, tally);
    const s = stats[target];
    s.decoded += tally.stats.decoded;
    s.rejected += tally.stats.bgpErrors + tally.stats.framerErrors;
    if (tally.escaped.length > 0 || tally.mismatched.length > 0) {
      // Again with stack traces, for the note.
      Error.stackTraceLimit = 20;
      const again = newTally();
      if (target === 'bgp') checkBgp(m, ctx, cut, again);
      else if (target === 'bfd') checkBfd(m, again);
      else checkProbe(target, m, again);
      Error.stackTraceLimit = 0;
      const found = again.escaped.length + again.mismatched.length > 0 ? again : tally;
      for (const finding of [...found.escaped, ...found.mismatched]) port.postMessage({ type: 'finding', index: i, finding } satisfies FromWorker);
    }
    Atomics.store(head, 3, i + 1 - job.from);
    if ((i & 0xffff) === 0xffff) {
      port.postMessage({ type: 'stats', stats } satisfies FromWorker);
      stats = fresh();
    }
  }
  port.postMessage({ type: 'stats', stats } satisfies FromWorker);
}

// ---------------------------------------------------------------------------
// Main: run the jobs, watch for hangs, keep what was found

function parseArgs(argv: string[], root: string): Options {
  const o: Options = { count: 10_000_000, seed: 1, from: 0, jobs: 1, budgetMs: 1000, corpusDir: joinPath(root, 'test', 'golden', 'fuzz') };
  const int = (flag: string, v: string | undefined, min: number): number => {
    const n = Number((v ?? '').replace(/_/g, ''));
    if (v === undefined || !Number.isSafeInteger(n) || n < min) throw new Error(`${flag}: expected an integer >= ${min}, got ${JSON.stringify(v ?? null)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '--count': o.count = int(flag, value(), 0); break;
      case '--seed': o.seed = int(flag, value(), 0); break;
      case '--from': o.from = int(flag, value(), 0); break;
      case '--jobs': o.jobs = int(flag, value(), 1); break;
      case '--budget-ms': o.budgetMs = int(flag, value(), 1); break;
      case '--corpus-dir': o.corpusDir = value() ?? ''; break;
      default: throw new Error(`unknown argument ${JSON.stringify(a)} (use --count N, --seed S, --from I, --jobs J, --budget-ms MS, --corpus-dir DIR)`);
    }
  }
  if (o.from + o.count > 2 ** 31 - 1) throw new Error('--from + --count must stay below 2^31');
  return o;
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Save a finding unless an input of the same kind of failure was saved 3 times already. Returns the file name, or null. */
function makeSaver(dir: string, seed: number): (index: number, f: Finding) => string | null {
  const perSignature = new Map<string, number>();
  return (index, f) => {
    const signature = `${f.target}|${f.kind}|${f.stage}|${f.error.replace(/\d+/g, 'N')}`;
    const seen = perSignature.get(signature) ?? 0;
    if (seen >= 3) return null;
    perSignature.set(signature, seen + 1);
    const hexText = Buffer.from(f.input).toString('hex');
    const name = `${f.target}-${f.kind}-${createHash('sha256').update(f.input).digest('hex').slice(0, 12)}`;
    mkdirSync(dir, { recursive: true });
    const hexPath = joinPath(dir, `${name}.hex`);
    if (existsSync(hexPath)) return null;
    writeFileSync(hexPath, `${hexText}\n`);
    const note = [
      `target: ${f.target}`,
      `${f.kind} in ${f.stage}: ${f.error}`,
      ...(f.fourOctetAs === undefined ? [] : [`fourOctetAs: ${f.fourOctetAs}`]),
      `found by: npm run fuzz -- --seed ${seed} --from ${index} --count 1 (${new Date().toISOString().slice(0, 10)})`,
      ...(f.stack ? ['', f.stack.split('\n').slice(0, 12).join('\n')] : []),
      '',
    ].join('\n');
    writeFileSync(joinPath(dir, `${name}.txt`), note);
    return name;
  };
}

async function main(): Promise<number> {
  const root = repoRoot();
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2), root);
  } catch (e) {
    process.stderr.write(`fuzz: ${(e as Error).message}\n`);
    return 2;
  }
  const save = makeSaver(o.corpusDir, o.seed);
  const started = performance.now();
  const totals = Object.fromEntries(TARGETS.map((t) => [t, { decoded: 0, rejected: 0 }])) as Record<Target, { decoded: number; rejected: number }>;
  let escapes = 0;
  let hangs = 0;
  let mismatches = 0;
  const saved: string[] = [];
  const found = (index: number, f: Finding): void => {
    if (f.kind === 'mismatch') mismatches++;
    else escapes++;
    if (f.kind === 'hang') hangs++;
    const name = save(index, f);
    if (name) saved.push(name);
    process.stderr.write(`fuzz: input ${index}: ${f.target} ${f.kind} in ${f.stage}: ${f.error}${name ? ` (saved ${name})` : ''}\n`);
  };

  interface Running {
    worker: Worker;
    head: Int32Array;
    bytes: Uint8Array;
    from: number;
    to: number;
    ready: boolean;
    last: { index: number; wall: number; cpu: number };
    finished: Promise<void>;
  }
  const running = new Set<Running>();
  /** Inputs done by workers that have ended (finished or killed). */
  let doneBefore = 0;

  const start = (from: number, to: number): void => {
    const shared = new SharedArrayBuffer(HEADER_BYTES + MAX_INPUT);
    const head = new Int32Array(shared, 0, 4);
    head[0] = -1;
    const job: Job = { seed: o.seed, from, to, root, shared };
    const worker = new Worker(fileURLToPath(import.meta.url), { workerData: job });
    let settle!: () => void;
    const r: Running = {
      worker, head, bytes: new Uint8Array(shared, HEADER_BYTES), from, to, ready: false,
      last: { index: -1, wall: performance.now(), cpu: cpuMs() }, finished: new Promise((res) => { settle = res; }),
    };
    worker.on('message', (msg: FromWorker) => {
      if (msg.type === 'ready') {
        r.ready = true;
        r.last = { index: -1, wall: performance.now(), cpu: cpuMs() };
      } else if (msg.type === 'finding') {
        found(msg.index, { ...msg.finding, input: new Uint8Array(msg.finding.input) });
      } else {
        for (const t of TARGETS) {
          totals[t].decoded += msg.stats[t].decoded;
          totals[t].rejected += msg.stats[t].rejected;
        }
      }
    });
    worker.on('error', (e) => {
      process.stderr.write(`fuzz: worker for inputs [${from}, ${to}) failed: ${e.stack ?? String(e)}\n`);
      escapes++;
    });
    worker.on('exit', () => {
      running.delete(r);
      doneBefore += Atomics.load(head, 3);
      settle();
    });
    running.add(r);
  };

  const perJob = Math.ceil(o.count / o.jobs);
  for (let from = o.from; from < o.from + o.count; from += perJob) start(from, Math.min(o.from + o.count, from + perJob));

  const done = (): number => doneBefore + [...running].reduce((n, r) => n + Atomics.load(r.head, 3), 0);
  let lastReport = performance.now();
  const watchdog = setInterval(() => {
    const wall = performance.now();
    const cpu = cpuMs();
    for (const r of running) {
      if (!r.ready) continue;
      const index = Atomics.load(r.head, 0);
      if (index !== r.last.index) {
        r.last = { index, wall, cpu };
        continue;
      }
      if (index < 0 || wall - r.last.wall <= o.budgetMs || cpu - r.last.cpu <= o.budgetMs) continue;
      // A hang: keep the input, kill the worker, go on after the input.
      const target = TARGETS[r.head[2]!]!;
      const input = r.bytes.slice(0, r.head[1]);
      r.ready = false;
      doneBefore++;
      found(index, { target, kind: 'hang', stage: 'decode', error: `no result after ${Math.round(wall - r.last.wall)} ms (${Math.round(cpu - r.last.cpu)} ms CPU)`, input });
      const rest = index + 1;
      void r.worker.terminate().then(() => { if (rest < r.to) start(rest, r.to); });
    }
    if (wall - lastReport >= 30_000) {
      lastReport = wall;
      const n = done();
      process.stderr.write(`fuzz: ${n}/${o.count} after ${((wall - started) / 1000).toFixed(0)} s (${Math.round(n / ((wall - started) / 1000))}/s), ${escapes} escapes\n`);
    }
  }, 100);

  let interrupted = false;
  const onSignal = (): void => {
    interrupted = true;
    for (const r of running) void r.worker.terminate();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  // Workers started after a hang join `running`; wait until none is left.
  while (running.size > 0) await Promise.all([...running].map((r) => r.finished));
  clearInterval(watchdog);

  const seconds = (performance.now() - started) / 1000;
  const n = done();
  process.stderr.write(`fuzz: seed ${o.seed}, inputs [${o.from}, ${o.from + n}) in ${seconds.toFixed(1)} s (${Math.round(n / seconds)}/s, ${o.jobs} job(s))` +
    `${interrupted ? ', interrupted' : ''}; ${TARGETS.map((t) => `${t} ${totals[t].decoded} decoded/${totals[t].rejected} rejected`).join(', ')}; ` +
    `${hangs} hangs, ${mismatches} round-trip mismatches${saved.length ? `; saved ${saved.length} to ${o.corpusDir}` : ''}\n`);
  process.stdout.write(`fuzz: ${n} messages, ${escapes} escapes\n`);
  return escapes + mismatches > 0 || interrupted ? 1 : 0;
}

if (isMainThread) {
  main().then((code) => { process.exitCode = code; }, (e: unknown) => {
    process.stderr.write(`fuzz: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exitCode = 1;
  });
} else {
  runWorker(workerData as Job);
}
