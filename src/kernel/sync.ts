// One reconcile pass against a KernelPort: dump the managed devices, plan, apply.
// A one-shot helper (tests, tools): the agent keeps the kernel in step
// incrementally, per dirty key, in agent/kernel-sync.ts.
import { describeEntry, type KernelEntry, type KernelOpResult, type KernelPort } from './port.js';
import { plan, type DiffOptions, type Plan } from './reconcile.js';

export interface SyncResult {
  plan: Plan;
  results: KernelOpResult[];
  /** Results that failed, for logging: `replace fdb <mac> dev vxlan0 dst ..: ENODEV`. */
  failures: string[];
}

/**
 * Bring the kernel to `desired` on `devices` (e.g. [bridge, vxlan]). Dump errors
 * reject; operation errors are reported in the result, never thrown.
 */
export async function syncKernel(
  port: KernelPort,
  desired: KernelEntry[],
  devices: string[],
  opts: DiffOptions = {},
): Promise<SyncResult> {
  const observed = await port.dump(devices);
  const p = plan(desired, observed, opts);
  const results = p.ops.length ? await port.apply(p.ops) : [];
  const failures = results.flatMap((r) => (r.ok ? [] : [`${r.op.op} ${describeEntry(r.op.entry)}: ${r.code}`]));
  return { plan: p, results, failures };
}
