// The rtnetlink request socket: dumps (one at a time, retried when interrupted) and
// pipelined writes with their acknowledgements.
//
// Writes are pipelined: up to `window` requests in flight, packed `chunk` to a
// datagram, NLM_F_ACK only on the last request of each datagram. The kernel handles
// a socket's requests in order and answers them in order, and it always answers a
// failed request with NLMSG_ERROR (ACK flag or not); so the ACK of a datagram's last
// request means every earlier request without an error report succeeded.
import { constants as osConstants } from 'node:os';
import { RawNetlinkSocket } from 'netlink';
import type { Logger } from 'pino';
import * as nl from './nl.js';
import { withForcedRecvBuffer, type ForceResult } from './netlink-fd.js';
import { errnoName, errnoOf, type Failure, type WireRequest } from './rtnl-codec.js';

/**
 * Read size of the request socket: the kernel caps dump datagrams at 32 KiB minus
 * skb overhead (netlink_recvmsg), so 32 KiB always holds one.
 */
const DUMP_READ_SIZE = 32 * 1024;

/**
 * A NETLINK_ROUTE socket. `readBuffer` turns off the addon's peek-then-read: every
 * read offers that many bytes. The kernel sizes dump datagrams by the largest read
 * it has seen (up to 32 KiB); after a 1-byte peek they stay at one page, and a
 * bridge FDB dump, which re-walks the table for every datagram, gets several times
 * slower.
 */
export function openRouteSocket(bufferSize: number, readBuffer?: number, forced?: (r: ForceResult) => void): RawNetlinkSocket {
  // The receive buffer as asked for, beyond net.core.rmem_max (netlink-fd.ts).
  const { socket, result } = withForcedRecvBuffer(bufferSize, () => new RawNetlinkSocket(0 /* NETLINK_ROUTE */, {
    recvBufferSize: bufferSize,
    sendBufferSize: bufferSize,
    ...(readBuffer ? { messagePeeking: false, msgBufferSize: readBuffer } : {}),
  }));
  forced?.(result);
  return socket;
}

/**
 * Socket callbacks run from the native addon, where an exception escaping to it
 * aborts the process (node-addon-api C++ exceptions): never let one through.
 */
export function guard(log: Logger | undefined, what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    if (log) log.error({ err: e }, `kernel: ${what} handler failed`);
    else process.emitWarning(`kernel: ${what} handler failed: ${String((e as Error).stack ?? e)}`);
  }
}

interface PendingDump {
  kind: 'dump';
  msgs: nl.NlMsg[];
  interrupted: boolean;
  resolve: (msgs: nl.NlMsg[] | 'interrupted') => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

interface PendingWrite {
  kind: 'write';
  req: WireRequest;
  /** Set on the last request of a datagram: its answer completes the batch. */
  batch: WriteBatch | null;
}

interface WriteBatch {
  seqs: number[];
  timer: NodeJS.Timeout;
  done: (failure: { code: string; errno: number; message: string } | null) => void;
}

type Pending = PendingDump | PendingWrite;

export interface RequestChannelOptions {
  /** Most write requests in flight at once. */
  window: number;
  /** Requests per datagram (default 64). */
  chunk?: number;
  /** SO_RCVBUF (and SO_SNDBUF) in bytes. */
  recvBufferSize: number;
  /** A write batch without an answer, or a dump without a new message, for this long fails with ETIMEDOUT. */
  timeoutMs: number;
  logger?: Logger;
}

/** The request socket with its in-flight requests. */
export class RequestChannel {
  private readonly cmd: RawNetlinkSocket;
  private readonly pending = new Map<number, Pending>();
  private seq = Math.floor(Math.random() * 0x7fffffff);
  private closed = false;
  private readonly window: number;
  private readonly chunk: number;
  private readonly timeoutMs: number;
  private readonly log: Logger | undefined;

  constructor(opts: RequestChannelOptions) {
    const window = opts.window;
    this.timeoutMs = opts.timeoutMs;
    this.log = opts.logger;
    let forced = null as ForceResult | null;
    this.cmd = openRouteSocket(opts.recvBufferSize, DUMP_READ_SIZE, (r) => { forced = r; });
    this.cmd.on('message', (buf) => guard(this.log, 'request datagram', () => this.onCommandDatagram(buf)));
    this.cmd.on('error', (err) => guard(this.log, 'request socket error', () => this.onCommandError(err)));
    this.cmd.on('truncatedMessage', () => guard(this.log, 'truncated datagram', () =>
      this.onCommandError({ errno: osConstants.errno.EMSGSIZE, code: 'EMSGSIZE', message: 'netlink datagram larger than the read buffer' })));
    this.cmd.unref();
    // Every failed request in flight may come back as an error message of roughly
    // 1 KiB of receive buffer; keep the window within what the buffer can hold, so
    // the request socket never overflows (see event-pump.ts for what that costs).
    const rcvbuf = this.cmd.getRecvBufferSize();
    this.window = Math.max(1, Math.min(window, Math.floor(rcvbuf / 1024)));
    this.chunk = Math.max(1, Math.min(opts.chunk ?? 64, this.window));
    this.log?.debug({ rcvbuf, window: this.window, chunk: this.chunk, beyondRmemMax: forced?.forced ?? false }, 'kernel: request socket');
    // The kernel reports twice the size it grants; below what was asked for, say why.
    if (forced && !forced.forced && rcvbuf < 2 * opts.recvBufferSize) {
      this.log?.info({ rcvbuf, asked: opts.recvBufferSize, why: forced.why }, 'kernel: the netlink receive buffers stay capped at net.core.rmem_max');
    }
  }

  /** Requests in flight at most, after capping by the receive buffer. */
  get pipelineWindow(): number {
    return this.window;
  }

  private nextSeq(): number {
    this.seq = (this.seq + 1) >>> 0;
    if (this.seq === 0) this.seq = 1;
    return this.seq;
  }

  private onCommandDatagram(buf: Buffer): void {
    let msgs: nl.NlMsg[];
    try {
      msgs = nl.splitMessages(buf);
    } catch (e) {
      this.log?.warn({ err: e }, 'kernel: undecodable netlink datagram');
      return;
    }
    for (const m of msgs) {
      const p = this.pending.get(m.seq);
      if (!p) continue;
      if (p.kind === 'dump') {
        if (m.flags & nl.NLM_F_DUMP_INTR) p.interrupted = true;
        if (m.type === nl.NLMSG_DONE) {
          this.pending.delete(m.seq);
          clearTimeout(p.timer);
          p.resolve(p.interrupted ? 'interrupted' : p.msgs);
        } else if (m.type === nl.NLMSG_ERROR) {
          this.pending.delete(m.seq);
          clearTimeout(p.timer);
          const { errno } = nl.parseError(m);
          if (errno === 0) p.resolve(p.msgs);
          else p.reject(Object.assign(new Error(`dump failed: ${errnoName(errno)}`), { errno, code: errnoName(errno) }));
        } else {
          p.msgs.push(m);
          p.timer.refresh(); // the timeout is for silence, not for the whole dump
        }
        continue;
      }
      if (m.type !== nl.NLMSG_ERROR) continue;
      const { errno } = nl.parseError(m);
      if (errno !== 0 && !(errno === osConstants.errno.ENOENT && p.req.enoentOk)) {
        this.failedRequests.set(m.seq, { errno, code: errnoName(errno), message: `kernel: ${errnoName(errno)}` });
      }
      if (p.batch) p.batch.done(null);
    }
  }

  /** Errors reported for single requests, by seq, until their batch completes. */
  private readonly failedRequests = new Map<number, { errno: number; code: string; message: string }>();

  private onCommandError(err: unknown): void {
    // Most likely ENOBUFS: answers were dropped, so no in-flight request can be trusted.
    const f = errnoOf(err);
    this.log?.error({ code: f.code }, 'kernel: request socket error; failing requests in flight');
    const batches = new Set<WriteBatch>();
    for (const [seq, p] of this.pending) {
      if (p.kind === 'dump') {
        this.pending.delete(seq);
        clearTimeout(p.timer);
        p.reject(Object.assign(new Error(`dump failed: ${f.code}`), f));
      } else if (p.batch) {
        batches.add(p.batch);
      }
    }
    for (const b of batches) b.done(f);
  }

  /** Tail of the dump queue: the kernel runs one dump per socket at a time (EBUSY otherwise). */
  private dumpQueue: Promise<unknown> = Promise.resolve();

  dump(type: number, fixed: Buffer): Promise<nl.NlMsg[]> {
    const run = this.dumpQueue.then(() => this.dumpNow(type, fixed));
    this.dumpQueue = run.catch(() => undefined);
    return run;
  }

  private async dumpNow(type: number, fixed: Buffer): Promise<nl.NlMsg[]> {
    for (let attempt = 0; ; attempt++) {
      const got = await new Promise<nl.NlMsg[] | 'interrupted'>((resolve, reject) => {
        if (this.closed) { reject(new Error('kernel port closed')); return; }
        const seq = this.nextSeq();
        const timer = setTimeout(() => {
          this.pending.delete(seq);
          reject(Object.assign(new Error('dump timed out'), { code: 'ETIMEDOUT' }));
        }, this.timeoutMs);
        this.pending.set(seq, { kind: 'dump', msgs: [], interrupted: false, resolve, reject, timer });
        this.cmd.ref();
        this.cmd.send(nl.encodeMessage(type, nl.NLM_F_REQUEST | nl.NLM_F_DUMP, seq, fixed), undefined, (err) => {
          if (!err) return;
          const p = this.pending.get(seq);
          if (!p) return;
          this.pending.delete(seq);
          clearTimeout(timer);
          reject(Object.assign(new Error(`dump send failed: ${err.code}`), err));
        });
      }).finally(() => { if (this.pending.size === 0) this.cmd.unref(); });
      if (got !== 'interrupted') return got;
      // NLM_F_DUMP_INTR: the table changed during the dump; a consistent one needs a retry.
      if (attempt >= 4) throw Object.assign(new Error('dump interrupted repeatedly'), { code: 'EINTR' });
    }
  }
  /**
   * Send `requests` pipelined; each failure lands in `failures[request.opIndex]`
   * (the first one for an op wins). Never rejects.
   */
  sendPipelined(
    requests: WireRequest[],
    failures: Array<Failure | null>,
  ): Promise<void> {
    return new Promise<void>((resolveAll) => {
      let next = 0;
      let inFlight = 0;
      this.cmd.ref();
      const pump = (): void => {
        while (next < requests.length && inFlight < this.window) {
          const n = Math.min(this.chunk, requests.length - next, this.window - inFlight);
          const slice = requests.slice(next, next + n);
          next += n;
          inFlight += n;
          const seqs: number[] = [];
          const bufs: Buffer[] = [];
          for (let k = 0; k < slice.length; k++) {
            const r = slice[k]!;
            const seq = this.nextSeq();
            nl.setSeq(r.buf, seq);
            nl.setAck(r.buf, k === slice.length - 1);
            seqs.push(seq);
            bufs.push(r.buf);
            this.pending.set(seq, { kind: 'write', req: r, batch: null });
          }
          let finished = false;
          const batch: WriteBatch = {
            seqs,
            timer: setTimeout(() => batch.done({ code: 'ETIMEDOUT', errno: osConstants.errno.ETIMEDOUT, message: 'no answer from the kernel' }), this.timeoutMs),
            done: (failure) => {
              if (finished) return;
              finished = true;
              clearTimeout(batch.timer);
              for (let k = 0; k < seqs.length; k++) {
                const seq = seqs[k]!;
                const r = slice[k]!;
                this.pending.delete(seq);
                const f = this.failedRequests.get(seq) ?? failure;
                this.failedRequests.delete(seq);
                if (f && !failures[r.opIndex]) failures[r.opIndex] = f;
              }
              inFlight -= slice.length;
              if (next < requests.length) pump();
              else if (inFlight === 0) {
                if (this.pending.size === 0) this.cmd.unref();
                resolveAll();
              }
            },
          };
          (this.pending.get(seqs[seqs.length - 1]!) as PendingWrite).batch = batch;
          this.cmd.send(bufs, undefined, (err) => { if (err) batch.done(errnoOf(err)); });
        }
      };
      pump();
    });
  }

  /** Fail everything in flight and close the socket. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const batches = new Set<WriteBatch>();
    for (const [seq, p] of this.pending) {
      if (p.kind === 'dump') {
        clearTimeout(p.timer);
        this.pending.delete(seq);
        p.reject(new Error('kernel port closed'));
      } else if (p.batch) batches.add(p.batch);
    }
    for (const b of batches) b.done({ code: 'ECANCELED', errno: osConstants.errno.ECANCELED, message: 'kernel port closed' });
    this.cmd.close();
  }
}
