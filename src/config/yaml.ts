// Configuration files as YAML: read, parsed with source positions, and turned
// into plain values for the schemas, keeping what the plain values lose: the line
// of every key path, and the keys as written (their order, and keys that are not
// strings, which a plain object cannot hold).
import { readFileSync } from 'node:fs';
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';
import { ConfigError, type ConfigIssue, type KeyPath } from './issues.js';

/** A configuration file's text; a read failure is thrown as a ConfigError. */
export function readConfigFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(path, [{ path: '', message: `cannot read: ${(err as Error).message}` }]);
  }
}

/** Parse YAML text with line positions; YAML syntax errors are thrown as one ConfigError. */
export function parseYaml(text: string, source: string): { doc: Document; lc: LineCounter } {
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  const issues: ConfigIssue[] = [];
  for (const e of doc.errors) {
    const line = e.linePos?.[0]?.line ?? (e.pos ? lc.linePos(e.pos[0]).line : undefined);
    issues.push({ path: '', message: `YAML: ${e.message.split('\n')[0]}`, ...(line !== undefined ? { line } : {}) });
  }
  if (issues.length) throw new ConfigError(source, issues);
  return { doc, lc };
}

/** Where a YAML alias (`*name`) stood: the schemas take it for no value of any kind. */
export class YamlAlias {}

/** A key of a mapping that is not a string (`1: x`, `[a]: b`), as written. */
export interface OddKey {
  /** The mapping's path. */
  path: KeyPath;
  key: unknown;
  /** Its place among the mapping's keys. */
  position: number;
}

/** A parsed document as plain values, with the way back to its lines. */
export interface YamlSource {
  /**
   * Mappings are plain objects (a key whose value is empty or null is there with
   * the value undefined, as if absent), sequences arrays (null items stay null),
   * scalars their values, aliases YamlAlias. undefined: an empty document.
   */
  value: unknown;
  /** True when the document is a null scalar (`~`) rather than nothing at all. */
  nullDocument: boolean;
  oddKeys: OddKey[];
  /** The line of a key path's value, or of the closest enclosing node that exists. */
  lineOf(p: KeyPath): number | undefined;
  /** The place of a string key among the keys of the mapping `map` (a plain object of `value`) as written. */
  keyPosition(map: object, key: string): number;
}

/** Parse (YAML errors thrown) and convert. */
export function loadYaml(text: string, source: string): YamlSource {
  const { doc, lc } = parseYaml(text, source);
  const root = doc.contents as YamlNode | null;
  const oddKeys: OddKey[] = [];
  const written = new WeakMap<object, unknown[]>();

  const plain = (n: unknown, p: KeyPath): unknown => {
    if (isScalar(n)) return n.value;
    if (isAlias(n)) return new YamlAlias();
    if (isSeq(n)) return n.items.map((it, i) => (it === null || it === undefined ? null : plain(it, [...p, i])));
    if (isMap(n)) {
      const o: Record<string, unknown> = {};
      const keys: unknown[] = [];
      n.items.forEach((pair, j) => {
        const k = isScalar(pair.key) ? pair.key.value : pair.key;
        keys.push(k);
        if (typeof k !== 'string') {
          oddKeys.push({ path: p, key: k, position: j });
          return;
        }
        const v = pair.value === null || pair.value === undefined ? null : plain(pair.value, [...p, k]);
        o[k] = v === null ? undefined : v;
      });
      written.set(o, keys);
      return o;
    }
    return n;
  };

  const node = (p: KeyPath): YamlNode | null => {
    let cur: unknown = root;
    for (const k of p) {
      if (isMap(cur)) cur = cur.get(k, true);
      else if (isSeq(cur) && typeof k === 'number') cur = cur.get(k, true);
      else return null;
    }
    return (cur as YamlNode | null) ?? null;
  };

  const nullDocument = isScalar(root) && root.value === null;
  return {
    value: root === null || nullDocument ? undefined : plain(root, []),
    nullDocument,
    oddKeys,
    lineOf(p) {
      for (let n = p.length; n >= 0; n--) {
        const at = node(p.slice(0, n));
        if (at?.range) return lc.linePos(at.range[0]).line;
      }
      return undefined;
    },
    keyPosition(map, key) {
      return written.get(map)?.indexOf(key) ?? -1;
    },
  };
}
