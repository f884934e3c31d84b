// Stream idle timeout and the request deadline, through the proxy with the openai SDK as the client.
// Timings use small timeouts (hundreds of ms) and assert only with wide margins: machines are noisy.
import { afterEach, describe, expect, test } from '@jest/globals';
import OpenAI from 'openai';
import type { AttemptEnd, Telemetry } from '#proxy/telemetry/hooks.ts';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { startScriptedStreamFake, type ScriptedStreamFake } from '#test/fakes/scripted-stream-fake.ts';
import { backend, startWith, waitFor, type Started } from './harness.ts';

const running: Started[] = [];
const fakes: Array<{ close(): Promise<void> }> = [];

async function start(...args: Parameters<typeof startWith>): Promise<Started> {
  const s = await startWith(...args);
  running.push(s);
  return s;
}
async function scripted(): Promise<ScriptedStreamFake> {
  const fake = await startScriptedStreamFake();
  fakes.push(fake);
  return fake;
}
async function openaiFake(content: string): Promise<OpenAIFake> {
  const fake = await startOpenAIFake({ content });
  fakes.push(fake);
  return fake;
}

afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  await Promise.all(fakes.splice(0).map((f) => f.close()));
});

/** Telemetry that keeps how every attempt ended. */
function recorder(): { telemetry: Telemetry; ends: AttemptEnd[] } {
  const ends: AttemptEnd[] = [];
  const telemetry: Telemetry = {
    configLoaded() {},
    startRequest: () => ({
      routeResolved() {},
      end() {},
      startAttempt: () => ({
        upstreamHeaders: {},
        firstToken() {},
        end(result) {
          ends.push(result);
          return {};
        },
      }),
    }),
  };
  return { telemetry, ends };
}

const streamChat = (s: Started) => s.client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });

/** Reads a stream to its end: the text, and the error it ended with, if any. */
async function readStream(s: Started): Promise<{ text: string; error: unknown; lastChunkAt: number; endedAt: number }> {
  let text = '';
  let lastChunkAt = 0;
  let error: unknown;
  try {
    for await (const chunk of await streamChat(s)) {
      text += chunk.choices[0]?.delta.content ?? '';
      lastChunkAt = Date.now();
    }
  } catch (e) {
    error = e;
  }
  return { text, error, lastChunkAt, endedAt: Date.now() };
}

const route = (backends: unknown[], extra: Record<string, unknown> = {}) => ({ name: 'shop/chat', models: ['chat'], backends, retries: { attempts: 0, backoffMs: 1, maxBackoffMs: 5 }, ...extra }) as Parameters<typeof startWith>[0][number];

describe('stream idle timeout', () => {
  test('an upstream that sends two chunks and stalls is cut near idleMs: the client gets the chunks, then an upstream_timeout error', async () => {
    const fake = await scripted();
    // Stalls 4 s after two chunks, then would finish normally: without an idle timeout the stream completes.
    fake.setDefault({ words: ['one ', 'two ', 'three ', 'four'], stallAfter: 2, stallMs: 4000 });
    const { telemetry, ends } = recorder();
    const s = await start([route([backend('a', fake.baseURL, { timeouts: { idleMs: 300 } })])], { telemetry });

    const { text, error, lastChunkAt, endedAt } = await readStream(s);

    expect(text).toBe('one two ');
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect((error as InstanceType<typeof OpenAI.APIError>).code).toBe('upstream_timeout');
    expect((error as Error).message).toContain('stream idle');
    // Near idleMs after the last chunk; wide margins, but well before the 4 s stall would end.
    expect(endedAt - lastChunkAt).toBeGreaterThanOrEqual(150);
    expect(endedAt - lastChunkAt).toBeLessThan(3000);
    await waitFor(() => fake.aborted === 1); // the upstream call was cut
    expect(fake.requests).toHaveLength(1); // mid-stream: never retried
    await waitFor(() => ends.length === 1);
    expect(ends[0]).toMatchObject({ outcome: 'timeout', errorType: 'idle_timeout', partial: true });
  }, 15_000);

  test('keep-alive comments during a long pause keep the stream alive: they are bytes from a live upstream', async () => {
    const fake = await scripted();
    fake.setDefault({ words: ['one ', 'two ', 'three'], stallAfter: 1, stallMs: 1500, keepAliveEveryMs: 100 });
    const s = await start([route([backend('a', fake.baseURL, { timeouts: { idleMs: 400 } })])]);
    const { text, error } = await readStream(s);
    expect(error).toBeUndefined();
    expect(text).toBe('one two three');
    expect(fake.aborted).toBe(0);
  }, 15_000);

  test('an idle stall before the first token fails over like a first-token timeout', async () => {
    const slow = await scripted();
    // A frame with nothing for the client, then silence: the upstream started, then stalled.
    slow.setDefault({ filterFrameFirst: true, stallAfter: 0, stallMs: 4000, words: ['from a'] });
    const b = await openaiFake('from b');
    const s = await start([route([backend('a', slow.baseURL, { timeouts: { idleMs: 300 } }), backend('b', b.baseURL)])]);

    const { text, error } = await readStream(s);

    expect(error).toBeUndefined();
    expect(text).toBe('from b');
    await waitFor(() => slow.aborted === 1);
  }, 15_000);

  test('a stream whose chunks come more often than idleMs is not cut, however long it lasts in total', async () => {
    const fake = await scripted();
    // 14 chunks 100 ms apart: about 1.5 s in all, five times idleMs.
    const words = Array.from({ length: 14 }, (_, i) => `w${i} `);
    fake.setDefault({ words, everyMs: 100 });
    const { telemetry, ends } = recorder();
    const s = await start([route([backend('a', fake.baseURL, { timeouts: { idleMs: 300 } })])], { telemetry });

    const started = Date.now();
    const { text, error, endedAt } = await readStream(s);

    expect(error).toBeUndefined();
    expect(text).toBe(words.join(''));
    expect(endedAt - started).toBeGreaterThan(300); // it did outlast idleMs
    expect(fake.aborted).toBe(0);
    await waitFor(() => ends.length === 1);
    expect(ends[0]).toMatchObject({ outcome: 'success' });
  }, 15_000);
});

describe('request deadline', () => {
  test('a failover gets only what is left of the deadline; past it the client gets 504 and no further attempt is made', async () => {
    // Both stall before their headers. a's own total (500 ms) ends its attempt; b's own total (4 s)
    // is longer than what is left of the 1 s deadline, so b gets the remainder, not 4 s.
    const a = await openaiFake('from a');
    const b = await openaiFake('from b');
    a.setDefault({ delayHeadersMs: 10_000 });
    b.setDefault({ delayHeadersMs: 10_000 });
    const s = await start([
      route([backend('a', a.baseURL, { timeouts: { totalMs: 500 } }), backend('b', b.baseURL, { timeouts: { totalMs: 4000 } })], {
        retries: { attempts: 2, backoffMs: 1, maxBackoffMs: 5 },
        timeouts: { requestMs: 1000 },
      }),
    ]);

    const started = Date.now();
    const error = (await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    const elapsed = Date.now() - started;

    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(504);
    expect(error.code).toBe('upstream_timeout');
    expect(error.message).toContain('a: 504 timeout; b: 504 request_deadline');
    // Bounded by the 1 s deadline (generous margin), not by a's 500 ms + b's 4 s (+ the retries).
    expect(elapsed).toBeGreaterThanOrEqual(800);
    expect(elapsed).toBeLessThan(3000);
    // Retries were allowed (attempts: 2), but none starts once the deadline has passed.
    expect(a.requests).toHaveLength(1);
    expect(b.requests).toHaveLength(1);
    await waitFor(() => b.aborted === 1);
  }, 20_000);

  test('a backoff that would end past the deadline is not waited: the client gets the failure at once', async () => {
    const a = await openaiFake('from a');
    a.setDefault({ status: 429, headers: { 'retry-after-ms': '1500' } });
    const s = await start([{ name: 'r', models: ['chat'], backends: [backend('a', a.baseURL)], retries: { attempts: 2, backoffMs: 1, maxBackoffMs: 5000 }, timeouts: { requestMs: 1000 } }]);
    const error = (await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(429);
    expect(error.headers?.get('retry-after-ms') ?? error.headers?.get('retry-after')).toBeTruthy();
    expect(a.requests).toHaveLength(1);
  }, 15_000);

  test('by default the deadline is 10 min, or the longest backend total: short backend totals still fail over', async () => {
    const a = await openaiFake('from a');
    const b = await openaiFake('from b');
    a.setDefault({ delayHeadersMs: 10_000 });
    const s = await start([route([backend('a', a.baseURL, { timeouts: { totalMs: 300 } }), backend('b', b.baseURL, { timeouts: { totalMs: 300 } })])]);
    const { data, response } = await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).withResponse();
    expect(data.choices[0]!.message.content).toBe('from b');
    expect(response.headers.get('x-llmroute-attempts')).toBe('2');
  }, 15_000);
});
