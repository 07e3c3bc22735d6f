// The evpn-ha command line (yargs). bin/evpn-ha imports the compiled form of
// this file; main() is also callable in-process (tests) and returns the exit
// code: 0 on success, 2 on bad arguments, 1 on a runtime failure.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable, Writable } from 'node:stream';
import yargs from 'yargs';
import { pino, type Logger } from 'pino';
import { peerConfig, runPeer, STDIN_HELP } from './peer.js';
import { reflectorCommand } from './reflector.js';
import { demoCommand } from './demo.js';
import { runCommand } from './run.js';
import { stopSignals } from './signals.js';
import { ROUTE_SYNTAX, UsageError } from './format.js';
import { clearCommand, reloadCommand, showCommand, watchCommand, type ControlCommandIo } from './show.js';
import type { BgpTransport } from '../bgp/transport.js';

/** The version in the nearest package.json above this file (src/cli or build/src/cli). */
export function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'evpn-ha' && pkg.version) return pkg.version;
    } catch { /* not here */ }
    dir = dirname(dir);
  }
  return 'unknown';
}

export interface MainIo {
  stdout: Writable;
  stderr: Writable;
  stdin: Readable | null;
  /** Default: pino to stderr at LOG_LEVEL (default info). */
  logger?: Logger;
  /** Resolves with a reason when the program should stop (default: SIGINT/SIGTERM). */
  until?: Promise<string>;
  /** BGP connections of `peer` (default: kernel TCP). */
  bgpTransport?: BgpTransport;
}

function intOption(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  if (Array.isArray(v)) throw new UsageError(`--${name} given more than once`);
  if (typeof v !== 'string' || !/^\d+$/.test(v)) throw new UsageError(`--${name} needs a decimal integer, got "${String(v)}"`);
  return Number(v);
}

function stringOption(v: unknown, name: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') throw new UsageError(`--${name} needs a value`);
  return v;
}

export async function main(argv: string[], io: MainIo): Promise<number> {
  let code = 0;
  let helpOrVersion = '';
  const ctl: ControlCommandIo = { stdout: io.stdout, stderr: io.stderr, until: io.until, exit: (c) => { code = c; } };
  const parser = yargs()
    .scriptName('evpn-ha')
    .usage('$0 <command> [options]')
    .command(
      'peer <address>',
      'open one BGP session (L2VPN EVPN) and print the routes received until Ctrl-C',
      (y) => y
        .positional('address', { type: 'string', describe: 'peer IP address', demandOption: true })
        .option('local-as', { type: 'string', demandOption: true, describe: 'our AS number (1..4294967295)', requiresArg: true })
        .option('peer-as', { type: 'string', describe: 'the peer\'s AS number (default: --local-as, iBGP)' })
        .option('router-id', { type: 'string', describe: 'BGP identifier (default: --local-address if IPv4, else the first IPv4 address of the host, else 1.1.1.1)' })
        .option('local-address', { type: 'string', describe: 'source address to connect from (and to listen on with --passive)' })
        .option('port', { type: 'string', describe: 'peer TCP port, or the port to listen on with --passive (default 179)' })
        .option('hold-time', { type: 'string', describe: 'proposed hold time, seconds: 0 or 3..65535 (default 90)' })
        .option('passive', { type: 'boolean', default: false, describe: 'listen for the peer instead of connecting' })
        .option('announce', { type: 'string', requiresArg: true, describe: `route to advertise (repeatable): ${ROUTE_SYNTAX}` })
        .option('json', { type: 'boolean', default: false, describe: 'one JSON object per line on stdout' })
        .option('password', { type: 'string', requiresArg: true, describe: 'TCP-MD5 password (RFC 2385), as FRR\'s neighbor ... password' })
        .option('tcp-ao-key-id', { type: 'string', requiresArg: true, describe: 'TCP-AO (RFC 5925): our SendID 0..255' })
        .option('tcp-ao-rnext-key-id', { type: 'string', requiresArg: true, describe: 'TCP-AO: the RecvID (KeyID the peer signs with; default --tcp-ao-key-id)' })
        .option('tcp-ao-algorithm', { type: 'string', requiresArg: true, describe: 'TCP-AO: hmac-sha-256 (default), aes-128-cmac or hmac-sha-1' })
        .option('tcp-ao-secret', { type: 'string', requiresArg: true, describe: 'TCP-AO: the master key (1..80 bytes of text)' })
        .option('ttl-security', { type: 'string', requiresArg: true, describe: 'GTSM (RFC 5082): the peer is at most this many hops away (1..254)' })
        .epilog(`While running, stdin takes one command per line:\n${STDIN_HELP}`),
      async (a) => {
        const args: Parameters<typeof peerConfig>[0] = {
          address: String(a.address),
          localAs: intOption(a['local-as'], 'local-as') ?? Number.NaN,
          passive: a.passive,
          json: a.json,
          announce: a.announce === undefined ? [] : ([] as unknown[]).concat(a.announce).map(String),
        };
        const peerAs = intOption(a['peer-as'], 'peer-as');
        if (peerAs !== undefined) args.peerAs = peerAs;
        const routerId = stringOption(a['router-id'], 'router-id');
        if (routerId !== undefined) args.routerId = routerId;
        const localAddress = stringOption(a['local-address'], 'local-address');
        if (localAddress !== undefined) args.localAddress = localAddress;
        const port = intOption(a.port, 'port');
        if (port !== undefined) args.port = port;
        const holdTime = intOption(a['hold-time'], 'hold-time');
        if (holdTime !== undefined) args.holdTime = holdTime;
        const password = stringOption(a.password, 'password');
        if (password !== undefined) args.password = password;
        const tcpAo: NonNullable<typeof args.tcpAo> = {};
        const keyId = intOption(a['tcp-ao-key-id'], 'tcp-ao-key-id');
        if (keyId !== undefined) tcpAo.keyId = keyId;
        const rnextKeyId = intOption(a['tcp-ao-rnext-key-id'], 'tcp-ao-rnext-key-id');
        if (rnextKeyId !== undefined) tcpAo.rnextKeyId = rnextKeyId;
        const algorithm = stringOption(a['tcp-ao-algorithm'], 'tcp-ao-algorithm');
        if (algorithm !== undefined) tcpAo.algorithm = algorithm;
        const secret = stringOption(a['tcp-ao-secret'], 'tcp-ao-secret');
        if (secret !== undefined) tcpAo.secret = secret;
        if (Object.keys(tcpAo).length) args.tcpAo = tcpAo;
        const ttlSecurity = intOption(a['ttl-security'], 'ttl-security');
        if (ttlSecurity !== undefined) args.ttlSecurity = ttlSecurity;
        const cfg = peerConfig(args);
        const logger = io.logger ?? pino({ level: process.env['LOG_LEVEL'] ?? 'info' }, pino.destination(2));
        code = await runPeer(cfg, { stdout: io.stdout, stderr: io.stderr, stdin: io.stdin, logger, until: io.until ?? stopSignals(),
          ...(io.bgpTransport ? { transport: io.bgpTransport } : {}) });
      },
    )
    .command(showCommand(ctl)).command(watchCommand(ctl)).command(reloadCommand(ctl)).command(clearCommand(ctl))
    .command(reflectorCommand(io, (c) => { code = c; }))
    .command(runCommand({ ...io, version: packageVersion() }, (c) => { code = c; }))
    .command(demoCommand(io, (c) => { code = c; }))
    .demandCommand(1, 'a command is required (try --help)')
    .strict()
    .version(packageVersion())
    .help()
    .exitProcess(false)
    .fail((msg: string | null, err: Error | null) => {
      if (err instanceof UsageError) throw err;
      // yargs reports its own validation failures as a message or a YError.
      if (!err || err.name === 'YError') throw new UsageError(msg ?? err?.message ?? 'bad arguments');
      throw err;
    });
  try {
    await parser.parseAsync(argv, {}, (_err: Error | undefined, _argv: unknown, output: string) => {
      helpOrVersion = output;
    });
  } catch (e) {
    if (e instanceof UsageError) {
      io.stderr.write(`evpn-ha: ${e.message.split('\n')[0]}\n`);
      return 2;
    }
    io.stderr.write(`evpn-ha: ${(e as Error).stack ?? String(e)}\n`);
    return 1;
  }
  if (helpOrVersion) io.stdout.write(`${helpOrVersion}\n`);
  return code;
}

/** Run as the program (bin/evpn-ha imports build/src/cli/main.js). */
function isEntry(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  return /(^|\/)evpn-ha$/.test(entry) || fileURLToPath(import.meta.url) === entry;
}

if (isEntry()) {
  void main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin })
    .then((code) => process.exit(code));
}
