// The /metrics HTTP endpoint on 127.0.0.1 with an ephemeral port.
import { request } from 'node:http';
import t from 'tap';
import { AgentMetrics } from '../../src/metrics/metrics.js';
import { MetricsServer, parseListen } from '../../src/metrics/server.js';

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

t.test('parseListen', async (t) => {
  t.same(parseListen('127.0.0.1:9477'), { host: '127.0.0.1', port: 9477 });
  t.same(parseListen('[::1]:9477'), { host: '::1', port: 9477 });
  t.same(parseListen(':9477'), { host: '::', port: 9477 });
  t.same(parseListen('localhost:0'), { host: 'localhost', port: 0 });
  t.throws(() => parseListen('9477'), /HOST:PORT/);
  t.throws(() => parseListen('::1:9477'), /HOST:PORT/);
  t.throws(() => parseListen('127.0.0.1:70000'), /out of range/);
  t.throws(() => parseListen('[nope]:1'), /not an IPv6/);
});

t.test('GET /metrics, HEAD, 404 elsewhere, 405 for other methods, 500 when collecting fails', async (t) => {
  const metrics = new AgentMetrics({ defaultMetrics: false, version: 'test' });
  const server = new MetricsServer(metrics);
  const addr = await server.start('127.0.0.1:0');
  t.teardown(() => server.close());
  t.equal(addr.address, '127.0.0.1');
  t.ok(addr.port > 0);
  const r = await get(addr.port, '/metrics');
  t.equal(r.status, 200);
  t.match(r.type, /^text\/plain; version=0\.0\.4/);
  t.match(r.body, /^evpn_ha_build_info\{version="test"\} 1$/m);
  t.match(r.body, /# TYPE evpn_ha_failovers_total counter/);
  const q = await get(addr.port, '/metrics?x=1');
  t.equal(q.status, 200, 'query string ignored');
  const h = await get(addr.port, '/metrics', 'HEAD');
  t.equal(h.status, 200);
  t.equal(h.body, '');
  t.equal((await get(addr.port, '/')).status, 404);
  t.equal((await get(addr.port, '/metrics/x')).status, 404);
  t.equal((await get(addr.port, '/metrics', 'POST')).status, 405);
  const failing = new MetricsServer({ contentType: 'text/plain', render: () => Promise.reject(new Error('boom')) });
  const fa = await failing.start('127.0.0.1:0');
  const f = await get(fa.port, '/metrics');
  t.equal(f.status, 500);
  t.match(f.body, /boom/);
  await failing.close();
  await t.rejects(server.start('127.0.0.1:0'), /already started/);
});

t.test('a port in use is an error at start; close is idempotent', async (t) => {
  const a = new MetricsServer(new AgentMetrics({ defaultMetrics: false }));
  const addr = await a.start('127.0.0.1:0');
  const b = new MetricsServer(new AgentMetrics({ defaultMetrics: false }));
  await t.rejects(b.start(`127.0.0.1:${addr.port}`), { code: 'EADDRINUSE' });
  await a.close();
  await a.close();
  await b.close();
});
