// The Gemini fake is driven by the official @google/genai SDK: if the SDK parses its answers,
// streams (both separators) and errors, the fake speaks the real protocol.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { ApiError, GoogleGenAI } from '@google/genai';
import { startGeminiFake, type GeminiFake } from './gemini-server.ts';

let fake: GeminiFake;
let client: GoogleGenAI;
// The SDK's own fetch path looks for Node's undici global dispatcher, which Jest's module sandbox
// hides; handing it the global fetch skips only that timeout tweak, not any protocol handling.
const sdk = (apiKey: string) => new GoogleGenAI({ apiKey, httpOptions: { baseUrl: fake.url, fetch: (input, init) => fetch(input, init) } });
beforeAll(async () => {
  fake = await startGeminiFake();
  client = sdk('gemini-test-key');
});
afterAll(() => fake.close());

describe('Gemini fake, as the official SDK sees it', () => {
  test('generateContent: text, finish reason, usage; the SDK sent its key header', async () => {
    fake.queue({ content: 'Hallo Welt', usage: { promptTokenCount: 5, candidatesTokenCount: 2, thoughtsTokenCount: 3, cachedContentTokenCount: 1 } });
    const response = await client.models.generateContent({ model: 'gemini-2.5-flash', contents: 'hi' });
    expect(response.text).toBe('Hallo Welt');
    expect(response.candidates?.[0]?.finishReason).toBe('STOP');
    expect(response.usageMetadata).toMatchObject({ promptTokenCount: 5, candidatesTokenCount: 2, thoughtsTokenCount: 3, totalTokenCount: 10 });
    const sent = fake.requests.at(-1)!;
    expect(sent.url).toMatch(/^\/v1(beta)?\/models\/gemini-2\.5-flash:generateContent$/);
    expect(sent.headers['x-goog-api-key']).toBe('gemini-test-key');
  });

  test.each([[false], [true]])('generateContentStream parses the SSE chunks (CRLF separators: %s)', async (crlf) => {
    fake.queue({ content: 'eins zwei drei', crlf, thoughts: 'hmm' });
    const texts: string[] = [];
    let finish: string | undefined;
    for await (const chunk of await client.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'count' })) {
      const parts = chunk.candidates?.[0]?.content?.parts ?? [];
      for (const p of parts) if (p.text && !p.thought) texts.push(p.text);
      finish = chunk.candidates?.[0]?.finishReason ?? finish;
    }
    expect(texts).toEqual(['eins ', 'zwei ', 'drei']);
    expect(finish).toBe('STOP');
    expect(fake.requests.at(-1)!.url).toContain(':streamGenerateContent?alt=sse');
  });

  test('function calls arrive whole, with STOP as the finish reason', async () => {
    fake.queue({ toolCalls: [{ name: 'get_weather', args: { city: 'Paris' }, thoughtSignature: 'c2ln' }, { name: 'get_time', args: {} }] });
    const chunks = [];
    for await (const chunk of await client.models.generateContentStream({ model: 'gemini-2.5-flash', contents: 'weather and time', config: { tools: [{ functionDeclarations: [{ name: 'get_weather' }, { name: 'get_time' }] }] } })) chunks.push(chunk);
    const calls = chunks.flatMap((c) => c.functionCalls ?? []);
    expect(calls.map((c) => [c.name, c.args])).toEqual([['get_weather', { city: 'Paris' }], ['get_time', {}]]);
    expect(chunks.at(-1)?.candidates?.[0]?.finishReason).toBe('STOP');
    expect(chunks.at(-1)?.candidates?.[0]?.content?.parts?.[0]?.thoughtSignature).toBe('c2ln');
  });

  test('a blocked prompt is a 200 with promptFeedback and no candidates', async () => {
    fake.queue({ blockReason: 'SAFETY' });
    const response = await client.models.generateContent({ model: 'gemini-2.5-flash', contents: 'bad' });
    expect(response.candidates).toBeUndefined();
    expect(response.promptFeedback?.blockReason).toBe('SAFETY');
  });

  test('an invalid key is a 400 API_KEY_INVALID; 429 and 503 keep their status', async () => {
    const badKey = sdk('bad-key');
    const invalid = await badKey.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }).catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ApiError);
    expect((invalid as ApiError).status).toBe(400);
    expect((invalid as ApiError).message).toContain('API_KEY_INVALID');
    fake.queue({ status: 429, errorMessage: 'Resource has been exhausted' }, { status: 503 });
    const limited = await client.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }).catch((e: unknown) => e);
    expect((limited as ApiError).status).toBe(429);
    expect((limited as ApiError).message).toContain('RESOURCE_EXHAUSTED');
    const unavailable = await client.models.generateContent({ model: 'gemini-2.5-flash', contents: 'x' }).catch((e: unknown) => e);
    expect((unavailable as ApiError).status).toBe(503);
  });

  test('what the real API refuses, the fake refuses: broken alternation, unanswered calls, empty OBJECT properties', async () => {
    const raw = (body: unknown) => fetch(`${fake.url}/v1beta/models/m:generateContent?key=k`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const cases: Array<[unknown, RegExp]> = [
      [{ contents: [{ role: 'user', parts: [{ text: 'a' }] }, { role: 'user', parts: [{ text: 'b' }] }] }, /alternate between user and model/],
      [{ contents: [{ role: 'user', parts: [{ text: 'a' }] }, { role: 'model', parts: [{ functionCall: { name: 'f', args: {} } }, { functionCall: { name: 'g', args: {} } }] }, { role: 'user', parts: [{ functionResponse: { name: 'f', response: {} } }] }] }, /number of function response parts/],
      [{ contents: [{ role: 'user', parts: [{ text: 'a' }] }], tools: [{ function_declarations: [{ name: 'f', parameters: { type: 'OBJECT', properties: {} } }] }] }, /non-empty for OBJECT/],
    ];
    for (const [body, message] of cases) {
      const res = await raw(body);
      expect(res.status).toBe(400);
      const error = (await res.json()) as { error: { status: string; message: string } };
      expect(error.error.status).toBe('INVALID_ARGUMENT');
      expect(error.error.message).toMatch(message);
    }
  });
});
