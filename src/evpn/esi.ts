// Ethernet Segment Identifier (RFC 7432 §5): 10 octets, shown as
// colon-separated lowercase hex ("00:11:22:33:44:55:66:77:88:99").
import { HEX } from '../wire/bytes.js';
import { ZERO_ESI, type Esi } from './types.js';

export const ESI_LENGTH = 10;

/** The ESI at b[p..p+10] as text; the caller has checked the bounds. */
export function readEsi(b: Uint8Array, p: number): Esi {
  // Single-homed routes (RFC 7432 §5: ESI 0) are by far the most common.
  if ((b[p]! | b[p + 1]! | b[p + 2]! | b[p + 3]! | b[p + 4]! | b[p + 5]! | b[p + 6]! | b[p + 7]! | b[p + 8]! | b[p + 9]!) === 0) {
    return ZERO_ESI;
  }
  let s = HEX[b[p]!]!;
  for (let i = 1; i < ESI_LENGTH; i++) s += `:${HEX[b[p + i]!]}`;
  return s;
}

/** 10 bytes from "xx:xx:...:xx" (':' or '-' separators, any case). Throws Error on bad text. */
export function parseEsi(text: Esi): Uint8Array {
  const parts = text.split(/[:-]/);
  if (parts.length !== ESI_LENGTH) throw new Error(`invalid ESI "${text}": expected 10 hex octets separated by ':'`);
  const out = new Uint8Array(ESI_LENGTH);
  for (let i = 0; i < ESI_LENGTH; i++) {
    const part = parts[i]!;
    if (!/^[0-9a-fA-F]{1,2}$/.test(part)) throw new Error(`invalid ESI "${text}": "${part}" is not a hex octet`);
    out[i] = parseInt(part, 16);
  }
  return out;
}

/** Canonical text form of an ESI given in any accepted spelling. */
export function normalizeEsi(text: Esi): Esi {
  return readEsi(parseEsi(text), 0);
}
