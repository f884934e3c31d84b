// Errors become HTTP in one place: OpenAI's error envelope with a stable `code`.
import type { ServerResponse } from 'node:http';
import type { OpenAIErrorBody } from '../openai/types.ts';

/**
 * Refusals of the sidecar itself, before any upstream attempt: the client's SDK should retry them
 * (after Retry-After when given), as nothing has been retried for it.
 */
const RETRY_ADVISED = new Set(['overloaded', 'config_not_loaded', 'proxy_shutting_down']);

export class ProxyError extends Error {
  readonly status: number;
  /** One of the sidecar's own transient refusals: answered with `x-should-retry: true`. */
  readonly retryAdvised: boolean;
  readonly code: string;
  readonly type: string;
  readonly param: string | null;
  constructor(status: number, code: string, message: string, options: { type?: string; param?: string | null } = {}) {
    super(message);
    this.name = 'ProxyError';
    this.status = status;
    this.code = code;
    this.retryAdvised = RETRY_ADVISED.has(code);
    this.type = options.type ?? (status >= 500 ? 'api_error' : 'invalid_request_error');
    this.param = options.param ?? null;
  }

  toBody(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 404 for a model no route serves; the message lists the ones that are (models are config, not secrets). */
export function modelNotFound(model: string, served: readonly string[]): ProxyError {
  return new ProxyError(404, 'model_not_found', `model ${JSON.stringify(model).slice(0, 200)} is not served here; models served: ${served.join(', ') || '(none)'}`, { param: 'model', type: 'invalid_request_error' });
}

/**
 * Writes an error response. `x-should-retry` (the official SDKs obey it over their own rules) is false:
 * the proxy has already retried and failed over; `shouldRetry` for the sidecar's own transient
 * refusals (ProxyError.retryAdvised), decided by the caller, never by a code an upstream sent.
 */
export function sendError(res: ServerResponse, status: number, body: OpenAIErrorBody, retryAfterMs?: number, shouldRetry = false): void {
  if (res.headersSent) {
    // Too late for a status: the answer must not look whole. A stream gets a terminal error event
    // (what the SDKs raise); any other answer, part-written, is cut.
    if (res.writableEnded) return;
    if (String(res.getHeader('content-type') ?? '').startsWith('text/event-stream')) res.end(`data: ${JSON.stringify(body)}\n\n`);
    else res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  const headers: Record<string, string | number> = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), 'x-should-retry': shouldRetry ? 'true' : 'false' };
  // The rest of an oversized upload is not worth reading: the connection closes after this answer.
  // Otherwise Node reads and discards the whole body to reuse the connection, however long it runs.
  if (status === 413) headers.connection = 'close';
  if (retryAfterMs !== undefined) {
    headers['retry-after'] = Math.max(1, Math.ceil(retryAfterMs / 1000));
    headers['retry-after-ms'] = Math.round(retryAfterMs);
  }
  res.writeHead(status, headers);
  res.end(text);
}
