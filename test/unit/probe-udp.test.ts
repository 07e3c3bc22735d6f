// UdpProbeTransport on loopback (no root, no namespaces): the datagram goes to the
// VXLAN port unchanged and from the requested source address; the receive socket
// hands payloads and sender addresses to the handler; errors do not throw.
import t from 'tap';
import dgram from 'node:dgram';
import { once, within } from '../lib/settle.js'; // events.once with a deadline
import { UdpProbeTransport } from '../../src/probe/udp.js';

// A deadline for the whole file, behind the deadline of each wait: awaits such
// as stop() fail the run in time instead of at tap's 600 s.
t.setTimeout(120_000);

async function udpListener(): Promise<{ sock: dgram.Socket; port: number }> {
  const sock = dgram.createSocket('udp4');
  sock.bind(0, '127.0.0.1');
  await once(sock, 'listening');
  return { sock, port: sock.address().port };
}

t.test('send, receive, close', async (t) => {
  const fakeVxlan = await udpListener();
  const tr = await UdpProbeTransport.open({ listenAddress: '127.0.0.1', probePort: 0, vxlanPort: fakeVxlan.port });
  t.teardown(() => { tr.close(); fakeVxlan.sock.close(); });
  // Two sends before the per-address socket is bound: queued, then sent in order.
  tr.send('127.0.0.1', '127.0.0.1', Uint8Array.from([1, 2, 3]));
  tr.send('127.0.0.1', '127.0.0.1', Uint8Array.from([4]));
  const [m1, r1] = (await once(fakeVxlan.sock, 'message')) as [Buffer, dgram.RemoteInfo];
  const [m2, r2] = (await once(fakeVxlan.sock, 'message')) as [Buffer, dgram.RemoteInfo];
  t.same([...m1], [1, 2, 3]);
  t.same([...m2], [4]);
  t.equal(r1.address, '127.0.0.1');
  t.equal(r1.port, r2.port, 'one socket per local address');
  t.not(r1.port, tr.port);

  const got = new Promise<[Uint8Array, string]>((resolve) => tr.onReceive((p, from) => resolve([p, from])));
  fakeVxlan.sock.send(Uint8Array.from([9, 8]), tr.port, '127.0.0.1');
  const [payload, from] = await within(got, { what: 'the probe at the transport' });
  t.same([...payload], [9, 8]);
  t.equal(from, '127.0.0.1');

  // A local address we do not have: no throw, the socket is dropped and retried later.
  t.doesNotThrow(() => tr.send('192.0.2.1', '127.0.0.1', Uint8Array.from([5])));
  await new Promise((r) => setImmediate(r));
  tr.close();
  tr.close();
  t.doesNotThrow(() => tr.send('127.0.0.1', '127.0.0.1', Uint8Array.from([6])), 'send after close is a no-op');
});

t.test('open fails cleanly when the port is taken', async (t) => {
  const other = await udpListener();
  t.teardown(() => other.sock.close());
  await t.rejects(UdpProbeTransport.open({ listenAddress: '127.0.0.1', probePort: other.port }), { code: 'EADDRINUSE' });
});

t.test('an IPv6 local VTEP sends over udp6 (VXLAN in IPv6)', async (t) => {
  const sock = dgram.createSocket('udp6');
  sock.bind(0, '::1');
  await once(sock, 'listening');
  const tr = await UdpProbeTransport.open({ listenAddress: '127.0.0.1', probePort: 0, vxlanPort: sock.address().port });
  t.teardown(() => { tr.close(); sock.close(); });
  tr.send('::1', '::1', Uint8Array.from([7, 7]));
  const [m, r] = (await once(sock, 'message')) as [Buffer, dgram.RemoteInfo];
  t.same([...m], [7, 7]);
  t.equal(r.family, 'IPv6');
  t.equal(r.address, '::1', 'from the requested IPv6 source address');
});
