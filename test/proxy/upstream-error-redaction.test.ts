// Upstream error text reaches the client only redacted and bounded (B31, C8): a canary key echoed by
// an upstream - raw, in a URL query, as a Bearer token - appears in no form (verbatim, URL-encoded,
// base64, any 8-character piece) in what the client receives, on every provider path.
import { afterEach, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import OpenAI from 'openai';
import { classifyOpenAIStyleError, redactSecret, redactSecretInError, sanitizeUpstreamMessage, upstreamErrorFromStreamPayload } from '#proxy/providers/openai-errors.ts';
import { anthropicStreamError, classifyAnthropicError } from '#proxy/providers/anthropic/errors.ts';
import { classifyGeminiError, geminiStreamError } from '#proxy/providers/gemini/errors.ts';
import { sendJson, startFakeServer, type FakeServer } from '#test/fakes/fake-server.ts';
import { backend, startWith, type Started } from './harness.ts';

/** A fresh key shaped like a real one (letters of both cases and digits), so no test can pass by luck. */
const canaryKey = (prefix = 'sk-proj-') => prefix + randomBytes(30).toString('base64').replace(/[+/=]/g, 'A');

/** Every form of the key that must not appear: verbatim, URL-encoded, base64(url), any 8-character piece. */
function leaksOf(text: string, key: string): string[] {
  const whole = Buffer.from(key, 'utf8');
  const forms = [key, encodeURIComponent(key), whole.toString('base64'), whole.toString('base64url')];
  for (let i = 0; i + 8 <= key.length; i++) forms.push(key.slice(i, i + 8));
  return forms.filter((form) => text.includes(form));
}

/** An upstream message echoing the key the three ways the audit's probe did. */
const echoing = (key: string) => `Incorrect API key provided: ${key}. Request was https://api.example.com/v1/chat/completions?key=${key}&alt=sse with header Authorization: Bearer ${key}; also Bearer ${key}`;

describe('sanitizeUpstreamMessage', () => {
  test.each([
    ['an OpenAI-style key', canaryKey('sk-proj-')],
    ['an Anthropic key', canaryKey('sk-ant-api03-')],
    ['a Groq key', canaryKey('gsk_')],
    ['a Google API key', `AIza${randomBytes(26).toString('base64url').slice(0, 35)}`],
    ['a prefix-less random key', randomBytes(24).toString('hex')],
    ['a base64 secret with + and /', 'q+Zx/9aB3cD4eF5gH6iJ7kL8mN9oP0qR1sT2uV3wX4yZ5=='],
  ])('%s is cut out in every position', (_name, key) => {
    for (const message of [key, `bad key ${key} given`, `key=${key}`, `api_key=${key}&x=1`, `token=${key}`, `Bearer ${key}`, `authorization: Bearer ${key}`, `x-api-key: ${key}`, `see https://host/path?key=${key}`, `"x-goog-api-key": "${key}"`]) {
      const out = sanitizeUpstreamMessage(message);
      expect({ message, leaks: leaksOf(out, key) }).toEqual({ message, leaks: [] });
    }
  });

  test('a short key without a known shape is cut out where it stands as a credential', () => {
    const key = randomBytes(12).toString('base64url'); // 16 characters: too short to be told from words
    for (const message of [`key=${key}`, `?api_key=${key}&x=1`, `token = ${key}`, `Bearer ${key}`, `Authorization: Bearer ${key}`, `x-api-key: ${key}`, `"api-key": "${key}"`]) {
      const out = sanitizeUpstreamMessage(message);
      expect({ message, leaks: leaksOf(out, key) }).toEqual({ message, leaks: [] });
    }
  });

  test('other credential shapes: query values, JWTs, AWS key ids, OAuth tokens', () => {
    const jwt = `eyJhbGciOiJIUzI1NiJ9.${randomBytes(24).toString('base64url')}.${randomBytes(24).toString('base64url')}`;
    const out = sanitizeUpstreamMessage(`access_token=abc123short client_secret=hunter2hunter2 sig=XyZ ${jwt} AKIAABCDEFGHIJKLMNOP ya29.${randomBytes(30).toString('base64url')}`);
    expect(out).toBe('access_token=[redacted] client_secret=[redacted] sig=[redacted] [redacted] [redacted] [redacted]');
  });

  test('ordinary error text is kept', () => {
    for (const message of [
      "This model's maximum context length is 128000 tokens. However, your messages resulted in 130000 tokens.",
      'max_tokens is too large: 5000. This model supports at most 4096 completion tokens.',
      'The model `gpt-4o-mini-2024-07-18-ft-experiment-long-name` does not exist or you do not have access to it.',
      'Invalid value for messages[0].content: expected a string, got null. Request id 0f8e2a6c-5b1d-4c3e-9a7f-2d4b6c8e0a1f',
      'Publisher model projects/my-project/locations/us-central1/publishers/google/models/gemini-2.0-flash was not found',
    ]) {
      expect(sanitizeUpstreamMessage(message)).toBe(message);
    }
  });

  test('the result is at most 1000 characters, and a key across the cut leaves no piece behind', () => {
    const key = canaryKey();
    const out = sanitizeUpstreamMessage(`${'a '.repeat(497)}${key} ${'b'.repeat(5000)}`);
    expect(out.length).toBeLessThanOrEqual(1000);
    expect(leaksOf(out, key)).toEqual([]);
    expect(sanitizeUpstreamMessage('x '.repeat(1_000_000)).length).toBe(1000);
  });
});

describe('redactSecret (the backend key, when the caller knows it)', () => {
  const key = 'plainpassword-no-pattern';
  test('verbatim, URL-encoded, base64 and any 8-character piece are cut out', () => {
    const text = `a ${key} b ${encodeURIComponent(key)} c ${Buffer.from(key).toString('base64')} d ${key.slice(3, 14)} e ${key.slice(-8)}`;
    const out = redactSecret(text, key);
    expect(leaksOf(out, key)).toEqual([]);
    expect(out.startsWith('a [redacted] b ')).toBe(true);
  });

  test('no key, or one too short to tell from words, changes nothing', () => {
    expect(redactSecret('the key is wrong', undefined)).toBe('the key is wrong');
    expect(redactSecret('the key is wrong', 'key')).toBe('the key is wrong');
  });

  test('applies to every text field of a classified error', () => {
    const error = classifyOpenAIStyleError(400, {}, JSON.stringify({ error: { message: `pw ${key}`, type: `t-${key}`, param: `p-${key}`, code: `c-${key}` } }));
    expect(leaksOf(JSON.stringify(redactSecretInError(error, key).body), key)).toEqual([]);
  });
});

describe('every provider path sanitizes upstream text', () => {
  const key = canaryKey();

  test('OpenAI dialect: error body (message, type, code, param), flat error string, stream error', () => {
    const nested = classifyOpenAIStyleError(400, {}, JSON.stringify({ error: { message: echoing(key), type: key, code: `invalid_${key}`, param: `?key=${key}` } }));
    const flat = classifyOpenAIStyleError(400, {}, JSON.stringify({ error: echoing(key) }));
    const mistral = classifyOpenAIStyleError(400, {}, JSON.stringify({ object: 'error', message: echoing(key), type: 'invalid_request_error' }));
    const stream = upstreamErrorFromStreamPayload({ error: { message: echoing(key), type: key, code: key } });
    for (const error of [nested, flat, mistral, stream]) {
      expect(leaksOf(JSON.stringify(error.body), key)).toEqual([]);
      expect(error.body.error.message.length).toBeLessThanOrEqual(1000);
    }
    expect(nested.body.error.message).toContain('Incorrect API key provided: [redacted]');
  });

  test('type, code and param are bounded', () => {
    const error = classifyOpenAIStyleError(400, {}, JSON.stringify({ error: { message: 'm', type: 't'.repeat(5000), code: 'c'.repeat(5000), param: 'p'.repeat(5000) } }));
    expect(error.body.error.type.length).toBeLessThanOrEqual(200);
    expect(error.body.error.code!.length).toBeLessThanOrEqual(200);
    expect(error.body.error.param!.length).toBeLessThanOrEqual(200);
  });

  test('the quota codes still decide retryability', () => {
    const error = classifyOpenAIStyleError(429, {}, JSON.stringify({ error: { message: 'pay up', type: 'insufficient_quota', code: 'insufficient_quota' } }));
    expect(error.retryable).toBe(false);
    expect(error.reason).toBe('quota_exceeded');
    expect(error.body.error.code).toBe('insufficient_quota');
  });

  test('Anthropic and Gemini: error bodies and stream errors; malformed fields do not throw', () => {
    const errors = [
      classifyAnthropicError(400, {}, JSON.stringify({ type: 'error', error: { type: 'invalid_request_error', message: echoing(key) } })),
      anthropicStreamError({ type: 'overloaded_error', message: echoing(key) }),
      anthropicStreamError({ type: 42, message: { nested: key } } as never),
      classifyGeminiError(400, {}, JSON.stringify({ error: { code: 400, status: 'INVALID_ARGUMENT', message: echoing(key) } })),
      classifyGeminiError(400, {}, JSON.stringify({ error: { code: 400, message: 'x', details: 'not-an-array' } })),
      classifyGeminiError(400, {}, JSON.stringify({ error: { code: 400, message: 'x', details: [null, { reason: 'API_KEY_INVALID' }] } })),
      geminiStreamError({ code: 500, message: echoing(key) }),
      geminiStreamError({ code: 500, message: { nested: key } } as never),
    ];
    for (const error of errors) expect(leaksOf(JSON.stringify(error.body), key)).toEqual([]);
    expect(errors[5]!.status).toBe(401);
  });
});

describe('through the proxy (OpenAI-compatible upstream)', () => {
  const running: Started[] = [];
  const fakes: FakeServer<unknown>[] = [];
  afterEach(async () => {
    await Promise.all(running.splice(0).map((s) => s.close()));
    await Promise.all(fakes.splice(0).map((f) => f.close()));
  });

  /** An upstream that echoes the key it was sent (as real ones do in "Incorrect API key" errors). */
  async function start(answer: (res: ServerResponse, key: string) => void, key = canaryKey()): Promise<{ s: Started; key: string; fake: FakeServer<unknown> }> {
    const fake = await startFakeServer<unknown>(async (req: IncomingMessage, res: ServerResponse) => {
      const sent = String(req.headers.authorization ?? '').replace(/^Bearer /, '');
      answer(res, sent);
    }, undefined);
    fakes.push(fake);
    const s = await startWith([{ name: 'shop/chat', models: ['chat'], backends: [backend('a', `${fake.url}/v1`, { credentials: { kind: 'env', name: 'CANARY_KEY' } })], retries: { attempts: 0, backoffMs: 1, maxBackoffMs: 10 } }], { env: { CANARY_KEY: key } });
    running.push(s);
    return { s, key, fake };
  }

  test('a 400 echoing the key: the client gets the error, and no form of the key', async () => {
    const { s, key, fake } = await start((res, sent) => sendJson(res, 400, { error: { message: echoing(sent), type: 'invalid_request_error', param: `key=${sent}`, code: 'invalid_api_key' } }));
    const error = (await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(fake.requests[0]!.headers.authorization).toBe(`Bearer ${key}`); // the upstream did get the key to echo
    expect(error).toBeInstanceOf(OpenAI.APIError);
    expect(error.status).toBe(400);
    expect(error.code).toBe('invalid_api_key');
    expect(leaksOf(`${error.message} ${JSON.stringify(error.error)} ${JSON.stringify(Object.fromEntries(error.headers ?? []))}`, key)).toEqual([]);
    // The raw bytes too, not only what the SDK kept of them.
    const direct = await fetch(`${s.proxy.llmUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) });
    const body = await direct.text();
    expect(direct.status).toBe(400);
    expect(body).toContain('Incorrect API key provided: [redacted]');
    expect(leaksOf(body, key)).toEqual([]);
  });

  test('a mid-stream error echoing the key: the stream ends with the error, and no form of the key', async () => {
    const { s, key } = await start((res, sent) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'Hello' }, finish_reason: null }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ error: { message: echoing(sent), type: `server_error ${sent}`, code: sent } })}\n\n`);
      res.end();
    });
    const response = await s.client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }).asResponse();
    const body = await response.text();
    expect(body).toContain('Hello');
    expect(body).toContain('Incorrect API key provided: [redacted]');
    expect(leaksOf(body, key)).toEqual([]);
  });

  test('a key with no recognisable shape is still removed: the proxy knows the backend key it sent', async () => {
    const plain = 'plain.canary.password.value';
    const { s, key } = await start((res, sent) => sendJson(res, 400, { error: { message: `rejected credential ${sent} for this project`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' } }), plain);
    const direct = await fetch(`${s.proxy.llmUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }) });
    const body = await direct.text();
    expect(direct.status).toBe(400);
    expect(body).toContain('rejected credential');
    expect(leaksOf(body, key)).toEqual([]);

    const stream = await start((res, sent) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'm', choices: [{ index: 0, delta: { content: 'Hello' }, finish_reason: null }] })}\n\n`);
      res.write(`data: ${JSON.stringify({ error: { message: `credential ${sent} revoked mid-stream`, type: 'server_error' } })}\n\n`);
      res.end();
    }, plain);
    const streamed = await (await stream.s.client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }).asResponse()).text();
    expect(streamed).toContain('revoked mid-stream');
    expect(leaksOf(streamed, key)).toEqual([]);
  });
});
