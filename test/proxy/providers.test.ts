import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { startWith, type Started } from './harness.ts';

let fake: OpenAIFake;
const running: Started[] = [];
beforeAll(async () => {
  fake = await startOpenAIFake();
});
afterEach(async () => {
  await Promise.all(running.splice(0).map((s) => s.close()));
  fake.requests.length = 0;
});
afterAll(async () => {
  await fake.close();
});

async function via(backendConfig: Record<string, unknown>, options: Parameters<typeof startWith>[1] = {}): Promise<OpenAI> {
  const s = await startWith([{ name: 'r', models: ['chat'], backends: [{ name: 'b', model: 'm', baseURL: fake.url, ...backendConfig } as never] }], options);
  running.push(s);
  return s.client;
}

const toolTurn: OpenAI.ChatCompletionMessageParam[] = [
  { role: 'user', content: 'weather?' },
  { role: 'assistant', content: null, tool_calls: [{ id: 'call_abc123XYZ_long', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
  { role: 'tool', tool_call_id: 'call_abc123XYZ_long', content: '{"temp":21}' },
];

describe('OpenAI-family provider quirks', () => {
  test('azure-openai uses the deployment URL, api-version and the api-key header', async () => {
    const client = await via({ provider: 'azure-openai', model: 'gpt-4o', credentials: { kind: 'env', name: 'AZ_KEY' }, options: { apiVersion: '2024-10-21', deployment: 'prod-gpt4o' } }, { env: { AZ_KEY: 'az-secret' } });
    await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(fake.requests[0]!.url).toBe('/openai/deployments/prod-gpt4o/chat/completions?api-version=2024-10-21');
    expect(fake.requests[0]!.headers['api-key']).toBe('az-secret');
    expect(fake.requests[0]!.headers.authorization).toBeUndefined();
  });

  test('openai sends the organization and project of its options (the project decides data controls), on every endpoint', async () => {
    const client = await via({ provider: 'openai', baseURL: `${fake.url}/v1`, credentials: { kind: 'env', name: 'OA_KEY' }, options: { organization: 'org-shop', project: 'proj_zdr' } }, { env: { OA_KEY: 'sk-oa' } });
    await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    await client.embeddings.create({ model: 'chat', input: 'hi' });
    await client.moderations.create({ model: 'chat', input: 'hi' });
    expect(fake.requests).toHaveLength(3);
    for (const request of fake.requests) {
      expect(request.headers['openai-organization']).toBe('org-shop');
      expect(request.headers['openai-project']).toBe('proj_zdr');
      expect(request.headers.authorization).toBe('Bearer sk-oa');
    }
  });

  test("mistral gets its own field names, no stream_options (it refuses them: 422) and none of OpenAI's bookkeeping fields", async () => {
    const client = await via({ provider: 'mistral', baseURL: `${fake.url}/v1`, credentials: { kind: 'none' } });
    const stream = await client.chat.completions.create({
      model: 'chat', stream: true, stream_options: { include_usage: true }, seed: 7, max_completion_tokens: 50, user: 'u1', store: false, metadata: { team: 'a' },
      messages: [{ role: 'user', content: 'hi' }],
    });
    for await (const _chunk of stream);
    const sent = fake.requests[0]!.body;
    expect(sent).toMatchObject({ random_seed: 7, max_tokens: 50, stream: true });
    for (const field of ['stream_options', 'seed', 'max_completion_tokens', 'user', 'store', 'metadata']) expect(sent).not.toHaveProperty(field);
  });

  test('mistral: a field it cannot honour (logprobs) is refused before any call; model_length comes back as length', async () => {
    const client = await via({ provider: 'mistral', baseURL: `${fake.url}/v1`, credentials: { kind: 'none' } });
    const error = (await client.chat.completions.create({ model: 'chat', logprobs: true, messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(400);
    expect(error.code).toBe('unsupported_parameter');
    expect(fake.requests).toHaveLength(0);
    fake.queue({ body: { id: 'cmpl-m', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'cut' }, finish_reason: 'model_length' }], usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } } });
    const completion = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]!.finish_reason).toBe('length');
  });

  test("azure-openai: a content-filter refusal keeps Azure's verdict (innererror) for the app, and nothing else of it", async () => {
    const client = await via({ provider: 'azure-openai', model: 'gpt-4o', credentials: { kind: 'none' }, options: { deployment: 'd' } });
    fake.queue({
      status: 400,
      body: { error: { code: 'content_filter', message: 'The response was filtered', status: 400, innererror: { code: 'ResponsibleAIPolicyViolation', note: 'free text is not copied', content_filter_result: { hate: { filtered: true, severity: 'medium' }, jailbreak: { filtered: false, detected: false } } } } },
    });
    const error = (await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(400);
    expect(error.code).toBe('content_filter');
    expect((error.error as { innererror?: unknown }).innererror).toEqual({
      code: 'ResponsibleAIPolicyViolation',
      content_filter_result: { hate: { filtered: true, severity: 'medium' }, jailbreak: { filtered: false, detected: false } },
    });
  });

  test.each([
    ['2024-02-01', false],
    ['2024-10-21', true],
  ])('azure-openai api-version %s: stream_options sent = %s (older versions refuse it)', async (apiVersion, sent) => {
    const client = await via({ provider: 'azure-openai', model: 'gpt-4o', credentials: { kind: 'none' }, options: { apiVersion, deployment: 'd' } });
    for await (const _chunk of await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] }));
    expect('stream_options' in fake.requests[0]!.body).toBe(sent);
  });

  test('mistral gets 9-character alphanumeric tool-call ids, consistent between the call and its result', async () => {
    const client = await via({ provider: 'mistral', baseURL: `${fake.url}/v1`, credentials: { kind: 'none' } });
    await client.chat.completions.create({ model: 'chat', messages: toolTurn });
    const sent = fake.requests[0]!.body.messages;
    const id = sent[1].tool_calls[0].id;
    expect(id).toMatch(/^[A-Za-z0-9]{9}$/);
    expect(sent[2].tool_call_id).toBe(id);
  });

  test('deepseek gets reasoning_content back only on tool-calling turns (required in thinking mode)', async () => {
    const client = await via({ provider: 'deepseek', baseURL: fake.url, credentials: { kind: 'none' } });
    const [user, assistant, tool] = toolTurn;
    await client.chat.completions.create({
      model: 'chat',
      messages: [user!, { role: 'assistant', content: 'a', reasoning_content: 'plain turn' } as never, { role: 'user', content: 'q2' }, { ...assistant!, reasoning_content: 'why call' } as never, tool!],
    });
    const sent = fake.requests[0]!.body.messages;
    expect(sent[1]).toEqual({ role: 'assistant', content: 'a' });
    expect(sent[3].reasoning_content).toBe('why call');
    expect(fake.requests[0]!.url).toBe('/chat/completions');
  });

  test('other providers never receive reasoning_content (an unknown message field for them)', async () => {
    const client = await via({ provider: 'openai', baseURL: `${fake.url}/v1`, credentials: { kind: 'none' } });
    const [user, assistant, tool] = toolTurn;
    await client.chat.completions.create({ model: 'chat', messages: [user!, { ...assistant!, reasoning_content: 'x' } as never, tool!] });
    expect(fake.requests[0]!.body.messages[1].reasoning_content).toBeUndefined();
  });

  test('a key file is re-read when it changes (rotation) and never sent as the client key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llmroute-key-'));
    await writeFile(join(dir, 'apiKey'), 'sk-first\n');
    const client = await via({ provider: 'openai', baseURL: `${fake.url}/v1`, credentials: { kind: 'file', path: join(dir, 'apiKey') } });
    await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(fake.requests[0]!.headers.authorization).toBe('Bearer sk-first');
    await new Promise((r) => setTimeout(r, 20));
    await writeFile(join(dir, 'apiKey'), 'sk-second\n');
    const deadline = Date.now() + 5000;
    let seen = '';
    while (seen !== 'Bearer sk-second' && Date.now() < deadline) {
      await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
      seen = fake.requests.at(-1)!.headers.authorization as string;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(seen).toBe('Bearer sk-second');
  });

  test('the echo provider answers offline, streamed and not', async () => {
    const client = await via({ provider: 'echo', baseURL: undefined, credentials: { kind: 'none' } });
    const answer = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'ping pong' }] });
    expect(answer.choices[0]!.message.content).toBe('echo: ping pong');
    const final = await client.chat.completions.stream({ model: 'chat', messages: [{ role: 'user', content: 'ping pong' }] }).finalChatCompletion();
    expect(final.choices[0]!.message.content).toBe('echo: ping pong');
    expect(fake.requests).toHaveLength(0);
  });
});

describe('run-time policy (fail closed)', () => {
  test('a backend the compiled policy does not admit is never called', async () => {
    const client = await via(
      { provider: 'openai-compatible', baseURL: fake.baseURL, region: 'us-east', credentials: { kind: 'none' } },
      { extra: { policy: { allowedRegions: ['eu-west'] } } },
    );
    const error = (await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
    expect(error.status).toBe(403);
    expect(error.code).toBe('denied_by_policy');
    expect(error.message).toContain('region us-east not in allowedRegions [eu-west]');
    expect(fake.requests).toHaveLength(0);
  });
});
