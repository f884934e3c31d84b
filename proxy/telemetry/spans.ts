// The span tree of one request: a SERVER span for the incoming call (continuing the caller's
// traceparent/tracestate/baggage) and a CLIENT span per upstream attempt, each sending its own
// fresh traceparent upstream. Attributes follow the GenAI conventions (semconv.ts). Prompt and
// completion text are recorded only when the namespace policy allows prompt logging and the
// sidecar opted into content capture (OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT).
import { context as otelContext, SpanKind, SpanStatusCode, trace, TraceFlags, type Attributes, type Context, type Span, type SpanContext, type TextMapPropagator, type Tracer } from '@opentelemetry/api';
import type { ChatCompletionRequest, Usage } from '../openai/types.ts';
import { tokenCounts } from '../openai/usage.ts';
import type { AttemptEnd, AttemptStart, RequestEnd, RequestStart, RouteResolved } from './hooks.ts';
import { inputMessagesJson, outputMessagesJson } from './genai-messages.ts';
import { GEN_AI, LLMROUTE, SEMCONV } from './semconv.ts';

export interface AttemptSpan {
  /** W3C trace-context headers for this attempt's upstream request. */
  readonly headers: Readonly<Record<string, string>>;
  firstToken(msSinceAttemptStart: number): void;
  end(result: AttemptEnd, costUsd: number | undefined): void;
}

export interface RequestSpan {
  /** The trace this request belongs to (for the log line), when there is one. */
  readonly traceId?: string;
  /** Whether that trace is recorded (sampled): exemplars point only at traces that can be found. */
  readonly sampled?: boolean;
  routeResolved(info: RouteResolved): void;
  startAttempt(info: AttemptStart): AttemptSpan;
  end(result: RequestEnd, totals: { usage?: Usage; costUsd?: number; partial: boolean }): void;
}

export interface RequestTracer {
  startRequest(info: RequestStart): RequestSpan;
}

const headerGetter = {
  keys: (carrier: RequestStart['headers']) => Object.keys(carrier),
  get: (carrier: RequestStart['headers'], key: string) => carrier[key],
};

const recordSetter = { set: (carrier: Record<string, string>, key: string, value: string) => void (carrier[key] = value) };

/** Only trace context goes upstream: baggage often carries user data, and providers are third parties. */
const UPSTREAM_HEADERS = new Set(['traceparent', 'tracestate']);

function inject(propagator: TextMapPropagator, ctx: Context): Record<string, string> {
  const carrier: Record<string, string> = {};
  propagator.inject(ctx, carrier, recordSetter);
  for (const key of Object.keys(carrier)) if (!UPSTREAM_HEADERS.has(key)) delete carrier[key];
  return carrier;
}

export interface SpanOptions {
  /** Content capture opted into: prompts are then recorded where the namespace policy allows them. */
  captureMessageContent?: boolean;
}

/** Spans recorded by `tracer`, context extracted and injected with `propagator`. */
export function spanTracer(tracer: Tracer, propagator: TextMapPropagator, options: SpanOptions = {}): RequestTracer {
  const capture = options.captureMessageContent === true;
  return {
    startRequest(info: RequestStart): RequestSpan {
      const parent = propagator.extract(otelContext.active(), info.headers, headerGetter);
      const server = tracer.startSpan(
        `POST ${info.httpRoute}`,
        {
          kind: SpanKind.SERVER,
          attributes: {
            [SEMCONV.HTTP_REQUEST_METHOD]: 'POST',
            [SEMCONV.HTTP_ROUTE]: info.httpRoute,
            [GEN_AI.OPERATION_NAME]: info.operation,
            [LLMROUTE.REQUEST_ID]: info.requestId,
          },
        },
        parent,
      );
      const serverContext = trace.setSpan(parent, server);
      let route: RouteResolved | undefined;
      let requestAttributes: Attributes | undefined;
      return {
        traceId: server.spanContext().traceId,
        sampled: isSampled(server.spanContext()),
        routeResolved(r: RouteResolved) {
          route = r;
          requestAttributes = requestAttributesOf(r.stream, r.request, capture && r.logPrompts);
          server.setAttributes({
            [LLMROUTE.ROUTE]: r.route,
            [GEN_AI.REQUEST_MODEL]: r.clientModel,
            [LLMROUTE.STREAM]: r.stream,
            [LLMROUTE.POLICY_DECISION]: r.deniedBackends.length === 0 ? 'allowed' : 'backends_denied',
          });
          if (r.deniedBackends.length > 0) server.setAttribute(LLMROUTE.POLICY_DENIED_BACKENDS, [...r.deniedBackends]);
        },
        startAttempt(a: AttemptStart): AttemptSpan {
          const attributes: Attributes = {
            ...requestAttributes,
            [GEN_AI.OPERATION_NAME]: info.operation,
            [GEN_AI.PROVIDER_NAME]: a.providerName,
            [GEN_AI.REQUEST_MODEL]: a.backend.model,
            [SEMCONV.SERVER_ADDRESS]: a.serverAddress,
            [SEMCONV.SERVER_PORT]: a.serverPort,
            [LLMROUTE.BACKEND]: a.backend.name,
            [LLMROUTE.ATTEMPT]: a.attempt,
            [LLMROUTE.ATTEMPT_REASON]: a.reason,
          };
          if (route) attributes[LLMROUTE.ROUTE] = route.route;
          const logPrompts = capture && route?.logPrompts === true;
          if (logPrompts && route?.messages) attributes[GEN_AI.INPUT_MESSAGES] = inputMessagesJson(route.messages);
          const client = tracer.startSpan(`${info.operation} ${a.backend.model}`, { kind: SpanKind.CLIENT, attributes }, serverContext);
          return {
            headers: inject(propagator, trace.setSpan(serverContext, client)),
            firstToken(ms: number) {
              client.setAttribute(GEN_AI.RESPONSE_TIME_TO_FIRST_CHUNK, ms / 1000);
            },
            end(result: AttemptEnd, costUsd: number | undefined) {
              if (result.status !== undefined) client.setAttribute(SEMCONV.HTTP_RESPONSE_STATUS_CODE, result.status);
              if (result.responseModel) client.setAttribute(GEN_AI.RESPONSE_MODEL, result.responseModel);
              if (result.responseId) client.setAttribute(GEN_AI.RESPONSE_ID, result.responseId);
              if (result.finishReasons && result.finishReasons.length > 0) client.setAttribute(GEN_AI.RESPONSE_FINISH_REASONS, result.finishReasons);
              if (result.usage) client.setAttributes(usageAttributes(result.usage));
              setCost(client, result.usage, costUsd);
              if (result.partial) client.setAttribute(LLMROUTE.PARTIAL, true);
              if (logPrompts && result.choices) client.setAttribute(GEN_AI.OUTPUT_MESSAGES, outputMessagesJson(result.choices));
              if (result.outcome !== 'success') {
                const errorType = result.errorType ?? result.outcome;
                client.setAttribute(SEMCONV.ERROR_TYPE, errorType);
                client.setStatus({ code: SpanStatusCode.ERROR, message: errorType });
              }
              client.end();
            },
          };
        },
        end(result: RequestEnd, totals) {
          server.setAttribute(SEMCONV.HTTP_RESPONSE_STATUS_CODE, result.status);
          server.setAttribute(LLMROUTE.ATTEMPTS, result.attempts);
          if (totals.usage) server.setAttributes(usageAttributes(totals.usage));
          setCost(server, totals.usage, totals.costUsd);
          if (totals.partial) server.setAttribute(LLMROUTE.PARTIAL, true);
          if (result.errorCode) {
            server.setAttribute(SEMCONV.ERROR_TYPE, result.errorCode);
            server.setAttribute(LLMROUTE.ERROR_CODE, result.errorCode);
          }
          if (result.errorCode === 'denied_by_policy') server.setAttribute(LLMROUTE.POLICY_DECISION, 'denied');
          // HTTP server conventions: only 5xx marks the server span as an error (4xx is the caller's).
          if (result.status >= 500) server.setStatus({ code: SpanStatusCode.ERROR, ...(result.errorCode ? { message: result.errorCode } : {}) });
          server.end();
        },
      };
    },
  };
}

/**
 * No spans (tracing off): the caller's trace context is still handed upstream unchanged, so the
 * app's trace and the provider's still line up when the sidecar itself does not export.
 */
export function passThroughTracer(propagator: TextMapPropagator): RequestTracer {
  const noAttempt = (headers: Record<string, string>): AttemptSpan => ({ headers, firstToken() {}, end() {} });
  return {
    startRequest(info) {
      const incoming = info.headers.traceparent === undefined ? undefined : propagator.extract(otelContext.active(), info.headers, headerGetter);
      const headers = incoming ? inject(propagator, incoming) : {};
      const attempt = noAttempt(headers);
      const caller = incoming ? trace.getSpanContext(incoming) : undefined;
      return { ...(caller?.traceId ? { traceId: caller.traceId, sampled: isSampled(caller) } : {}), routeResolved() {}, startAttempt: () => attempt, end() {} };
    },
  };
}

function usageAttributes(usage: Usage): Attributes {
  const tokens = tokenCounts(usage);
  const attributes: Attributes = {
    [GEN_AI.USAGE_INPUT_TOKENS]: tokens.input,
    [GEN_AI.USAGE_OUTPUT_TOKENS]: tokens.output,
  };
  if (tokens.cachedInput) attributes[GEN_AI.USAGE_CACHE_READ_INPUT_TOKENS] = tokens.cachedInput;
  if (tokens.cacheWrite) attributes[GEN_AI.USAGE_CACHE_CREATION_INPUT_TOKENS] = tokens.cacheWrite;
  if (tokens.reasoning) attributes[GEN_AI.USAGE_REASONING_OUTPUT_TOKENS] = tokens.reasoning;
  return attributes;
}

/**
 * The request attributes of the CLIENT spans: streaming, the parameters the client set (not
 * n = 1, the default) and the output type. Parameters only, never message content; stop sequences
 * are the client's own strings, so they are recorded only where prompts may be (`withText`).
 */
function requestAttributesOf(stream: boolean, request: Readonly<ChatCompletionRequest> | undefined, withText: boolean): Attributes {
  const attributes: Attributes = {};
  if (stream) attributes[GEN_AI.REQUEST_STREAM] = true;
  if (!request) return attributes;
  const number = (name: string, value: unknown) => {
    if (typeof value === 'number' && Number.isFinite(value)) attributes[name] = value;
  };
  number(GEN_AI.REQUEST_MAX_TOKENS, request.max_completion_tokens ?? request.max_tokens);
  number(GEN_AI.REQUEST_TEMPERATURE, request.temperature);
  number(GEN_AI.REQUEST_TOP_P, request.top_p);
  number(GEN_AI.REQUEST_FREQUENCY_PENALTY, request.frequency_penalty);
  number(GEN_AI.REQUEST_PRESENCE_PENALTY, request.presence_penalty);
  number(GEN_AI.REQUEST_SEED, request.seed);
  if (request.n !== 1) number(GEN_AI.REQUEST_CHOICE_COUNT, request.n);
  const stop = !withText ? undefined : typeof request.stop === 'string' ? [request.stop] : request.stop;
  if (Array.isArray(stop) && stop.length > 0 && stop.every((s) => typeof s === 'string')) attributes[GEN_AI.REQUEST_STOP_SEQUENCES] = [...stop];
  const format = request.response_format?.type;
  attributes[GEN_AI.OUTPUT_TYPE] = format === 'json_object' || format === 'json_schema' ? 'json' : 'text';
  return attributes;
}

/** Cost is an attribute only when known; `cost_known: false` says "unknown", never a 0. */
function setCost(span: Span, usage: Usage | undefined, costUsd: number | undefined): void {
  if (!usage) return;
  if (costUsd === undefined) span.setAttribute(LLMROUTE.COST_KNOWN, false);
  else span.setAttributes({ [LLMROUTE.COST_USD]: costUsd, [LLMROUTE.COST_KNOWN]: true });
}

/** Whether a trace is recorded (its sampled flag): only then may an exemplar point at it. */
function isSampled(spanContext: SpanContext): boolean {
  return (spanContext.traceFlags & TraceFlags.SAMPLED) === TraceFlags.SAMPLED;
}
