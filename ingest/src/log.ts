/** The service logger: pino JSON lines on stderr, so stdout stays free for command output (flows, logs). */
import pino, { type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string, destination: NodeJS.WritableStream | number = 2): Logger {
  const dest = typeof destination === 'number' ? pino.destination({ fd: destination, sync: true }) : destination;
  return pino({ level, base: { service: 'netwatch-ingest' }, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}
