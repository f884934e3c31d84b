// The real OTLP pipeline, configured only by OTEL_* variables, exporting to a local collector
// stand-in: OTLP/HTTP protobuf (the spec's default) and JSON, exporter headers taken from the
// environment, and spans dropped (and counted) when the export queue is full, never blocking requests.
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProxyMetrics } from '#proxy/telemetry/metrics.ts';
import { createObserver } from '#proxy/telemetry/observer.ts';
import { tracingConfigFromEnv } from '#proxy/telemetry/otel-config.ts';
import { createTracing, deferExports, type Tracing } from '#proxy/telemetry/tracing.ts';
import { BatchSpanProcessor, TracerProvider, type ReadableSpan, type SpanExporter } from '@opentelemetry/sdk-trace';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { backend, startWith, type Started } from '#test/proxy/harness.ts';

interface Received {
  path: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

let sink: Server;
let sinkUrl: string;
const received: Received[] = [];
/** While set, the collector holds every export open (a slow or stuck collector). */
let hold: Promise<void> | undefined;
let openai: OpenAIFake;

beforeAll(async () => {
  openai = await startOpenAIFake();
  sink = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    received.push({ path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) });
    if (hold) await hold;
    res.writeHead(200, { 'content-type': String(req.headers['content-type']) }).end();
  });
  sink.listen(0, '127.0.0.1');
  await once(sink, 'listening');
  sinkUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}`;
});
afterAll(async () => {
  sink.closeAllConnections();
  await new Promise((r) => sink.close(r));
  await openai.close();
});

let started: Started | undefined;
let tracing: Tracing | undefined;
afterEach(async () => {
  await started?.close();
  await tracing?.shutdown().catch(() => undefined);
  started = undefined;
  tracing = undefined;
  received.length = 0;
  delete process.env.OTEL_EXPORTER_OTLP_HEADERS;
});

async function startExporting(env: Record<string, string>, metrics = new ProxyMetrics()): Promise<Started> {
  const config = tracingConfigFromEnv(env, { serviceName: 'llmroute-sidecar' });
  expect(config.enabled).toBe(true);
  tracing = await createTracing(config, { serviceVersion: '9.9.9', workloadAttributes: { 'k8s.namespace.name': 'shop' }, countSpans: (result, n) => metrics.traceSpans.inc({ result }, n) });
  started = await startWith([{ name: 'ns/plain', models: ['plain'], backends: [backend('primary', openai.baseURL)], retries: { attempts: 0 } }], {
    telemetry: createObserver({ metrics, tracer: tracing.tracer }),
    metrics: () => metrics.render(),
  });
  return started;
}

const ask = (s: Started) => s.client.chat.completions.create({ model: 'plain', messages: [{ role: 'user', content: 'hi' }] });

describe('OTLP export', () => {
  test('http/protobuf by default, to OTEL_EXPORTER_OTLP_ENDPOINT + /v1/traces, with the headers of OTEL_EXPORTER_OTLP_HEADERS', async () => {
    process.env.OTEL_EXPORTER_OTLP_HEADERS = 'authorization=Bearer%20collector-token';
    const s = await startExporting({ OTEL_EXPORTER_OTLP_ENDPOINT: `${sinkUrl}/`, OTEL_SERVICE_NAME: 'checkout-sidecar' });
    await ask(s);
    await tracing!.forceFlush();
    expect(received).toHaveLength(1);
    const [request] = received as [Received];
    expect(request.path).toBe('/v1/traces');
    expect(request.headers['content-type']).toBe('application/x-protobuf');
    expect(request.headers.authorization).toBe('Bearer collector-token');
    // Protobuf strings are UTF-8 on the wire: span names, service name and resource attributes are findable.
    const bytes = request.body.toString('latin1');
    for (const expected of ['POST /v1/chat/completions', 'chat primary-model', 'checkout-sidecar', 'k8s.namespace.name', 'shop', '9.9.9']) expect(bytes).toContain(expected);
  });

  test('http/json when asked, to the traces-specific endpoint as given', async () => {
    const s = await startExporting({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `${sinkUrl}/custom/traces`, OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json' });
    await ask(s);
    await tracing!.forceFlush();
    const [request] = received as [Received];
    expect(request.path).toBe('/custom/traces');
    expect(request.headers['content-type']).toBe('application/json');
    const body = JSON.parse(request.body.toString()) as { resourceSpans: Array<{ resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> }; scopeSpans: Array<{ spans: Array<{ name: string; kind: number; parentSpanId?: string; spanId: string }> }> }> };
    const resource = body.resourceSpans[0]!.resource.attributes;
    expect(resource.find((a) => a.key === 'service.name')?.value.stringValue).toBe('llmroute-sidecar');
    const spans = body.resourceSpans[0]!.scopeSpans[0]!.spans;
    expect(spans.map((span) => span.name).sort()).toEqual(['POST /v1/chat/completions', 'chat primary-model']);
    const server = spans.find((span) => span.name.startsWith('POST'))!;
    const client = spans.find((span) => span.name.startsWith('chat'))!;
    expect(client.parentSpanId).toBe(server.spanId);
  });

  test('a stuck collector never blocks requests: a full queue drops spans and counts them', async () => {
    let release!: () => void;
    hold = new Promise<void>((r) => (release = r));
    const metrics = new ProxyMetrics();
    const s = await startExporting({ OTEL_EXPORTER_OTLP_ENDPOINT: sinkUrl, OTEL_BSP_MAX_QUEUE_SIZE: '2', OTEL_BSP_MAX_EXPORT_BATCH_SIZE: '2', OTEL_BSP_SCHEDULE_DELAY: '60000' }, metrics);
    for (let i = 0; i < 6; i++) await ask(s); // 12 spans; the first two are being exported (held), two wait, the rest drop
    release();
    hold = undefined;
    await tracing!.forceFlush();
    const text = (await (await fetch(`${s.proxy.adminUrl}/metrics`)).text()).split('\n');
    const count = (result: string) => Number(text.find((l) => l.startsWith(`llmroute_trace_spans_total{result="${result}"}`))?.split(' ')[1] ?? 0);
    expect(count('dropped')).toBeGreaterThanOrEqual(6);
    expect(count('exported') + count('dropped')).toBe(12);
  });

  test('a full batch is serialized after the span.end() that filled it returns, not inside it', async () => {
    const exported: string[][] = [];
    const inner: SpanExporter = {
      export: (spans: ReadableSpan[], done) => {
        exported.push(spans.map((span) => span.name));
        done({ code: 0 });
      },
      shutdown: async () => undefined,
    };
    const provider = new TracerProvider({ spanProcessors: [new BatchSpanProcessor({ exporter: deferExports(inner), maxExportBatchSize: 2, scheduledDelayMillis: 60_000 })] });
    const tracer = provider.getTracer('test');
    tracer.startSpan('one').end();
    tracer.startSpan('two').end(); // fills the batch: the SDK exports at once, inside this end()
    expect(exported).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(exported).toEqual([['one', 'two']]);
    tracer.startSpan('three').end();
    await provider.shutdown(); // waits for the deferred export of what is left
    expect(exported).toEqual([['one', 'two'], ['three']]);
  });
});
