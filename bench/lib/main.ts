// The shared entry of the bench:* scripts: a bad argument prints the message and the
// usage and exits 2; any other error prints its stack and exits 1.

/** A bad command-line argument (exit 2 with the usage). */
export class UsageError extends Error {}

export function runBench(name: string, usage: string, main: () => Promise<void>): void {
  main().catch((e: unknown) => {
    if (e instanceof UsageError) {
      console.error(`${name}: ${e.message}\n${usage}`);
      process.exitCode = 2;
      return;
    }
    console.error(`${name}: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    process.exitCode = 1;
  });
}
