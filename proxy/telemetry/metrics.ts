// The proxy's Prometheus metrics. Labels are bounded by the config (route, backend, provider,
// model as configured) or by fixed sets (status class, outcome, token type): never user input.
import { Counter, Gauge, Histogram, Registry } from './prom-client-core.ts';

export interface BreakerState {
  route: string;
  backend: string;
  state: 'closed' | 'open' | 'half_open';
}

const BREAKER_VALUE = { closed: 0, open: 1, half_open: 2 } as const;

const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export class ProxyMetrics {
  readonly registry = new Registry();
  readonly requests = new Counter({ name: 'llmroute_requests_total', help: 'Requests answered, by route and status class', labelNames: ['operation', 'route', 'status_class'], registers: [this.registry] });
  readonly requestDuration = new Histogram({ name: 'llmroute_request_duration_seconds', help: 'Time from request received to response finished', labelNames: ['operation', 'route'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly attempts = new Counter({ name: 'llmroute_upstream_attempts_total', help: 'Upstream attempts by backend, reason and outcome', labelNames: ['route', 'backend', 'provider', 'reason', 'outcome'], registers: [this.registry] });
  readonly upstreamDuration = new Histogram({ name: 'llmroute_upstream_duration_seconds', help: 'Duration of one upstream attempt', labelNames: ['route', 'backend', 'provider'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly timeToFirstToken = new Histogram({ name: 'llmroute_time_to_first_token_seconds', help: 'Time from attempt start to the first streamed content', labelNames: ['route', 'backend', 'provider'], buckets: LATENCY_BUCKETS, registers: [this.registry] });
  readonly failovers = new Counter({ name: 'llmroute_failovers_total', help: 'Attempts made on another backend after a failure', labelNames: ['route', 'backend'], registers: [this.registry] });
  readonly tokens = new Counter({ name: 'llmroute_tokens_total', help: 'Tokens reported by upstreams, by type (input, output, cached_input, cache_write, reasoning)', labelNames: ['route', 'backend', 'provider', 'model', 'type'], registers: [this.registry] });
  readonly costUsd = new Counter({ name: 'llmroute_cost_usd_total', help: 'Cost of completions in USD (known prices only)', labelNames: ['route', 'backend', 'provider', 'model'], registers: [this.registry] });
  readonly unpriced = new Counter({ name: 'llmroute_unpriced_completions_total', help: 'Completions whose cost is unknown (no price for the model)', labelNames: ['route', 'backend', 'provider', 'model'], registers: [this.registry] });
  readonly inflightStreams = new Gauge({ name: 'llmroute_inflight_streams', help: 'Streams being relayed now', labelNames: ['route'], registers: [this.registry] });
  readonly configLoads = new Counter({ name: 'llmroute_config_loads_total', help: 'Config loads by result (a refused config keeps the last good one)', labelNames: ['result'], registers: [this.registry] });
  readonly configGeneration = new Gauge({ name: 'llmroute_config_info', help: 'The config generation in force (value 1)', labelNames: ['generation'], registers: [this.registry] });
  readonly traceSpans = new Counter({ name: 'llmroute_trace_spans_total', help: 'Finished spans by export result (exported, dropped when the export queue is full, export_failed)', labelNames: ['result'], registers: [this.registry] });
  private breakerSource: (() => Iterable<BreakerState>) | undefined;
  readonly circuitBreaker = new Gauge({
    name: 'llmroute_circuit_breaker_state',
    help: 'Passive circuit breaker per backend: 0 closed, 1 open (ejected), 2 half-open (probing after an ejection)',
    labelNames: ['route', 'backend'],
    registers: [this.registry],
    collect: () => this.collectBreakers(),
  });

  /** Reads breaker states at scrape time (the state changes with time, not only with events). */
  observeBreakers(source: () => Iterable<BreakerState>): void {
    this.breakerSource = source;
  }

  private collectBreakers(): void {
    if (!this.breakerSource) return;
    this.circuitBreaker.reset();
    for (const b of this.breakerSource()) this.circuitBreaker.set({ route: b.route, backend: b.backend }, BREAKER_VALUE[b.state]);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

export const statusClass = (status: number): string => (status === 499 ? 'client_closed' : `${Math.floor(status / 100)}xx`);
