// What the agent's and the reflector's configuration files share beyond the
// validation glue: log levels and the BGP/BFD session defaults.
import { BFD_DEFAULTS } from '../bfd/session.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace'];

/** Session defaults both files use: hold time (s, RFC 4271 §4.2) and BFD timers (RFC 5880 §6.8.1). */
export const SESSION_DEFAULTS = {
  holdTime: 9,
  bfd: { ...BFD_DEFAULTS },
} as const;
