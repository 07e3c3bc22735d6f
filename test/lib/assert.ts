// Assertions shared by the codec unit tests.
import type { Test } from 'tap';
import { BgpError } from '../../src/bgp/errors.js';
import { decodeMessage, encodeMessage } from '../../src/bgp/message.js';
import type { CodecContext, Message } from '../../src/bgp/types.js';
import { toHex } from './bytes.js';

/** Assert that fn throws BgpError(code, subcode[, data]). */
export function throwsBgp(tt: Test, fn: () => unknown, code: number, subcode: number, data?: Uint8Array, msg?: string): void {
  try {
    fn();
    tt.fail(`expected BgpError ${code}/${subcode}, nothing thrown${msg ? ` (${msg})` : ''}`);
  } catch (e) {
    if (!(e instanceof BgpError)) {
      tt.fail(`expected BgpError ${code}/${subcode}, got ${String(e)}`);
      return;
    }
    tt.same([e.code, e.subcode], [code, subcode], msg ?? e.message);
    if (data !== undefined) tt.equal(toHex(e.data), toHex(data), `data of ${e.message}`);
  }
}

/** A (bytes, struct) pair both ways: m encodes to bytes and bytes decode to m. */
export function pair(tt: Test, name: string, m: Message, bytes: Uint8Array, ctx: CodecContext = { fourOctetAs: false }): void {
  tt.equal(toHex(encodeMessage(m, ctx)), toHex(bytes), `${name}: encode`);
  tt.same(decodeMessage(bytes, ctx), m, `${name}: decode`);
}
