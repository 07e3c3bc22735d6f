// Route distinguisher and route target text in the agent's configuration: the
// RD / RT templates of an uplink (`{address}:{vni}`, ...) and the import patterns
// (`*:{vni}`, `65001:*`), and their use at run time. Pure.
import { parseRouteTarget } from '../bgp/extcommunity.js';
import { isIpv4 } from '../wire/addr.js';
import { parseRd } from '../bgp/rd.js';
import type { RouteDistinguisher, RouteTarget } from '../bgp/types.js';

/**
 * A route target pattern for import: each side is `*` (anything), `{vni}` (the
 * route's VNI; local side only) or a literal. `*:{vni}` is the default.
 */
export interface RouteTargetPattern {
  text: string;
  global: { kind: 'any' } | { kind: 'asn'; asn: number } | { kind: 'ip'; ip: string };
  local: { kind: 'any' } | { kind: 'vni' } | { kind: 'value'; value: number };
}

export interface TemplateValues {
  address: string;
  routerId: string;
  vni: number;
  localAs: number;
}

export const PLACEHOLDERS = ['{address}', '{routerId}', '{vni}', '{localAs}'] as const;

export function expandTemplate(tpl: string, v: TemplateValues): string {
  return tpl.replaceAll('{address}', v.address).replaceAll('{routerId}', v.routerId)
    .replaceAll('{vni}', String(v.vni)).replaceAll('{localAs}', String(v.localAs));
}

function splitColon(text: string): [string, string] | null {
  const i = text.lastIndexOf(':');
  if (i <= 0 || i === text.length - 1) return null;
  return [text.slice(0, i), text.slice(i + 1)];
}

function uint(text: string): number | null {
  return /^\d{1,10}$/.test(text) ? Number(text) : null;
}

/** What is wrong with an RD (`what` 'rd') or RT text, in the parser's words, or null. */
export function rdRtProblem(what: 'rd' | 'rt', text: string): string | null {
  try {
    if (what === 'rd') parseRd(text);
    else parseRouteTarget(text);
    return null;
  } catch (e) {
    // The parsers' message without its `invalid route ... "X": ` prefix.
    return (e as Error).message.replace(/^invalid route (distinguisher|target) "[^"]*": /, '');
  }
}

export function parseRouteTargetPattern(text: string): RouteTargetPattern | null {
  const parts = splitColon(text.trim());
  if (!parts) return null;
  const [g, l] = parts;
  let global: RouteTargetPattern['global'];
  if (g === '*') global = { kind: 'any' };
  else if (isIpv4(g)) global = { kind: 'ip', ip: g };
  else {
    const asn = uint(g);
    if (asn === null || asn > 0xffffffff) return null;
    global = { kind: 'asn', asn };
  }
  let local: RouteTargetPattern['local'];
  if (l === '*') local = { kind: 'any' };
  else if (l === '{vni}') local = { kind: 'vni' };
  else {
    const n = uint(l);
    if (n === null || n > 0xffffffff) return null;
    local = { kind: 'value', value: n };
  }
  return { text: text.trim(), global, local };
}

/** Does a received route target match the pattern, for a route of this VNI? */
export function matchRouteTarget(p: RouteTargetPattern, rt: RouteTarget, vni: number): boolean {
  switch (p.global.kind) {
    case 'asn':
      if (rt.form === 'ip4' || rt.asn !== p.global.asn) return false;
      break;
    case 'ip':
      if (rt.form !== 'ip4' || rt.ip !== p.global.ip) return false;
      break;
    case 'any':
      break;
  }
  switch (p.local.kind) {
    case 'any':
      return true;
    case 'vni':
      return rt.local === vni;
    case 'value':
      return rt.local === p.local.value;
  }
}

/** The RD and exported RT of one uplink for one VNI, once the uplink address is known. */
export function uplinkRdRt(
  u: { rd: string; routeTarget: string; localAs: number }, vni: number, address: string, routerId: string,
): { rd: RouteDistinguisher; routeTarget: RouteTarget } {
  const v = { address, routerId, vni, localAs: u.localAs };
  return { rd: parseRd(expandTemplate(u.rd, v)), routeTarget: parseRouteTarget(expandTemplate(u.routeTarget, v)) };
}
