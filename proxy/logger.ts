// The process logger: JSON lines (pino), with credentials redacted by path wherever they could appear.
import pino, { type Logger } from 'pino';

export const REDACT_PATHS = [
  'headers.authorization',
  'headers["api-key"]',
  'headers["x-api-key"]',
  'headers["x-goog-api-key"]',
  '*.headers.authorization',
  '*.apiKey',
  'apiKey',
];

export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'llmroute' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, destination);
}
