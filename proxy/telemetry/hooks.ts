// The seam between the request path and telemetry. The router and HTTP layer report what happens
// through these interfaces; proxy/telemetry implements them with spans, metrics, logs and cost.
// The request path never imports OpenTelemetry, prom-client or pino directly.
import type { IncomingHttpHeaders } from 'node:http';
import type { BackendConfig } from '../config/schema.ts';
import type { ChatCompletionRequest, ChatMessage, Usage } from '../openai/types.ts';

export type Operation = 'chat' | 'embeddings' | 'models' | 'passthrough';

/** Why an upstream attempt was made. */
export type AttemptReason = 'initial' | 'retry' | 'failover' | 'hedge' | 'shadow';

export type AttemptOutcome = 'success' | 'http_error' | 'connect_error' | 'timeout' | 'aborted' | 'stream_error' | 'circuit_open';

export interface RequestStart {
  requestId: string;
  operation: Operation;
  /** HTTP route template, e.g. `/v1/chat/completions`. */
  httpRoute: string;
  /** Incoming headers, for trace-context extraction only. Never logged wholesale. */
  headers: IncomingHttpHeaders;
}

export interface RouteResolved {
  route: string;
  /** The model name the client sent. */
  clientModel: string;
  stream: boolean;
  /** The namespace policy allows prompt logging (telemetry may then record content, if also opted into). */
  logPrompts: boolean;
  /** Backends of the route the namespace policy refused (left out of the attempt order). */
  deniedBackends: readonly string[];
  /** The request's messages, by reference. Telemetry records them only when `logPrompts` is true and capture is opted into. */
  messages?: readonly ChatMessage[];
  /** The chat request, by reference: telemetry reads its parameters (temperature, max_tokens...), never its content. */
  request?: Readonly<ChatCompletionRequest>;
}

export interface AttemptStart {
  backend: BackendConfig;
  /** `gen_ai.provider.name` of the backend's adapter. */
  providerName: string;
  /** Host and port of the real upstream (never 127.0.0.1 of the sidecar itself). */
  serverAddress: string;
  serverPort: number;
  /** 1-based across the whole request. */
  attempt: number;
  reason: AttemptReason;
}

export interface AttemptEnd {
  outcome: AttemptOutcome;
  /** Upstream HTTP status when there was a response. */
  status?: number;
  /** Low-cardinality error reason (`rate_limited`, `timeout`, `ECONNREFUSED`...). */
  errorType?: string;
  usage?: Usage;
  responseModel?: string;
  /** The completion's id (`gen_ai.response.id`). */
  responseId?: string;
  /** The provider's id of its answer (`x-request-id`, `request-id`...), for a ticket with the provider. */
  upstreamRequestId?: string;
  finishReasons?: string[];
  /** A stream that ended before the upstream finished it: usage is what was received. */
  partial?: boolean;
  /** The answer's choices, by reference. Telemetry records them only when prompt logging is allowed. */
  choices?: ReadonlyArray<{ message?: ChatMessage; finish_reason?: string | null }>;
}

export interface RequestEnd {
  status: number;
  /** The OpenAI error `code` when the request failed. */
  errorCode?: string;
  attempts: number;
}

export interface AttemptTelemetry {
  /** Headers to add to this attempt's upstream request (W3C traceparent of the attempt's span). */
  readonly upstreamHeaders: Readonly<Record<string, string>>;
  /** The first byte of content arrived (time to first token). */
  firstToken(): void;
  /** The attempt is over. Returns the cost in USD of its usage when known (for `x-llmroute-cost-usd`). */
  end(result: AttemptEnd): { costUsd?: number };
}

export interface RequestTelemetry {
  routeResolved(info: RouteResolved): void;
  startAttempt(info: AttemptStart): AttemptTelemetry;
  end(result: RequestEnd): void;
}

export interface Telemetry {
  startRequest(info: RequestStart): RequestTelemetry;
  configLoaded(result: { ok: boolean; generation?: string; issues?: number }): void;
}

const noopAttempt: AttemptTelemetry = { upstreamHeaders: {}, firstToken() {}, end: () => ({}) };
const noopRequest: RequestTelemetry = { routeResolved() {}, startAttempt: () => noopAttempt, end() {} };

/** Telemetry that records nothing (tests of the request path, and the default until wired). */
export const noopTelemetry: Telemetry = { startRequest: () => noopRequest, configLoaded() {} };
