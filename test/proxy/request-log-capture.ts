// The request log line (one per request, written by the observer) captured in memory, through the
// same wiring as production: requestLineLogger(createLogger(...)), so what is tested is what ships.
import { Writable } from 'node:stream';
import { createLogger, requestLineLogger } from '#proxy/logger.ts';
import type { RequestLogger } from '#proxy/telemetry/observer.ts';
import { waitFor } from '#test/proxy/harness.ts';

export interface CapturedRequestLog {
  /** For createObserver's `logger` option. */
  logger: RequestLogger;
  /** Every line written, parsed. */
  lines: Record<string, unknown>[];
  /** Every line as written, joined: a secret must be searched for in the text, not the parsed form. */
  raw(): string;
  /** The request line of that id: it is written at the request's end, which can come after the client has its answer. */
  lineFor(requestId: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export function captureRequestLog(level = 'info'): CapturedRequestLog {
  const written: string[] = [];
  const lines: Record<string, unknown>[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) {
        written.push(line);
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      done();
    },
  });
  const find = (requestId: string) => lines.find((l) => l.msg === 'request' && l.requestId === requestId);
  return {
    logger: requestLineLogger(createLogger(level, sink)),
    lines,
    raw: () => written.join('\n'),
    // 2 s by default: under Jest's 5 s test timeout, so a missing line fails with this message, not a timeout.
    async lineFor(requestId, timeoutMs = 2000) {
      await waitFor(() => find(requestId) !== undefined, timeoutMs).catch(() => {
        throw new Error(`no request log line for request id "${requestId}" after ${timeoutMs} ms (${lines.length} lines captured)`);
      });
      return find(requestId)!;
    },
  };
}
