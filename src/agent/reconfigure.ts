// Reconfiguration planning (moved out of agent.ts): what of a new configuration
// can be applied to the running agent and what needs a restart. Agent.reconfigure()
// applies the plan to its uplinks, sessions and probers.
import type { Config, UplinkConfig } from './config.js';

/** Deep equality of two config values (plain JSON data). */
export const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b);

/** Uplink keys whose change restarts that uplink's session. */
export const SESSION_KEYS: Array<keyof UplinkConfig> = [
  'interface', 'address', 'peer', 'peerPort', 'passive', 'localAs', 'peerAs', 'holdTime', 'keepalive', 'connectRetry',
  'bfd', 'gracefulRestart', 'password', 'tcpAo', 'ttlSecurity',
];

export interface ReloadPlan {
  /** The configuration to run with (restart-only keys kept at their old values); null: apply nothing. */
  cfg: Config | null;
  applied: string[];
  restartRequired: string[];
}

/**
 * The config-level part of a reload: the keys that need a restart (vnis,
 * kernel.protocol, control, stateDir, metrics, logLevel; all of the file when the
 * underlay family changes), and the global keys applied (kernel, routerId).
 */
export function planReload(old: Config, next: Config): ReloadPlan {
  const applied: string[] = [];
  const restartRequired: string[] = [];
  // Another underlay family needs vxlan devices of that family, checked at start
  // (checkVxlanFamilies): nothing of this file is applied without a restart.
  const family = (c: Config): number | undefined => c.uplinks[0]?.family;
  if (family(old) !== undefined && family(next) !== undefined && family(old) !== family(next)) {
    return { cfg: null, applied, restartRequired: [`uplinks (underlay IPv${String(family(old))} -> IPv${String(family(next))})`] };
  }
  if (!same(old.vnis, next.vnis)) restartRequired.push('vnis');
  if (old.kernel.protocol !== next.kernel.protocol) restartRequired.push('kernel.protocol');
  if (!same(old.control, next.control)) restartRequired.push('control');
  if (old.stateDir !== next.stateDir) restartRequired.push('stateDir');
  if (!same(old.metrics, next.metrics)) restartRequired.push('metrics');
  if (old.logLevel !== next.logLevel) restartRequired.push('logLevel');
  const cfg: Config = {
    ...next, vnis: old.vnis, control: old.control, stateDir: old.stateDir, metrics: old.metrics, logLevel: old.logLevel,
    kernel: { ...next.kernel, protocol: old.kernel.protocol },
  };
  if (!same(old.kernel, cfg.kernel)) applied.push('kernel');
  if (old.routerId !== cfg.routerId) applied.push('routerId');
  return { cfg, applied, restartRequired };
}

/**
 * What a changed uplink needs: its session restarted (a changed session key, or new
 * import RTs the session cannot take by a ROUTE-REFRESH, RFC 2918: the new import
 * policy must see every route again), its paths re-decided (localPref), and the
 * lines for `applied`. `refresh` asks the session for the refresh (false: it cannot
 * now); it is asked only when nothing else restarts the session.
 */
export function planUplink(prev: UplinkConfig, u: UplinkConfig, refresh: () => boolean): { applied: string[]; restart: boolean; localPref: boolean } {
  const applied: string[] = [];
  const changed = SESSION_KEYS.filter((k) => !same(prev[k], u[k]));
  if (!same(prev.importRouteTargets, u.importRouteTargets)) {
    if (changed.length === 0 && refresh()) applied.push(`uplinks.${u.name}: importRouteTargets (route refresh)`);
    else changed.push('importRouteTargets');
  }
  if (changed.length) applied.push(`uplinks.${u.name}: ${changed.join(', ')} (session restarted)`);
  const localPref = prev.localPref !== u.localPref;
  if (localPref) applied.push(`uplinks.${u.name}.localPref ${prev.localPref} -> ${u.localPref}`);
  if (prev.rd !== u.rd || prev.routeTarget !== u.routeTarget) applied.push(`uplinks.${u.name}: rd/routeTarget (re-announced)`);
  return { applied, restart: changed.length > 0, localPref };
}
