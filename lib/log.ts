/**
 * Structured JSON logs, one line each, with a request id. Callers pass only non-sensitive
 * fields: never bodies, tokens, passwords or filter values.
 * @module
 */

/** Log levels in increasing severity. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ORDER: Record<LogLevel | "off", number> = { debug: 0, info: 1, warn: 2, error: 3, off: 4 };

/** A logger. */
export interface Logger {
  log(level: LogLevel, msg: string, fields?: Record<string, unknown>): void;
}

/** A logger writing JSON lines to stderr at or above `min`. */
export function createLogger(min: LogLevel | "off"): Logger {
  return {
    log(level, msg, fields = {}) {
      if (ORDER[level] < ORDER[min]) return;
      const line = JSON.stringify({ time: new Date().toISOString(), level, msg, ...fields });
      // deno-lint-ignore no-console
      console.error(line);
    },
  };
}
