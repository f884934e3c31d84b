// The proxy with its real telemetry (Prometheus metrics, request log, cost) driven by the openai SDK
// through the Anthropic and Gemini fakes: figures match the upstream's usage, and a canary key and
// prompt never show up in any log line, span or metric.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { backendCost } from '#proxy/cost/cost.ts';
import { ProxyMetrics } from '#proxy/telemetry/metrics.ts';
import { createObserver } from '#proxy/telemetry/observer.ts';
import { createTracing } from '#proxy/telemetry/tracing.ts';
import { VERSION } from '#proxy/version.ts';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { startAnthropicFake, type AnthropicFake } from '#test/fakes/anthropic-server.ts';
import { startGeminiFake, type GeminiFake } from '#test/fakes/gemini-server.ts';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { startWith, type Started } from '#test/proxy/harness.ts';
import { captureRequestLog } from '#test/proxy/request-log-capture.ts';

const CANARY_KEY = 'sk-ant-CANARY-7f3e9a1b2c4d';
const CANARY_PROMPT = 'canary-prompt-5b8e2f9d: my secret plan';

let anthropic: AnthropicFake;
let gemini: GeminiFake;
let openai: OpenAIFake;
let proxy: Started;
const log = captureRequestLog();
const metrics = new ProxyMetrics();
const spans = new InMemorySpanExporter();

beforeAll(async () => {
  [anthropic, gemini, openai] = await Promise.all([startAnthropicFake(), startGeminiFake(), startOpenAIFake()]);
  const tracing = await createTracing({ enabled: false, reason: 'test', propagators: ['tracecontext', 'baggage'], captureMessageContent: false, warnings: [] }, { serviceVersion: 'test', exporter: spans });
  proxy = await startWith(
    [
      { name: 'ns/claude', models: ['claude'], backends: [{ name: 'claude', provider: 'anthropic', model: 'claude-sonnet-4-5', baseURL: anthropic.url, credentials: { kind: 'env', name: 'ANTHROPIC_KEY' } }], retries: { attempts: 0 } },
      {
        name: 'ns/failing-over',
        models: ['resilient'],
        backends: [
          { name: 'claude', provider: 'anthropic', model: 'claude-sonnet-4-5', baseURL: anthropic.url, credentials: { kind: 'env', name: 'ANTHROPIC_KEY' } },
          { name: 'gemini', provider: 'gemini', model: 'gemini-2.5-flash', baseURL: gemini.url, credentials: { kind: 'env', name: 'GEMINI_KEY' } },
        ],
        retries: { attempts: 0 },
      },
      { name: 'ns/openai', models: ['mini'], backends: [{ name: 'oa', provider: 'openai', model: 'gpt-4o-mini', baseURL: openai.baseURL, credentials: { kind: 'none' } }], retries: { attempts: 0 } },
      { name: 'ns/self-hosted', models: ['local'], backends: [{ name: 'vllm', provider: 'anthropic', model: 'in-house-model', baseURL: anthropic.url, credentials: { kind: 'env', name: 'ANTHROPIC_KEY' } }], retries: { attempts: 0 } },
    ],
    { env: { ANTHROPIC_KEY: CANARY_KEY, GEMINI_KEY: 'g-key' }, telemetry: createObserver({ metrics, logger: log.logger, costOf: backendCost, workload: { namespace: 'shop', pod: 'web-1' }, tracer: tracing.tracer }), metrics: () => metrics.render() },
  );
});
afterAll(async () => {
  await proxy.close();
  await Promise.all([anthropic.close(), gemini.close(), openai.close()]);
});

const scrape = async () => (await fetch(`${proxy.proxy.adminUrl}/metrics`)).text();

describe('telemetry', () => {
  test('a non-streamed completion: cost header, one log line, token and cost metrics', async () => {
    anthropic.queue({ content: 'hello', usage: { input_tokens: 410, output_tokens: 38, cache_read_input_tokens: 1200, cache_creation_input_tokens: 100 } });
    const { response } = await proxy.client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'req-cost-1' } }).withResponse();
    // claude-sonnet-4-5: (410*3 + 1200*0.3 + 100*3.75 + 38*15) / 1e6
    expect(Number(response.headers.get('x-llmroute-cost-usd'))).toBeCloseTo(0.002535, 8);
    const line = await log.lineFor('req-cost-1');
    expect(line).toMatchObject({ route: 'ns/claude', backend: 'claude', status: 200, stream: false, tokens: { input: 1710, output: 38, cachedInput: 1200 }, workload: { namespace: 'shop', pod: 'web-1' } });
    expect(line.costUsd).toBeCloseTo(0.002535, 8);
    expect(line.traceId).toMatch(/^[0-9a-f]{32}$/); // the log line leads to the request's trace
    const text = await scrape();
    expect(text).toContain('llmroute_tokens_total{route="ns/claude",backend="claude",provider="anthropic",model="claude-sonnet-4-5",type="cached_input"} 1200');
    expect(text).toContain('llmroute_tokens_total{route="ns/claude",backend="claude",provider="anthropic",model="claude-sonnet-4-5",type="cache_write"} 100');
    expect(text).toMatch(/llmroute_cost_usd_total\{route="ns\/claude",backend="claude",provider="anthropic",model="claude-sonnet-4-5"\} 0\.0025/);
    expect(text).toContain('llmroute_requests_total{operation="chat",route="ns/claude",status_class="2xx"}');
  });

  test('a failover then a stream: attempts by outcome, failovers, usage of the stream (hidden from the client), Gemini thinking billed', async () => {
    anthropic.queue({ status: 529, errorType: 'overloaded_error' });
    gemini.queue({ content: 'streamed answer', usage: { promptTokenCount: 95, candidatesTokenCount: 9, thoughtsTokenCount: 40 } });
    const stream = await proxy.client.chat.completions.create({ model: 'resilient', stream: true, messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'req-stream-1' } });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.every((c) => !c.usage)).toBe(true);
    const line = await log.lineFor('req-stream-1');
    expect(line.attempts).toEqual([
      // Anthropic's answers carry a request-id (Gemini's carry none): the support reference of the failure.
      { backend: 'claude', reason: 'initial', outcome: 'http_error', status: 503, upstreamRequestId: expect.stringMatching(/^req_fake/) },
      { backend: 'gemini', reason: 'failover', outcome: 'success', status: 200 },
    ]);
    expect(line.tokens).toEqual({ input: 95, output: 49, cachedInput: 0, reasoning: 40 });
    expect(line.costUsd).toBeCloseTo((95 * 0.3 + 49 * 2.5) / 1e6, 10);
    const text = await scrape();
    expect(text).toContain('llmroute_failovers_total{route="ns/failing-over",backend="gemini"} 1');
    expect(text).toContain('llmroute_upstream_attempts_total{route="ns/failing-over",backend="claude",provider="anthropic",reason="initial",outcome="http_error"} 1');
    expect(text).toContain('llmroute_tokens_total{route="ns/failing-over",backend="gemini",provider="gcp.gemini",model="gemini-2.5-flash",type="reasoning"} 40');
    expect(text).toMatch(/llmroute_time_to_first_token_seconds_count\{route="ns\/failing-over",backend="gemini",provider="gcp.gemini"\} 1/);
    // Each attempt's duration is the GenAI histogram, error_type on the failed attempt only.
    const operation = 'gen_ai_client_operation_duration_seconds_count{route="ns/failing-over"';
    expect(text).toContain(`${operation},backend="claude",gen_ai_operation_name="chat",gen_ai_provider_name="anthropic",gen_ai_request_model="claude-sonnet-4-5",error_type="overloaded"} 1`);
    expect(text).toContain(`${operation},backend="gemini",gen_ai_operation_name="chat",gen_ai_provider_name="gcp.gemini",gen_ai_request_model="gemini-2.5-flash"} 1`);
  });

  test('one observation per attempt in gen_ai_client_operation_duration_seconds, with the spec buckets; the request histogram reaches 600 s; build info', async () => {
    anthropic.queue({ content: 'hello' });
    await proxy.client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'req-duration-1' } });
    const text = await scrape();
    expect(text).not.toContain('llmroute_upstream_duration_seconds'); // replaced, not observed twice
    const succeeded = 'route="ns/claude",backend="claude",gen_ai_operation_name="chat",gen_ai_provider_name="anthropic",gen_ai_request_model="claude-sonnet-4-5"}';
    const bounds = (metric: string, labels: string) => text.split('\n').filter((l) => l.startsWith(`${metric}_bucket{le=`) && l.includes(labels)).map((l) => /le="([^"]+)"/.exec(l)![1]);
    expect(bounds('gen_ai_client_operation_duration_seconds', `,${succeeded}`)).toEqual(['0.01', '0.02', '0.04', '0.08', '0.16', '0.32', '0.64', '1.28', '2.56', '5.12', '10.24', '20.48', '40.96', '81.92', '+Inf']);
    expect(bounds('llmroute_request_duration_seconds', 'operation="chat",route="ns/claude"}').slice(-3)).toEqual(['300', '600', '+Inf']);
    const attempts = Number(/^llmroute_upstream_attempts_total\{route="ns\/claude",[^}]*outcome="success"\} (\d+)$/m.exec(text)![1]);
    const observed = Number(text.split('\n').find((l) => l.startsWith(`gen_ai_client_operation_duration_seconds_count{${succeeded}`))!.split(' ')[1]);
    expect(observed).toBe(attempts);
    expect(text).toContain(`llmroute_build_info{version="${VERSION}"} 1`);
    expect(VERSION).toMatch(/^\d+\.\d+\.\d+/);
  });

  test('an OpenAI stream cut before its usage chunk is counted as usage unknown (its tokens are in no count)', async () => {
    openai.queue({ content: 'one two three four five six', dieAfterEvents: 2, delayBetweenMs: 50 }); // the pause: past the commit point
    const stream = await proxy.client.chat.completions.create({ model: 'mini', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    await (async () => {
      for await (const _chunk of stream);
    })().catch(() => undefined);
    const text = await scrape();
    expect(text).toContain('llmroute_usage_unknown_total{route="ns/openai",backend="oa",provider="openai",model="gpt-4o-mini"} 1');
    expect(text).not.toContain('llmroute_tokens_total{route="ns/openai"');
    // A forwarded endpoint's answer is opaque (no usage is read there): not counted.
    await proxy.client.moderations.create({ model: 'mini', input: 'hi' });
    expect(await scrape()).toContain('llmroute_usage_unknown_total{route="ns/openai",backend="oa",provider="openai",model="gpt-4o-mini"} 1');
  });

  test('an unknown price is reported as unknown: no cost header, null in the log, counted as unpriced', async () => {
    const { response } = await proxy.client.chat.completions.create({ model: 'local', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-request-id': 'req-unpriced' } }).withResponse();
    expect(response.headers.get('x-llmroute-cost-usd')).toBeNull();
    expect((await log.lineFor('req-unpriced')).costUsd).toBeNull();
    expect(await scrape()).toContain('llmroute_unpriced_completions_total{route="ns/self-hosted",backend="vllm",provider="anthropic",model="in-house-model"} 1');
  });

  test('canary: the key and the prompt appear in no log line, span or metric', async () => {
    anthropic.queue({ status: 400, errorType: 'invalid_request_error', errorMessage: `bad request for ${CANARY_KEY}` });
    await proxy.client.chat.completions.create({ model: 'claude', messages: [{ role: 'user', content: CANARY_PROMPT }] }).catch(() => undefined);
    await proxy.client.chat.completions.create({ model: 'claude', stream: true, messages: [{ role: 'user', content: CANARY_PROMPT }] }).then(async (s) => {
      for await (const _ of s);
    });
    expect(anthropic.requests.some((r) => r.headers['x-api-key'] === CANARY_KEY)).toBe(true); // the key was really used
    const spanText = JSON.stringify(spans.getFinishedSpans().map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status, resource: s.resource.attributes })));
    expect(spans.getFinishedSpans().length).toBeGreaterThan(3);
    const everything = log.raw() + (await scrape()) + spanText;
    expect(everything).not.toContain('CANARY');
    expect(everything).not.toContain('canary-prompt');
    expect(log.lines.length).toBeGreaterThan(3);
  });
});
