// What every evpn-ha configuration file shares (the agent's, src/agent/config.ts,
// and the reflector's, src/reflector/config.ts): reading the file, YAML with line
// positions, issues reported as `file:line: key.path: message` in one ConfigError,
// key paths, and the session security keys (password, tcpAo, ttlSecurity).
import { readFileSync } from 'node:fs';
import { isMap, isSeq, LineCounter, parseDocument } from 'yaml';
import { BFD_DEFAULTS } from '../bfd/session.js';
import { TCP_AO_ALGORITHMS, type TcpAoAlgorithm, type TcpAuth } from '../net/sockopt-wire.js';

/** Session defaults both configuration files share (docs/configuration.md, docs/reflector.md). */
export const SESSION_DEFAULTS = {
  /** Seconds. */
  holdTime: 9,
  bfd: { ...BFD_DEFAULTS },
} as const;

/** `uplinks[].tcpAo` (and the reflector's): one RFC 5925 §3.1 master key tuple. */
export interface TcpAoConfig {
  /** SendID: the KeyID in our segments, 0..255. */
  keyId: number;
  /** RecvID: the KeyID we expect in the peer's segments and ask for as RNextKeyID (default keyId). */
  rnextKeyId: number;
  algorithm: TcpAoAlgorithm;
  /** The master key, 1..80 bytes of text. A secret: never logged or shown. */
  secret: string;
}

/** What the kernel offers for session authentication (src/net/sockopt.ts kernelTcpAuth). */
export interface KernelTcpAuth {
  md5: boolean;
  ao: boolean;
}

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';

export interface ConfigIssue {
  /** Key path such as `uplinks[1].localAs`; '' for the document itself. */
  path: string;
  message: string;
  /** 1-based line in the source, when known. */
  line?: number;
}

/** Every problem found in one configuration. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(readonly source: string, readonly issues: ConfigIssue[]) {
    super(`${source}: ${issues.length} error${issues.length === 1 ? '' : 's'}\n${issues.map((i) => `  ${formatIssue(source, i)}`).join('\n')}`);
  }

  /** One line per issue: `source:line: path: message`. */
  lines(): string[] {
    return this.issues.map((i) => formatIssue(this.source, i));
  }
}

function formatIssue(source: string, i: ConfigIssue): string {
  const where = i.line === undefined ? source : `${source}:${i.line}`;
  return i.path ? `${where}: ${i.path}: ${i.message}` : `${where}: ${i.message}`;
}

/** A configuration file's text; a read failure is thrown as a ConfigError. Shared with the reflector. */
export function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ path: '', message: `cannot read: ${(err as Error).message}` }]);
  }
}

/**
 * Parse YAML text with line positions; YAML syntax errors are thrown as one
 * ConfigError. Shared by every configuration file evpn-ha reads.
 */
export function parseYaml(text: string, source: string): { doc: ReturnType<typeof parseDocument>; lc: LineCounter; issues: ConfigIssue[] } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const issues: ConfigIssue[] = [];
  for (const e of doc.errors) {
    const line = e.linePos?.[0]?.line ?? (e.pos ? lc.linePos(e.pos[0]).line : undefined);
    issues.push({ path: '', message: `YAML: ${e.message.split('\n')[0]}`, ...(line !== undefined ? { line } : {}) });
  }
  if (issues.length) throw new ConfigError(source, issues);
  return { doc, lc, issues };
}

export const TCP_AO_MISSING = 'this kernel has no TCP-AO (Linux 6.7 or later built with CONFIG_TCP_AO is needed)';
export const TCP_MD5_MISSING = 'this kernel has no TCP-MD5 (CONFIG_TCP_MD5SIG is needed)';

/** A key path into the YAML document: `['uplinks', 1, 'localAs']`. */
export type KeyPath = Array<string | number>;
type Path = KeyPath;

/** A key path as issues show it: `uplinks[1].localAs`. */
export function pathText(p: Path): string {
  let s = '';
  for (const k of p) s += typeof k === 'number' ? `[${k}]` : s ? `.${k}` : k;
  return s;
}

/** The session authentication of a validated `password` / `tcpAo` pair (at most one is set). */
export function uplinkAuth(s: { password: string | null; tcpAo: TcpAoConfig | null }): TcpAuth | null {
  if (s.password !== null) return { kind: 'md5', password: s.password };
  if (s.tcpAo) return { kind: 'ao', ...s.tcpAo };
  return null;
}

/** What securityChecks needs from a validator, with key paths relative to the section. */
export interface SecurityCheckContext {
  value(p: Path): unknown;
  isMapping(p: Path): boolean;
  /** Reports unknown keys; false when p is absent or not a mapping (reported). */
  mapKeys(p: Path, allowed: readonly string[]): boolean;
  err(p: Path, message: string): void;
}

/** Secrets are text of 1..80 bytes (TCP_MD5SIG_MAXKEYLEN, TCP_AO_MAXKEYLEN in <linux/tcp.h>). */
function secret(c: SecurityCheckContext, p: Path, what: string): string | null {
  const v = c.value(p);
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v === '') {
    // Never show the value: it may be a secret written in the wrong form.
    c.err(p, `must be a non-empty string (quote it if it looks like a number or true/false)`);
    return null;
  }
  const n = new TextEncoder().encode(v).length;
  if (n > 80) c.err(p, `${what} is ${n} bytes; Linux takes at most 80`);
  return v;
}

/**
 * `password`, `tcpAo` and `ttlSecurity` of a session (an uplink, a listen range,
 * a reflector neighbor), shared by both configuration files.
 */
export function securityChecks(c: SecurityCheckContext): { password: string | null; tcpAo: TcpAoConfig | null; ttlSecurity: number | null } {
  const password = secret(c, ['password'], 'the password');
  let tcpAo: TcpAoConfig | null = null;
  const ao = c.value(['tcpAo']);
  if (ao !== undefined && ao !== null) {
    if (!c.isMapping(['tcpAo'])) c.err(['tcpAo'], 'must be a mapping with keyId, rnextKeyId (optional), algorithm, secret');
    else if (c.mapKeys(['tcpAo'], ['keyId', 'rnextKeyId', 'algorithm', 'secret'])) {
      const id = (q: string, def?: number): number => {
        const v = c.value(['tcpAo', q]);
        if (v === undefined || v === null) {
          if (def === undefined) c.err(['tcpAo', q], 'is required (a KeyID 0..255)');
          return def ?? 0;
        }
        if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
          c.err(['tcpAo', q], `must be a KeyID 0..255 (RFC 5925 §3.1), not ${show(v)}`);
          return def ?? 0;
        }
        return v;
      };
      const keyId = id('keyId');
      const rnextKeyId = id('rnextKeyId', keyId);
      const algs = Object.keys(TCP_AO_ALGORITHMS) as TcpAoAlgorithm[];
      const alg = c.value(['tcpAo', 'algorithm']);
      let algorithm: TcpAoAlgorithm = 'hmac-sha-256';
      if (alg === undefined || alg === null) c.err(['tcpAo', 'algorithm'], `is required (${algs.join(', ')})`);
      else if (typeof alg === 'string' && (algs as string[]).includes(alg)) algorithm = alg as TcpAoAlgorithm;
      else c.err(['tcpAo', 'algorithm'], `must be one of ${algs.join(', ')}, not ${show(alg)}`);
      const s = secret(c, ['tcpAo', 'secret'], 'the secret');
      if (s === null && (c.value(['tcpAo', 'secret']) ?? null) === null) c.err(['tcpAo', 'secret'], 'is required (1..80 bytes of text)');
      tcpAo = { keyId, rnextKeyId, algorithm, secret: s ?? '' };
    }
  }
  if (password !== null && ao !== undefined && ao !== null) {
    c.err(['tcpAo'], 'give either password (TCP-MD5) or tcpAo, not both (a connection is signed by one of them)');
  }
  let ttlSecurity: number | null = null;
  const ts = c.value(['ttlSecurity']);
  if (ts === true) ttlSecurity = 1;
  else if (typeof ts === 'number' && Number.isInteger(ts) && ts >= 1 && ts <= 254) ttlSecurity = ts;
  else if (ts !== undefined && ts !== null && ts !== false) {
    c.err(['ttlSecurity'], `must be true (1 hop), false or a number of hops 1..254 (RFC 5082), not ${show(ts)}`);
  }
  return { password, tcpAo, ttlSecurity };
}

/** A value as an issue shows it. */
export function show(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (v !== null && typeof v === 'object') return isSeq(v) ? 'a list' : isMap(v) ? 'a mapping' : 'an object';
  return String(v);
}
