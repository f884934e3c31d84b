// A request handler that throws past its own error handling (here: telemetry failing after the answer
// was written, and before it) costs that request at most, never the process: no unhandled rejection.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { noopTelemetry, type Telemetry } from '#proxy/telemetry/hooks.ts';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { backend, startWith, waitFor, type Started } from '#test/proxy/harness.ts';

let fake: OpenAIFake;
let proxy: Started;
let failAt: 'end' | 'start' | 'attempt-end' | 'first-token' = 'end';
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

/** Telemetry that records nothing and throws at the chosen point. */
const throwing: Telemetry = {
  configLoaded() {},
  startRequest(info) {
    if (failAt === 'start') throw new Error('telemetry bug at start');
    const inner = noopTelemetry.startRequest(info);
    if (failAt === 'first-token') {
      return { ...inner, startAttempt: (a) => ({ ...inner.startAttempt(a), firstToken: () => { throw new Error('telemetry bug at first token'); } }) };
    }
    if (failAt === 'attempt-end') {
      return { ...inner, startAttempt: (a) => ({ ...inner.startAttempt(a), end: () => { throw new Error('telemetry bug at attempt end'); } }) };
    }
    return { ...inner, end: () => { throw new Error('telemetry bug at end'); } };
  },
};

beforeAll(async () => {
  process.on('unhandledRejection', onUnhandled);
  fake = await startOpenAIFake();
  proxy = await startWith([{ name: 'ns/r', models: ['r'], backends: [backend('up', fake.baseURL)] }], { telemetry: throwing });
});
afterAll(async () => {
  process.off('unhandledRejection', onUnhandled);
  await proxy.close();
  await fake.close();
});

describe('a handler that throws', () => {
  test('after the answer: the client has its answer, nothing is left unhandled', async () => {
    failAt = 'end';
    const completion = await proxy.client.chat.completions.create({ model: 'r', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]?.message.content).toBe('Hello there, friend.');
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
  });

  test('before any answer: a 500 internal_error, nothing is left unhandled', async () => {
    failAt = 'start';
    const error = await proxy.client.chat.completions.create({ model: 'r', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 500, code: 'internal_error' });
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
  });

  test('in a stream already under way: the client gets an error event, not a stream that looks whole', async () => {
    failAt = 'attempt-end';
    fake.queue({ delayBetweenMs: 5 }); // events trickle: the text is written before the stream's end
    const stream = await proxy.client.chat.completions.create({ model: 'r', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    const error = await (async () => {
      for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => e);
    expect(text).toBe('Hello there, friend.');
    expect(error).toMatchObject({ code: 'internal_error' });
    await new Promise((r) => setTimeout(r, 50));
    expect(unhandled).toEqual([]);
  });

  test('once a stream is chosen, before it is relayed: a 500, and the upstream stream is cut at once', async () => {
    failAt = 'first-token';
    const abortedBefore = fake.aborted;
    fake.queue({ delayBetweenMs: 1000 }); // a slow generation: left alone it would run for seconds
    const error = await proxy.client.chat.completions.create({ model: 'r', stream: true, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ status: 500, code: 'internal_error' });
    // Cut, not left to generate (and bill) until the attempt's total timeout of 10 minutes.
    await waitFor(() => fake.aborted === abortedBefore + 1, 800);
    expect(unhandled).toEqual([]);
  });
});
