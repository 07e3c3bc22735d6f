// V8 flags for the agent's child processes (issue 9 §5). V8 sizes its young
// generation (two semi-spaces, up to 16 MiB each by default on 64-bit) for
// throughput; every MiB of it is RSS once a burst has touched it, and V8 keeps it.
//
// The agent itself would gain most (--max-semi-space-size=4: 37-55 MiB less RSS
// after a 50,000-route install in bench:agent), but V8 reads the flag only at
// start-up, from the command line or NODE_OPTIONS, and the single executable's code
// cache is rejected (a warning at every start, a slower start) when the flags
// differ from those it was built with: docs/performance.md "The agent's memory".

/**
 * V8 flags for the agent's child processes (the BFD process, the event pump): a
 * young generation of 2 x 1 MiB instead of V8's 2 x 16 MiB; they allocate little
 * and keep less. Placed after the agent's own execArgv, so they win. In the single
 * executable the arguments are the program's and these have no effect (its children
 * run with the agent's NODE_OPTIONS, if any).
 */
export const CHILD_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=1'];
