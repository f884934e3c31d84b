// Anthropic error envelopes ({type:"error",error:{type,message},request_id}) -> OpenAI-shaped
// errors with the status the client should see and whether another attempt may help.
import type { UpstreamError, UpstreamHeaders } from '../adapter.ts';
import { parseJson, upstreamError, type ErrorFacts } from '../translate/upstream-errors.ts';

type Facts = Omit<ErrorFacts, 'message'>;

function factsFor(status: number, errorType: string | undefined): Facts {
  if (status === 529 || errorType === 'overloaded_error') return { status: 503, retryable: true, reason: 'overloaded', type: 'server_error', code: 'upstream_overloaded' };
  if (status === 429 || errorType === 'rate_limit_error') return { status: 429, retryable: true, reason: 'rate_limited', type: 'rate_limit_error', code: 'upstream_rate_limited' };
  if (status === 402 || errorType === 'billing_error') return { status: 402, retryable: false, reason: 'quota_exceeded', type: 'insufficient_quota', code: 'insufficient_quota' };
  if (status === 401 || errorType === 'authentication_error') return { status: 401, retryable: false, reason: 'unauthorized', type: 'authentication_error', code: 'upstream_auth_failed' };
  if (status === 403 || errorType === 'permission_error') return { status: 403, retryable: false, reason: 'unauthorized', type: 'permission_error', code: 'upstream_auth_failed' };
  if (status === 404 || errorType === 'not_found_error') return { status: 404, retryable: false, reason: 'not_found', type: 'invalid_request_error', code: 'model_not_found' };
  if (status === 413 || errorType === 'request_too_large') return { status: 413, retryable: false, reason: 'request_too_large', type: 'invalid_request_error', code: 'request_too_large' };
  if (status === 504 || errorType === 'timeout_error') return { status: 504, retryable: true, reason: 'upstream_timeout', type: 'timeout_error', code: 'upstream_timeout' };
  if (status >= 500 || errorType === 'api_error') return { status: status >= 500 ? status : 502, retryable: true, reason: 'server_error', type: 'server_error', code: 'upstream_server_error' };
  if (status === 408 || status === 409) return { status, retryable: true, reason: 'upstream_timeout', type: 'server_error', code: 'upstream_conflict' };
  return { status: status >= 400 && status < 500 ? status : 502, retryable: false, reason: 'invalid_request', type: 'invalid_request_error', code: 'invalid_request' };
}

export function classifyAnthropicError(status: number, headers: UpstreamHeaders, bodyText: string): UpstreamError {
  const parsed = parseJson(bodyText) as { error?: { type?: unknown; message?: unknown } } | undefined;
  const errorType = typeof parsed?.error?.type === 'string' ? parsed.error.type : undefined;
  const message = typeof parsed?.error?.message === 'string' && parsed.error.message ? parsed.error.message : `anthropic returned HTTP ${status}`;
  // An exhausted credit balance comes as a 400 invalid_request_error: it is the account's state, not
  // the client's request, so it is reported as the billing error it is.
  const billing = status === 400 && /credit balance is too low/i.test(message);
  const facts = factsFor(status, billing ? 'billing_error' : errorType);
  // "prompt is too long: 210000 tokens > 200000 maximum": OpenAI's code for it, which frameworks read
  // to trim the history and retry.
  if (facts.code === 'invalid_request' && /prompt is too long/i.test(message)) facts.code = 'context_length_exceeded';
  return upstreamError({ ...facts, message }, headers);
}

/** An `event: error` inside a 200 stream (overloaded_error is the common one). */
export function anthropicStreamError(error: { type?: string; message?: string } | undefined): UpstreamError {
  // Upstream JSON: the fields are checked, not trusted to have their declared types.
  const facts = factsFor(0, typeof error?.type === 'string' ? error.type : 'api_error');
  return upstreamError({ ...facts, message: typeof error?.message === 'string' && error.message ? error.message : 'anthropic reported an error mid-stream' });
}
