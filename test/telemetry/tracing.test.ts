// Spans of the proxy, recorded by an in-memory exporter while the openai SDK drives it through
// fakes of three provider families: the span tree of a request that fails over twice and then
// streams, trace-context continuation and propagation into the upstreams, prompt content only when
// the namespace policy allows it and content capture is opted into, the partial-stream case, and trace context passed through when
// tracing is off.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from '@jest/globals';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { backendCost } from '#proxy/cost/cost.ts';
import { ProxyMetrics } from '#proxy/telemetry/metrics.ts';
import { createObserver } from '#proxy/telemetry/observer.ts';
import { createTracing } from '#proxy/telemetry/tracing.ts';
import { startAnthropicFake, type AnthropicFake } from '#test/fakes/anthropic-server.ts';
import { startGeminiFake, type GeminiFake } from '#test/fakes/gemini-server.ts';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { startWith, type RouteInput, type Started } from '#test/proxy/harness.ts';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const PARENT_SPAN_ID = '00f067aa0ba902b7';
const INCOMING = { traceparent: `00-${TRACE_ID}-${PARENT_SPAN_ID}-01`, tracestate: 'app=abc', baggage: 'user.id=u-123' };
const CANARY_PROMPT = 'canary-prompt-0d7c31: the merger closes on friday';
const TEST_OFF = { enabled: false as const, reason: 'test', propagators: ['tracecontext' as const, 'baggage' as const], captureMessageContent: false, warnings: [] };

let openai: OpenAIFake;
let anthropic: AnthropicFake;
let gemini: GeminiFake;

const routes = (): RouteInput[] => [
  {
    name: 'ns/resilient',
    models: ['resilient'],
    backends: [
      { name: 'primary', provider: 'openai-compatible', model: 'gpt-4o', baseURL: openai.baseURL, credentials: { kind: 'none' } },
      { name: 'claude', provider: 'anthropic', model: 'claude-sonnet-4-5', baseURL: anthropic.url, credentials: { kind: 'env', name: 'ANTHROPIC_KEY' } },
      { name: 'gemini', provider: 'gemini', model: 'gemini-2.5-flash', baseURL: gemini.url, credentials: { kind: 'env', name: 'GEMINI_KEY' } },
    ],
    retries: { attempts: 0 },
  },
  { name: 'ns/plain', models: ['plain'], backends: [{ name: 'primary', provider: 'openai-compatible', model: 'gpt-4o', baseURL: openai.baseURL, credentials: { kind: 'none' } }], retries: { attempts: 0 } },
  { name: 'ns/flash', models: ['flash'], backends: [{ name: 'gemini', provider: 'gemini', model: 'gemini-2.5-flash', baseURL: gemini.url, credentials: { kind: 'env', name: 'GEMINI_KEY' } }], retries: { attempts: 0 } },
];

async function startTraced(logPrompts: boolean, captureMessageContent = false): Promise<{ started: Started; exporter: InMemorySpanExporter }> {
  const exporter = new InMemorySpanExporter();
  const tracing = await createTracing({ ...TEST_OFF, captureMessageContent }, { serviceVersion: 'test', exporter });
  const telemetry = createObserver({ metrics: new ProxyMetrics(), costOf: backendCost, tracer: tracing.tracer });
  const started = await startWith(routes(), { env: { ANTHROPIC_KEY: 'a-key', GEMINI_KEY: 'g-key' }, telemetry, extra: { policy: { requireZeroDataRetention: false, logPrompts } } });
  return { started, exporter };
}

/** Spans end asynchronously to the response (the stream's end is recorded after the last byte). */
async function spansOf(exporter: InMemorySpanExporter, count: number): Promise<ReadableSpan[]> {
  const deadline = Date.now() + 3000;
  while (exporter.getFinishedSpans().length < count) {
    if (Date.now() > deadline) throw new Error(`expected ${count} spans, got ${exporter.getFinishedSpans().length}`);
    await new Promise((r) => setTimeout(r, 10));
  }
  return exporter.getFinishedSpans();
}

const serverSpan = (spans: ReadableSpan[]) => spans.find((s) => s.kind === SpanKind.SERVER)!;
const clientSpans = (spans: ReadableSpan[]) => spans.filter((s) => s.kind === SpanKind.CLIENT).sort((a, b) => Number(a.attributes['llmroute.attempt']) - Number(b.attributes['llmroute.attempt']));

beforeAll(async () => {
  [openai, anthropic, gemini] = await Promise.all([startOpenAIFake(), startAnthropicFake(), startGeminiFake()]);
});
afterAll(async () => {
  await Promise.all([openai.close(), anthropic.close(), gemini.close()]);
});
beforeEach(() => {
  openai.requests.length = 0;
  anthropic.requests.length = 0;
  gemini.requests.length = 0;
});

describe('tracing on', () => {
  let traced: { started: Started; exporter: InMemorySpanExporter };
  beforeAll(async () => {
    traced = await startTraced(false);
  });
  afterAll(() => traced.started.close());
  beforeEach(() => traced.exporter.reset());

  test('fails over twice, then streams: one SERVER span continuing the caller, three CLIENT children', async () => {
    openai.queue({ status: 503 });
    anthropic.queue({ status: 529, errorType: 'overloaded_error' });
    gemini.queue({ content: 'streamed after two failovers', usage: { promptTokenCount: 120, candidatesTokenCount: 5, thoughtsTokenCount: 30, cachedContentTokenCount: 100 } });
    const stream = await traced.started.client.chat.completions.create({ model: 'resilient', stream: true, messages: [{ role: 'user', content: CANARY_PROMPT }] }, { headers: INCOMING });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('streamed after two failovers');

    const spans = await spansOf(traced.exporter, 4);
    expect(spans).toHaveLength(4);
    const server = serverSpan(spans);
    const clients = clientSpans(spans);

    // The SERVER span continues the caller's trace; every CLIENT span is its child.
    expect(server.spanContext().traceId).toBe(TRACE_ID);
    expect(server.parentSpanContext?.spanId).toBe(PARENT_SPAN_ID);
    expect(server.parentSpanContext?.isRemote).toBe(true);
    expect(server.name).toBe('POST /v1/chat/completions');
    expect(clients).toHaveLength(3);
    for (const client of clients) {
      expect(client.spanContext().traceId).toBe(TRACE_ID);
      expect(client.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    }

    expect(clients.map((c) => [c.attributes['llmroute.attempt'], c.attributes['llmroute.attempt.reason'], c.attributes['llmroute.backend'], c.attributes['gen_ai.provider.name']])).toEqual([
      [1, 'initial', 'primary', 'openai_compatible'],
      [2, 'failover', 'claude', 'anthropic'],
      [3, 'failover', 'gemini', 'gcp.gemini'],
    ]);
    const [first, second, third] = clients as [ReadableSpan, ReadableSpan, ReadableSpan];
    for (const failed of [first, second]) {
      expect(failed.status.code).toBe(SpanStatusCode.ERROR);
      expect(failed.attributes['error.type']).toEqual(expect.any(String));
    }
    expect(first.attributes['http.response.status_code']).toBe(503);
    expect(second.name).toBe('chat claude-sonnet-4-5');
    expect(third.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(third.attributes).toMatchObject({
      'gen_ai.operation.name': 'chat',
      'gen_ai.request.model': 'gemini-2.5-flash',
      'gen_ai.response.model': 'gemini-2.5-flash',
      'gen_ai.response.finish_reasons': ['stop'],
      'gen_ai.usage.input_tokens': 120,
      'gen_ai.usage.output_tokens': 35,
      'gen_ai.usage.cache_read.input_tokens': 100,
      'gen_ai.usage.reasoning.output_tokens': 30,
      'server.address': '127.0.0.1',
      'llmroute.route': 'ns/resilient',
      'llmroute.cost_known': true,
    });
    for (const client of clients) expect(client.attributes['gen_ai.request.stream']).toBe(true);
    // Seconds from the attempt's start, as the conventions have it (not milliseconds).
    expect(third.attributes['gen_ai.response.time_to_first_chunk']).toBeGreaterThan(0);
    expect(third.attributes['gen_ai.response.time_to_first_chunk']).toBeLessThan(3);
    expect(third.attributes['llmroute.time_to_first_token_ms']).toBeUndefined();
    // gemini-2.5-flash as shipped: 20 uncached input at 0.30, 100 cached at 0.03, 35 output (incl. thinking) at 2.50, per million.
    expect(third.attributes['llmroute.cost_usd']).toBeCloseTo((20 * 0.3 + 100 * 0.03 + 35 * 2.5) / 1e6, 12);

    expect(server.attributes).toMatchObject({ 'http.response.status_code': 200, 'llmroute.attempts': 3, 'llmroute.route': 'ns/resilient', 'gen_ai.request.model': 'resilient', 'llmroute.stream': true, 'llmroute.policy.decision': 'allowed' });
    expect(server.attributes['llmroute.cost_usd']).toBe(third.attributes['llmroute.cost_usd']);

    // Each upstream got a fresh traceparent: same trace, the span id of its own attempt; tracestate kept; no baggage.
    const sent = [openai.requests[0]!, anthropic.requests[0]!, gemini.requests[0]!];
    sent.forEach((request, i) => {
      expect(request.headers.traceparent).toBe(`00-${TRACE_ID}-${clients[i]!.spanContext().spanId}-01`);
      expect(request.headers.tracestate).toBe('app=abc');
      expect(request.headers.baggage).toBeUndefined();
    });

    // Prompt logging is off for this namespace: no content anywhere in the spans.
    const everything = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })));
    expect(everything).not.toContain('canary-prompt');
    expect(everything).not.toContain('gen_ai.input.messages');
  });

  test('a request without trace context starts a new trace; the upstream still gets a traceparent', async () => {
    await traced.started.client.chat.completions.create({ model: 'plain', messages: [{ role: 'user', content: 'hi' }] });
    const spans = await spansOf(traced.exporter, 2);
    const server = serverSpan(spans);
    expect(server.parentSpanContext).toBeUndefined();
    expect(server.spanContext().traceId).toMatch(/^[0-9a-f]{32}$/);
    expect(server.spanContext().traceId).not.toBe(TRACE_ID);
    const client = clientSpans(spans)[0]!;
    expect(openai.requests[0]!.headers.traceparent).toBe(`00-${server.spanContext().traceId}-${client.spanContext().spanId}-01`);
    expect(client.attributes['gen_ai.response.finish_reasons']).toEqual(['stop']);
    expect(client.attributes['gen_ai.request.stream']).toBeUndefined(); // only when streaming
    expect(client.attributes['gen_ai.response.time_to_first_chunk']).toBeUndefined();
  });

  test('the request parameters the client set and the response id reach the CLIENT span through the proxy', async () => {
    await traced.started.client.chat.completions.create({ model: 'plain', temperature: 0.2, max_completion_tokens: 64, n: 2, seed: 7, response_format: { type: 'json_object' }, messages: [{ role: 'user', content: 'hi' }] });
    const client = clientSpans(await spansOf(traced.exporter, 2))[0]!;
    expect(client.attributes).toMatchObject({
      'gen_ai.request.temperature': 0.2,
      'gen_ai.request.max_tokens': 64,
      'gen_ai.request.choice.count': 2,
      'gen_ai.request.seed': 7,
      'gen_ai.output.type': 'json',
      'gen_ai.response.id': 'chatcmpl-fake',
    });
  });

  test('a stream cut short is billed with what was received and marked partial', async () => {
    gemini.queue({ content: 'one two three four five six', usage: { promptTokenCount: 50, candidatesTokenCount: 6 }, dieAfterEvents: 2 });
    const stream = await traced.started.client.chat.completions.create({ model: 'flash', stream: true, messages: [{ role: 'user', content: 'count' }] });
    await expect(
      (async () => {
        for await (const _ of stream);
      })(),
    ).rejects.toThrow();
    const spans = await spansOf(traced.exporter, 2);
    const client = clientSpans(spans)[0]!;
    expect(client.attributes['llmroute.response.partial']).toBe(true);
    expect(client.attributes['gen_ai.usage.input_tokens']).toBe(50);
    expect(client.attributes['llmroute.cost_usd']).toBeCloseTo((50 * 0.3 + 6 * 2.5) / 1e6, 12);
    expect(client.status.code).toBe(SpanStatusCode.ERROR);
    expect(serverSpan(spans).attributes['llmroute.response.partial']).toBe(true);
  });

  test('an upstream refusal that is not retried: the CLIENT span is an error, the SERVER span keeps the 4xx as the caller\'s', async () => {
    openai.queue({ status: 400, body: { error: { message: 'bad', type: 'invalid_request_error', param: null, code: 'bad_thing' } } });
    await expect(traced.started.client.chat.completions.create({ model: 'plain', messages: [{ role: 'user', content: 'hi' }] })).rejects.toThrow();
    const spans = await spansOf(traced.exporter, 2);
    const server = serverSpan(spans);
    expect(server.attributes['http.response.status_code']).toBe(400);
    expect(server.status.code).not.toBe(SpanStatusCode.ERROR);
    expect(server.attributes['error.type']).toBe('bad_thing');
    expect(clientSpans(spans)[0]!.status.code).toBe(SpanStatusCode.ERROR);
  });
});

describe('prompt logging allowed by the namespace policy, content capture opted into', () => {
  let traced: { started: Started; exporter: InMemorySpanExporter };
  beforeAll(async () => {
    traced = await startTraced(true, true);
  });
  afterAll(() => traced.started.close());

  test('input and output messages become gen_ai attributes', async () => {
    openai.queue({ content: 'the answer is 42' });
    await traced.started.client.chat.completions.create({ model: 'plain', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: CANARY_PROMPT }] });
    const client = clientSpans(await spansOf(traced.exporter, 2))[0]!;
    expect(JSON.parse(String(client.attributes['gen_ai.input.messages']))).toEqual([
      { role: 'system', parts: [{ type: 'text', content: 'be brief' }] },
      { role: 'user', parts: [{ type: 'text', content: CANARY_PROMPT }] },
    ]);
    expect(JSON.parse(String(client.attributes['gen_ai.output.messages']))).toEqual([{ role: 'assistant', parts: [{ type: 'text', content: 'the answer is 42' }], finish_reason: 'stop' }]);
  });
});

describe.each([
  ['the policy allows prompt logging, capture is not opted into', true, false],
  ['capture is opted into, the policy does not allow prompt logging', false, true],
])('%s', (_, logPrompts, capture) => {
  let traced: { started: Started; exporter: InMemorySpanExporter };
  beforeAll(async () => {
    traced = await startTraced(logPrompts, capture);
  });
  afterAll(() => traced.started.close());

  test('no content in the spans', async () => {
    openai.queue({ content: 'the answer is 42' });
    await traced.started.client.chat.completions.create({ model: 'plain', messages: [{ role: 'user', content: CANARY_PROMPT }] });
    const spans = await spansOf(traced.exporter, 2);
    const everything = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events })));
    expect(everything).not.toContain('canary-prompt');
    expect(everything).not.toContain('the answer is 42');
    expect(everything).not.toContain('gen_ai.input.messages');
    expect(everything).not.toContain('gen_ai.output.messages');
  });
});

describe('tracing off', () => {
  let started: Started;
  beforeAll(async () => {
    const tracing = await createTracing(TEST_OFF, { serviceVersion: 'test' });
    expect(tracing.enabled).toBe(false);
    started = await startWith(routes(), { telemetry: createObserver({ metrics: new ProxyMetrics(), tracer: tracing.tracer }) });
  });
  afterAll(() => started.close());

  test("the caller's trace context goes upstream unchanged, baggage excepted", async () => {
    await started.client.chat.completions.create({ model: 'plain', messages: [{ role: 'user', content: 'hi' }] }, { headers: INCOMING });
    expect(openai.requests[0]!.headers.traceparent).toBe(INCOMING.traceparent);
    expect(openai.requests[0]!.headers.tracestate).toBe('app=abc');
    expect(openai.requests[0]!.headers.baggage).toBeUndefined();
  });

  test('no trace context in, none out; a malformed traceparent is not forwarded', async () => {
    await started.client.chat.completions.create({ model: 'plain', messages: [{ role: 'user', content: 'hi' }] });
    await started.client.chat.completions.create({ model: 'plain', messages: [{ role: 'user', content: 'hi' }] }, { headers: { traceparent: '00-zz-not-a-trace-01' } });
    expect(openai.requests.map((r) => r.headers.traceparent)).toEqual([undefined, undefined]);
  });
});
