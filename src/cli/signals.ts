// Process signals as promises/handlers, shared by the long-running commands.

/** Resolves with the name of the first of these signals (handlers removed then). */
export function firstSignal(sigs: readonly NodeJS.Signals[]): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      for (const s of sigs) process.off(s, on);
      resolve(sig);
    };
    for (const s of sigs) process.on(s, on);
  });
}

/** Resolves with the signal name on the first SIGINT or SIGTERM. */
export function stopSignals(): Promise<string> {
  return firstSignal(['SIGINT', 'SIGTERM']);
}

/** Calls `fn` on every `sig` until the returned function is called. */
export function onSignal(sig: NodeJS.Signals, fn: () => void): () => void {
  const h = (): void => fn();
  process.on(sig, h);
  return () => { process.off(sig, h); };
}
