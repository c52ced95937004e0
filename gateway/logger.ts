import { pino } from "pino";

/** The gateway's logger: JSON lines (pino). */
export type Logger = pino.Logger;

export function createLogger(level: string): Logger {
  return pino({ level, base: undefined, timestamp: pino.stdTimeFunctions.isoTime });
}
