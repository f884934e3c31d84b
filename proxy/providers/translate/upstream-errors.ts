// Building blocks for classifying non-OpenAI upstream errors into the OpenAI-shaped UpstreamError.
import type { UpstreamError, UpstreamHeaders } from '../adapter.ts';
import { retryAfterMs, sanitizeUpstreamMessage } from '../openai-errors.ts';

// The redaction of upstream text lives with the OpenAI-dialect errors, which use it too.
export { redactSecret, redactSecretInError, sanitizeUpstreamMessage } from '../openai-errors.ts';

export interface ErrorFacts {
  status: number;
  retryable: boolean;
  reason: string;
  message: string;
  type: string;
  code: string | null;
}

export function upstreamError(facts: ErrorFacts, headers?: UpstreamHeaders): UpstreamError {
  const error: UpstreamError = {
    status: facts.status,
    retryable: facts.retryable,
    reason: facts.reason,
    body: { error: { message: sanitizeUpstreamMessage(facts.message), type: facts.type, param: null, code: facts.code } },
  };
  const wait = headers ? retryAfterMs(headers) : undefined;
  if (wait !== undefined) error.retryAfterMs = wait;
  return error;
}

export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The upstream stream ended or broke before it was complete. */
export function truncatedStream(message: string): UpstreamError {
  return { status: 502, retryable: false, reason: 'stream_error', body: { error: { message, type: 'upstream_error', param: null, code: 'upstream_stream_error' } } };
}
