// The attempt loop of one request: which backend next, whether to retry, how long to wait.
// Backends are tried in strategy order; a retryable failure moves to the next one; after the list
// the route's `retries.attempts` extra tries go round again with backoff. A backend that refuses
// service itself (its key, quota, model or URL: see refusedByBackend) is not retried, but the next
// backend is tried; any other refusal (the request's own fault, a 400) is the answer. Every attempt after the
// first spends the retry budget, and an ejected backend is skipped unless all are ejected. A backend
// whose API cannot express the request (its adapter refuses the translation) is skipped without an
// attempt; when no backend can, the request itself is refused (400).
// One request deadline spans every attempt (and the backoff between them): each attempt's total
// timeout is cut to what is left of it, and once it has passed no further attempt starts (504).
import type { OpenAIErrorBody } from '../openai/types.ts';
import { UnsupportedRequestError, type StreamOutput, type StreamTranslator, type UpstreamError, type UpstreamRequest } from '../providers/adapter.ts';
import type { RuntimeBackend, RuntimeRoute } from '../runtime/runtime.ts';
import type { AttemptReason, AttemptTelemetry, RequestTelemetry } from '../telemetry/hooks.ts';
import type { Pools } from '../upstream/pools.ts';
import { DEFAULT_TOTAL_TIMEOUT_MS, prepareRequest, runAttempt, timeoutReason, type ClientRequest, type StreamRest, type TimeoutKind } from './attempt.ts';
import { retryDelay } from './backoff.ts';
import type { BreakerRegistry } from './circuit-breaker.ts';
import { attemptOrder } from './order.ts';
import type { RetryBudget } from './retry-budget.ts';

export interface DispatchDeps {
  pools: Pools;
  breakers: BreakerRegistry;
  budget: RetryBudget;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  random?: () => number;
}

export interface DispatchInput extends ClientRequest {
  route: RuntimeRoute;
  telemetry: RequestTelemetry;
}

export interface AttemptSummary {
  backend: string;
  status: number;
  reason: string;
}

interface Answered {
  backend: RuntimeBackend;
  attempts: number;
  attempt: AttemptTelemetry;
  /** The provider's id of the answer (its support reference), when it sent a usable one. */
  upstreamRequestId?: string;
}

export type DispatchResult =
  | (Answered & { kind: 'json'; body: unknown; text?: string })
  | (Answered & { kind: 'stream'; translator: StreamTranslator; first: StreamOutput[]; rest: StreamRest; close(abandon?: boolean): void })
  /** `upstreamRequestId`: when the answer is one provider's own refusal, that provider's id of it. */
  | { kind: 'error'; status: number; body: OpenAIErrorBody; attempts: number; retryAfterMs?: number; summary: AttemptSummary[]; upstreamRequestId?: string };

const defaultSleep = (ms: number, signal: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (ms <= 0 || signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });

export async function dispatch(input: DispatchInput, deps: DispatchDeps): Promise<DispatchResult> {
  const { route, telemetry } = input;
  const sleep = deps.sleep ?? defaultSleep;
  const allowed = route.allowed;
  if (allowed.length === 0) {
    const why = route.backends.map((b) => `${b.config.name}: ${b.denied}`).join('; ');
    return { kind: 'error', status: 403, attempts: 0, summary: [], body: err(`no backend of route ${route.config.name} is allowed by the namespace policy (${why})`, 'permission_error', 'denied_by_policy') };
  }
  deps.budget.deposit();
  const order = attemptOrder(route.config.strategy, allowed, deps.random);
  let retriesLeft = route.config.retries.attempts;
  const { route: _route, telemetry: _telemetry, ...client } = input;
  const summary: AttemptSummary[] = [];
  const errors: UpstreamError[] = [];
  /** Upstream attempts made per backend: a backend tried before is retried, after a backoff. */
  const tried = new Map<RuntimeBackend, number>();
  /**
   * Backends not to pick again for this request: unfit ones (their API cannot express it; skipped
   * without an attempt) and ones that refused service (tried once; a retry would be refused too).
   */
  const excluded = new Set<RuntimeBackend>();
  /** The last backend refusal, the answer when it is the only failure (a one-backend route). */
  let lastRefusal: { error: UpstreamError; backend: RuntimeBackend; upstreamRequestId?: string } | undefined;
  let firstUnsupported: UnsupportedRequestError | undefined;
  /** Where in `order` the next pick starts: after the last backend picked, skipped ones included. */
  let next = 0;
  let attempt = 0;
  const deadlineMs = requestDeadlineMs(route);
  const deadline = Date.now() + deadlineMs;
  let deadlinePassed = false;

  for (;;) {
    if (input.clientSignal.aborted) break;
    if (attempt > 0 && Date.now() >= deadline) {
      deadlinePassed = true;
      break;
    }
    const picked = pickBackend(order, next, deps.breakers, excluded);
    if (!picked) break; // every backend is unfit for this request, or has been tried
    const { backend } = picked;
    const triedBefore = tried.get(backend) ?? 0;
    if (triedBefore > 0 && retriesLeft === 0) break; // every backend had its try and no retry is left
    let upstream: UpstreamRequest | undefined;
    try {
      upstream = prepareRequest(client, backend);
    } catch (error) {
      if (!(error instanceof UnsupportedRequestError)) throw error;
      // Not an attempt: this backend's API cannot express the request. The others may.
      firstUnsupported ??= error;
      excluded.add(backend);
      summary.push({ backend: backend.config.name, status: 0, reason: error.code });
      next = picked.index + 1;
      continue;
    }
    if (attempt > 0) {
      if (!deps.budget.trySpend()) {
        summary.push({ backend: backend.config.name, status: 0, reason: 'retry_budget_exhausted' });
        break;
      }
      if (triedBefore > 0) {
        // Going round again: back off (or honour retry-after within the cap).
        retriesLeft--;
        const previous = errors[errors.length - 1];
        const wait = retryDelay(triedBefore - 1, route.config.retries.backoffMs, route.config.retries.maxBackoffMs, previous?.retryAfterMs, deps.random);
        // A wait that would end past the deadline is not worth starting: answer with what failed.
        if (wait === undefined || Date.now() + wait >= deadline) break;
        await sleep(wait, input.clientSignal);
        if (input.clientSignal.aborted) break;
      }
    }
    const budgetMs = deadline - Date.now();
    if (budgetMs <= 0) {
      deadlinePassed = true;
      break;
    }
    attempt++;
    next = picked.index + 1;
    tried.set(backend, triedBefore + 1);
    const reason: AttemptReason = attempt === 1 ? 'initial' : triedBefore > 0 ? 'retry' : 'failover';
    const attemptTelemetry = telemetry.startAttempt({ backend: backend.config, providerName: backend.telemetryName, serverAddress: backend.host, serverPort: backend.port, attempt, reason });
    const result = await runAttempt({ ...client, backend, extraHeaders: attemptTelemetry.upstreamHeaders, pools: deps.pools, budgetMs, ...(upstream ? { upstream } : {}) });
    const breaker = deps.breakers.for(backend.id);
    const upstreamId = result.upstreamRequestId !== undefined ? { upstreamRequestId: result.upstreamRequestId } : {};
    if (result.kind === 'json') {
      breaker.recordSuccess();
      return { kind: 'json', body: result.body, ...(result.text !== undefined ? { text: result.text } : {}), ...upstreamId, backend, attempts: attempt, attempt: attemptTelemetry };
    }
    if (result.kind === 'stream') {
      try {
        attemptTelemetry.firstToken();
      } catch (err) {
        result.close(true); // the stream will have no reader: cut its upstream and timers now
        throw err;
      }
      breaker.recordSuccess();
      return { kind: 'stream', translator: result.translator, first: result.first, rest: result.rest, close: result.close, ...upstreamId, backend, attempts: attempt, attempt: timeoutAware(attemptTelemetry, result.timedOut) };
    }
    attemptTelemetry.end({ outcome: result.outcome, status: result.error.status, errorType: result.error.reason, ...upstreamId });
    summary.push({ backend: backend.config.name, status: result.error.status, reason: result.error.reason });
    errors.push(result.error);
    if (result.outcome === 'aborted') break;
    if (!result.error.retryable) {
      if (!refusedByBackend(result.error)) {
        breaker.recordSuccess(); // the backend answered; the request itself was refused
        return { kind: 'error', ...clientFacingError(result.error, backend), ...upstreamId, attempts: attempt, summary };
      }
      // Nothing was processed, and this backend will refuse again until someone fixes its key,
      // quota, model or URL: the next backend may answer. A mark against it (a revoked key gets it
      // ejected instead of being tried first by every request).
      breaker.recordFailure();
      excluded.add(backend);
      lastRefusal = { error: result.error, backend, ...upstreamId };
      continue;
    }
    if (result.error.reason === DEADLINE_REASON) {
      // Cut by the request's deadline, not by the backend's own timeouts: no mark against the backend.
      deadlinePassed = true;
      break;
    }
    breaker.recordFailure();
    if (result.error.retryAfterMs !== undefined && (result.error.status === 429 || result.error.status === 503)) breaker.busyFor(result.error.retryAfterMs);
  }

  // No backend of the route can express the request: the client's request is the problem (400).
  if (attempt === 0 && firstUnsupported && !input.clientSignal.aborted) throw firstUnsupported;
  const attempts = summary.filter((s) => s.status !== 0).length;
  if (deadlinePassed && !input.clientSignal.aborted) {
    const described = summary.map((s) => `${s.backend}: ${s.status ? `${s.status} ` : ''}${s.reason}`).join('; ');
    return { kind: 'error', status: 504, body: err(`route ${route.config.name} ran out of its request deadline of ${deadlineMs} ms (${described || 'no attempt was possible'})`, 'timeout_error', 'upstream_timeout'), attempts, summary };
  }
  // One backend refused service and nothing else was tried: its refusal is the answer.
  if (lastRefusal && errors.length === 1) {
    const upstreamId = lastRefusal.upstreamRequestId !== undefined ? { upstreamRequestId: lastRefusal.upstreamRequestId } : {};
    return { kind: 'error', ...clientFacingError(lastRefusal.error, lastRefusal.backend), ...upstreamId, attempts, summary };
  }
  return { kind: 'error', ...exhausted(route, errors, summary), attempts, summary };
}

/**
 * Refusals that are about the backend, not the request: its credentials (401, 403), its billing or
 * quota (402, `insufficient_quota`...), its model or deployment (404), its URL (a redirect) or its
 * region (Gemini's FAILED_PRECONDITION). The request was not processed, so another backend may be
 * tried with it; retrying this one would be refused again.
 */
export function refusedByBackend(error: UpstreamError): boolean {
  const { status, reason } = error;
  return status === 401 || status === 402 || status === 403 || status === 404 || (status >= 300 && status < 400) || reason === 'quota_exceeded' || reason === 'precondition_failed';
}

const DEADLINE_REASON = timeoutReason('deadline');

/**
 * The route's request deadline: `timeouts.requestMs`, else 10 min (the official SDKs' own default
 * timeout: a client has given up by then) or the longest total timeout of its backends if longer.
 * Backends with short totals keep their failovers; a request takes at most as long as the longest
 * single attempt could, instead of (backends + retries) x total.
 */
export function requestDeadlineMs(route: RuntimeRoute): number {
  const configured = route.config.timeouts?.requestMs;
  if (configured !== undefined) return configured;
  let longest = DEFAULT_TOTAL_TIMEOUT_MS;
  for (const backend of route.config.backends) longest = Math.max(longest, backend.timeouts.totalMs ?? DEFAULT_TOTAL_TIMEOUT_MS);
  return longest;
}

/**
 * The attempt's telemetry, with a stream that its own timers cut (idle, total, deadline) recorded as a
 * `timeout` rather than the `stream_error` the HTTP layer reports for any error frame.
 */
function timeoutAware(telemetry: AttemptTelemetry, timedOut: () => TimeoutKind | undefined): AttemptTelemetry {
  return {
    upstreamHeaders: telemetry.upstreamHeaders,
    firstToken: () => telemetry.firstToken(),
    end: (result) => {
      const kind = timedOut();
      if (kind === undefined || result.outcome !== 'stream_error') return telemetry.end(result);
      return telemetry.end({ ...result, outcome: 'timeout', errorType: timeoutReason(kind) });
    },
  };
}

/**
 * The next backend in order from `from` (cyclically), skipping the ones excluded for this request and
 * the ejected or busy ones, unless every fit backend is ejected or busy (panic mode: the first fit one).
 */
function pickBackend(order: RuntimeBackend[], from: number, breakers: BreakerRegistry, excluded: ReadonlySet<RuntimeBackend>): { backend: RuntimeBackend; index: number } | undefined {
  const now = Date.now();
  let panic: { backend: RuntimeBackend; index: number } | undefined;
  for (let i = 0; i < order.length; i++) {
    const index = (from + i) % order.length;
    const candidate = order[index]!;
    if (excluded.has(candidate)) continue;
    if (breakers.for(candidate.id).isAvailable(now)) return { backend: candidate, index };
    panic ??= { backend: candidate, index };
  }
  return panic;
}

function err(message: string, type: string, code: string): OpenAIErrorBody {
  return { error: { message, type, param: null, code } };
}

/** A non-retryable upstream refusal, as the client sees it. */
function clientFacingError(error: UpstreamError, backend: RuntimeBackend): { status: number; body: OpenAIErrorBody } {
  if (error.status === 401 || error.status === 403) {
    // The app's own key is only a placeholder: a 401 would blame it. The proxy's key was refused.
    return { status: 502, body: err(`backend ${backend.config.name} refused the proxy's credentials (HTTP ${error.status})`, 'upstream_error', 'upstream_unauthorized') };
  }
  if (error.status >= 300 && error.status < 400) {
    return { status: 502, body: err(`backend ${backend.config.name} answered with a redirect, which is never followed`, 'upstream_error', 'upstream_redirect') };
  }
  return { status: error.status, body: error.body };
}

function exhausted(route: RuntimeRoute, errors: UpstreamError[], summary: AttemptSummary[]): { status: number; body: OpenAIErrorBody; retryAfterMs?: number } {
  const described = summary.map((s) => `${s.backend}: ${s.status ? `${s.status} ` : ''}${s.reason}`).join('; ');
  if (errors.length > 0 && errors.every((e) => e.status === 429 && e.retryable)) {
    const waits = errors.map((e) => e.retryAfterMs).filter((w): w is number => w !== undefined);
    const result: { status: number; body: OpenAIErrorBody; retryAfterMs?: number } = { status: 429, body: err(`every backend of route ${route.config.name} is rate limited (${described})`, 'rate_limit_error', 'rate_limited') };
    if (waits.length > 0) result.retryAfterMs = Math.min(...waits);
    return result;
  }
  if (errors.length > 0 && errors.every((e) => e.status === 504)) {
    return { status: 504, body: err(`every backend of route ${route.config.name} timed out (${described})`, 'timeout_error', 'upstream_timeout') };
  }
  return { status: 502, body: err(`all backends of route ${route.config.name} failed (${described || 'no attempt was possible'})`, 'upstream_error', 'all_backends_failed') };
}
