// Extended communities codec (RFC 4360 §2). CONTRACT STUB: implementation pending.
import type { Reader, Writer } from '../bgp/wire.js';
import type { ExtCommunity } from './types.js';

/** Write one 8-byte extended community. */
export function encodeExtCommunity(w: Writer, c: ExtCommunity): void {
  void w; void c;
  throw new Error('not implemented');
}

/** Read one 8-byte extended community. */
export function decodeExtCommunity(r: Reader): ExtCommunity {
  void r;
  throw new Error('not implemented');
}
