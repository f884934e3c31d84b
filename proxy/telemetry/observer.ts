// The Telemetry implementation behind the request path's seam: Prometheus metrics, one structured
// log line per request, and the cost of each completion. Never records prompts, completions,
// keys or headers; labels come from the config, not from the request.
import type { BackendConfig } from '../config/schema.ts';
import type { Usage } from '../openai/types.ts';
import { tokenCounts } from '../openai/usage.ts';
import type { AttemptEnd, AttemptStart, AttemptTelemetry, RequestEnd, RequestStart, RequestTelemetry, RouteResolved, Telemetry } from './hooks.ts';
import { observeLatency, statusClass, type ProxyMetrics } from './metrics.ts';
import type { RequestTracer } from './spans.ts';

export interface RequestLogger {
  info(fields: Record<string, unknown>, message: string): void;
}

/** USD cost of a usage on a backend, or undefined when no price is known (never 0 for unknown). */
export type CostOf = (backend: BackendConfig, usage: Usage) => number | undefined;

export interface ObserverOptions {
  metrics: ProxyMetrics;
  logger?: RequestLogger;
  costOf?: CostOf;
  /** Identity of the workload (namespace, pod, service account) from the downward API. */
  workload?: Readonly<Record<string, string>>;
  /** Spans (tracing on) or trace-context pass-through (tracing off). */
  tracer?: RequestTracer;
  now?: () => number;
}

interface AttemptRecord {
  backend: string;
  provider: string;
  reason: string;
  outcome?: string;
  status?: number;
  upstreamRequestId?: string;
}

export function createObserver(options: ObserverOptions): Telemetry {
  const { metrics } = options;
  const now = options.now ?? (() => performance.now());
  return {
    configLoaded(result) {
      metrics.configLoads.inc({ result: result.ok ? 'ok' : 'refused' });
      if (result.ok && result.generation) {
        metrics.configGeneration.reset();
        metrics.configGeneration.set({ generation: result.generation }, 1);
      }
    },
    startRequest(info: RequestStart): RequestTelemetry {
      const started = now();
      let route = '(none)';
      let stream = false;
      let model: string | undefined;
      const attempts: AttemptRecord[] = [];
      let usage: Usage | undefined;
      let costUsd: number | undefined;
      let partial = false;
      let firstTokenMs: number | undefined;
      const span = options.tracer?.startRequest(info);
      // The latency histograms' exemplar: the trace id (32 hex, parsed by the propagator), nothing else,
      // and only of a sampled trace (one not recorded would be a dead link).
      const exemplar = span?.traceId && span.sampled ? { trace_id: span.traceId } : undefined;
      // An attempt's metric updates run right after the current I/O callback (setImmediate), or at the
      // request's end if that comes first: the answer they describe is written in that callback, so
      // label hashing and histogram buckets (~10-15 us) stay off the path the client waits on.
      const pending: (() => void)[] = [];
      // Each update runs once, and one that throws (a value prom-client refuses) loses its own metric
      // only: it runs after the answer, where an exception would reach no handler but the process's.
      const flush = (): void => {
        for (const update of pending.splice(0)) {
          try {
            update();
          } catch {
            // dropped: a metric is not worth a request, let alone the sidecar
          }
        }
      };
      const defer = (update: () => void): void => {
        if (pending.push(update) === 1) setImmediate(flush);
      };
      return {
        routeResolved(r: RouteResolved) {
          span?.routeResolved(r);
          route = r.route;
          stream = r.stream;
          model = r.clientModel;
          if (stream) metrics.inflightStreams.inc({ route });
        },
        startAttempt(a: AttemptStart): AttemptTelemetry {
          const attemptStarted = now();
          const labels = { route, backend: a.backend.name, provider: a.providerName };
          const durationLabels = { route, backend: a.backend.name, gen_ai_operation_name: info.operation, gen_ai_provider_name: a.providerName, gen_ai_request_model: a.backend.model };
          const record: AttemptRecord = { backend: a.backend.name, provider: a.providerName, reason: a.reason };
          attempts.push(record);
          if (a.reason === 'failover') metrics.failovers.inc({ route, backend: a.backend.name });
          const attemptSpan = span?.startAttempt(a);
          return {
            upstreamHeaders: attemptSpan?.headers ?? {},
            firstToken() {
              const at = now();
              firstTokenMs = at - started;
              const seconds = (at - attemptStarted) / 1000;
              defer(() => observeLatency(metrics.timeToFirstToken, labels, seconds, exemplar));
              attemptSpan?.firstToken(at - attemptStarted);
            },
            end(result: AttemptEnd) {
              const cost = recordEnd(result);
              attemptSpan?.end(result, cost.costUsd);
              return cost;
            },
          };
          function recordEnd(result: AttemptEnd): { costUsd?: number } {
            record.outcome = result.outcome;
            if (result.status !== undefined) record.status = result.status;
            if (result.upstreamRequestId !== undefined) record.upstreamRequestId = result.upstreamRequestId;
            const seconds = (now() - attemptStarted) / 1000;
            if (result.partial) partial = true;
            const attemptUsage = result.usage;
            if (attemptUsage) usage = attemptUsage;
            const cost = attemptUsage ? options.costOf?.(a.backend, attemptUsage) : undefined;
            if (cost !== undefined) costUsd = cost;
            defer(() => {
              metrics.attempts.inc({ ...labels, reason: a.reason, outcome: result.outcome });
              // error_type is left out on success (Prometheus reads a missing label as the empty value).
              const errorType = result.outcome === 'success' ? undefined : (result.errorType ?? result.outcome);
              observeLatency(metrics.operationDuration, errorType ? { ...durationLabels, error_type: errorType } : durationLabels, seconds, exemplar);
              const modelLabels = { ...labels, model: a.backend.model };
              if (!attemptUsage) {
                // A completion or embedding (whole or cut) was served: tokens were spent that no count will
                // show. Forwarded endpoints (moderations, audio...) are opaque: usage is not read there.
                if (result.status === 200 && info.operation !== 'passthrough') metrics.usageUnknown.inc(modelLabels);
                return;
              }
              countTokens(metrics, modelLabels, attemptUsage);
              if (cost === undefined) metrics.unpriced.inc(modelLabels);
              else metrics.costUsd.inc(modelLabels, cost);
            });
            return cost === undefined ? {} : { costUsd: cost };
          }
        },
        end(result: RequestEnd) {
          const seconds = (now() - started) / 1000;
          flush();
          const operation = info.operation;
          metrics.requests.inc({ operation, route, status_class: statusClass(result.status) });
          observeLatency(metrics.requestDuration, { operation, route }, seconds, exemplar);
          if (stream) metrics.inflightStreams.dec({ route });
          span?.end(result, { ...(usage ? { usage } : {}), ...(costUsd !== undefined ? { costUsd } : {}), partial });
          options.logger?.info(
            {
              requestId: info.requestId,
              ...(span?.traceId ? { traceId: span.traceId } : {}),
              operation,
              route,
              model,
              stream,
              status: result.status,
              ...(result.errorCode ? { errorCode: result.errorCode } : {}),
              attempts: attempts.map((x) => ({ backend: x.backend, reason: x.reason, outcome: x.outcome, status: x.status, ...(x.upstreamRequestId ? { upstreamRequestId: x.upstreamRequestId } : {}) })),
              backend: attempts.at(-1)?.backend,
              durationMs: Math.round(seconds * 1000 * 100) / 100,
              ...(firstTokenMs !== undefined ? { timeToFirstTokenMs: Math.round(firstTokenMs * 100) / 100 } : {}),
              ...(usage ? { tokens: logTokens(usage) } : {}),
              costUsd: costUsd ?? null,
              ...(partial ? { partial: true } : {}),
              ...(options.workload ? { workload: options.workload } : {}),
            },
            'request',
          );
        },
      };
    },
  };
}

function countTokens(metrics: ProxyMetrics, labels: Record<string, string>, usage: Usage): void {
  const tokens = tokenCounts(usage);
  const add = (type: string, n: number) => {
    if (n > 0) metrics.tokens.inc({ ...labels, type }, n);
  };
  add('input', tokens.input);
  add('output', tokens.output);
  add('cached_input', tokens.cachedInput);
  add('cache_write', tokens.cacheWrite);
  add('reasoning', tokens.reasoning);
}

function logTokens(usage: Usage): { input: number; output: number; cachedInput: number; reasoning: number } {
  const { input, output, cachedInput, reasoning } = tokenCounts(usage);
  return { input, output, cachedInput, reasoning };
}

/** The workload identity the injector passes through the downward API (absent fields left out). */
export function workloadIdentity(env: Readonly<Record<string, string | undefined>>): Record<string, string> | undefined {
  const identity: Record<string, string> = {};
  if (env.POD_NAMESPACE) identity.namespace = env.POD_NAMESPACE;
  if (env.POD_NAME) identity.pod = env.POD_NAME;
  if (env.POD_SERVICE_ACCOUNT) identity.serviceAccount = env.POD_SERVICE_ACCOUNT;
  return Object.keys(identity).length > 0 ? identity : undefined;
}
