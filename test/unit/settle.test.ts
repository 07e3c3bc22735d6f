// The wait helpers of test/lib/settle.ts fail when their deadline passes (the
// deadlines here are a few milliseconds: the only real time this file spends).
import t from 'tap';
import { EventEmitter } from 'node:events';
import { once, waitFor, within } from '../lib/settle.js';

t.test('waitFor: resolves when the condition holds, rejects with what it waited for at the deadline', async (t) => {
  let n = 0;
  await waitFor(() => ++n === 3, { what: 'three polls' });
  t.equal(n, 3, 'polled once per turn of the event loop');
  await t.rejects(waitFor(() => false, { what: 'never', timeoutMs: 5 }), { message: 'timed out after 5 ms waiting for never' });
});

t.test('within: the promise\'s value, or a rejection at the deadline', async (t) => {
  t.equal(await within(Promise.resolve(7), { what: 'seven' }), 7);
  await t.rejects(within(Promise.reject(new Error('own')), { what: 'x' }), { message: 'own' }, 'its own rejection passes through');
  // The deadline timer does not keep the process alive; this one does, meanwhile.
  const alive = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(alive));
  await t.rejects(within(new Promise(() => undefined), { what: 'nothing', timeoutMs: 5 }), { message: 'timed out after 5 ms waiting for nothing' });
});

t.test('once: the event\'s arguments, or a rejection naming the event', async (t) => {
  const e = new EventEmitter();
  const got = once(e, 'ping');
  e.emit('ping', 1, 'two');
  t.same(await got, [1, 'two']);
  const alive = setInterval(() => undefined, 1000);
  t.teardown(() => clearInterval(alive));
  await t.rejects(once(e, 'pong', { timeoutMs: 5 }), { message: "timed out after 5 ms waiting for event 'pong'" });
});
