// The rules of the agent's configuration that span several keys, checked after
// the schema (config-schema.ts) on the file's plain values. A key the schema
// rejected is read as the value the rest of the file is then checked with (its
// default, or the smallest value allowed), so that every problem is reported once.
import { isIpv4, isIpv6Text } from '../wire/addr.js';
import { checkAuth } from '../config/security.js';
import { isMapping, show, type Issues } from '../config/schema.js';
import type { KeyPath } from '../config/issues.js';
import { DEFAULTS, LOG_LEVELS } from './config-schema.js';
import { expandTemplate, PLACEHOLDERS, rdRtProblem } from './route-target.js';

type Raw = Record<string, unknown>;

/** The text of a string key as the checks read it ('' when it is not a non-empty string). */
const text = (x: unknown): string => (typeof x === 'string' ? x : '');

/** Every cross-key rule of one agent file (`root`: the document's mapping). */
export function checkAgent(root: Raw, issues: Issues): void {
  /** The value at p when the schema took it, else `fallback`. */
  const good = <T>(p: KeyPath, x: unknown, fallback: T): T => (x === undefined || issues.invalid(p) ? fallback : (x as T));

  const vnis = items(root['vnis']).map(({ raw, i }) => ({
    i, vni: good(['vnis', i, 'vni'], raw['vni'], 1), bridge: text(raw['bridge']), vxlan: text(raw['vxlan']),
  }));
  unique(vnis, 'vnis', 'vni', issues);
  unique(vnis, 'vnis', 'bridge', issues);
  unique(vnis, 'vnis', 'vxlan', issues);

  const uplinks = items(root['uplinks']).map(({ raw, i }) => {
    const p: KeyPath = ['uplinks', i];
    const peer = text(raw['peer']);
    const family: 4 | 6 = isIpv6Text(peer) ? 6 : 4;
    const u = {
      i, raw, peer, family, name: text(raw['name']),
      interface: raw['interface'] === undefined ? null : text(raw['interface']),
      address: raw['address'] === undefined ? null : text(raw['address']),
    };
    checkUplink(u, p, vnis.map((x) => x.vni), good, issues);
    return u;
  });
  unique(uplinks, 'uplinks', 'name', issues);
  unique(uplinks, 'uplinks', 'interface', issues);
  unique(uplinks, 'uplinks', 'address', issues);
  // One family for all uplinks: a VNI has one vxlan device, and a vxlan device
  // carries one family (an IPv4 one refuses IPv6 FDB destinations: EAFNOSUPPORT).
  const first = uplinks[0];
  for (const u of uplinks) {
    if (first && u.family !== first.family && u.peer) {
      issues.add(['uplinks', u.i, 'peer'], `is IPv${u.family} but uplink ${first.name} is IPv${first.family}: all uplinks must use one address family ` +
        `(a VNI's vxlan device sends over one family); mixed IPv4/IPv6 underlays are not supported`, ['uplinks', Infinity]);
    }
  }
  if (root['routerId'] === undefined && first?.family === 6) {
    issues.add(['uplinks'], 'IPv6 uplinks need routerId (the BGP identifier is a 32-bit value written as an IPv4 address, RFC 6286): add routerId: A.B.C.D', ['uplinks', Infinity]);
  }

  const level = root['logLevel'];
  if (level !== undefined && (typeof level !== 'string' || level === '')) {
    // A logLevel that is no string is also no level (an empty one).
    issues.add(['logLevel'], `must be one of ${LOG_LEVELS.join(', ')}, not ""`);
  }
}

/** The items of a list that are mappings, with their index in the file. */
function items(list: unknown): Array<{ raw: Raw; i: number }> {
  if (!Array.isArray(list)) return [];
  return list.flatMap((raw: unknown, i) => (isMapping(raw) ? [{ raw, i }] : []));
}

function checkUplink(
  u: { raw: Raw; peer: string; family: 4 | 6; address: string | null },
  p: KeyPath, vnis: number[], good: <T>(p: KeyPath, x: unknown, fallback: T) => T, issues: Issues,
): void {
  const { raw, family, address } = u;
  const hasIf = raw['interface'] !== undefined;
  const hasAddr = raw['address'] !== undefined;
  if (hasIf === hasAddr) issues.add(p, hasIf ? 'give either interface or address, not both' : 'interface or address is required', [...p, 'interface'], -1);
  if (address && (isIpv6Text(address) ? 6 : 4) !== family && (isIpv4(address) || isIpv6Text(address))) {
    issues.add([...p, 'address'], `must be an IPv${family} address like peer ${u.peer} (the session and the next hop use the peer's family), not ${show(address)}`, [...p, 'peer']);
  }

  const holdTime = good([...p, 'holdTime'], raw['holdTime'], DEFAULTS.holdTime as number);
  if (holdTime === 1 || holdTime === 2) issues.add([...p, 'holdTime'], 'must be 0 or at least 3 seconds (RFC 4271 §4.2)');
  const keepalive = good([...p, 'keepalive'], raw['keepalive'], holdTime === 0 ? 0 : Math.max(1, Math.floor(holdTime / 3)));
  if (holdTime === 0 && keepalive !== 0) issues.add([...p, 'keepalive'], 'must be 0 when holdTime is 0');
  if (holdTime >= 3 && (keepalive < 1 || keepalive > Math.floor(holdTime / 3))) {
    issues.add([...p, 'keepalive'], `must be 1..${Math.floor(holdTime / 3)} (at most a third of holdTime ${holdTime})`);
  }

  const localAs = good([...p, 'localAs'], raw['localAs'], 1);
  const rd = good([...p, 'rd'], raw['rd'], family === 6 ? DEFAULTS.rdIpv6 : DEFAULTS.rd);
  const routeTarget = good([...p, 'routeTarget'], raw['routeTarget'], DEFAULTS.routeTarget as string);
  const t = { vnis, localAs, address, family, anchor: [...p, 'routeTarget'] };
  checkTemplate([...p, 'rd'], rd, 'rd', t, issues);
  checkTemplate([...p, 'routeTarget'], routeTarget, 'rt', t, issues);

  checkAuth(raw, p, issues);
}

/** Check an RD / RT template by expanding it for every VNI with the address (or a stand-in). */
function checkTemplate(
  p: KeyPath, tpl: string, what: 'rd' | 'rt',
  t: { vnis: number[]; localAs: number; address: string | null; family: 4 | 6; anchor: KeyPath }, issues: Issues,
): void {
  const bad = tpl.match(/\{[^}]*\}/g)?.filter((x) => !(PLACEHOLDERS as readonly string[]).includes(x));
  if (bad?.length) {
    issues.add(p, `unknown placeholder ${bad[0]} (use {address}, {routerId}, {vni}, {localAs})`, t.anchor);
    return;
  }
  if (t.family === 6 && tpl.includes('{address}')) {
    // RFC 4364 §4.2 (RD) and RFC 4360 §3.2 (route target): the administrator field
    // holds an AS number or an IPv4 address, never an IPv6 one.
    issues.add(p, `cannot use {address} on an IPv6 uplink (an ${what === 'rd' ? 'RD' : 'route target'} holds an AS number or an IPv4 address); use {routerId}`, t.anchor);
    return;
  }
  if (t.vnis.length > 1 && !tpl.includes('{vni}')) {
    issues.add(p, 'must contain {vni} when several VNIs are configured (each VNI needs its own)', t.anchor);
    return;
  }
  for (const vni of t.vnis) {
    const expanded = expandTemplate(tpl, { address: t.address ?? '192.0.2.1', routerId: '192.0.2.1', vni, localAs: t.localAs });
    const problem = rdRtProblem(what, expanded);
    if (problem) {
      issues.add(p, `${show(tpl)} gives ${show(expanded)} for VNI ${vni}: ${problem}`, t.anchor);
      return;
    }
  }
}

/** A value given twice in a list, reported at the later item, after the list's own issues. */
function unique<T extends { i: number }>(list: T[], name: string, key: keyof T & string, issues: Issues): void {
  const seen = new Map<unknown, number>();
  for (const it of list) {
    const x = it[key];
    if (x === '' || x === null) continue;
    const first = seen.get(x);
    if (first !== undefined) issues.add([name, it.i, key], `duplicate ${key} ${show(x)} (also in ${name}[${first}])`, [name, Infinity]);
    else seen.set(x, it.i);
  }
}
