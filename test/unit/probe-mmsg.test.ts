// MmsgProbeTransport on loopback (real sockets, no root): the datagrams queued in
// one turn leave in one sendmmsg per local socket, byte for byte, from the local
// address asked for; one poll() reads everything waiting with recvmmsg; a bad
// datagram in a batch does not stop the rest; IPv6 local VTEPs; clean failures.
import t from 'tap';
import dgram from 'node:dgram';
import { once, waitFor } from '../lib/settle.js';
import { MmsgProbeTransport, RX_SLOTS, SEND_SLOTS, mmsgAvailable } from '../../src/probe/mmsg.js';
import { openProbeTransport } from '../../src/probe/open.js';
import { UdpProbeTransport } from '../../src/probe/udp.js';

t.setTimeout(120_000);

if (!mmsgAvailable()) {
  t.comment('sendmmsg/recvmmsg through koffi not available here: the dgram fallback is used');
  t.test('open() falls back to node:dgram', async (t) => {
    const tr = await openProbeTransport({ listenAddress: '127.0.0.1', probePort: 0 });
    t.teardown(() => tr.close());
    t.ok(tr instanceof UdpProbeTransport);
  });
} else {
  async function sink(type: 'udp4' | 'udp6' = 'udp4'): Promise<{ sock: dgram.Socket; port: number; got: Array<[Buffer, dgram.RemoteInfo]> }> {
    const sock = dgram.createSocket(type);
    sock.bind(0, type === 'udp4' ? '127.0.0.1' : '::1');
    await once(sock, 'listening');
    const got: Array<[Buffer, dgram.RemoteInfo]> = [];
    sock.on('message', (m, r) => got.push([m, r]));
    return { sock, port: sock.address().port, got };
  }

  const datagram = (i: number, len = 60): Uint8Array => Uint8Array.from({ length: len }, (_, k) => (i * 7 + k) & 0xff);

  t.test('open() picks the batched transport here', async (t) => {
    const tr = await openProbeTransport({ listenAddress: '127.0.0.1', probePort: 0 });
    t.teardown(() => tr.close());
    t.ok(tr instanceof MmsgProbeTransport);
    t.ok(tr.port > 0);
  });

  t.test('N datagrams queued in one turn: one sendmmsg, all N received, bytes intact', async (t) => {
    const s = await sink();
    const tr = MmsgProbeTransport.open({ listenAddress: '127.0.0.1', probePort: 0, vxlanPort: s.port });
    t.teardown(() => { tr.close(); s.sock.close(); });
    const N = 200;
    for (let i = 0; i < N; i++) tr.send('127.0.0.1', '127.0.0.1', datagram(i, 40 + (i % 50)));
    t.equal(tr.stats.sendCalls, 0, 'queued, not yet sent');
    await waitFor(() => s.got.length === N, { what: `${N} datagrams at the sink` });
    t.equal(tr.stats.sendCalls, 1, 'one system call for all of them');
    t.equal(tr.stats.sent, N);
    for (let i = 0; i < N; i++) t.same([...s.got[i]![0]], [...datagram(i, 40 + (i % 50))], `datagram ${i} byte for byte, in order`);
    t.ok(s.got.every(([, r]) => r.address === '127.0.0.1' && r.port === s.got[0]![1].port), 'all from the one socket of that local address');
    t.not(s.got[0]![1].port, tr.port, 'not the receive socket');

    // More than the slots in one turn: a full batch leaves at once, then the rest.
    // (Not all reach the sink: a burst of 612 overflows its receive buffer.)
    const M = SEND_SLOTS + 100;
    for (let i = 0; i < M; i++) tr.send('127.0.0.1', '127.0.0.1', datagram(i));
    t.equal(tr.stats.sendCalls, 2, 'the full batch at once');
    await waitFor(() => tr.stats.sent === N + M, { what: `${M} datagrams sent` });
    t.equal(tr.stats.sendCalls, 3, 'the rest at the end of the turn');
  });

  t.test('two local addresses: one sendmmsg each per turn', async (t) => {
    const s = await sink();
    const tr = MmsgProbeTransport.open({ listenAddress: '127.0.0.1', probePort: 0, vxlanPort: s.port });
    t.teardown(() => { tr.close(); s.sock.close(); });
    for (let i = 0; i < 20; i++) tr.send(i % 2 ? '127.0.0.2' : '127.0.0.1', '127.0.0.1', datagram(i));
    await waitFor(() => s.got.length === 20, { what: '20 datagrams' });
    t.equal(tr.stats.sendCalls, 2);
    t.same(new Set(s.got.map(([, r]) => r.address)), new Set(['127.0.0.1', '127.0.0.2']), 'each from its local address');
  });

  t.test('a datagram the kernel refuses does not stop the rest of the batch', async (t) => {
    const s = await sink();
    const tr = MmsgProbeTransport.open({ listenAddress: '127.0.0.1', probePort: 0, vxlanPort: s.port });
    t.teardown(() => { tr.close(); s.sock.close(); });
    tr.send('127.0.0.1', '127.0.0.1', datagram(1));
    // Broadcast without SO_BROADCAST: EACCES for this one (sendmmsg(2) reports it on the next call).
    tr.send('127.0.0.1', '255.255.255.255', datagram(2));
    tr.send('127.0.0.1', '127.0.0.1', datagram(3));
    t.doesNotThrow(() => tr.flush());
    await waitFor(() => s.got.length === 2, { what: 'the two good datagrams' });
    t.same(s.got.map(([m]) => m[0]), [datagram(1)[0], datagram(3)[0]]);
    t.equal(tr.stats.sent, 2);
  });

  t.test('one poll() reads every datagram waiting, in few recvmmsg calls', async (t) => {
    const tr = MmsgProbeTransport.open({ listenAddress: '127.0.0.1', probePort: 0 });
    const src = dgram.createSocket('udp4');
    src.bind(0, '127.0.0.1');
    await once(src, 'listening');
    t.teardown(() => { tr.close(); src.close(); });
    const got: Array<[number[], string]> = [];
    tr.onReceive((p, from) => got.push([[...p], from]));
    tr.poll();
    t.equal(got.length, 0, 'nothing yet');
    const N = RX_SLOTS + 44;
    let acked = 0;
    for (let i = 0; i < N; i++) src.send(datagram(i, 30), tr.port, '127.0.0.1', () => { acked++; });
    await waitFor(() => acked === N, { what: 'the sends' });
    const calls = tr.stats.recvCalls;
    tr.poll();
    t.equal(got.length, N, 'all of them in one poll');
    t.equal(tr.stats.recvCalls - calls, 2, `${RX_SLOTS} per call`);
    for (let i = 0; i < N; i++) t.same(got[i]![0], [...datagram(i, 30)], `datagram ${i}`);
    t.ok(got.every(([, from]) => from === '127.0.0.1'), 'sender address');
    tr.poll();
    t.equal(got.length, N, 'drained');
  });

  t.test('an IPv6 local VTEP sends over an IPv6 socket', async (t) => {
    const s = await sink('udp6');
    const tr = MmsgProbeTransport.open({ listenAddress: '127.0.0.1', probePort: 0, vxlanPort: s.port });
    t.teardown(() => { tr.close(); s.sock.close(); });
    tr.send('::1', '::1', Uint8Array.from([7, 7]));
    tr.send('127.0.0.1', '127.0.0.1', Uint8Array.from([4]));
    await waitFor(() => s.got.length === 1, { what: 'the IPv6 datagram' });
    t.same([...s.got[0]![0]], [7, 7]);
    t.equal(s.got[0]![1].family, 'IPv6');
    t.equal(s.got[0]![1].address, '::1', 'from the requested IPv6 source address');
  });

  t.test('failures: port taken, missing local address, after close', async (t) => {
    const other = await sink();
    t.teardown(() => other.sock.close());
    t.throws(() => MmsgProbeTransport.open({ listenAddress: '127.0.0.1', probePort: other.port }), { code: 'EADDRINUSE' });
    await t.rejects(openProbeTransport({ listenAddress: '127.0.0.1', probePort: other.port }), { code: 'EADDRINUSE' });
    const tr = MmsgProbeTransport.open({ listenAddress: '127.0.0.1', probePort: 0, vxlanPort: other.port });
    // A local address we do not have: no throw, nothing sent, retried later.
    t.doesNotThrow(() => tr.send('192.0.2.1', '127.0.0.1', Uint8Array.from([5])));
    t.doesNotThrow(() => tr.send('192.0.2.1', '127.0.0.1', Uint8Array.from([5])));
    tr.send('127.0.0.1', '127.0.0.1', Uint8Array.from([6]));
    await waitFor(() => other.got.length === 1, { what: 'the good datagram' });
    t.same([...other.got[0]![0]], [6]);
    t.doesNotThrow(() => tr.send('127.0.0.1', '127.0.0.1', new Uint8Array(4096)), 'too long: not sent, no throw');
    tr.close();
    tr.close();
    t.doesNotThrow(() => tr.send('127.0.0.1', '127.0.0.1', Uint8Array.from([6])), 'send after close is a no-op');
    t.doesNotThrow(() => tr.poll(), 'poll after close is a no-op');
  });
}
