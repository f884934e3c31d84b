// Request bodies the proxy must refuse before any upstream call: nesting too deep for the code after
// JSON.parse (B7), fields that name a host or a credential (B6/B10, LiteLLM's api_base SSRF), and lone
// UTF-16 surrogates (B6: not Unicode). The fake upstream must see none of them.
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import OpenAI from 'openai';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { MAX_JSON_DEPTH } from '#proxy/http/body.ts';
import { backend, startWith, type Started } from './harness.ts';

let fake: OpenAIFake;
let started: Started;

beforeAll(async () => {
  fake = await startOpenAIFake();
  started = await startWith([{ name: 'shop/chat', models: ['chat'], backends: [backend('primary', fake.baseURL)] }]);
});
afterAll(async () => {
  await started.close();
  await fake.close();
});
afterEach(() => {
  fake.requests.length = 0;
});

type ErrorBody = { error: { message: string; type: string; param: string | null; code: string } };

async function post(path: string, body: string): Promise<{ status: number; json: ErrorBody }> {
  const res = await fetch(`${started.proxy.llmUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  return { status: res.status, json: (await res.json()) as ErrorBody };
}

/** `{"model":"chat","messages":[...],"x":[[...]]}` whose deepest point is `depth` levels (the body is level 1). */
function nestedBody(depth: number): string {
  const arrays = depth - 1;
  return `{"model":"chat","messages":[{"role":"user","content":"hi"}],"x":${'['.repeat(arrays)}${']'.repeat(arrays)}}`;
}

const chatMessage = [{ role: 'user' as const, content: 'hi' }];

describe('deep nesting (B7)', () => {
  test('a body nested 100,000 levels is a 400 invalid_json, not a 500, and nothing goes upstream', async () => {
    const deep = `{"model":"chat","messages":[{"role":"user","content":${'['.repeat(100_000)}${']'.repeat(100_000)}}]}`;
    const { status, json } = await post('/v1/chat/completions', deep);
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ code: 'invalid_json', type: 'invalid_request_error' });
    expect(json.error.message).toContain(`deeper than ${MAX_JSON_DEPTH} levels`);
    expect(fake.requests).toHaveLength(0);
  });

  test.each([
    ['/v1/embeddings', `{"model":"chat","input":${'['.repeat(50_000)}${']'.repeat(50_000)}}`],
    ['/v1/moderations', `{"model":"chat","input":${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}}`],
  ])('the same on %s (objects or arrays)', async (path, body) => {
    const { status, json } = await post(path, body);
    expect(status).toBe(400);
    expect(json.error.code).toBe('invalid_json');
    expect(fake.requests).toHaveLength(0);
  });

  test(`${MAX_JSON_DEPTH} levels pass through, one more is refused`, async () => {
    const ok = await fetch(`${started.proxy.llmUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: nestedBody(MAX_JSON_DEPTH) });
    expect(ok.status).toBe(200);
    expect(fake.requests).toHaveLength(1);
    const refused = await post('/v1/chat/completions', nestedBody(MAX_JSON_DEPTH + 1));
    expect(refused.status).toBe(400);
    expect(fake.requests).toHaveLength(1);
  });

  test('an ordinary request with a nested tool schema is unaffected', async () => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 10; i++) schema = { type: 'object', properties: { child: schema } };
    const completion = await started.client.chat.completions.create({
      model: 'chat',
      messages: chatMessage,
      tools: [{ type: 'function', function: { name: 'f', parameters: schema } }],
    });
    expect(completion.choices[0]!.message.content).toBe('Hello there, friend.');
    expect(fake.requests).toHaveLength(1);
  });
});

describe('fields that name a host or a credential (B6/B10)', () => {
  test.each(['api_base', 'base_url', 'api_key', 'apiBase', 'API-KEY', 'Api_Base', '_api_key', 'azure_ad_token', 'custom_llm_provider', 'extra_headers'])(
    '%s in a chat request is a 400 unsupported_field naming it, and nothing goes upstream',
    async (field) => {
      const call = started.client.chat.completions.create({ model: 'chat', messages: chatMessage, [field]: 'http://169.254.169.254/v1' } as OpenAI.ChatCompletionCreateParamsNonStreaming);
      const error = await call.then(() => undefined, (e: unknown) => e);
      expect(error).toBeInstanceOf(OpenAI.BadRequestError);
      const e = error as InstanceType<typeof OpenAI.BadRequestError>;
      expect(e.status).toBe(400);
      expect(e.code).toBe('unsupported_field');
      expect(e.param).toBe(field);
      expect(e.message).toContain(field);
      expect(fake.requests).toHaveLength(0);
    },
  );

  test.each([
    ['/v1/embeddings', { model: 'chat', input: 'a', base_url: 'http://evil.example' }, 'base_url'],
    ['/v1/moderations', { model: 'chat', input: 'a', api_base: 'http://evil.example' }, 'api_base'],
    // Letters a case-insensitive decoder folds to ASCII: the Kelvin sign (k), the long s.
    ['/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'hi' }], 'api_\u212Aey': 'sk-mine' }, 'api_\u212Aey'],
    ['/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: 'hi' }], aws_\u017fecret_access_key: 'x' }, 'aws_\u017fecret_access_key'],
  ])('the same on %s', async (path, body, field) => {
    const { status, json } = await post(path, JSON.stringify(body));
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ code: 'unsupported_field', param: field });
    expect(fake.requests).toHaveLength(0);
  });

  test('the names are only refused as top-level fields, not as content', async () => {
    await started.client.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: 'set api_base and api_key in the config' }],
      metadata: { base_url: 'a note' },
    });
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.body.messages[0].content).toBe('set api_base and api_key in the config');
  });
});

describe('lone UTF-16 surrogates (B6)', () => {
  test('a lone surrogate in a message is a 400 invalid_json naming where, and nothing goes upstream', async () => {
    const call = started.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'broken \ud800 text' }] });
    const error = await call.then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(OpenAI.BadRequestError);
    const e = error as InstanceType<typeof OpenAI.BadRequestError>;
    expect(e.code).toBe('invalid_json');
    expect(e.param).toBe('messages[0].content');
    expect(e.message).toContain('lone UTF-16 surrogate');
    expect(fake.requests).toHaveLength(0);
  });

  test.each([
    ['a low surrogate in a nested value', '{"model":"chat","messages":[{"role":"user","content":[{"type":"text","text":"x\\uDC00"}]}]}', 'messages[0].content[0].text'],
    ['a lone surrogate in a key', '{"model":"chat","messages":[{"role":"user","content":"hi"}],"metadata":{"k\\ud83d":"v"}}', 'metadata.(key)'],
    ['a high surrogate followed by a non-surrogate escape', '{"model":"chat","messages":[{"role":"user","content":"\\ud83d\\u0041"}]}', 'messages[0].content'],
  ])('%s is refused too', async (_name, body, param) => {
    const { status, json } = await post('/v1/chat/completions', body);
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ code: 'invalid_json', param });
    expect(fake.requests).toHaveLength(0);
  });

  test('a surrogate pair (an emoji) and an escaped backslash before "ud800" are fine', async () => {
    const body = '{"model":"chat","messages":[{"role":"user","content":"\\ud83d\\ude00 and \\\\ud800"}]}';
    const res = await fetch(`${started.proxy.llmUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
    expect(fake.requests[0]!.body.messages[0].content).toBe('\u{1F600} and \\ud800');
  });
});

describe('case variants of routed fields (B8)', () => {
  test.each([
    ['Model next to model', '{"model":"chat","Model":"gpt-4o-denied","messages":[{"role":"user","content":"hi"}]}', 'Model'],
    ['STORE', '{"model":"chat","STORE":true,"messages":[{"role":"user","content":"hi"}]}', 'STORE'],
    ['Messages', '{"model":"chat","messages":[{"role":"user","content":"hi"}],"Messages":[{"role":"system","content":"x"}]}', 'Messages'],
    // Go's EqualFold matches these two non-ASCII letters to ASCII ones: U+017F is s, U+212A (Kelvin) is k.
    ['\u017ftore (long s)', '{"model":"chat","store":false,"\u017ftore":true,"messages":[{"role":"user","content":"hi"}]}', '\u017ftore'],
  ])('%s: 400, nothing goes upstream (a case-insensitive decoder could read it instead)', async (_name, body, param) => {
    const { status, json } = await post('/v1/chat/completions', body);
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ code: 'invalid_request', param });
    expect(fake.requests).toHaveLength(0);
  });

  test('upper case elsewhere (metadata keys, unknown fields) is not refused', async () => {
    const body = '{"model":"chat","messages":[{"role":"user","content":"hi"}],"metadata":{"Model":"x"}}';
    const res = await fetch(`${started.proxy.llmUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
    expect(res.status).toBe(200);
  });
});

describe('malformed JSON and prototype payloads (B6, B9)', () => {
  test.each([
    ['a byte order mark', '\ufeff{"model":"chat","messages":[{"role":"user","content":"hi"}]}'],
    ['NaN', '{"model":"chat","temperature":NaN,"messages":[{"role":"user","content":"hi"}]}'],
    ['trailing garbage', '{"model":"chat","messages":[{"role":"user","content":"hi"}]} trailing'],
  ])('%s is 400 invalid_json and nothing goes upstream', async (_name, body) => {
    const { status, json } = await post('/v1/chat/completions', body);
    expect(status).toBe(400);
    expect(json.error).toMatchObject({ code: 'invalid_json' });
    expect(fake.requests).toHaveLength(0);
  });

  test('__proto__ and constructor.prototype payloads pollute nothing', async () => {
    const body = '{"model":"chat","messages":[{"role":"user","content":"hi"}],"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}';
    await post('/v1/chat/completions', body);
    expect(({} as { polluted?: unknown }).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty('polluted');
  });
});

describe('paths express cannot decode', () => {
  test('a percent-escape that does not decode is 400 invalid_url as JSON, never an HTML page with a stack', async () => {
    const res = await fetch(`${started.proxy.llmUrl}/v1/moderations%E0%A4%A`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"model":"chat","input":"hi"}' });
    const text = await res.text();
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toContain('application/json');
    expect((JSON.parse(text) as ErrorBody).error).toMatchObject({ code: 'invalid_url', type: 'invalid_request_error' });
    expect(text).not.toMatch(/URIError|node_modules|\n\s+at /);
    expect(fake.requests).toHaveLength(0);
  });
});
