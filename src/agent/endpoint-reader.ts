// The I/O around the local endpoint table (moved out of agent.ts; the table itself:
// endpoints.ts): a dump of the bridges' and local ports' entries, one at a time,
// again after an overflow or a change of the local ports, retried after a failure;
// kernel entry events go to the table, and those that arrive while a dump is in
// flight are replayed after it (the dump may have read the state before them).
import type { KernelPort, ObservedEntry } from '../kernel/port.js';
import type { Clock } from '../util/clock.js';
import type { EndpointTable } from './endpoints.js';
import { SerialWork } from './serial-work.js';

export interface EndpointReaderDeps {
  kernel: Pick<KernelPort, 'links' | 'dump'>;
  clock: Clock;
  /** Delay before retrying a failed dump, ms. */
  retryDelay: number;
  /** Whether a dump may run now (started, not stopping). */
  may(): boolean;
  problem(message: string): void;
}

export class EndpointReader {
  /** Entry events received while a dump is in flight (null when none is). */
  private during: Array<{ action: 'new' | 'del'; entry: ObservedEntry }> | null = null;
  private readonly work: SerialWork;

  constructor(private readonly table: EndpointTable, private readonly deps: EndpointReaderDeps) {
    this.work = new SerialWork(() => this.dumpOnce(), deps.may);
  }

  /** A kernel entry event. */
  onEntry(action: 'new' | 'del', entry: ObservedEntry): void {
    this.during?.push({ action, entry });
    this.table.onEntry(action, entry);
  }

  /** Read everything again (one dump at a time; a request during a dump reads again after it). */
  schedule(): void {
    this.work.request();
  }

  /** Read everything again and resolve when done. */
  async dump(): Promise<void> {
    this.schedule();
    while (this.work.running) await this.work.running;
  }

  /** The dumps in progress (null when idle). */
  get running(): Promise<void> | null {
    return this.work.running;
  }

  /** Read the bridges' and local ports' entries; events during the dump are replayed after it. */
  private async dumpOnce(): Promise<void> {
    const during: Array<{ action: 'new' | 'del'; entry: ObservedEntry }> = [];
    this.during = during;
    try {
      this.table.setLinks(await this.deps.kernel.links());
      const entries = await this.deps.kernel.dump(this.table.devices());
      this.table.load(entries);
      for (const ev of during) this.table.onEntry(ev.action, ev.entry);
    } catch (e) {
      this.deps.problem(`reading local endpoints: ${String(e)}`);
      this.deps.clock.setTimer(this.deps.retryDelay, () => this.schedule());
    } finally {
      this.during = null;
    }
  }
}
