// src/lab/netns.ts: a process killed by SIGTERM/SIGINT still deletes the
// namespaces its Labs created (a timed-out test run must not leave any behind),
// and re-raises the signal so its exit status tells what happened.
import t from 'tap';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { netnsSkipReason, sh, waitFor } from '../lib/netns.js';
import { ROOT, cleanEnv, ensureBuilt } from '../lib/evpnha.js';

const skip = netnsSkipReason();
if (skip) {
  t.plan(0, skip);
} else {
  ensureBuilt();
  const listNs = (): string[] => sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);

  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    t.test(`${sig}: namespaces deleted, signal re-raised`, async (t) => {
      const script = `import { Lab } from ${JSON.stringify(`${ROOT}build/src/lab/netns.js`)};
const lab = new Lab('sig');
console.log(lab.ns('a'));
console.log(lab.ns('b'));
setInterval(() => {}, 1000);`;
      const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: cleanEnv() });
      t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
      const names: string[] = [];
      createInterface({ input: child.stdout! }).on('line', (l) => names.push(l.trim()));
      await waitFor(() => names.length === 2, 10_000, 'the child made two namespaces');
      t.ok(names.every((n) => listNs().includes(n)), `created: ${names.join(', ')}`);
      const exited = once(child, 'exit');
      child.kill(sig);
      const [code, signal] = await exited as [number | null, NodeJS.Signals | null];
      t.equal(signal, sig, `the child died of ${sig} (code ${String(code)})`);
      const left = listNs().filter((n) => names.includes(n));
      for (const n of left) sh('ip', ['netns', 'del', n]);
      t.same(left, [], 'no namespace left behind');
    });
  }
}

// Another listener on the signal (tap, signal-exit, a program's own handler) must
// not stop the cleanup; the process then ends the way that listener decides.
if (!skip) {
  t.test('with another SIGTERM listener: namespaces still deleted', async (t) => {
    const script = `import { Lab } from ${JSON.stringify(`${ROOT}build/src/lab/netns.js`)};
process.on('SIGTERM', () => setTimeout(() => process.exit(7), 200));
const lab = new Lab('sig2');
console.log(lab.ns('a'));
setInterval(() => {}, 1000);`;
    const child = spawn('env', ['-u', 'NODE_OPTIONS', process.execPath, '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'], env: cleanEnv() });
    t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
    const names: string[] = [];
    createInterface({ input: child.stdout! }).on('line', (l) => names.push(l.trim()));
    await waitFor(() => names.length === 1, 10_000, 'the child made a namespace');
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const [code] = await exited as [number | null];
    t.equal(code, 7, 'the other listener decided the exit');
    const listNs = (): string[] => sh('ip', ['netns', 'list']).split('\n').map((l) => l.split(' ')[0]!).filter(Boolean);
    const left = listNs().filter((n) => names.includes(n));
    for (const n of left) sh('ip', ['netns', 'del', n]);
    t.same(left, [], 'no namespace left behind');
  });
}
