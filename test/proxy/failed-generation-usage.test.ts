// Mistral puts its usage on the chunk that carries the finish reason. When that reason is a failing
// one (`error`) and no text came before it, the usage must not count as content: nothing has gone
// out, so the attempt fails over instead of committing the stream with an error event.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { BackendTarget } from '#proxy/providers/adapter.ts';
import { mistralAdapter } from '#proxy/providers/openai-family.ts';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { startWith, type Started } from '#test/proxy/harness.ts';

const target = { config: {}, baseURL: 'https://x', options: {}, apiKey: undefined } as unknown as BackendTarget<Record<string, never>>;
const usage = { prompt_tokens: 9, completion_tokens: 0, total_tokens: 9 };
const chunk = (delta: object, finish: string | null, extra: object = {}) =>
  JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'mistral-large-latest', choices: [{ index: 0, delta, finish_reason: finish }], ...extra });
/** Mistral's stream shape: role chunk first, usage on the last chunk (the one with the finish reason). */
const mistralFailingEvents = [chunk({ role: 'assistant', content: '' }, null), chunk({ content: '' }, 'error', { usage }), '[DONE]'];

describe('a Mistral generation that fails before any text, usage on its failing chunk', () => {
  test('translator: nothing goes out before [DONE], then the error alone (the attempt can fail over)', () => {
    const translator = mistralAdapter.createStreamTranslator(target, { clientWantsUsage: false, clientModel: 'chat' });
    const outputs = mistralFailingEvents.flatMap((data) => translator.push({ data }));
    expect(outputs.map((o) => o.kind)).toEqual(['error']);
    expect(translator.usage()).toEqual(usage);
  });

  let mistral: Server;
  let healthy: OpenAIFake;
  let proxy: Started;
  beforeAll(async () => {
    mistral = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const data of mistralFailingEvents) res.write(`data: ${data}\n\n`);
        res.end();
      });
    });
    await new Promise<void>((resolve) => mistral.listen(0, '127.0.0.1', resolve));
    healthy = await startOpenAIFake();
    const port = (mistral.address() as AddressInfo).port;
    proxy = await startWith([
      {
        name: 'ns/mistral-first',
        models: ['mistral-first'],
        backends: [
          { name: 'mistral', provider: 'mistral', model: 'mistral-large-latest', baseURL: `http://127.0.0.1:${port}/v1`, credentials: { kind: 'none' } },
          { name: 'fallback', provider: 'openai', model: 'gpt-4o-mini', baseURL: healthy.baseURL, credentials: { kind: 'none' } },
        ],
        retries: { attempts: 0 },
      },
    ]);
  });
  afterAll(async () => {
    await proxy.close();
    await healthy.close();
    await new Promise<void>((resolve) => mistral.close(() => resolve()));
  });

  test('end to end: the stream fails over to the next backend', async () => {
    healthy.queue({ content: 'A whole answer.' });
    const stream = await proxy.client.chat.completions.create({ model: 'mistral-first', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    let text = '';
    const error = await (async () => {
      for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    })().catch((e: unknown) => String(e));
    expect({ error, text }).toEqual({ error: undefined, text: 'A whole answer.' });
  });
});
