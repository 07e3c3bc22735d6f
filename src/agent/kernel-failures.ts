// How KernelSync reports failed kernel writes (moved out of kernel-sync.ts): one
// problem line per kind of failure (operation and error code) and batch, naming the
// first entry and how many more failed the same way. Pure: text made at the edge.
import { describeEntry, type KernelOp } from '../kernel/port.js';

export interface OpFailure {
  op: KernelOp;
  code: string;
  message: string;
}

/**
 * The problem lines for a batch's new failures (a key failing the same way again is
 * not passed in). `retryDelay` (ms): when the writes are retried; null: not (shutdown).
 */
export function failureProblems(failures: readonly OpFailure[], retryDelay: number | null): string[] {
  const kinds = new Map<string, { n: number; first: OpFailure }>();
  for (const f of failures) {
    const k = `${f.op.op}|${f.code}`;
    const g = kinds.get(k);
    if (g) g.n++;
    else kinds.set(k, { n: 1, first: f });
  }
  const out: string[] = [];
  for (const { n, first: f } of kinds.values()) {
    const more = n > 1 ? ` (and ${n - 1} more ${f.op.op}s failing the same way)` : '';
    const retry = retryDelay === null ? '' : `; retrying every ${retryDelay / 1000} s`;
    out.push(`kernel ${f.op.op} ${describeEntry(f.op.entry)}: ${f.code} ${f.message}${more}${retry}`);
  }
  return out;
}
