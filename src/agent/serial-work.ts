// Work that runs one at a time (moved out of agent.ts, where link reads and endpoint
// dumps each had a copy): a request while it runs makes it run once more after it;
// requests in between coalesce into that one run.
export class SerialWork {
  private want = false;
  private worker: Promise<void> | null = null;

  constructor(
    private readonly run: () => Promise<void>,
    /** Whether the work may run now (checked before each run). */
    private readonly may: () => boolean,
  ) {}

  request(): void {
    this.want = true;
    if (this.worker || !this.may()) return;
    this.worker = (async () => {
      while (this.want && this.may()) {
        this.want = false;
        await this.run();
      }
    })().finally(() => { this.worker = null; });
  }

  /** The runs in progress (null when idle). */
  get running(): Promise<void> | null {
    return this.worker;
  }
}
