// What the agent checks and sets on the host's devices at start (moved out of
// agent.ts): the vxlan devices' address family, how FDB entries are programmed
// (kernel.nexthopGroups), and neigh_suppress on the vxlan bridge ports
// (vnis[].arpSuppress), turned off again at shutdown.
import type { KernelPort } from '../kernel/port.js';
import type { Config, VniConfig } from './config.js';
import type { AgentEvent } from './events.js';

/** The agent cannot start with this host's devices; the message says what to do. */
export class StartupError extends Error {
  override name = 'StartupError';
}

export interface FdbMode {
  mode: 'nexthop-groups' | 'dst';
  reason: string;
}

/**
 * Every VNI's vxlan device must send over the uplinks' family: the kernel takes
 * only that family as an FDB `dst` (EAFNOSUPPORT otherwise), so a mismatch would
 * leave every remote MAC unprogrammed. Checked before anything is started or
 * written; a missing device is not an error here (it is reported while running).
 */
export async function checkVxlanFamilies(kernel: KernelPort, cfg: Config, problem: (message: string) => void): Promise<void> {
  const family = cfg.uplinks[0]?.family;
  if (family === undefined) return;
  const wrong: string[] = [];
  for (const v of cfg.vnis) {
    let has: 4 | 6 | null;
    try {
      has = await kernel.vxlanFamily(v.vxlan);
    } catch (e) {
      // Only a definite mismatch stops the start (e.g. EPERM says nothing about it).
      problem(`vxlan device ${v.vxlan}: could not check its address family (${String(e)}); starting anyway`);
      continue;
    }
    if (has === null || has === family) continue;
    const recreate = family === 6
      ? `ip link add ${v.vxlan} type vxlan id ${v.vni} dstport 4789 nolearning local ::  (or local <this host's IPv6 VTEP address>)`
      : `ip link add ${v.vxlan} type vxlan id ${v.vni} dstport 4789 nolearning  (no local, or local <this host's IPv4 VTEP address>)`;
    wrong.push(`vxlan device ${v.vxlan} (VNI ${v.vni}) sends over IPv${has} but the uplinks are IPv${family}: the kernel refuses ` +
      `IPv${family} VTEPs as its FDB dst (EAFNOSUPPORT). Re-create it as an IPv${family} device: ip link del ${v.vxlan}; ` +
      `${recreate}; ip link set ${v.vxlan} master ${v.bridge} up`);
  }
  if (wrong.length > 0) throw new StartupError(`${wrong.join('\n')}\nNothing was started or changed.`);
}

/**
 * kernel.nexthopGroups: 'auto' uses FDB nexthop groups when the kernel has them,
 * true requires them (`refused`: a clear error when it has not), false writes
 * per-entry dst.
 */
export async function chooseFdbMode(kernel: KernelPort, want: Config['kernel']['nexthopGroups']): Promise<FdbMode | { refused: string }> {
  if (want === false) return { mode: 'dst', reason: 'kernel.nexthopGroups is false' };
  const probe = kernel.nexthopSupport
    ? await kernel.nexthopSupport().catch((e: unknown) => ({ supported: false, reason: `probe failed: ${String(e)}` }))
    : { supported: false, reason: 'the kernel port has no nexthop support' };
  if (!probe.supported && want === true) {
    return { refused: `kernel.nexthopGroups is true, but this kernel cannot hold FDB nexthop groups (${probe.reason}); set kernel.nexthopGroups to auto or false` };
  }
  return probe.supported
    ? { mode: 'nexthop-groups', reason: want === true ? 'kernel.nexthopGroups is true' : 'kernel.nexthopGroups is auto and the kernel has FDB nexthops' }
    : { mode: 'dst', reason: `kernel.nexthopGroups is auto, but ${probe.reason}; per-entry dst` };
}

/**
 * vnis[].arpSuppress: neigh_suppress on each such VNI's vxlan bridge port, so the
 * bridge answers ARP requests and neighbour solicitations for remote endpoints from
 * the neighbour entries we write. What we turned on is turned off again at
 * shutdown; what was on already is left on. A failure is reported, not fatal: the
 * overlay still works, requests are flooded as without suppression.
 */
export class ArpSuppress {
  /** VNIs whose vxlan port we turned neigh_suppress on for (turned off again at shutdown). */
  private readonly suppressed: VniConfig[] = [];

  constructor(private readonly kernel: KernelPort, private readonly emit: (ev: AgentEvent) => void) {}

  async apply(vnis: readonly VniConfig[]): Promise<void> {
    for (const v of vnis) {
      if (!v.arpSuppress) continue;
      const fail = (reason: string): void => this.emit({ type: 'arp-suppress', vni: v.vni, device: v.vxlan, state: 'failed', reason });
      if (!this.kernel.neighSuppress || !this.kernel.setNeighSuppress) { fail('the kernel port cannot set bridge port flags'); continue; }
      try {
        const was = await this.kernel.neighSuppress(v.vxlan);
        if (was === null) { fail(`${v.vxlan} is not a bridge port (or the kernel does not report neigh_suppress); enslave it to ${v.bridge}`); continue; }
        if (was) { this.emit({ type: 'arp-suppress', vni: v.vni, device: v.vxlan, state: 'was-on', reason: 'neigh_suppress was already on; left on at stop' }); continue; }
        await this.kernel.setNeighSuppress(v.vxlan, true);
        this.suppressed.push(v);
        this.emit({ type: 'arp-suppress', vni: v.vni, device: v.vxlan, state: 'on', reason: 'vnis[].arpSuppress is true; turned off again at stop' });
      } catch (e) {
        fail(e instanceof Error ? e.message : String(e));
      }
    }
  }

  /** Turn off the neigh_suppress flags we turned on at start. */
  async restore(): Promise<void> {
    for (const v of this.suppressed.splice(0)) {
      try {
        await this.kernel.setNeighSuppress?.(v.vxlan, false);
        this.emit({ type: 'arp-suppress', vni: v.vni, device: v.vxlan, state: 'restored', reason: 'shutdown: neigh_suppress off as before start' });
      } catch (e) {
        this.emit({ type: 'arp-suppress', vni: v.vni, device: v.vxlan, state: 'failed', reason: `shutdown: ${e instanceof Error ? e.message : String(e)}` });
      }
    }
  }
}
