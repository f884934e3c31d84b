// Gemini error envelopes ({error:{code,message,status,details}}, sometimes wrapped in an array) ->
// OpenAI-shaped errors. An invalid key is a 400 with details[].reason API_KEY_INVALID: it is our
// credential that failed, so it is classified as an auth failure, not as the caller's bad request.
import type { UpstreamError, UpstreamHeaders } from '../adapter.ts';
import { parseJson, upstreamError, type ErrorFacts } from '../translate/upstream-errors.ts';

interface GeminiErrorBody {
  code?: number;
  message?: string;
  status?: string;
  /** google.rpc details: ErrorInfo (`reason`), RetryInfo (`retryDelay`), QuotaFailure (`violations`). */
  details?: Array<{ '@type'?: string; reason?: string; retryDelay?: string; violations?: Array<{ quotaId?: string }> }>;
}

type Facts = Omit<ErrorFacts, 'message'>;

const AUTH_REASONS = new Set(['API_KEY_INVALID', 'API_KEY_SERVICE_BLOCKED', 'API_KEY_HTTP_REFERRER_BLOCKED', 'ACCESS_TOKEN_EXPIRED', 'CREDENTIALS_MISSING']);

/** Upstream JSON: `details` is checked, not trusted to be an array of objects. */
const detailsOf = (error: GeminiErrorBody): Array<Record<string, unknown>> =>
  (Array.isArray(error.details) ? error.details : []).filter((d): d is Record<string, unknown> => typeof d === 'object' && d !== null);

/** A QuotaFailure on a per-day quota: no retry helps before tomorrow (another backend may). */
function dailyQuotaSpent(error: GeminiErrorBody): boolean {
  return detailsOf(error).some((d) => Array.isArray(d.violations) && d.violations.some((v) => /PerDay/i.test(String((v as { quotaId?: unknown } | null)?.quotaId ?? ''))));
}

/** Gemini's wait before a retry, from google.rpc.RetryInfo (`"37s"`, `"45.8s"`): it sends no Retry-After. */
function retryInfoMs(error: GeminiErrorBody): number | undefined {
  for (const d of detailsOf(error)) {
    const match = typeof d.retryDelay === 'string' ? /^(\d+(?:\.\d+)?)s$/.exec(d.retryDelay) : null;
    if (match) return Math.round(Number(match[1]) * 1000);
  }
  return undefined;
}

const TOO_LONG = /input token count.*exceeds the maximum|exceeds the maximum number of tokens/i;

function factsFor(status: number, error: GeminiErrorBody): Facts {
  const reasons = detailsOf(error).map((d) => d.reason).filter((r): r is string => typeof r === 'string');
  if (reasons.some((r) => AUTH_REASONS.has(r)) || status === 401 || error.status === 'UNAUTHENTICATED') {
    return { status: 401, retryable: false, reason: 'unauthorized', type: 'authentication_error', code: 'upstream_auth_failed' };
  }
  if ((error.status === 'INVALID_ARGUMENT' || status === 400) && TOO_LONG.test(String(error.message ?? ''))) {
    return { status: 400, retryable: false, reason: 'invalid_request', type: 'invalid_request_error', code: 'context_length_exceeded' };
  }
  switch (error.status) {
    case 'RESOURCE_EXHAUSTED':
      if (dailyQuotaSpent(error)) return { status: 429, retryable: false, reason: 'quota_exceeded', type: 'insufficient_quota', code: 'insufficient_quota' };
      return { status: 429, retryable: true, reason: 'rate_limited', type: 'rate_limit_error', code: 'upstream_rate_limited' };
    case 'UNAVAILABLE':
      return { status: 503, retryable: true, reason: 'overloaded', type: 'server_error', code: 'upstream_overloaded' };
    case 'DEADLINE_EXCEEDED':
      return { status: 504, retryable: true, reason: 'upstream_timeout', type: 'timeout_error', code: 'upstream_timeout' };
    case 'INTERNAL':
    case 'UNKNOWN':
      return { status: 500, retryable: true, reason: 'server_error', type: 'server_error', code: 'upstream_server_error' };
    case 'PERMISSION_DENIED':
      return { status: 403, retryable: false, reason: 'unauthorized', type: 'permission_error', code: 'upstream_auth_failed' };
    case 'NOT_FOUND':
      return { status: 404, retryable: false, reason: 'not_found', type: 'invalid_request_error', code: 'model_not_found' };
    case 'FAILED_PRECONDITION':
      return { status: 400, retryable: false, reason: 'precondition_failed', type: 'invalid_request_error', code: 'upstream_precondition_failed' };
    case 'INVALID_ARGUMENT':
      return { status: 400, retryable: false, reason: 'invalid_request', type: 'invalid_request_error', code: 'invalid_request' };
  }
  if (status === 429) return { status, retryable: true, reason: 'rate_limited', type: 'rate_limit_error', code: 'upstream_rate_limited' };
  if (status === 503) return { status, retryable: true, reason: 'overloaded', type: 'server_error', code: 'upstream_overloaded' };
  if (status >= 500 || status === 408) return { status: status >= 500 ? status : 504, retryable: true, reason: 'server_error', type: 'server_error', code: 'upstream_server_error' };
  if (status === 403) return { status, retryable: false, reason: 'unauthorized', type: 'permission_error', code: 'upstream_auth_failed' };
  return { status: status >= 400 && status < 500 ? status : 502, retryable: false, reason: 'invalid_request', type: 'invalid_request_error', code: 'invalid_request' };
}

/** The error object of a Gemini error body, array-wrapped or not. */
export function geminiErrorOf(parsed: unknown): GeminiErrorBody | undefined {
  const body = Array.isArray(parsed) ? parsed[0] : parsed;
  const error = (body as { error?: unknown } | undefined)?.error;
  return typeof error === 'object' && error !== null ? (error as GeminiErrorBody) : undefined;
}

export function classifyGeminiError(status: number, headers: UpstreamHeaders, bodyText: string): UpstreamError {
  const error = geminiErrorOf(parseJson(bodyText)) ?? {};
  const message = typeof error.message === 'string' && error.message ? error.message : `gemini returned HTTP ${status}`;
  const classified = upstreamError({ ...factsFor(status, error), message }, headers);
  const wait = classified.retryable ? retryInfoMs(error) : undefined;
  if (classified.retryAfterMs === undefined && wait !== undefined) classified.retryAfterMs = wait;
  return classified;
}

/** An error object that arrived as a stream event. */
export function geminiStreamError(error: GeminiErrorBody): UpstreamError {
  const message = typeof error.message === 'string' && error.message ? error.message : 'gemini reported an error mid-stream';
  return upstreamError({ ...factsFor(typeof error.code === 'number' ? error.code : 502, error), message });
}
