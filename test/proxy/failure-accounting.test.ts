// Failures that must still be accounted for: a streamed generation that fails before its first text
// fails over (the opening role chunk was held back, nothing was sent); one that fails part-way still
// counts the usage the upstream reports after it; and a telemetry failure at a request's end leaves
// no in-flight slot held (maxInFlight would otherwise refuse every request once enough leaked).
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ProxyMetrics } from '#proxy/telemetry/metrics.ts';
import { createObserver } from '#proxy/telemetry/observer.ts';
import { noopTelemetry, type Telemetry } from '#proxy/telemetry/hooks.ts';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { backend, startWith, type Started } from '#test/proxy/harness.ts';
import { captureRequestLog } from '#test/proxy/request-log-capture.ts';
import { failedGenerationRoutes } from './failed-generation-routes.ts';

const ask = { messages: [{ role: 'user' as const, content: 'hi' }] };

describe('failed generations, end to end', () => {
  let failing: OpenAIFake;
  let healthy: OpenAIFake;
  let proxy: Started;
  const log = captureRequestLog();

  beforeAll(async () => {
    [failing, healthy] = await Promise.all([startOpenAIFake(), startOpenAIFake()]);
    proxy = await startWith(
      failedGenerationRoutes(failing, healthy),
      { telemetry: createObserver({ metrics: new ProxyMetrics(), logger: log.logger }) },
    );
  });
  afterAll(async () => {
    await proxy.close();
    await Promise.all([failing.close(), healthy.close()]);
  });

  test('a stream that fails before any text fails over (nothing but the role chunk came, nothing was sent)', async () => {
    // The upstream, as Mistral and DeepSeek do, opens with {"role":"assistant","content":""}; then the
    // generation fails with no text. Docs/CHANGELOG: "another backend is tried while nothing was sent".
    failing.queue({ finishReason: 'error', content: '' });
    healthy.queue({ content: 'A whole answer.' });
    const stream = await proxy.client.chat.completions.create({ model: 'mistral-first', stream: true, ...ask });
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(error).toBeUndefined();
    expect(text).toBe('A whole answer.');
  });

  test("a DeepSeek stream that fails part-way still counts the usage the upstream reported", async () => {
    // include_usage is asked for by the proxy: the usage chunk comes after the failing chunk, before [DONE].
    failing.queue({ finishReason: 'insufficient_system_resource', content: 'Some streamed words' });
    const stream = await proxy.client.chat.completions.create({ model: 'deepseek-only', stream: true, ...ask }, { headers: { 'x-request-id': 'review-usage-1' } });
    await (async () => {
      for await (const _ of stream);
    })().catch(() => undefined);
    const line = await log.lineFor('review-usage-1');
    expect(line.partial).toBe(true);
    // The fake reported prompt_tokens 9, completion_tokens 3.
    expect(line.tokens).toEqual({ input: 9, output: 3, cachedInput: 0, reasoning: 0 });
  });
});

describe('a handler whose telemetry throws after the answer', () => {
  let fake: OpenAIFake;
  let proxy: Started;
  let failing = true;
  /** Telemetry whose request end throws while `failing` (a telemetry bug), and works otherwise. */
  const throwing: Telemetry = {
    configLoaded() {},
    startRequest(info) {
      const inner = noopTelemetry.startRequest(info);
      return { ...inner, end: (r) => { if (failing) throw new Error('telemetry bug at end'); inner.end(r); } };
    },
  };

  beforeAll(async () => {
    fake = await startOpenAIFake();
    proxy = await startWith([{ name: 'ns/r', models: ['r'], backends: [backend('up', fake.baseURL)] }], { telemetry: throwing, limits: { maxInFlight: 2 } });
  });
  afterAll(async () => {
    await proxy.close();
    await fake.close();
  });

  test('costs that one request only: it leaves the in-flight set, later requests are served', async () => {
    failing = true;
    for (let i = 0; i < 2; i++) {
      const completion = await proxy.client.chat.completions.create({ model: 'r', ...ask });
      expect(completion.choices[0]?.message.content).toBe('Hello there, friend.');
    }
    await new Promise((r) => setTimeout(r, 50));
    failing = false; // the bug is gone: telemetry works again
    const inFlightAfter = proxy.proxy.inFlight();
    const next = await proxy.client.chat.completions.create({ model: 'r', ...ask }).then(
      (c) => c.choices[0]?.message.content,
      (e: unknown) => `${(e as { status?: number }).status} ${(e as { code?: string }).code}`,
    );
    expect({ inFlightAfter, next }).toEqual({ inFlightAfter: 0, next: 'Hello there, friend.' });
  });
});
