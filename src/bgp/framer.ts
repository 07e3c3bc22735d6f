// TCP byte stream -> whole BGP messages (RFC 4271 §4.1 header, §6.1 checks).
// Framing only: the message body is left to decodeMessage.
import { BgpError, ErrorCode, HeaderSubcode } from './errors.js';
import { BGP_HEADER_LENGTH, BGP_MAX_MESSAGE } from './types.js';
import { plainBytes } from '../wire/bytes.js';

/**
 * Splits a stream into messages. Messages that lie whole inside one chunk are
 * returned as views into that chunk (decoders copy what they keep); messages
 * assembled across chunks are fresh copies. After a framing error every
 * further push throws the same error: the session must close.
 */
export class Framer {
  /** Assembly buffer, allocated on the first message split across chunks. */
  private acc: Uint8Array | null = null;
  private accLen = 0;
  /** Length of the message being assembled, once its header is complete. */
  private want = 0;
  private failed: BgpError | null = null;

  /** maxLength: 4096 (RFC 4271 §4.1), or 65535 after RFC 8654 negotiation. */
  constructor(private readonly maxLength: number = BGP_MAX_MESSAGE) {}

  /** Bytes held back, waiting for the rest of a message. */
  get buffered(): number {
    return this.accLen;
  }

  push(input: Uint8Array): Uint8Array[] {
    if (this.failed) throw this.failed;
    // Views handed out are plain Uint8Arrays even when the socket gives Buffers
    // (whose slice() would not copy).
    const chunk = plainBytes(input);
    const out: Uint8Array[] = [];
    let off = 0;
    const n = chunk.length;
    while (off < n) {
      if (this.accLen === 0) {
        // Fast path: whole messages straight from the chunk.
        if (n - off >= BGP_HEADER_LENGTH) {
          const len = this.checkHeader(chunk, off);
          if (n - off >= len) {
            out.push(chunk.subarray(off, off + len));
            off += len;
            continue;
          }
          this.want = len;
        }
        // A partial message (shorter than its length field, itself <= maxLength).
        this.buffer().set(chunk.subarray(off), 0);
        this.accLen = n - off;
        off = n;
        continue;
      }
      const target = this.want === 0 ? BGP_HEADER_LENGTH : this.want;
      const take = Math.min(target - this.accLen, n - off);
      const acc = this.buffer();
      acc.set(chunk.subarray(off, off + take), this.accLen);
      this.accLen += take;
      off += take;
      if (this.want === 0 && this.accLen === BGP_HEADER_LENGTH) this.want = this.checkHeader(acc, 0);
      if (this.want !== 0 && this.accLen === this.want) {
        out.push(acc.slice(0, this.accLen));
        this.accLen = 0;
        this.want = 0;
      }
    }
    return out;
  }

  private buffer(): Uint8Array {
    return (this.acc ??= new Uint8Array(this.maxLength));
  }

  /** Validate marker and length of the header at `at`; returns the length. */
  private checkHeader(b: Uint8Array, at: number): number {
    for (let i = 0; i < 16; i++) {
      if (b[at + i] !== 0xff) {
        // RFC 4271 §6.1: Connection Not Synchronized.
        this.failed = new BgpError(ErrorCode.MessageHeader, HeaderSubcode.ConnectionNotSynchronized);
        throw this.failed;
      }
    }
    const len = (b[at + 16]! << 8) | b[at + 17]!;
    if (len < BGP_HEADER_LENGTH || len > this.maxLength) {
      // RFC 4271 §6.1: Bad Message Length, data = the erroneous Length field.
      this.failed = new BgpError(ErrorCode.MessageHeader, HeaderSubcode.BadMessageLength, b.slice(at + 16, at + 18),
        `length field ${len}`);
      throw this.failed;
    }
    return len;
  }
}
