// llmroute_circuit_breaker_state follows a backend through closed -> open (ejected) -> half-open
// (probing after the ejection) -> closed, read from the breakers at scrape time.
import { afterAll, beforeAll, expect, test } from '@jest/globals';
import { ProxyMetrics } from '#proxy/telemetry/metrics.ts';
import { createObserver } from '#proxy/telemetry/observer.ts';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { backend, startWith, type Started } from '#test/proxy/harness.ts';

let flaky: OpenAIFake;
let healthy: OpenAIFake;
let started: Started;
const metrics = new ProxyMetrics();

beforeAll(async () => {
  [flaky, healthy] = await Promise.all([startOpenAIFake(), startOpenAIFake()]);
  started = await startWith([{ name: 'ns/chat', models: ['chat'], backends: [backend('flaky', flaky.baseURL), backend('healthy', healthy.baseURL)], retries: { attempts: 0 } }], {
    telemetry: createObserver({ metrics }),
    metrics: () => metrics.render(),
    breaker: { threshold: 1, baseEjectionMs: 300, maxEjectionMs: 300 },
  });
  metrics.observeBreakers(() => started.proxy.breakerStates());
});
afterAll(async () => {
  await started.close();
  await Promise.all([flaky.close(), healthy.close()]);
});

async function stateOf(name: string): Promise<number | undefined> {
  const text = await (await fetch(`${started.proxy.adminUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`llmroute_circuit_breaker_state{route="ns/chat",backend="${name}"}`));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

const ask = () => started.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });

test('closed, open after a failure, half-open once the ejection ends, closed after a success', async () => {
  await ask();
  expect(await stateOf('flaky')).toBe(0);
  expect(await stateOf('healthy')).toBe(0);

  flaky.queue({ status: 503 });
  await ask(); // fails over to healthy; flaky is ejected
  expect(await stateOf('flaky')).toBe(1);
  expect(await stateOf('healthy')).toBe(0);

  await new Promise((r) => setTimeout(r, 350));
  expect(await stateOf('flaky')).toBe(2);

  await ask(); // flaky is first in order again and answers
  expect(await stateOf('flaky')).toBe(0);
});
