// Newline-delimited JSON framing and request validation for the control socket.
// Pure: no sockets here (server.ts and client.ts carry the bytes).
import * as v from 'valibot';
import { ipVersion, macFromAnySpelling, normalizeIp } from '../wire/addr.js';
import { CONTROL_METHODS, type ControlErrorCode, type ControlMethod, type ControlResponse } from './types.js';

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

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

// One schema per message; the first issue (in key order, unknown keys first) is the answer.

const REQUEST = v.pipe(
  v.custom<Record<string, unknown>>(isRecord, 'a request is a JSON object {id, method, params}'),
  v.transform((o) => ({ id: o['id'], method: o['method'], params: o['params'] })),
  v.object({
    id: v.custom<number | string>((x) => typeof x === 'number' || typeof x === 'string', 'id must be a number or a string'),
    method: v.pipe(
      v.custom<string>((x) => typeof x === 'string', 'method must be a string'),
      v.check((m) => (CONTROL_METHODS as readonly string[]).includes(m), (i) => `unknown method "${i.input as string}" (known: ${CONTROL_METHODS.join(', ')})`),
      v.transform((m) => m as ControlMethod),
    ),
    params: v.pipe(v.unknown(), v.transform((x) => x ?? {}), v.custom<Record<string, unknown>>(isRecord, 'params must be an object')),
  }),
);

export type ControlRequest = v.InferOutput<typeof REQUEST>;

/** The `routes` params: {vni?: 0..16777215, mac?: MAC, ip?: IPv4/IPv6}. */
/** A `mac` parameter in any of the usual spellings, as lower-case colon text. */
const MAC_PARAM = v.pipe(
  v.custom<string>((x) => typeof x === 'string' && macFromAnySpelling(x) !== null, (i) => `mac must be a MAC address like 02:00:00:00:00:87, not ${JSON.stringify(i.input ?? null)}`),
  v.transform((m) => macFromAnySpelling(m)!),
);

const FILTER_KEYS = {
  vni: v.optional(v.custom<number>((x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 0xffffff, 'vni must be an integer 0..16777215')),
  mac: v.optional(MAC_PARAM),
  ip: v.optional(v.pipe(
    v.custom<string>((x) => typeof x === 'string' && ipVersion(x) !== 0, (i) => `ip must be an IPv4 or IPv6 address, not ${JSON.stringify(i.input)}`),
    v.transform(normalizeIp),
  )),
};
const ROUTE_FILTER = v.objectWithRest(FILTER_KEYS, v.never());

export type RouteFilter = v.InferOutput<v.ObjectSchema<typeof FILTER_KEYS, undefined>>;

/** One request line -> a checked request; throws ProtocolError (with the id when it could be read). */
export function parseRequest(line: string): ControlRequest {
  let json: unknown;
  try {
    json = JSON.parse(line);
  } catch (e) {
    throw new ProtocolError('parse-error', `not JSON: ${(e as Error).message}`);
  }
  const r = v.safeParse(REQUEST, json, { abortEarly: true });
  if (r.success) return r.output;
  const issue = r.issues[0];
  const key = (issue.path?.[0] as { key?: unknown } | undefined)?.key;
  const id = isRecord(json) && (typeof json['id'] === 'number' || typeof json['id'] === 'string') ? json['id'] : null;
  const code: ControlErrorCode = key === 'params' ? 'invalid-params' : key === 'method' && issue.type === 'check' ? 'unknown-method' : 'invalid-request';
  throw new ProtocolError(code, issue.message, id);
}

/** The `routes` params; throws ProtocolError (invalid-params) on the first problem, unknown keys first. */
export function parseRouteFilter(params: Record<string, unknown>, id: number | string | null = null): RouteFilter {
  const r = v.safeParse(ROUTE_FILTER, params);
  if (r.success) return r.output as RouteFilter;
  const unknown = r.issues.find((i) => i.type === 'never');
  if (unknown) throw new ProtocolError('invalid-params', `unknown filter "${String(unknown.path?.[0]?.key)}" (vni, mac, ip)`, id);
  throw new ProtocolError('invalid-params', r.issues[0].message, id);
}

export function encodeLine(msg: ControlResponse | { event: unknown } | ControlRequest): string {
  return `${JSON.stringify(msg)}\n`;
}

const CLEAR_DUPLICATE = v.objectWithRest({
  mac: MAC_PARAM,
  vni: FILTER_KEYS.vni,
}, v.never());

/** The `clear-duplicate` params: {mac: MAC, vni?: 0..16777215}; throws ProtocolError (invalid-params), unknown keys first. */
export function parseClearDuplicate(params: Record<string, unknown>, id: number | string | null = null): { mac: string; vni: number | null } {
  const r = v.safeParse(CLEAR_DUPLICATE, params);
  if (r.success) return { mac: r.output.mac, vni: r.output.vni ?? null };
  const unknown = r.issues.find((i) => i.type === 'never');
  if (unknown) throw new ProtocolError('invalid-params', `unknown parameter "${String(unknown.path?.[0]?.key)}" (mac, vni)`, id);
  throw new ProtocolError('invalid-params', r.issues[0].message, id);
}
