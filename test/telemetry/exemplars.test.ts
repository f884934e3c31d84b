// Trace-id exemplars on the latency histograms, scraped from a running proxy driven by the openai SDK:
// a scraper that accepts OpenMetrics (as Prometheus does by default) gets them on the bucket lines;
// any other gets the Prometheus text format as before, without exemplars, with the same values.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { ProxyMetrics, prefersOpenMetrics } from '#proxy/telemetry/metrics.ts';
import { createObserver } from '#proxy/telemetry/observer.ts';
import { createTracing } from '#proxy/telemetry/tracing.ts';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { backend, startWith, type RouteInput, type Started } from '#test/proxy/harness.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const TRACEPARENT = `00-${TRACE_ID}-00f067aa0ba902b7-01`;
/** What Prometheus 2.x sends by default (3.x adds `escaping=` parameters and other weights). */
const PROMETHEUS_ACCEPT = 'application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1';
const OFF = { enabled: false as const, reason: 'test', propagators: ['tracecontext' as const, 'baggage' as const], captureMessageContent: false, warnings: [] };

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
  exemplar?: { labels: Record<string, string>; value: number; timestamp: number };
}

const LABEL_SET = String.raw`\{((?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\]|\\.)*",?)*)\}`;
const SAMPLE_LINE = new RegExp(String.raw`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:${LABEL_SET})? (\S+)(?: # ${LABEL_SET} (\S+) (\S+))?$`);

function labelsOf(text: string | undefined): Record<string, string> {
  return Object.fromEntries([...(text ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!]));
}

/** Every line is a comment or a well-formed sample (else it throws): the samples, with their exemplars. */
function parseExposition(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ') || line === '# EOF') continue;
    const m = SAMPLE_LINE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const sample: Sample = { name: m[1]!, labels: labelsOf(m[2]), value: Number(m[3]) };
    if (m[4] !== undefined) sample.exemplar = { labels: labelsOf(m[4]), value: Number(m[5]), timestamp: Number(m[6]) };
    samples.push(sample);
  }
  return samples;
}

const series = (samples: Sample[]) => Object.fromEntries(samples.map((s) => [`${s.name}${JSON.stringify(s.labels)}`, s.value]));

let fake: OpenAIFake;
beforeAll(async () => {
  fake = await startOpenAIFake();
});
afterAll(async () => {
  await fake.close();
});

const routes = (): RouteInput[] => ['chat', 'stream', 'untraced'].map((m) => ({ name: `ns/${m}`, models: [m], backends: [backend('up', fake.baseURL)], retries: { attempts: 0 } }));

/** A proxy wired like `llmroute proxy` (proxy/main.ts): the admin port's /metrics renders for the scraper's Accept header. */
async function startMetered(tracing: Awaited<ReturnType<typeof createTracing>>): Promise<{ started: Started; metrics: ProxyMetrics; scrape: (accept?: string) => Promise<Response> }> {
  const metrics = new ProxyMetrics();
  const started = await startWith(routes(), { telemetry: createObserver({ metrics, tracer: tracing.tracer }), metrics: (accept?: string) => metrics.render(accept) });
  metrics.observeBreakers(() => started.proxy.breakerStates());
  const scrape = (accept?: string) => fetch(`${started.proxy.adminUrl}/metrics`, accept ? { headers: { accept } } : {});
  return { started, metrics, scrape };
}

/** The request's metrics are recorded when its response has finished: scrape until they are. */
async function scrapeUntil(scrape: (accept?: string) => Promise<Response>, accept: string | undefined, recorded: (samples: Sample[]) => boolean): Promise<{ response: Response; text: string; samples: Sample[] }> {
  for (let i = 0; ; i++) {
    const response = await scrape(accept);
    const text = await response.text();
    const samples = parseExposition(text);
    if (recorded(samples)) return { response, text, samples };
    if (i === 100) throw new Error(`metrics not recorded in time:\n${text}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const countOf = (samples: Sample[], metric: string, route: string) => samples.find((s) => s.name === `${metric}_count` && s.labels.route === route)?.value ?? 0;
const bucketsOf = (samples: Sample[], metric: string, route: string) => samples.filter((s) => s.name === `${metric}_bucket` && s.labels.route === route);
const sumOf = (samples: Sample[], metric: string, route: string) => samples.find((s) => s.name === `${metric}_sum` && s.labels.route === route)!.value;

/** The one exemplar of a histogram that saw one observation: on the bucket holding it, equal to the sum. */
function soleExemplar(samples: Sample[], metric: string, route: string) {
  const buckets = bucketsOf(samples, metric, route);
  const withExemplar = buckets.filter((b) => b.exemplar);
  expect(withExemplar).toHaveLength(1);
  const bucket = withExemplar[0]!;
  const index = buckets.indexOf(bucket);
  const lower = index === 0 ? 0 : Number(buckets[index - 1]!.labels.le);
  expect(bucket.exemplar!.value).toBeGreaterThan(lower);
  expect(bucket.exemplar!.value).toBeLessThanOrEqual(bucket.labels.le === '+Inf' ? Infinity : Number(bucket.labels.le));
  expect(bucket.exemplar!.value).toBe(sumOf(samples, metric, route));
  return bucket.exemplar!;
}

describe('tracing off: the caller\'s traceparent', () => {
  let proxy: Awaited<ReturnType<typeof startMetered>>;
  const sent = { from: 0, to: 0 };
  beforeAll(async () => {
    proxy = await startMetered(await createTracing(OFF, { serviceVersion: 'test' }));
    const client = proxy.started.client;
    sent.from = Date.now() / 1000;
    await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: TRACEPARENT } });
    const stream = await client.chat.completions.create({ model: 'stream', messages: [{ role: 'user', content: 'hi' }], stream: true }, { headers: { traceparent: TRACEPARENT } });
    for await (const chunk of stream) void chunk;
    await client.chat.completions.create({ model: 'untraced', messages: [{ role: 'user', content: 'hi' }] });
    // Malformed: dropped by the propagator, so not an exemplar (nor anything else in the metrics).
    await client.chat.completions.create({ model: 'untraced', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: '00-sk-canary-not-a-trace-id-00000000-01' } });
    // Not sampled by the caller (flags 00): that trace is not recorded, so an exemplar would be a dead link.
    await client.chat.completions.create({ model: 'untraced', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00' } });
    sent.to = Date.now() / 1000;
  });
  afterAll(async () => {
    await proxy.started.close();
  });
  const recorded = (samples: Sample[]) => countOf(samples, 'llmroute_request_duration_seconds', 'ns/untraced') === 3 && countOf(samples, 'llmroute_request_duration_seconds', 'ns/stream') === 1;

  test('Accept: OpenMetrics gets OpenMetrics 1.0 with the trace id as exemplar on the request, operation-duration and first-token histograms', async () => {
    const { response, text, samples } = await scrapeUntil(proxy.scrape, PROMETHEUS_ACCEPT, recorded);
    expect(response.headers.get('content-type')).toBe('application/openmetrics-text; version=1.0.0; charset=utf-8');
    expect(response.headers.get('vary')).toBe('Accept'); // caches must not hand one format to the other scraper
    expect(text.endsWith('\n# EOF\n')).toBe(true);
    expect(text).not.toMatch(/\n\n/); // no blank line in OpenMetrics
    expect(text).toContain('# TYPE llmroute_requests counter\n'); // family without `_total`, samples with it
    expect(text).toMatch(/^llmroute_requests_total\{operation="chat",route="ns\/chat",status_class="2xx"\} 1$/m);

    const exemplar = soleExemplar(samples, 'llmroute_request_duration_seconds', 'ns/chat');
    expect(exemplar.labels).toEqual({ trace_id: TRACE_ID });
    expect(exemplar.timestamp).toBeGreaterThanOrEqual(Math.floor(sent.from));
    expect(exemplar.timestamp).toBeLessThanOrEqual(Date.now() / 1000);
    // The bucket line as the OpenMetrics spec writes it: `... <count> # {trace_id="..."} <value> <timestamp>`.
    expect(text).toMatch(new RegExp(String.raw`^llmroute_request_duration_seconds_bucket\{le="[^"]+",operation="chat",route="ns/chat"\} 1 # \{trace_id="${TRACE_ID}"\} [0-9.e-]+ [0-9.]+$`, 'm'));
    expect(soleExemplar(samples, 'llmroute_request_duration_seconds', 'ns/stream').labels).toEqual({ trace_id: TRACE_ID });
    expect(soleExemplar(samples, 'gen_ai_client_operation_duration_seconds', 'ns/chat').labels).toEqual({ trace_id: TRACE_ID });
    expect(soleExemplar(samples, 'llmroute_time_to_first_token_seconds', 'ns/stream').labels).toEqual({ trace_id: TRACE_ID });

    // No trace context, a malformed one or an unsampled one: no exemplar. Exemplars sit on histogram buckets only.
    expect(bucketsOf(samples, 'llmroute_request_duration_seconds', 'ns/untraced').filter((b) => b.exemplar)).toEqual([]);
    expect(samples.filter((s) => s.exemplar && !s.name.endsWith('_bucket'))).toEqual([]);
    expect(text).not.toContain('canary');
  });

  test('any other Accept gets the Prometheus text format 0.0.4, without exemplars, with the same values', async () => {
    const open = await scrapeUntil(proxy.scrape, 'application/openmetrics-text; version=1.0.0', recorded);
    for (const accept of [undefined, 'text/plain', 'text/plain;version=0.0.4;q=1,application/openmetrics-text;q=0.5', '*/*']) {
      const { response, text, samples } = await scrapeUntil(proxy.scrape, accept, recorded);
      expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      expect(text).not.toContain('trace_id');
      expect(text).not.toContain('# EOF');
      expect(samples.filter((s) => s.exemplar)).toEqual([]);
      // Counters keep `_total` in their family name, also after OpenMetrics scrapes (prom-client renames them in place).
      expect(text).toContain('# TYPE llmroute_requests_total counter\n');
      expect(text).toContain('# TYPE llmroute_request_duration_seconds histogram\n');
      // One set of metrics: the same series and values in both formats.
      expect(series(samples)).toEqual(series(open.samples));
    }
  });
});

test('tracing on: the exemplar is the sidecar\'s own trace (a new one when the caller sent none)', async () => {
  const exporter = new InMemorySpanExporter();
  const proxy = await startMetered(await createTracing(OFF, { serviceVersion: 'test', exporter }));
  try {
    await proxy.started.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    const { samples } = await scrapeUntil(proxy.scrape, PROMETHEUS_ACCEPT, (s) => countOf(s, 'llmroute_request_duration_seconds', 'ns/chat') === 1);
    const server = exporter.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER)!;
    expect(server.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(soleExemplar(samples, 'llmroute_request_duration_seconds', 'ns/chat').labels).toEqual({ trace_id: server.spanContext().traceId });
  } finally {
    await proxy.started.close();
  }
});

test('content negotiation: OpenMetrics when the Accept header ranks it at least as high as plain text', () => {
  expect(prefersOpenMetrics(PROMETHEUS_ACCEPT)).toBe(true);
  expect(prefersOpenMetrics('application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;escaping=allow-utf-8;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1')).toBe(true); // Prometheus 3
  expect(prefersOpenMetrics('Application/OpenMetrics-Text')).toBe(true);
  expect(prefersOpenMetrics(undefined)).toBe(false);
  expect(prefersOpenMetrics('')).toBe(false);
  expect(prefersOpenMetrics('*/*')).toBe(false);
  expect(prefersOpenMetrics('text/plain;version=0.0.4')).toBe(false);
  expect(prefersOpenMetrics('text/plain,application/openmetrics-text;q=0.9')).toBe(false);
  expect(prefersOpenMetrics('application/openmetrics-text;q=0')).toBe(false);
});
