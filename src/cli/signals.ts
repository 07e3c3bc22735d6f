// Process signals as promises/handlers, shared by the long-running commands.

/** Resolves with the signal name on the first SIGINT or SIGTERM. */
export function stopSignals(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: NodeJS.Signals): void => {
      process.off('SIGINT', on);
      process.off('SIGTERM', on);
      resolve(sig);
    };
    process.on('SIGINT', on);
    process.on('SIGTERM', on);
  });
}

/** Calls `fn` on every `sig` until the returned function is called. */
export function onSignal(sig: NodeJS.Signals, fn: () => void): () => void {
  const h = (): void => fn();
  process.on(sig, h);
  return () => { process.off(sig, h); };
}
