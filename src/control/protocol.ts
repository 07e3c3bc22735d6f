// Newline-delimited JSON framing and request validation for the control socket.
// Pure: no sockets here (server.ts and client.ts carry the bytes).
import { isIP } from 'node:net';
import { macFromAnySpelling, normalizeIp } from '../wire/addr.js';
import {
  CONTROL_METHODS, type ControlErrorCode, type ControlMethod, type ControlRequest, type ControlResponse, type RouteFilter,
} from './types.js';

/** Longest accepted line (a request, or a response on the client side). */
export const MAX_REQUEST_LINE = 64 * 1024;

/** Splits a byte stream into lines (without the '\n'); a line longer than `max` is an error. */
export class LineSplitter {
  private buf = '';
  private readonly decoder = new TextDecoder('utf-8');
  constructor(private readonly max: number) {}

  /** The complete lines in `chunk` (and before it); throws RangeError when a line grows past `max`. */
  push(chunk: Uint8Array): string[] {
    this.buf += this.decoder.decode(chunk, { stream: true });
    const parts = this.buf.split('\n');
    this.buf = parts.pop() ?? '';
    if (this.buf.length > this.max || parts.some((l) => l.length > this.max)) throw new RangeError(`line longer than ${this.max} bytes`);
    return parts.filter((l) => l.trim() !== '');
  }
}

export class ProtocolError extends Error {
  constructor(readonly code: ControlErrorCode, message: string, readonly id: number | string | null = null) {
    super(message);
    this.name = 'ProtocolError';
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** One request line -> a checked request; throws ProtocolError (with the id when it could be read). */
export function parseRequest(line: string): ControlRequest {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    throw new ProtocolError('parse-error', `not JSON: ${(e as Error).message}`);
  }
  if (!isRecord(v)) throw new ProtocolError('invalid-request', 'a request is a JSON object {id, method, params}');
  const id = v['id'];
  if (typeof id !== 'number' && typeof id !== 'string') throw new ProtocolError('invalid-request', 'id must be a number or a string');
  const method = v['method'];
  if (typeof method !== 'string') throw new ProtocolError('invalid-request', 'method must be a string', id);
  if (!(CONTROL_METHODS as readonly string[]).includes(method)) {
    throw new ProtocolError('unknown-method', `unknown method "${method}" (known: ${CONTROL_METHODS.join(', ')})`, id);
  }
  const params = v['params'] ?? {};
  if (!isRecord(params)) throw new ProtocolError('invalid-params', 'params must be an object', id);
  return { id, method: method as ControlMethod, params };
}

/** Lower-case colon form of a MAC in any of the usual spellings, or null. */
export function normalizeMacText(s: string): string | null {
  return macFromAnySpelling(s);
}

/** The `routes` params: {vni?: 0..16777215, mac?: MAC, ip?: IPv4/IPv6}. */
export function parseRouteFilter(params: Record<string, unknown>, id: number | string | null = null): RouteFilter {
  const f: RouteFilter = {};
  for (const k of Object.keys(params)) {
    if (k !== 'vni' && k !== 'mac' && k !== 'ip') throw new ProtocolError('invalid-params', `unknown filter "${k}" (vni, mac, ip)`, id);
  }
  const vni = params['vni'];
  if (vni !== undefined) {
    if (typeof vni !== 'number' || !Number.isInteger(vni) || vni < 0 || vni > 0xffffff) {
      throw new ProtocolError('invalid-params', 'vni must be an integer 0..16777215', id);
    }
    f.vni = vni;
  }
  const mac = params['mac'];
  if (mac !== undefined) {
    const m = typeof mac === 'string' ? normalizeMacText(mac) : null;
    if (m === null) throw new ProtocolError('invalid-params', `mac must be a MAC address like 02:00:00:00:00:87, not ${JSON.stringify(mac)}`, id);
    f.mac = m;
  }
  const ip = params['ip'];
  if (ip !== undefined) {
    if (typeof ip !== 'string' || isIP(ip) === 0) throw new ProtocolError('invalid-params', `ip must be an IPv4 or IPv6 address, not ${JSON.stringify(ip)}`, id);
    f.ip = normalizeIp(ip);
  }
  return f;
}

export function encodeLine(v: ControlResponse | { event: unknown } | ControlRequest): string {
  return `${JSON.stringify(v)}\n`;
}
