// The kernel TCP BgpTransport (src/bgp/tcp.ts) on loopback: connect with a bound
// source address, accept, bytes both ways, orderly close, a refused connect,
// IPv6 and a dual-stack listener's unmapped addresses, a TCP-MD5 key (when the
// kernel has it), and one BgpSession pair over it. Everything else about
// sessions runs on the in-memory transport (session.test.ts). Every wait has a
// deadline (test/lib/settle.ts).
import t from 'tap';
import { createServer, type AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { BgpSession } from '../../src/bgp/session.js';
import { tcpTransport } from '../../src/bgp/tcp.js';
import type { BgpConnection, ConnectionHandlers, ListenRequest, TransportAddress } from '../../src/bgp/transport.js';
import { kernelTcpAuth } from '../../src/net/sockopt.js';
import { once, waitFor, within } from '../lib/settle.js';
import '../../src/evpn/nlri.js'; // registers the L2VPN/EVPN NLRI codec with bgp/ (RFC 7432 §7)

t.setTimeout(60_000);

interface Ends {
  events: string[];
  bytes: Buffer[];
  handlers: ConnectionHandlers;
}

function recorder(): Ends {
  const e: Ends = { events: [], bytes: [], handlers: null! };
  e.handlers = {
    connected: () => e.events.push('connected'),
    data: (d) => { e.events.push('data'); e.bytes.push(Buffer.from(d)); },
    closed: (err) => e.events.push(`closed ${err}`),
  };
  return e;
}

/** Listen; resolves with the bound address and a promise of the first accepted connection. */
async function listen(req: ListenRequest): Promise<{ address: TransportAddress; accepted: Promise<BgpConnection>; close(): Promise<void> }> {
  let accept!: (c: BgpConnection) => void;
  const accepted = new Promise<BgpConnection>((r) => { accept = r; });
  let listener!: ReturnType<ReturnType<typeof tcpTransport>['listen']>;
  const address = await within(new Promise<TransportAddress>((resolve, reject) => {
    listener = tcpTransport().listen(req, { connection: accept, listening: resolve, error: reject });
  }), { what: `listening on ${req.host}` });
  return { address, accepted: within(accepted, { what: 'a connection' }), close: () => listener.close() };
}

t.test('IPv4: connect from a bound source address, bytes both ways, orderly close', async (t) => {
  const l = await listen({ host: '127.0.0.1', port: 0, security: null });
  t.equal(l.address.address, '127.0.0.1');
  const client = recorder();
  const c = tcpTransport().connect({ peerAddress: '127.0.0.1', peerPort: l.address.port, localAddress: '127.0.0.2', security: null }, client.handlers);
  t.equal(c.remoteAddress, '127.0.0.1');
  const s = await l.accepted;
  t.equal(s.remoteAddress, '127.0.0.2', 'the source address was bound');
  t.same(s.local(), { address: '127.0.0.1', port: l.address.port });
  const server = recorder();
  s.attach(server.handlers);
  await waitFor(() => client.events.includes('connected'), { what: 'connected' });
  t.equal(c.local()?.address, '127.0.0.2');
  c.write(Uint8Array.from([1, 2, 3]));
  await waitFor(() => server.bytes.length > 0, { what: 'bytes at the server' });
  t.same([...Buffer.concat(server.bytes)], [1, 2, 3]);
  s.write(Uint8Array.from([4]));
  s.end();
  await waitFor(() => client.events.some((e) => e.startsWith('closed')) && server.events.some((e) => e.startsWith('closed')),
    { what: 'both ends closed' });
  t.same([...Buffer.concat(client.bytes)], [4], 'written before end() arrives');
  t.same(client.events, ['connected', 'data', 'closed null']);
  t.same(server.events.at(-1), 'closed null');
  t.equal(c.destroyed, true);
  await l.close();
});

t.test('a refused connect reports ECONNREFUSED', async (t) => {
  const srv = createServer();
  srv.listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const port = (srv.address() as AddressInfo).port;
  await new Promise<void>((r) => srv.close(() => r()));
  const client = recorder();
  tcpTransport().connect({ peerAddress: '127.0.0.1', peerPort: port, security: null }, client.handlers);
  await waitFor(() => client.events.length > 0, { what: 'the connect to fail' });
  t.same(client.events, ['closed ECONNREFUSED']);
});

const hasV6 = Object.values(networkInterfaces()).flat().some((i) => i?.address === '::1');

t.test('IPv6, and a dual-stack listener reports IPv4 peers unmapped', { skip: hasV6 ? false : 'no ::1' }, async (t) => {
  const l = await listen({ host: '::', port: 0, security: null });
  const v6 = recorder();
  tcpTransport().connect({ peerAddress: '::1', peerPort: l.address.port, localAddress: '::1', security: null }, v6.handlers);
  const s6 = await l.accepted;
  t.equal(s6.remoteAddress, '::1');
  s6.destroy();
  const l4 = await listen({ host: '::', port: 0, security: null });
  tcpTransport().connect({ peerAddress: '127.0.0.1', peerPort: l4.address.port, security: null }, recorder().handlers);
  const s4 = await l4.accepted;
  t.equal(s4.remoteAddress, '127.0.0.1', 'not ::ffff:127.0.0.1');
  t.equal(s4.local()?.address, '127.0.0.1');
  s4.destroy();
  await Promise.all([l.close(), l4.close()]);
});

t.test('TCP-MD5 (RFC 2385) on both ends: the keys are set before listen and connect', { skip: kernelTcpAuth().md5 ? false : 'no TCP-MD5 in this kernel' }, async (t) => {
  const auth = { kind: 'md5', password: 'evpn-ha' } as const;
  const l = await listen({ host: '127.0.0.1', port: 0, security: { keys: [{ address: '127.0.0.3', auth }], ttlSecurity: 1 } });
  const client = recorder();
  tcpTransport().connect({ peerAddress: '127.0.0.1', peerPort: l.address.port, localAddress: '127.0.0.3',
    security: { keys: [{ address: '127.0.0.1', auth }], ttlSecurity: 1 } }, client.handlers);
  const s = await l.accepted;
  t.equal(s.remoteAddress, '127.0.0.3');
  await waitFor(() => client.events.includes('connected'), { what: 'the signed connection' });
  s.destroy();
  await l.close();
});

t.test('two BgpSessions establish over loopback TCP', async (t) => {
  const A = new BgpSession({ transport: tcpTransport(), peerAddress: '127.0.0.5', localAddress: '127.0.0.4', localAs: 65001, peerAs: 65001,
    routerId: '10.0.0.1', passive: true, listen: { port: 0 } });
  A.start();
  const [addr] = (await once(A, 'listening')) as [TransportAddress];
  const B = new BgpSession({ transport: tcpTransport(), peerAddress: '127.0.0.4', peerPort: addr.port, localAddress: '127.0.0.5',
    localAs: 65001, peerAs: 65001, routerId: '10.0.0.2', connectRetry: { min: 10, max: 50 } });
  const est = Promise.all([once(A, 'established'), once(B, 'established')]);
  B.start();
  await est;
  t.equal(A.state, 'Established');
  const down = once(A, 'down');
  await B.stop('test');
  const [d] = await down;
  t.match(d, { notification: { code: 6, subcode: 2, direction: 'received' } });
  await A.stop();
});
