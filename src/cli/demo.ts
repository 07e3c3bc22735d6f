// `evpn-ha demo [--containers] [--ipv6] [--keep] [--reflector evpn-ha|frr] [--fault uplink|path] [--prefix P] [--fault-ms N]`, `evpn-ha demo --teardown P`:
// the two-network failover demo in network namespaces (src/lab/demo.ts,
// docs/demo.md). Needs root and ip/bridge/ping/iptables: otherwise one line and
// exit 1. SIGINT/SIGTERM during the run kill what it started (by PID) and delete
// its namespaces, then exit 130/143.
import type { Writable } from 'node:stream';
import type { ArgumentsCamelCase, Argv, CommandModule } from 'yargs';
import { Demo, demoPrerequisite, PREFIX_RE, teardownDemo, type FaultKind, type ReflectorKind } from '../lab/demo.js';
import { UsageError } from './format.js';

export interface DemoIo {
  stdout: Writable;
  stderr: Writable;
}

interface DemoArgs {
  keep: boolean;
  prefix: string | undefined;
  teardown: string | undefined;
  'fault-ms': string | undefined;
  reflector: string;
  fault: string;
  ipv6: boolean;
  containers: boolean;
}

export async function runDemoCommand(a: DemoArgs, io: DemoIo): Promise<number> {
  if (a.prefix !== undefined && !PREFIX_RE.test(a.prefix)) throw new UsageError(`--prefix needs 2-12 letters and digits starting with a letter, got "${a.prefix}"`);
  let faultMs: number | undefined;
  if (a['fault-ms'] !== undefined) {
    if (!/^\d+$/.test(a['fault-ms']) || Number(a['fault-ms']) < 1000 || Number(a['fault-ms']) > 600_000) {
      throw new UsageError(`--fault-ms needs an integer 1000..600000, got "${a['fault-ms']}"`);
    }
    faultMs = Number(a['fault-ms']);
  }
  if (a.reflector !== 'evpn-ha' && a.reflector !== 'frr') throw new UsageError(`--reflector is evpn-ha or frr, got "${a.reflector}"`);
  const reflector: ReflectorKind = a.reflector;
  if (a.fault !== 'uplink' && a.fault !== 'path') throw new UsageError(`--fault is uplink or path, got "${a.fault}"`);
  const fault: FaultKind = a.fault;
  if (a.containers && fault !== 'uplink') throw new UsageError('--fault does not combine with --containers (the container demo moves a container instead of breaking a network)');
  if (a.containers && faultMs !== undefined) throw new UsageError('--fault-ms does not combine with --containers (the container demo moves a container instead of breaking a network)');
  const pre = a.teardown !== undefined ? demoPrerequisite('evpn-ha') : demoPrerequisite(reflector, a.ipv6);
  if (a.teardown !== undefined) {
    if (!PREFIX_RE.test(a.teardown)) throw new UsageError(`--teardown needs the demo's prefix (2-12 letters and digits), got "${a.teardown}"`);
    if (pre) { io.stderr.write(`evpn-ha demo: ${pre}\n`); return 1; }
    const gone = await teardownDemo(a.teardown);
    io.stdout.write(gone.length ? `deleted ${gone.join(' ')}\n` : `no namespaces named ${a.teardown}-*\n`);
    return 0;
  }
  if (pre) { io.stderr.write(`evpn-ha demo: ${pre}\n`); return 1; }
  const demo = new Demo({
    out: io.stdout, keep: a.keep, reflector, fault, ipv6: a.ipv6, containers: a.containers,
    ...(a.prefix !== undefined ? { prefix: a.prefix } : {}),
    ...(faultMs !== undefined ? { faultMs } : {}),
  });
  const onSignal = (sig: NodeJS.Signals): void => {
    io.stderr.write(`\nevpn-ha demo: ${sig}: tearing down (namespaces ${demo.prefix}-*)\n`);
    demo.dispose();
    process.exit(sig === 'SIGINT' ? 130 : 143);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    return await demo.run();
  } catch (e) {
    io.stderr.write(`evpn-ha demo: ${(e as Error).message.split('\n')[0]}\n`);
    const tails = demo.logTails();
    if (tails) io.stderr.write(`the daemons' logs before teardown:\n${tails}`);
    demo.dispose();
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The yargs command; `setCode` receives the exit code. */
export function demoCommand(io: DemoIo, setCode: (code: number) => void): CommandModule<object, DemoArgs> {
  return {
    command: 'demo',
    describe: 'as root: the two-network failover demo in network namespaces (reflectors, two agents, ping, fault, timeline)',
    builder: (y: Argv<object>): Argv<DemoArgs> => y
      .option('containers', { type: 'boolean', default: false, describe: 'instead of the fault: a container (advertiseEndpoints) pinged from both servers and moved to the other server and back (MAC mobility)' })
      .option('ipv6', { type: 'boolean', default: false, describe: 'IPv6-only underlays (2001:db8:1::/64, 2001:db8:2::/64): BGP, BFD and VXLAN over IPv6; the overlay stays IPv4' })
      .option('keep', { type: 'boolean', default: false, describe: 'leave the topology running and print how to explore and remove it' })
      .option('reflector', { type: 'string', default: 'evpn-ha', requiresArg: true, describe: 'route reflectors: evpn-ha (built in) or frr (FRR bgpd + bfdd, Debian package frr)' })
      .option('prefix', { type: 'string', requiresArg: true, describe: 'namespace name prefix (default ehd + 4 random hex digits)' })
      .option('fault', { type: 'string', default: 'uplink', requiresArg: true, describe: 'uplink: server-l\'s eth1 blackholed; path: only the VTEP-to-VTEP path on network 1 (sessions stay up, only the probes see it)' })
      .option('fault-ms', { type: 'string', requiresArg: true, describe: 'how long the fault lasts, ms (default 3000)' })
      .option('teardown', { type: 'string', requiresArg: true, describe: 'remove what a --keep demo with this prefix left, then exit' }) as unknown as Argv<DemoArgs>,
    handler: async (a: ArgumentsCamelCase<DemoArgs>) => {
      setCode(await runDemoCommand(a, io));
    },
  };
}
