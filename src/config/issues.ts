// Configuration problems as every evpn-ha file reports them: one line per issue,
// `source:line: key.path: message`, all collected before one ConfigError is thrown.

/** A key path into a configuration document: `['uplinks', 1, 'localAs']`. */
export type KeyPath = Array<string | number>;

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

/** A key path as issues show it: `uplinks[1].localAs`. */
export function pathText(p: KeyPath): string {
  let s = '';
  for (const k of p) s += typeof k === 'number' ? `[${k}]` : s ? `.${k}` : k;
  return s;
}
