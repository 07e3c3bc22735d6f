// The glue between valibot schemas and evpn-ha's configuration errors.
//
// A schema checks shapes, types, ranges and single-key formats and fills in the
// defaults; its messages are ours, word for word. What a schema cannot say (rules
// across keys) is checked after it by small functions that add issues through
// Issues.add. Issues come out in the order a reader meets them: by the schema's
// key order at every level (unknown keys first), a cross-key rule where its
// anchor says; each with its key path and the YAML line of that path.
import * as v from 'valibot';
import { pathText, type ConfigIssue, type KeyPath } from './issues.js';
import { YamlAlias, type YamlSource } from './yaml.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- valibot's schema union is not needed here
export type AnySchema = v.GenericSchema<any, any>;

/** Options every configuration schema is run with: all issues, one per key (each key's checks are one `check`). */
const RUN = { abortEarly: false, abortPipeEarly: false } as const;

export function isMapping(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x) && Object.getPrototypeOf(x) === Object.prototype;
}

/** A value as the agent's messages quote it: strings in JSON quotes, collections by kind. */
export function show(x: unknown): string {
  if (typeof x === 'string') return JSON.stringify(x);
  if (Array.isArray(x)) return 'a list';
  if (isMapping(x)) return 'a mapping';
  if (x instanceof YamlAlias || (x !== null && typeof x === 'object')) return 'an object';
  return String(x);
}

/** A message for a key's check: `required` when the key is absent (or null), otherwise `invalid(value)`. */
export function says(invalid: (x: unknown) => string, required?: string): (i: v.BaseIssue<unknown>) => string {
  return (i) => (i.input === undefined && required !== undefined ? required : invalid(i.input));
}

/** A value that passes `ok`, typed T; one message for every way it can fail. */
export function value<T>(ok: (x: unknown) => boolean, invalid: (x: unknown) => string, required?: string) {
  return v.custom<T>(ok, says(invalid, required));
}

/** An optional key whose absence is null. */
export function orNull<S extends AnySchema>(s: S) {
  return v.optional(v.nullable(s), null);
}

/** Marks a rest key: its message is made once its path is known (see Issues.addSchemaIssues). */
const UNKNOWN_KEY = '\u0000unknown key';

/**
 * A mapping with these keys and no others. Every key is seen by its schema (an
 * absent key as undefined), so a required key reports its own message and an
 * optional one takes its default.
 */
export function mapping<E extends v.ObjectEntries>(
  entries: E, notMapping: (x: unknown) => string = () => 'must be a mapping', hintOrder?: readonly string[],
) {
  const keys = Object.keys(entries);
  const object = v.objectWithRest(entries, v.never(UNKNOWN_KEY));
  if (hintOrder) HINT_ORDER.set(object.entries, hintOrder);
  return v.pipe(
    v.custom<Record<string, unknown>>(isMapping, (i) => notMapping(i.input)),
    v.transform((o: Record<string, unknown>) => {
      for (const k of keys) if (!(k in o)) o[k] = undefined;
      return o;
    }),
    object,
    // The rest schema only reports unknown keys; the output has the known ones.
    v.transform((o) => o as v.InferOutput<v.ObjectSchema<E, undefined>>),
  );
}

/** Mappings whose "did you mean" candidates are tried in another order than their keys are checked in. */
const HINT_ORDER = new WeakMap<object, readonly string[]>();

/** A list of `item`; `required`: the message when it is absent. */
export function list<S extends AnySchema>(item: S, required?: string, notList: (x: unknown) => string = () => 'must be a list') {
  return v.pipe(value<unknown[]>(Array.isArray, notList, required), v.array(item));
}

// --- the schema's key order -------------------------------------------------------

function entriesOf(s: unknown): v.ObjectEntries | null {
  const o = s as { entries?: v.ObjectEntries; pipe?: unknown[]; wrapped?: unknown } | null;
  if (!o) return null;
  if (o.entries) return o.entries;
  if (o.pipe) for (const item of o.pipe) {
    const e = entriesOf(item);
    if (e) return e;
  }
  return o.wrapped ? entriesOf(o.wrapped) : null;
}

function itemOf(s: unknown): unknown {
  const o = s as { item?: unknown; pipe?: unknown[]; wrapped?: unknown; type?: string } | null;
  if (!o) return null;
  if (o.type === 'array' && o.item) return o.item;
  if (o.pipe) for (const item of o.pipe) {
    const e = itemOf(item);
    if (e) return e;
  }
  return o.wrapped ? itemOf(o.wrapped) : null;
}

/** Position of each step of a path in the schema: a key's index among its mapping's keys (-1: unknown), an item's index. */
function rank(root: AnySchema, p: KeyPath): number[] {
  const out: number[] = [];
  let s: unknown = root;
  for (const k of p) {
    if (typeof k === 'number') {
      out.push(k);
      s = itemOf(s);
    } else {
      const e = entriesOf(s);
      const i = e ? Object.keys(e).indexOf(k) : -1;
      out.push(i);
      s = i >= 0 ? e![k] : null;
    }
  }
  return out;
}

/** The keys a mapping at this path allows, in the order hints try them; null when the path is no mapping of the schema. */
export function keysAt(root: AnySchema, p: KeyPath): readonly string[] | null {
  let s: unknown = root;
  for (const k of p) s = typeof k === 'number' ? itemOf(s) : entriesOf(s)?.[k] ?? null;
  const e = entriesOf(s);
  return e ? HINT_ORDER.get(e) ?? Object.keys(e) : null;
}

function before(a: number[], b: number[]): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length - b.length;
}

// --- issues -------------------------------------------------------------------------

/** How a validator words the keys it does not know. */
export interface KeyWords {
  /** An unknown string key at `p` (the mapping's path plus the key). */
  unknown(key: string, allowed: readonly string[]): string;
  /** A key that is not a string: where it is reported and how. */
  odd(mapPath: KeyPath, key: unknown, allowed: readonly string[]): { path: KeyPath; message: string };
}

/** The issues of one document, kept in reading order. */
export class Issues {
  private readonly list: Array<{ path: KeyPath; message: string; order: number[] }> = [];
  private readonly bad: string[] = [];

  constructor(private readonly schema: AnySchema, private readonly src: YamlSource, private readonly words: KeyWords) {}

  /**
   * A rule across keys, reported at `path`; it is read right after everything
   * reported under `anchor` (default: the path itself), or, with `phase` -1,
   * right before it.
   */
  add(path: KeyPath, message: string, anchor: KeyPath = path, phase = Infinity): void {
    this.list.push({ path, message, order: [...rank(this.schema, anchor), phase] });
  }

  /** Whether the schema rejected the value at p or anything under it. */
  invalid(p: KeyPath): boolean {
    const t = pathText(p);
    return this.bad.some((b) => b === t || b.startsWith(`${t}.`) || b.startsWith(`${t}[`));
  }

  get count(): number {
    return this.list.length;
  }

  /** Run the schema over `input` (default: the document), record its issues, and give its output. */
  run<S extends AnySchema>(schema: S, input: unknown = this.src.value): v.SafeParseResult<S> {
    for (const k of this.src.oddKeys) {
      const allowed = keysAt(this.schema, k.path);
      if (!allowed) continue; // inside something the schema does not read
      const { path, message } = this.words.odd(k.path, k.key, allowed);
      this.list.push({ path, message, order: [...rank(this.schema, k.path), -1, k.position] });
    }
    const r = v.safeParse(schema, input, RUN);
    for (const i of r.issues ?? []) {
      const p: KeyPath = (i.path ?? []).map((s) => (s as { key: string | number }).key);
      this.bad.push(pathText(p));
      if (i.message === UNKNOWN_KEY) {
        const key = p[p.length - 1] as string;
        const map = (i.path![i.path!.length - 1] as { input: object }).input;
        const allowed = keysAt(this.schema, p.slice(0, -1)) ?? [];
        this.list.push({ path: p, message: this.words.unknown(key, allowed), order: [...rank(this.schema, p), this.src.keyPosition(map, key)] });
      } else {
        this.list.push({ path: p, message: i.message, order: [...rank(this.schema, p), 0] });
      }
    }
    return r;
  }

  /** Every issue with its line, in reading order. */
  done(): ConfigIssue[] {
    return this.list
      .map((it, n) => ({ ...it, n }))
      .sort((a, b) => before(a.order, b.order) || a.n - b.n)
      .map(({ path, message }) => {
        const line = this.src.lineOf(path);
        return { path: pathText(path), message, ...(line !== undefined ? { line } : {}) };
      });
  }
}

// --- "did you mean" -------------------------------------------------------------------

/** The closest allowed key within edit distance 2 (or one that differs only in case). */
export function closest(key: string, allowed: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = 3;
  for (const a of allowed) {
    if (a.toLowerCase() === key.toLowerCase()) return a;
    const d = levenshtein(key, a);
    if (d < bestD) {
      bestD = d;
      best = a;
    }
  }
  return best;
}

function levenshtein(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}
