import { oneLine } from './one-line';

/**
 * Operational log lines (not the audit line): JSON on stderr. Callers pass structured fields;
 * never pass a secret, a signature or a presigned URL.
 */
export interface Logger {
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

export function jsonLogger(write: (line: string) => void = (l) => process.stderr.write(`${l}\n`)): Logger {
  const emit = (level: string, message: string, fields?: Record<string, unknown>) =>
    write(oneLine(JSON.stringify({ level, time: new Date().toISOString(), message, ...fields })));
  return { warn: (m, f) => emit('warn', m, f), error: (m, f) => emit('error', m, f) };
}

export const silentLogger: Logger = { warn: () => {}, error: () => {} };
