// The optional Prometheus endpoint (config key `metrics.listen`, off by default):
// GET/HEAD /metrics on HOST:PORT; everything else is 404 (405 for other methods
// on /metrics). Plain HTTP: bind it to loopback or a management address.
import { ipVersion } from '../wire/addr.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';
import type { Logger } from 'pino';

export interface MetricsSource {
  render(): Promise<string>;
  readonly contentType: string;
}

/** "127.0.0.1:9477", "[::1]:9477", ":9477" (all addresses) -> host and port. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(listen);
  if (!m) throw new RangeError(`metrics.listen must be HOST:PORT (e.g. 127.0.0.1:9477 or [::1]:9477), not "${listen}"`);
  const host = m[1] ?? m[2] ?? '';
  const port = Number(m[3]);
  if (port > 65535) throw new RangeError(`metrics.listen: port ${port} out of range`);
  if (m[1] !== undefined && ipVersion(host) !== 6) throw new RangeError(`metrics.listen: [${host}] is not an IPv6 address`);
  return { host: host === '' ? '::' : host, port };
}

export class MetricsServer {
  private server: Server | null = null;
  private readonly log: Logger | null;

  constructor(private readonly source: MetricsSource, logger?: Logger) {
    this.log = logger?.child({ component: 'metrics' }) ?? null;
  }

  /** Listen on `listen` (HOST:PORT; port 0 picks one). Resolves with the bound address. */
  async start(listen: string): Promise<AddressInfo> {
    if (this.server) throw new Error('metrics server already started');
    const { host, port } = parseListen(listen);
    const server = createServer((req, res) => { void this.handle(req, res); });
    server.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host, port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (e) => this.log?.error({ err: e }, 'metrics server error'));
    this.server = server;
    const addr = server.address() as AddressInfo;
    this.log?.info({ address: addr.address, port: addr.port }, 'metrics endpoint listening');
    return addr;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found; metrics are at /metrics\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    try {
      const body = await this.source.render();
      res.writeHead(200, { 'content-type': this.source.contentType, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      this.log?.warn({ err: e }, 'collecting metrics failed');
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`collecting metrics failed: ${(e as Error).message}\n`);
    }
  }
}
