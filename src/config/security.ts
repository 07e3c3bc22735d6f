// Session security keys, the same in both configuration files: `password`
// (RFC 2385 TCP-MD5), `tcpAo` (an RFC 5925 master key tuple) and, on the agent's
// uplinks, `ttlSecurity` (RFC 5082 GTSM). Messages never quote a secret.
import * as v from 'valibot';
import { TCP_AO_ALGORITHMS, type TcpAoAlgorithm, type TcpAuth } from '../net/sockopt-wire.js';
import type { KeyPath } from './issues.js';
import { isMapping, mapping, orNull, show, value, type Issues } from './schema.js';

/** What the kernel offers for session authentication (src/net/sockopt.ts kernelTcpAuth). */
export interface KernelTcpAuth {
  md5: boolean;
  ao: boolean;
}

export const TCP_AO_MISSING = 'this kernel has no TCP-AO (Linux 6.7 or later built with CONFIG_TCP_AO is needed)';
export const TCP_MD5_MISSING = 'this kernel has no TCP-MD5 (CONFIG_TCP_MD5SIG is needed)';

const ALGORITHMS = Object.keys(TCP_AO_ALGORITHMS) as TcpAoAlgorithm[];

/** Secrets are text of 1..80 bytes (TCP_MD5SIG_MAXKEYLEN, TCP_AO_MAXKEYLEN in <linux/tcp.h>). */
function secret(what: string, required?: string) {
  return v.pipe(
    // Never show the value: it may be a secret written in the wrong form.
    value<string>((x) => typeof x === 'string' && x !== '', () => 'must be a non-empty string (quote it if it looks like a number or true/false)', required),
    v.check((s) => bytes(s) <= 80, (i) => `${what} is ${bytes(i.input as string)} bytes; Linux takes at most 80`),
  );
}

const bytes = (s: string): number => new TextEncoder().encode(s).length;

const keyId = (required?: string) => value<number>(
  (x) => typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= 255,
  (x) => `must be a KeyID 0..255 (RFC 5925 §3.1), not ${show(x)}`, required,
);

/** `tcpAo`: one RFC 5925 §3.1 master key tuple. */
export function tcpAoSchema() {
  return v.pipe(
    mapping({
      /** SendID: the KeyID in our segments. */
      keyId: keyId('is required (a KeyID 0..255)'),
      /** RecvID: the KeyID we expect in the peer's segments and ask for as RNextKeyID (default keyId). */
      rnextKeyId: v.optional(keyId()),
      algorithm: value<TcpAoAlgorithm>(
        (x) => typeof x === 'string' && (ALGORITHMS as string[]).includes(x),
        (x) => `must be one of ${ALGORITHMS.join(', ')}, not ${show(x)}`, `is required (${ALGORITHMS.join(', ')})`,
      ),
      /** The master key, 1..80 bytes of text. A secret: never logged or shown. */
      secret: secret('the secret', 'is required (1..80 bytes of text)'),
    }, () => 'must be a mapping with keyId, rnextKeyId (optional), algorithm, secret'),
    v.transform((a) => ({ keyId: a.keyId, rnextKeyId: a.rnextKeyId ?? a.keyId, algorithm: a.algorithm, secret: a.secret })),
  );
}

export type TcpAoConfig = v.InferOutput<ReturnType<typeof tcpAoSchema>>;

/** The `password` and `tcpAo` keys of a session's mapping (absent: null). */
export const authEntries = {
  /** RFC 2385 TCP-MD5 password; null: none. A secret: never logged or shown. */
  password: orNull(secret('the password')),
  /** RFC 5925 TCP-AO master key tuple; null: none. Exclusive with password. */
  tcpAo: orNull(tcpAoSchema()),
};

/** `ttlSecurity`: the peer is at most this many hops away (`true` = 1); null (`false`, absent): off. */
export const ttlSecurity = orNull(v.pipe(
  value<boolean | number>(
    (x) => x === true || x === false || (typeof x === 'number' && Number.isInteger(x) && x >= 1 && x <= 254),
    (x) => `must be true (1 hop), false or a number of hops 1..254 (RFC 5082), not ${show(x)}`,
  ),
  v.transform((x) => (x === true ? 1 : x === false ? null : x)),
));

/** Rules across the security keys of one session's mapping `raw` at `p`. */
export function checkAuth(raw: Record<string, unknown>, p: KeyPath, issues: Issues): void {
  const password = raw['password'];
  if (typeof password === 'string' && password !== '' && raw['tcpAo'] !== undefined) {
    issues.add([...p, 'tcpAo'], 'give either password (TCP-MD5) or tcpAo, not both (a connection is signed by one of them)');
  }
}

/**
 * Keys that need what this kernel lacks, for the sessions (`raw` mappings at their
 * paths) that ask for it; reported after every other issue.
 */
export function checkKernelAuth(sessions: Array<{ p: KeyPath; raw: Record<string, unknown> }>, kernel: () => KernelTcpAuth, issues: Issues): void {
  const need = sessions
    .map((s) => ({ ...s, md5: typeof s.raw['password'] === 'string' && s.raw['password'] !== '', ao: isMapping(s.raw['tcpAo']) }))
    .filter((n) => n.md5 || n.ao);
  if (!need.length) return;
  const k = kernel();
  for (const n of need) {
    if (n.ao && !k.ao) issues.add([...n.p, 'tcpAo'], TCP_AO_MISSING, [Infinity]);
    if (n.md5 && !k.md5) issues.add([...n.p, 'password'], TCP_MD5_MISSING, [Infinity]);
  }
}

/** The session authentication of a validated `password` / `tcpAo` pair (at most one is set). */
export function uplinkAuth(s: { password: string | null; tcpAo: TcpAoConfig | null }): TcpAuth | null {
  if (s.password !== null) return { kind: 'md5', password: s.password };
  if (s.tcpAo) return { kind: 'ao', ...s.tcpAo };
  return null;
}
