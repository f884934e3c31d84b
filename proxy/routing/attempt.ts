// One upstream attempt against one backend: send, wait for the status, and either read the whole
// body (non-streaming) or read until the first content event (streaming). Nothing reaches the
// client here, so any failure is still free to fail over.
//
// Timers of one attempt: connect (in the pool), total (the whole attempt, stream included; cut to
// what is left of the request deadline by dispatch), first token (streams, opt-in) and idle
// (streams: the longest silence between two upstream batches once the upstream has started sending).
import type { ChatCompletionRequest, EmbeddingsRequest } from '../openai/types.ts';
import { UnsupportedRequestError, type BackendTarget, type StreamOutput, type StreamTranslator, type UpstreamError, type UpstreamRequest } from '../providers/adapter.ts';
import { targetOf, type RuntimeBackend } from '../runtime/runtime.ts';
import { redactSecretInError } from '../providers/openai-errors.ts';
import { readText, ResponseTooLargeError, type Pools, type UpstreamResponse } from '../upstream/pools.ts';
import { upstreamRequestIdOf } from '../upstream/request-id.ts';
import { SseEventTooLargeError, sseSource, sseSourceOf, type SseSource } from '../upstream/sse.ts';
import type { AttemptOutcome } from '../telemetry/hooks.ts';

export const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_TOTAL_TIMEOUT_MS = 600_000;
/**
 * Streams: the longest silence allowed between two upstream batches, from the upstream's first batch
 * on. A stalled stream otherwise holds the client and the upstream until the total timeout (10 min).
 * Not armed between the response headers and the first batch: reasoning models and long prefills are
 * legitimately silent for minutes there (that wait is the first-token timeout's, and the total's).
 */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;
/**
 * There is deliberately no default first-token timeout: reasoning models think for minutes before
 * their first byte, and a default short enough to matter would cut them and retry the same long wait
 * elsewhere. A stall before the first byte is bounded by the total timeout and the request deadline;
 * routes serving non-reasoning models should set `timeouts.firstToken` per backend (seconds).
 */
export const DEFAULT_FIRST_TOKEN_TIMEOUT_MS: number | undefined = undefined;

/** What follows a stream's first outputs: the next batch, or undefined once the stream is over (its last batch may be an error). */
export interface StreamRest {
  next(): Promise<StreamOutput[] | undefined>;
}

export type AttemptResult =
  /** `text`: the upstream's bytes as received, sent as they are when the adapter passes the body through. */
  | { kind: 'json'; body: unknown; text?: string; upstreamRequestId?: string }
  /** `close()` must be called when the stream is over (releases timers; an upstream still sending is
   *  drained briefly, or cut at once with `abandon`: the client's stream ended before the upstream's).
   *  `timedOut()`: why the attempt's timers cut the stream, if they did (the attempt outcome is then `timeout`). */
  | { kind: 'stream'; translator: StreamTranslator; first: StreamOutput[]; rest: StreamRest; close(abandon?: boolean): void; timedOut(): TimeoutKind | undefined; upstreamRequestId?: string }
  | { kind: 'failed'; outcome: AttemptOutcome; error: UpstreamError; upstreamRequestId?: string };

/** The client's request as every attempt of it sees it. */
export interface ClientRequest {
  operation: 'chat' | 'embeddings';
  request: ChatCompletionRequest | EmbeddingsRequest;
  stream: boolean;
  clientWantsUsage: boolean;
  clientModel: string;
  /** Aborted when the client goes away. */
  clientSignal: AbortSignal;
  /** Largest non-streamed upstream answer read (default MAX_RESPONSE_BODY_BYTES). */
  maxResponseBytes?: number;
}

export interface AttemptInput extends ClientRequest {
  backend: RuntimeBackend;
  extraHeaders: Readonly<Record<string, string>>;
  pools: Pools;
  /** What is left of the request deadline (ms): the attempt's total timeout is cut to it. */
  budgetMs?: number;
  /** The request as prepareRequest built it for this backend (built here when absent). */
  upstream?: UpstreamRequest;
}

/** Which timer ended an attempt. `deadline`: the total timeout, cut short by the request deadline. */
export type TimeoutKind = 'first_token' | 'idle' | 'total' | 'deadline';

const TIMEOUT_REASONS: Record<TimeoutKind, { reason: string; what: string }> = {
  first_token: { reason: 'first_token_timeout', what: 'no first token' },
  idle: { reason: 'idle_timeout', what: 'stream idle' },
  total: { reason: 'timeout', what: 'total' },
  deadline: { reason: 'request_deadline', what: 'request deadline' },
};

/** The `reason` (error type) of an attempt that this timer ended. */
export const timeoutReason = (kind: TimeoutKind): string => TIMEOUT_REASONS[kind].reason;

/**
 * The idle timeout of one streaming attempt: a single timer, re-armed with refresh() whenever the
 * reader goes back to the upstream for the next batch (no timer allocated per chunk). It fires only
 * while the reader is waiting on the upstream: a client reading slowly (backpressure, the body paused)
 * is not an upstream stall, so then it just re-arms.
 */
class IdleTimer {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private waiting = false;
  private stopped = false;
  private readonly ms: number;
  private readonly fire: () => void;
  constructor(ms: number, fire: () => void) {
    this.ms = ms;
    this.fire = fire;
  }
  /** About to wait for the upstream's next batch. */
  waitStart(): void {
    this.waiting = true;
    this.timer?.refresh();
  }
  /** Bytes arrived that carry no event yet (a keep-alive comment, part of a long event): not a stall. */
  activity(): void {
    this.timer?.refresh();
  }
  /** The wait is over (a batch, the end or an error). The first batch arms the timer. */
  waitEnd(): void {
    this.waiting = false;
    if (this.timer === undefined && !this.stopped) this.timer = setTimeout(this.onTimer, this.ms);
  }
  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
  private readonly onTimer = (): void => {
    if (this.waiting) this.fire();
    else this.timer!.refresh();
  };
}

const failure = (outcome: AttemptOutcome, status: number, reason: string, message: string, code: string): AttemptResult => ({
  kind: 'failed',
  outcome,
  error: { status, retryable: true, reason, body: { error: { message, type: 'upstream_error', param: null, code } } },
});

/**
 * The upstream request for this backend, built before the attempt starts; undefined when the
 * adapter answers locally. Throws UnsupportedRequestError when this backend cannot carry the request
 * (a parameter, content part or operation its API lacks): nothing has been sent, and another backend
 * of the route may carry it.
 */
export function prepareRequest(input: Pick<ClientRequest, 'operation' | 'request'>, backend: RuntimeBackend): UpstreamRequest | undefined {
  const adapter = backend.adapter;
  if (adapter.answerLocally && input.operation === 'chat') return undefined;
  const target = targetOf(backend);
  if (input.operation === 'embeddings') {
    if (!adapter.buildEmbeddingsRequest) {
      throw new UnsupportedRequestError(`backend ${backend.config.name} (${adapter.name}) has no embeddings API`, 'unsupported_operation', 'model');
    }
    return adapter.buildEmbeddingsRequest(input.request as EmbeddingsRequest, target);
  }
  return adapter.buildChatRequest(input.request as ChatCompletionRequest, target);
}

/** The abort reason of every attempt: preallocated, because a default AbortError captures a stack each time. */
const ATTEMPT_ABORTED = Object.freeze(new Error('llmroute: upstream attempt aborted'));

export async function runAttempt(input: AttemptInput): Promise<AttemptResult> {
  const { backend } = input;
  const timeouts = backend.config.timeouts;
  // One controller per attempt, aborted by the client leaving, a timeout or close(). A plain listener
  // rather than AbortSignal.any(): the composite signal costs a weak-ref registration per request.
  const controller = new AbortController();
  const signal = controller.signal;
  const abort = () => controller.abort(ATTEMPT_ABORTED);
  if (input.clientSignal.aborted) abort();
  else input.clientSignal.addEventListener('abort', abort, { once: true });
  /** The first timer that fired (the cause; a later one firing while the attempt unwinds does not count). */
  let timedOut: TimeoutKind | undefined;
  // The attempt's own total, or what is left of the request deadline when that is shorter.
  const ownTotalMs = timeouts.totalMs ?? DEFAULT_TOTAL_TIMEOUT_MS;
  const cutByDeadline = input.budgetMs !== undefined && input.budgetMs < ownTotalMs;
  // Both timers also stop the idle timer: it re-arms itself while nobody reads the stream, so an
  // attempt whose result was never closed (a bug) must still end, with the total timeout at the latest.
  const totalTimer = setTimeout(
    () => {
      timedOut ??= cutByDeadline ? 'deadline' : 'total';
      abort();
      idle?.stop();
    },
    cutByDeadline ? Math.max(1, input.budgetMs!) : ownTotalMs,
  );
  const firstTokenMs = timeouts.firstTokenMs ?? DEFAULT_FIRST_TOKEN_TIMEOUT_MS;
  const firstTokenTimer =
    input.stream && firstTokenMs !== undefined
      ? setTimeout(() => {
          timedOut ??= 'first_token';
          abort();
          idle?.stop();
        }, firstTokenMs)
      : undefined;
  const idle = input.stream
    ? new IdleTimer(timeouts.idleMs ?? DEFAULT_IDLE_TIMEOUT_MS, () => {
        timedOut ??= 'idle';
        abort();
      })
    : undefined;
  const release = () => {
    clearTimeout(totalTimer);
    clearTimeout(firstTokenTimer);
    idle?.stop();
    input.clientSignal.removeEventListener('abort', abort);
  };
  const aborted = (): AttemptResult => {
    release();
    if (input.clientSignal.aborted) return failure('aborted', 499, 'client_closed', 'the client closed the connection', 'client_closed_request');
    const { reason, what } = TIMEOUT_REASONS[timedOut ?? 'total'];
    return failure('timeout', 504, reason, `backend ${backend.config.name} timed out (${what})`, 'upstream_timeout');
  };

  const stream: StreamControl = {
    firstToken: () => clearTimeout(firstTokenTimer),
    release,
    abortUpstream: abort,
    failure: () => (input.clientSignal.aborted || timedOut ? aborted() : undefined),
    idle,
    timedOut: () => timedOut,
  };

  const target = targetOf(backend);
  if (backend.adapter.answerLocally && input.operation === 'chat') {
    const answer = backend.adapter.answerLocally(input.request as ChatCompletionRequest, target);
    if (answer.kind === 'json') {
      release();
      return { kind: 'json', body: answer.body };
    }
    return startStream(input, target, sseSourceOf([answer.events]), stream);
  }

  let upstream: UpstreamRequest;
  try {
    upstream = input.upstream ?? prepareRequest(input, backend)!;
  } catch (err) {
    release();
    throw err;
  }
  let response: UpstreamResponse;
  try {
    response = await input.pools.send({
      method: upstream.method,
      url: upstream.url,
      headers: { ...upstream.headers, ...input.extraHeaders, ...(upstream.body !== undefined ? { 'content-length': Buffer.byteLength(upstream.body) } : {}) },
      body: upstream.body,
      signal,
      connectTimeoutMs: timeouts.connectMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    });
  } catch (err) {
    if (signal.aborted) return aborted();
    release();
    const code = (err as { code?: string }).code ?? 'connect_error';
    return failure('connect_error', 502, code, `backend ${backend.config.name} could not be reached (${code})`, 'upstream_unreachable');
  }

  const status = response.statusCode ?? 0;
  const upstreamId = upstreamRequestIdOf(response.headers);
  const withUpstreamId = <T extends AttemptResult>(result: T): T => (upstreamId === undefined ? result : { ...result, upstreamRequestId: upstreamId });
  if (status < 200 || status >= 300) {
    let text = '';
    try {
      text = await readText(response);
    } catch {
      if (signal.aborted) return aborted();
    }
    release();
    // Providers echo keys in error text: the sanitizer catches known shapes, this the backend's own key.
    const error = redactSecretInError(backend.adapter.classifyError(status, response.headers, text), target.apiKey);
    if (status >= 300 && status < 400) error.retryable = false;
    return withUpstreamId({ kind: 'failed', outcome: 'http_error', error });
  }

  if (!input.stream) {
    try {
      const text = await readText(response, input.maxResponseBytes !== undefined ? { bodyBytes: input.maxResponseBytes } : undefined);
      const body: unknown = JSON.parse(text);
      release();
      const failedAnswer = input.operation === 'chat' ? backend.adapter.failedAnswer?.(body) : undefined;
      if (failedAnswer) return withUpstreamId({ kind: 'failed', outcome: 'http_error', error: failedAnswer });
      return withUpstreamId({ kind: 'json', body, text });
    } catch (err) {
      if (signal.aborted) return aborted();
      release();
      if (err instanceof ResponseTooLargeError) {
        // Not retried: another backend would most likely answer as large, each read costing the limit.
        const message = `backend ${backend.config.name} returned a body larger than ${err.limitBytes} bytes`;
        return { kind: 'failed', outcome: 'http_error', error: { status: 502, retryable: false, reason: 'response_too_large', body: { error: { message, type: 'upstream_error', param: null, code: 'upstream_response_too_large' } } } };
      }
      return failure('http_error', 502, 'invalid_body', `backend ${backend.config.name} returned a body that is not JSON`, 'upstream_invalid_response');
    }
  }
  return withUpstreamId(await startStream(input, target, sseSource(response, undefined, idle ? () => idle.activity() : undefined), stream));
}

interface StreamControl {
  firstToken(): void;
  release(): void;
  abortUpstream(): void;
  /** The failed result when the stream broke because of a timeout or the client leaving. */
  failure(): AttemptResult | undefined;
  idle: IdleTimer | undefined;
  timedOut(): TimeoutKind | undefined;
}

/** How long a finished stream's upstream may take to close its body before the connection is cut. */
const DRAIN_MS = 1000;

async function drain(events: SseSource, abortUpstream: () => void): Promise<void> {
  const timer = setTimeout(abortUpstream, DRAIN_MS);
  try {
    while ((await events.next()) !== undefined);
  } catch {
    // cut or broken: nothing more to read
  } finally {
    clearTimeout(timer);
  }
}

const midStreamError = (message: string, code: string, status = 502): StreamOutput => ({
  kind: 'error',
  error: { status, retryable: false, reason: code, body: { error: { message, type: 'upstream_error', param: null, code } } },
});

/** Reads the stream up to the first output; the rest is read by the caller after committing. */
async function startStream(input: AttemptInput, target: BackendTarget, events: SseSource, control: StreamControl): Promise<AttemptResult> {
  const translator = input.backend.adapter.createStreamTranslator(target, { clientWantsUsage: input.clientWantsUsage, clientModel: input.clientModel });
  const first: StreamOutput[] = [];
  const idle = control.idle;
  // An error event's text is the upstream's: the backend's own key is removed, as from error answers.
  const redacted = (outputs: StreamOutput[]): StreamOutput[] => {
    for (const output of outputs) if (output.kind === 'error') redactSecretInError(output.error, target.apiKey);
    return outputs;
  };
  const brokenStream = (err: unknown, when: string): StreamOutput =>
    err instanceof SseEventTooLargeError
      ? midStreamError(`backend ${input.backend.config.name} sent an event larger than ${err.limitChars} characters`, 'upstream_event_too_large')
      : midStreamError(`backend ${input.backend.config.name} broke the stream${when}`, 'upstream_stream_error');
  let upstreamDone = false;
  try {
    while (first.length === 0) {
      idle?.waitStart();
      const batch = await events.next();
      idle?.waitEnd();
      if (batch === undefined) {
        upstreamDone = true;
        first.push(...translator.end());
        break;
      }
      for (const event of batch) first.push(...translator.push(event));
    }
  } catch (err) {
    const result = control.failure();
    if (result) return result;
    control.release();
    const broken = brokenStream(err, ' before the first token') as Extract<StreamOutput, { kind: 'error' }>;
    return { kind: 'failed', outcome: 'stream_error', error: { ...broken.error, retryable: !(err instanceof SseEventTooLargeError) } };
  }
  redacted(first);
  control.firstToken();
  // An error before anything was sent is still a failed attempt (free to fail over).
  const head = first[0];
  if (head?.kind === 'error') {
    control.release();
    control.abortUpstream();
    return { kind: 'failed', outcome: 'stream_error', error: { ...head.error, retryable: head.error.retryable || head.error.status >= 500 } };
  }
  // A plain reader rather than an async generator: with one, every streamed request's objects
  // survived young-generation collections (measured: ~99% promoted, scavenges of 5-10 ms at 500
  // streams/s, then old-space collections); with this object they die young like a JSON request's.
  let over = false;
  const rest: StreamRest = {
    async next() {
      if (over) return undefined;
      try {
        for (;;) {
          idle?.waitStart();
          const batch = await events.next();
          idle?.waitEnd();
          if (batch === undefined) {
            upstreamDone = true;
            over = true;
            return redacted(translator.end());
          }
          const out: StreamOutput[] = [];
          for (const event of batch) out.push(...translator.push(event));
          if (out.length > 0) return redacted(out);
        }
      } catch (err) {
        over = true;
        const result = control.failure();
        if (result?.kind === 'failed' && result.outcome === 'timeout') return [midStreamError(result.error.body.error.message, 'upstream_timeout', 504)];
        return result ? undefined : [brokenStream(err, '')];
      }
    },
  };
  const close = (abandon = false) => {
    control.release();
    if (upstreamDone) return;
    // The client is gone, or its stream was ended early: cut the upstream now. Otherwise the
    // translator ended the stream ([DONE], message_stop) before the upstream closed its body: read the
    // little that is left so the connection goes back to the pool instead of being destroyed, within a bound.
    if (abandon || input.clientSignal.aborted) control.abortUpstream();
    else void drain(events, control.abortUpstream);
  };
  return { kind: 'stream', translator, first, rest, close, timedOut: control.timedOut };
}
