// One line per kernel event, for comparing event streams in tests of the
// KernelPort implementations (FakeKernel in test/unit, RtnetlinkPort in test/netns).
import type { KernelEvent } from '../../src/kernel/port.js';

/** `new neigh 192.168.0.87`, `new nexthop ID`, `del fdb bridge MAC`, `new fdb vxlan MAC DST`, `new link NAME`, `new addr IFNAME ADDRESS`. */
export function describeKernelEvent(ev: KernelEvent): string {
  if (ev.type === 'entry') {
    const e = ev.entry;
    if (e.kind === 'nexthop') return `${ev.action} nexthop ${e.id}`;
    return e.kind === 'neigh' ? `${ev.action} neigh ${e.ip}` : `${ev.action} fdb ${e.table} ${e.mac}${e.dst ? ` ${e.dst}` : ''}`;
  }
  if (ev.type === 'link') return `${ev.action} link ${ev.link.name}`;
  if (ev.type === 'addr') return `${ev.action} addr ${ev.ifname} ${ev.address.address}`;
  return ev.type;
}
