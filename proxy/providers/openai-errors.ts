// Classification of OpenAI-dialect upstream errors: which failures are worth another attempt.
import type { AzureInnerError, OpenAIErrorBody } from '../openai/types.ts';
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

/** Length of an upstream message as the client sees it. */
const MAX_MESSAGE_CHARS = 1000;
/** Length of an upstream `type`, `code` or `param` as the client sees it. */
const MAX_FIELD_CHARS = 200;
/** How far past the cut the patterns look, so that a credential straddling it is still seen whole. */
const SCAN_MARGIN_CHARS = 1000;
const REDACTED = '[redacted]';

/** A run of base64/hex characters that reads like a secret rather than a path, a model name or an id. */
function looksRandom(run: string): boolean {
  for (const part of run.split(/[/_-]/)) {
    if (part.length < 16) continue;
    const digits = /\d/.test(part);
    const lower = /[a-z]/.test(part);
    const upper = /[A-Z]/.test(part);
    // Hex or base64 of random bytes mixes digits and letters, or both cases; words and numbers do not.
    if ((digits && (lower || upper)) || (lower && upper)) return true;
  }
  return false;
}

/** Applied in order; each replaces what looks like a credential (or may carry one) in upstream text. */
const REDACTIONS: ReadonlyArray<readonly [RegExp, string | ((match: string) => string)]> = [
  // A URL may carry a key in its query (Gemini's `?key=`), its user info or its path.
  [/https?:\/\/\S+/gi, '[url]'],
  // Credential headers quoted in a message: `Authorization: Bearer x`, `x-api-key: x`, `api-key=x`.
  [/\b(authorization|proxy-authorization|x-api-key|api-key|x-goog-api-key|ocp-apim-subscription-key)(["']?\s*[:=]\s*["']?)(?:(?:bearer|basic|token)\s+)?[^\s"',;}]+/gi, `$1$2${REDACTED}`],
  [/\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}/gi, `$1 ${REDACTED}`],
  // `key=`, `api_key=`, `access_token=`, `client_secret=`... (a query string without its URL, a form body).
  [/\b([\w.-]{0,40}?(?:key|token|secret|password|passwd|signature|sig|credential))\s*=\s*[^\s&#"',;)]+/gi, `$1=${REDACTED}`],
  // Keys with a vendor prefix: OpenAI/Anthropic/OpenRouter `sk-`, Groq `gsk_`, xAI, Perplexity, Hugging Face, Replicate, GitHub, GitLab.
  [/\b(?:sk|pk|rk|gsk|xai|pplx|hf|r8|gh[pousr]|github_pat|glpat)[-_][A-Za-z0-9_-]{8,}/g, REDACTED],
  // Google API keys and OAuth access tokens, AWS access key ids, JWTs.
  [/\bAIza[0-9A-Za-z_-]{20,}/g, REDACTED],
  [/\bya29\.[0-9A-Za-z_.-]{16,}/g, REDACTED],
  [/\b(?:AKIA|ASIA)[0-9A-Z]{16}\b/g, REDACTED],
  [/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*/g, REDACTED],
  // Long base64 / base64url / hex runs that look random (not `projects/x/locations/y` or a model name).
  [/[A-Za-z0-9+/_-]{32,}={0,2}/g, (run) => (looksRandom(run) ? REDACTED : run)],
];

/**
 * Upstream text is shown to the client, so anything that looks like a credential or a URL (which may
 * carry `?key=`) is cut out, and the length is bounded. Patterns only: the backend's own key is cut
 * out exactly by redactSecret, where the caller knows it.
 */
export function sanitizeUpstreamMessage(message: string, maxChars = MAX_MESSAGE_CHARS): string {
  let text = message.length > maxChars + SCAN_MARGIN_CHARS ? message.slice(0, maxChars + SCAN_MARGIN_CHARS) : message;
  for (const [pattern, replacement] of REDACTIONS) text = typeof replacement === 'string' ? text.replace(pattern, replacement) : text.replace(pattern, replacement);
  return text.length > maxChars ? text.slice(0, maxChars) : text;
}

/** An upstream `type`, `code` or `param`: identifiers, bounded and redacted like messages. */
const sanitizeField = (value: string): string => sanitizeUpstreamMessage(value, MAX_FIELD_CHARS);

/** Pieces of a known secret this long are cut out too (a message quoting part of the key). */
const SECRET_WINDOW = 8;

/**
 * Cuts one known secret (the backend's own key) out of a text: verbatim, URL-encoded, base64 and
 * base64url encoded, and any piece of it of 8 characters or more. Keys shorter than that are left
 * to the patterns (they would match ordinary words).
 */
export function redactSecret(text: string, secret: string | undefined): string {
  if (secret === undefined || secret.length < SECRET_WINDOW) return text;
  const whole = Buffer.from(secret, 'utf8');
  for (const form of [secret, encodeURIComponent(secret), whole.toString('base64'), whole.toString('base64url')]) {
    if (text.includes(form)) text = text.split(form).join(REDACTED);
  }
  for (let i = 0; i + SECRET_WINDOW <= secret.length; i++) {
    const piece = secret.slice(i, i + SECRET_WINDOW);
    if (text.includes(piece)) text = text.split(piece).join(REDACTED);
  }
  return text;
}

/** redactSecret over every text field of a classified error (mutates and returns it). */
export function redactSecretInError(error: UpstreamError, secret: string | undefined): UpstreamError {
  if (secret === undefined || secret.length < SECRET_WINDOW) return error;
  const body = error.body.error;
  body.message = redactSecret(body.message, secret);
  body.type = redactSecret(body.type, secret);
  if (body.param !== null) body.param = redactSecret(body.param, secret);
  if (body.code !== null) body.code = redactSecret(body.code, secret);
  if (body.innererror?.code !== undefined) body.innererror.code = redactSecret(body.innererror.code, secret);
  return error;
}

export function reasonForStatus(status: number): string {
  if (status === 429) return 'rate_limited';
  if (status === 529 || status === 503) return 'overloaded';
  if (status === 408 || status === 504) return 'upstream_timeout';
  if (status === 401 || status === 403) return 'unauthorized';
  if (status === 402) return 'quota_exceeded'; // DeepSeek's insufficient balance
  if (status === 404) return 'not_found';
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

/** Reads `{error:{message,type,param,code}}`, the flat `{object:"error",message}` of Mistral/old vLLM, or FastAPI's `{detail:[...]}`. */
export function classifyOpenAIStyleError(status: number, headers: UpstreamHeaders, bodyText: string): UpstreamError {
  let message = `upstream returned HTTP ${status}`;
  let type = typeForStatus(status);
  let code: string | null = null;
  let param: string | null = null;
  let innererror: AzureInnerError | undefined;
  try {
    const parsed = JSON.parse(bodyText) as { error?: unknown; message?: unknown; type?: unknown; code?: unknown; detail?: unknown };
    const err = (typeof parsed.error === 'object' && parsed.error !== null ? parsed.error : parsed) as Record<string, unknown>;
    const detail = validationDetail(parsed.detail ?? (err.message as { detail?: unknown } | null | undefined)?.detail);
    if (typeof err.message === 'string' && err.message) message = sanitizeUpstreamMessage(err.message);
    else if (typeof parsed.error === 'string' && parsed.error) message = sanitizeUpstreamMessage(parsed.error);
    else if (detail) message = sanitizeUpstreamMessage(detail);
    if (typeof err.type === 'string') type = sanitizeField(err.type);
    if (typeof err.code === 'string') code = err.code;
    else if (typeof err.code === 'number') code = String(err.code);
    if (typeof err.param === 'string') param = sanitizeField(err.param);
    innererror = azureInnerError(err.innererror);
  } catch {
    /* not JSON: keep the generic message; never echo arbitrary upstream bodies */
  }
  const quota = status === 402 || (code !== null && NOT_RETRYABLE_CODES.has(code));
  if (code !== null) code = sanitizeField(code);
  else if (status === 402) code = 'insufficient_quota'; // DeepSeek's insufficient balance
  const retryable = isRetryableStatus(status) && !quota;
  // A 422 is a request the provider's validation refused (Mistral, DeepSeek, vLLM: FastAPI's
  // `detail` list): to an OpenAI client that is a 400, as OpenAI answers it.
  const shownStatus = status === 422 ? 400 : status;
  if (status === 422) type = 'invalid_request_error';
  const result: UpstreamError = { status: shownStatus, retryable, reason: quota ? 'quota_exceeded' : reasonForStatus(shownStatus), body: { error: { message, type, param, code, ...(innererror ? { innererror } : {}) } } };
  const wait = retryAfterMs(headers);
  if (wait !== undefined) result.retryAfterMs = wait;
  return result;
}

/**
 * Azure's content-filter verdict (which categories were filtered, at what severity), kept so an app can
 * tell what tripped: only its known, bounded shape is copied (flags and short identifiers, never text).
 */
function azureInnerError(value: unknown): AzureInnerError | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const { code, content_filter_result: result } = value as { code?: unknown; content_filter_result?: unknown };
  const out: AzureInnerError = {};
  if (typeof code === 'string') out.code = sanitizeField(code);
  if (typeof result === 'object' && result !== null) {
    const categories: NonNullable<AzureInnerError['content_filter_result']> = {};
    for (const [name, verdict] of Object.entries(result).slice(0, 20)) {
      if (!/^[a-z_]{1,64}$/.test(name) || typeof verdict !== 'object' || verdict === null) continue;
      const { filtered, detected, severity } = verdict as Record<string, unknown>;
      categories[name] = {
        ...(typeof filtered === 'boolean' ? { filtered } : {}),
        ...(typeof detected === 'boolean' ? { detected } : {}),
        ...(typeof severity === 'string' && /^[a-z_]{1,16}$/.test(severity) ? { severity } : {}),
      };
    }
    out.content_filter_result = categories;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** FastAPI/pydantic validation errors (`detail: [{loc, msg}]`) as one line: `body.stream_options: Extra inputs are not permitted`. */
function validationDetail(detail: unknown): string | undefined {
  if (!Array.isArray(detail)) return typeof detail === 'string' && detail ? detail : undefined;
  const lines = detail.slice(0, 5).flatMap((d: { loc?: unknown; msg?: unknown } | null) => {
    if (typeof d?.msg !== 'string') return [];
    const loc = Array.isArray(d.loc) ? d.loc.filter((p) => typeof p === 'string' || typeof p === 'number').join('.') : '';
    return [loc ? `${loc}: ${d.msg}` : d.msg];
  });
  return lines.length > 0 ? lines.join('; ') : undefined;
}

/** An `error` object received inside a stream, as the error the client's stream ends with. */
export function upstreamErrorFromStreamPayload(payload: { error?: unknown }): UpstreamError {
  const err = (payload.error ?? {}) as { message?: unknown; type?: unknown; code?: unknown };
  const body: OpenAIErrorBody = {
    error: {
      message: typeof err.message === 'string' && err.message ? sanitizeUpstreamMessage(err.message) : 'the upstream reported an error mid-stream',
      type: typeof err.type === 'string' ? sanitizeField(err.type) : 'upstream_error',
      param: null,
      code: typeof err.code === 'string' ? sanitizeField(err.code) : 'upstream_stream_error',
    },
  };
  return { status: 502, retryable: false, reason: 'stream_error', body };
}
