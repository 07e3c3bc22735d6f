// The agent's YAML configuration: read, checked against its schema
// (config-schema.ts) and the rules across keys (config-checks.ts), and given its
// defaults, so that everything downstream works with a complete, typed Config.
// Every problem is collected (not just the first) and reported with its key path
// and line, e.g. `agent.yaml:14: uplinks[1].localAs: must be an integer 1..4294967295`.
import type * as v from 'valibot';
import { ConfigError, type KeyPath } from '../config/issues.js';
import { closest, Issues, isMapping } from '../config/schema.js';
import { checkKernelAuth, type KernelTcpAuth } from '../config/security.js';
import { loadYaml, readConfigFile } from '../config/yaml.js';
import { checkAgent } from './config-checks.js';
import { AGENT_SCHEMA, type Config } from './config-schema.js';

export { ConfigError, pathText, type ConfigIssue, type KeyPath } from '../config/issues.js';
export { parseYaml, readConfigFile } from '../config/yaml.js';
export {
  TCP_AO_MISSING, TCP_MD5_MISSING, uplinkAuth, type KernelTcpAuth, type TcpAoConfig,
} from '../config/security.js';
export {
  DEFAULTS, parseListen,
  type BfdConfig, type Config, type KernelConfig, type LogLevel, type UplinkConfig, type VniConfig, type VtepProbeConfig,
} from './config-schema.js';
export {
  expandTemplate, matchRouteTarget, parseRouteTargetPattern, uplinkRdRt, type RouteTargetPattern, type TemplateValues,
} from './route-target.js';

/** How the agent's file words the keys it does not know. */
const KEY_WORDS = {
  unknown: (key: string, allowed: readonly string[]) => {
    const hint = closest(key, allowed);
    return `unknown key${hint ? ` (did you mean ${hint}?)` : ''}`;
  },
  odd: (p: KeyPath, key: unknown) => ({ path: p, message: `keys must be strings, found ${String(key)}` }),
};

/**
 * Read, parse and validate a file. `kernel` (called only when a key needs it)
 * says whether this kernel has TCP-MD5 / TCP-AO; a key it lacks is a config error.
 */
export function loadConfig(path: string, kernel?: () => KernelTcpAuth): Config {
  return parseConfig(readConfigFile(path), path, kernel ? { kernel } : {});
}

/** Parse and validate; throws ConfigError with every issue found. */
export function parseConfig(text: string, source = '<string>', opts: { kernel?: () => KernelTcpAuth } = {}): Config {
  const src = loadYaml(text, source);
  const issues = new Issues(AGENT_SCHEMA, src, KEY_WORDS);
  const root = src.value;
  if (root === undefined) issues.add([], 'the configuration is empty (vnis and uplinks are required)');
  else if (!isMapping(root)) issues.add([], 'must be a mapping');
  if (issues.count) throw new ConfigError(source, issues.done());

  const r = issues.run(AGENT_SCHEMA);
  const raw = root as Record<string, unknown>;
  checkAgent(raw, issues);
  if (opts.kernel) {
    const uplinks = Array.isArray(raw['uplinks']) ? (raw['uplinks'] as unknown[]) : [];
    const sessions = uplinks.flatMap((u, i) => (isMapping(u) ? [{ p: ['uplinks', i], raw: u }] : []));
    checkKernelAuth(sessions, opts.kernel, issues);
  }
  if (issues.count || !r.success) throw new ConfigError(source, issues.done());
  return { source, ...(r.output as v.InferOutput<typeof AGENT_SCHEMA>) };
}
