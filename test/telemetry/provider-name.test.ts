// `gen_ai.provider.name` (and the metrics' provider labels) per backend: a gemini backend with
// `options.vertex` is Vertex AI (`gcp.vertex_ai`), one without is the Gemini API (`gcp.gemini`).
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { SpanKind } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { createGeminiAdapter } from '#proxy/providers/gemini/adapter.ts';
import { ProxyMetrics } from '#proxy/telemetry/metrics.ts';
import { createObserver } from '#proxy/telemetry/observer.ts';
import { createTracing } from '#proxy/telemetry/tracing.ts';
import { startGeminiFake, type GeminiFake } from '#test/fakes/gemini-server.ts';
import { startWith, type Started } from '#test/proxy/harness.ts';

const OFF = { enabled: false as const, reason: 'test', propagators: ['tracecontext' as const], captureMessageContent: false, warnings: [] };
const VERTEX = { project: 'shop-prod-1', location: 'europe-west4' };

let gemini: GeminiFake;
let proxy: Started;
const metrics = new ProxyMetrics();
const exporter = new InMemorySpanExporter();

beforeAll(async () => {
  gemini = await startGeminiFake();
  const tracing = await createTracing(OFF, { serviceVersion: 'test', exporter });
  const backend = (name: string, options: Record<string, unknown>) => ({ name, provider: 'gemini' as const, model: 'gemini-2.5-flash', baseURL: gemini.url, credentials: { kind: 'env' as const, name: 'GEMINI_KEY' }, options });
  proxy = await startWith(
    [
      { name: 'ns/vertex', models: ['vertex'], backends: [backend('vertex', { vertex: VERTEX, auth: 'x-goog-api-key' })], retries: { attempts: 0 } },
      { name: 'ns/gemini', models: ['gemini'], backends: [backend('gemini', {})], retries: { attempts: 0 } },
    ],
    { env: { GEMINI_KEY: 'g-key' }, telemetry: createObserver({ metrics, tracer: tracing.tracer }) },
  );
});
afterAll(async () => {
  await proxy.close();
  await gemini.close();
});

test('the gemini adapter names Vertex AI backends gcp.vertex_ai', () => {
  const adapter = createGeminiAdapter();
  expect(adapter.telemetryNameFor?.({ vertex: VERTEX } as never)).toBe('gcp.vertex_ai');
  expect(adapter.telemetryNameFor?.({} as never)).toBe('gcp.gemini');
});

test('a Vertex AI backend reports gcp.vertex_ai on its span and metrics; a Gemini API backend gcp.gemini', async () => {
  gemini.queue({ content: 'from the Gemini API' });
  await proxy.client.chat.completions.create({ model: 'gemini', messages: [{ role: 'user', content: 'hi' }] });
  // The fake serves the Gemini API's paths only: the Vertex AI attempt fails, and is recorded all the same.
  await proxy.client.chat.completions.create({ model: 'vertex', messages: [{ role: 'user', content: 'hi' }] }).catch(() => undefined);
  expect(gemini.requests.some((r) => r.url.includes('/projects/shop-prod-1/locations/europe-west4/'))).toBe(true);

  const clients = exporter.getFinishedSpans().filter((s) => s.kind === SpanKind.CLIENT);
  expect(clients.map((s) => [s.attributes['llmroute.backend'], s.attributes['gen_ai.provider.name']])).toEqual([
    ['gemini', 'gcp.gemini'],
    ['vertex', 'gcp.vertex_ai'],
  ]);
  const text = (await metrics.render()).body;
  expect(text).toMatch(/^llmroute_upstream_attempts_total\{route="ns\/vertex",backend="vertex",provider="gcp.vertex_ai",/m);
  expect(text).toMatch(/^gen_ai_client_operation_duration_seconds_count\{route="ns\/vertex",backend="vertex",gen_ai_operation_name="chat",gen_ai_provider_name="gcp.vertex_ai",gen_ai_request_model="gemini-2.5-flash",error_type="[^"]+"\} 1$/m);
  expect(text).toMatch(/^llmroute_upstream_attempts_total\{route="ns\/gemini",backend="gemini",provider="gcp.gemini",/m);
});
