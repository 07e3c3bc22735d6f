// The dirty keys of KernelSync (docs/agent.md, "Kernel sync"): keys to compare
// again, taken in the order they became dirty, a chunk at a time. Taking a chunk
// costs the chunk, not the whole set: a burst of 50,000 keys planned in chunks of
// 2,048 is 50,000 steps in all, not one walk of every dirty key per chunk.
// Nexthop keys ("nh|...") are kept apart: there are few of them (one per remote VTEP
// and group), and the flush orders them around the entries (wanted ones first,
// unwanted ones last).

/** A set of entry keys with FIFO order, and a small set of nexthop keys. */
export class DirtyKeys {
  /** Entry keys that are dirty. */
  private readonly members = new Set<string>();
  /** The order they came in; may hold keys deleted since (skipped when taken) and repeats. */
  private queue: string[] = [];
  private head = 0;
  private readonly nh = new Set<string>();

  get size(): number {
    return this.members.size + this.nh.size;
  }

  add(key: string): void {
    if (isNexthopKey(key)) { this.nh.add(key); return; }
    if (this.members.has(key)) return;
    this.members.add(key);
    this.queue.push(key);
  }

  delete(key: string): void {
    if (isNexthopKey(key)) this.nh.delete(key);
    // Left in the queue: skipped when taken (it is no member any more).
    else if (this.members.delete(key) && this.members.size === 0) this.reset();
  }

  clear(): void {
    this.members.clear();
    this.nh.clear();
    this.reset();
  }

  /** Every dirty key, removed from the set. */
  takeAll(): string[] {
    const out = [...this.nh];
    for (const k of this.members) out.push(k);
    this.clear();
    return out;
  }

  /**
   * At most `max` entry keys, oldest first, with the nexthop keys for which
   * `firstNh` holds; the other nexthop keys wait until no entry key is left.
   * Removes what it returns.
   */
  take(max: number, firstNh: (key: string) => boolean): string[] {
    if (this.size <= max) return this.takeAll();
    const out: string[] = [];
    for (const k of this.nh) if (firstNh(k)) out.push(k);
    for (const k of out) this.nh.delete(k);
    if (this.members.size === 0) {
      for (const k of this.nh) out.push(k);
      this.nh.clear();
      return out;
    }
    let n = 0;
    while (n < max && this.head < this.queue.length) {
      const k = this.queue[this.head++]!;
      // A deleted key, or a repeat of one taken (deleted and added again): skip.
      if (!this.members.delete(k)) continue;
      out.push(k);
      n++;
    }
    if (this.members.size === 0) this.reset();
    else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    return out;
  }

  private reset(): void {
    this.queue = [];
    this.head = 0;
  }
}

function isNexthopKey(key: string): boolean {
  return key.startsWith('nh|');
}
