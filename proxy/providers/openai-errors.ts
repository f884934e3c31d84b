// Classification of OpenAI-dialect upstream errors: which failures are worth another attempt.
import type { OpenAIErrorBody } from '../openai/types.ts';
import type { UpstreamError, UpstreamHeaders } from './adapter.ts';

/** Statuses worth another attempt on another backend (or later): overload, throttling, conflicts. */
export function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/** 429s that waiting cannot fix (billing, quota). */
const NOT_RETRYABLE_CODES = new Set(['insufficient_quota', 'billing_hard_limit_reached', 'credit_balance_exhausted', 'account_deactivated']);

export function retryAfterMs(headers: UpstreamHeaders): number | undefined {
  const ms = first(headers['retry-after-ms']);
  if (ms !== undefined && /^\d+(\.\d+)?$/.test(ms)) return Math.round(Number(ms));
  const after = first(headers['retry-after']);
  if (after === undefined) return undefined;
  if (/^\d+(\.\d+)?$/.test(after)) return Math.round(Number(after) * 1000);
  const date = Date.parse(after);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export function reasonForStatus(status: number): string {
  if (status === 429) return 'rate_limited';
  if (status === 529 || status === 503) return 'overloaded';
  if (status === 408 || status === 504) return 'upstream_timeout';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status >= 500) return 'server_error';
  return 'invalid_request';
}

function typeForStatus(status: number): string {
  if (status === 401) return 'authentication_error';
  if (status === 403) return 'permission_error';
  if (status === 404) return 'not_found_error';
  if (status === 429) return 'rate_limit_error';
  if (status >= 500) return 'api_error';
  return 'invalid_request_error';
}

/** Reads `{error:{message,type,param,code}}` or the flat `{object:"error",message}` of Mistral/old vLLM. */
export function classifyOpenAIStyleError(status: number, headers: UpstreamHeaders, bodyText: string): UpstreamError {
  let message = `upstream returned HTTP ${status}`;
  let type = typeForStatus(status);
  let code: string | null = null;
  let param: string | null = null;
  try {
    const parsed = JSON.parse(bodyText) as { error?: unknown; message?: unknown; type?: unknown; code?: unknown };
    const err = (typeof parsed.error === 'object' && parsed.error !== null ? parsed.error : parsed) as Record<string, unknown>;
    if (typeof err.message === 'string' && err.message) message = err.message;
    else if (typeof parsed.error === 'string') message = parsed.error;
    if (typeof err.type === 'string') type = err.type;
    if (typeof err.code === 'string') code = err.code;
    else if (typeof err.code === 'number') code = String(err.code);
    if (typeof err.param === 'string') param = err.param;
  } catch {
    /* not JSON: keep the generic message; never echo arbitrary upstream bodies */
  }
  const retryable = isRetryableStatus(status) && !(code !== null && NOT_RETRYABLE_CODES.has(code));
  const result: UpstreamError = { status, retryable, reason: code !== null && NOT_RETRYABLE_CODES.has(code) ? 'quota_exceeded' : reasonForStatus(status), body: { error: { message, type, param, code } } };
  const wait = retryAfterMs(headers);
  if (wait !== undefined) result.retryAfterMs = wait;
  return result;
}

/** An `error` object received inside a stream, as the error the client's stream ends with. */
export function upstreamErrorFromStreamPayload(payload: { error?: unknown }): UpstreamError {
  const err = (payload.error ?? {}) as { message?: unknown; type?: unknown; code?: unknown };
  const body: OpenAIErrorBody = {
    error: {
      message: typeof err.message === 'string' ? err.message : 'the upstream reported an error mid-stream',
      type: typeof err.type === 'string' ? err.type : 'upstream_error',
      param: null,
      code: typeof err.code === 'string' ? err.code : 'upstream_stream_error',
    },
  };
  return { status: 502, retryable: false, reason: 'stream_error', body };
}
