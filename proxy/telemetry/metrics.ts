// The proxy's Prometheus metrics. Labels are bounded by the config (route, backend, provider,
// model as configured) or by small sets (status class, outcome, error type, token type): never user input.
// The latency histograms keep, per bucket, the trace id of the last request observed in it (an
// OpenMetrics exemplar), served to scrapers that accept OpenMetrics.
import { VERSION } from '../version.ts';
import { Counter, Gauge, Histogram, Registry, type OpenMetricsContentType } from './prom-client-core.ts';

export interface BreakerState {
  route: string;
  backend: string;
  state: 'closed' | 'open' | 'half_open';
}

/** Exemplar labels: the request's trace id only (OpenMetrics' `trace_id`), never request content. */
export type Exemplar = { readonly trace_id: string };

/** A histogram with exemplars: prom-client then reads observe()'s argument as `{ labels, value, exemplarLabels }` only. */
export type TracedHistogram = Omit<Histogram, 'observe'> & { observe(data: { labels: Record<string, string>; value: number; exemplarLabels?: Exemplar }): void };

const BREAKER_VALUE = { closed: 0, open: 1, half_open: 2 } as const;

/** Up to 600 s: the default request deadline (10 minutes). */
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** The explicit buckets the GenAI conventions give `gen_ai.client.operation.duration`. */
const GEN_AI_DURATION_BUCKETS = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92];

export class ProxyMetrics {
  /** Prometheus text format 0.0.4 (exemplars are not part of it). */
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'llmroute_requests_total', help: 'Requests answered, by route and status class', labelNames: ['operation', 'route', 'status_class'], registers: [this.registry] });
  readonly requestDuration = tracedHistogram(this.registry, { name: 'llmroute_request_duration_seconds', help: 'Time from request received to response finished', labelNames: ['operation', 'route'] });
  readonly attempts = new Counter({ name: 'llmroute_upstream_attempts_total', help: 'Upstream attempts by backend, reason and outcome', labelNames: ['route', 'backend', 'provider', 'reason', 'outcome'], registers: [this.registry] });
  /** GenAI `gen_ai.client.operation.duration`, one observation per upstream attempt; `error_type` only on failed ones. */
  readonly operationDuration = tracedHistogram(
    this.registry,
    {
      name: 'gen_ai_client_operation_duration_seconds',
      help: 'Duration of one upstream attempt (GenAI client operation duration)',
      labelNames: ['route', 'backend', 'gen_ai_operation_name', 'gen_ai_provider_name', 'gen_ai_request_model', 'error_type'],
    },
    GEN_AI_DURATION_BUCKETS,
  );
  readonly timeToFirstToken = tracedHistogram(this.registry, { name: 'llmroute_time_to_first_token_seconds', help: 'Time from attempt start to the first streamed content', labelNames: ['route', 'backend', 'provider'] });
  readonly failovers = new Counter({ name: 'llmroute_failovers_total', help: 'Attempts made on another backend after a failure', labelNames: ['route', 'backend'], registers: [this.registry] });
  readonly tokens = new Counter({ name: 'llmroute_tokens_total', help: 'Tokens reported by upstreams, by type (input, output, cached_input, cache_write, reasoning)', labelNames: ['route', 'backend', 'provider', 'model', 'type'], registers: [this.registry] });
  readonly costUsd = new Counter({ name: 'llmroute_cost_usd_total', help: 'Cost of completions in USD (known prices only)', labelNames: ['route', 'backend', 'provider', 'model'], registers: [this.registry] });
  readonly unpriced = new Counter({ name: 'llmroute_unpriced_completions_total', help: 'Completions whose cost is unknown (no price for the model)', labelNames: ['route', 'backend', 'provider', 'model'], registers: [this.registry] });
  readonly usageUnknown = new Counter({ name: 'llmroute_usage_unknown_total', help: 'Answers whose token usage the upstream never reported (a stream cut before its usage chunk, a server that sends none): in no token or cost count', labelNames: ['route', 'backend', 'provider', 'model'], registers: [this.registry] });
  readonly inflightStreams = new Gauge({ name: 'llmroute_inflight_streams', help: 'Streams being relayed now', labelNames: ['route'], registers: [this.registry] });
  readonly configLoads = new Counter({ name: 'llmroute_config_loads_total', help: 'Config loads by result (a refused config keeps the last good one)', labelNames: ['result'], registers: [this.registry] });
  readonly configGeneration = new Gauge({ name: 'llmroute_config_info', help: 'The config generation in force (value 1)', labelNames: ['generation'], registers: [this.registry] });
  readonly buildInfo = new Gauge({ name: 'llmroute_build_info', help: 'The llmroute version running (value 1)', labelNames: ['version'], registers: [this.registry] });
  readonly traceSpans = new Counter({ name: 'llmroute_trace_spans_total', help: 'Finished spans by export result (exported, dropped when the export queue is full, export_failed)', labelNames: ['result'], registers: [this.registry] });
  private breakerSource: (() => Iterable<BreakerState>) | undefined;
  readonly circuitBreaker = new Gauge({
    name: 'llmroute_circuit_breaker_state',
    help: 'Passive circuit breaker per backend: 0 closed, 1 open (ejected), 2 half-open (probing after an ejection)',
    labelNames: ['route', 'backend'],
    registers: [this.registry],
    collect: () => this.collectBreakers(),
  });
  /** The same metric objects as `registry` (declared after them all), rendered as OpenMetrics 1.0 with exemplars. */
  private readonly openMetrics = openMetricsOf(this.registry);

  constructor() {
    this.buildInfo.set({ version: VERSION }, 1);
  }

  /** Reads breaker states at scrape time (the state changes with time, not only with events). */
  observeBreakers(source: () => Iterable<BreakerState>): void {
    this.breakerSource = source;
  }

  private collectBreakers(): void {
    if (!this.breakerSource) return;
    this.circuitBreaker.reset();
    for (const b of this.breakerSource()) this.circuitBreaker.set({ route: b.route, backend: b.backend }, BREAKER_VALUE[b.state]);
  }

  /** The exposition for a scraper's Accept header: OpenMetrics (with exemplars) when it prefers it, else Prometheus text. */
  async render(accept?: string): Promise<{ contentType: string; body: string }> {
    const registry = prefersOpenMetrics(accept) ? this.openMetrics : this.registry;
    return { contentType: registry.contentType, body: await registry.metrics() };
  }
}

/** Observes a latency histogram, with the request's trace id as the bucket's exemplar when there is one. */
export function observeLatency(histogram: TracedHistogram, labels: Record<string, string>, seconds: number, exemplar: Exemplar | undefined): void {
  histogram.observe(exemplar ? { labels, value: seconds, exemplarLabels: exemplar } : { labels, value: seconds });
}

export const statusClass = (status: number): string => (status === 499 ? 'client_closed' : `${Math.floor(status / 100)}xx`);

/**
 * A histogram with exemplars, added to `registry` in place (so the Prometheus text keeps its family
 * order): prom-client refuses exemplars on a metric created with a Prometheus-format registry (it
 * renders them only in OpenMetrics).
 */
function tracedHistogram(registry: Registry, config: { name: string; help: string; labelNames: string[] }, buckets = LATENCY_BUCKETS): TracedHistogram {
  const histogram = new Histogram({ ...config, buckets, enableExemplars: true, registers: [] });
  registry.registerMetric(histogram);
  return histogram;
}

/**
 * An OpenMetrics registry over the metric objects of `source`. Counters go in as views named without
 * `_total`: prom-client's OpenMetrics metrics() strips that suffix from each counter's own `name`, in
 * place, which would rename the counter in the Prometheus text too after the first OpenMetrics scrape.
 */
function openMetricsOf(source: Registry): Registry<OpenMetricsContentType> {
  const registry = new Registry<OpenMetricsContentType>();
  registry.setContentType(Registry.OPENMETRICS_CONTENT_TYPE);
  for (const { name } of source.getMetricsAsArray()) {
    const metric = source.getSingleMetric(name)!;
    if (!(metric instanceof Counter)) {
      registry.registerMetric(metric);
      continue;
    }
    const family = name.replace(/_total$/, '');
    // All the registry reads of a metric: name, type, and get() (whose `name` titles the family).
    const view = { name: family, type: 'counter', get: async () => ({ ...(await metric.get()), name: family }) };
    registry.registerMetric(view as unknown as Counter);
  }
  return registry;
}

/** Whether an Accept header ranks OpenMetrics at least as high as plain text (Prometheus asks for it first by default). */
export function prefersOpenMetrics(accept: string | undefined): boolean {
  if (!accept) return false;
  let openMetrics = 0;
  let text = 0;
  for (const range of accept.split(',')) {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    const q = params.find((p) => p.startsWith('q='));
    const weight = q ? Number(q.slice(2)) : 1;
    if (type === 'application/openmetrics-text') openMetrics = Math.max(openMetrics, weight);
    else if (type === 'text/plain') text = Math.max(text, weight);
  }
  return openMetrics > 0 && openMetrics >= text;
}
