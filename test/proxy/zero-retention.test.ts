// Zero data retention is also a property of the request: under a policy that requires it, a Responses
// call is forwarded with store:false, and whatever would store at the provider anyway is refused (403)
// before any upstream call.
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { backend, startWith, type Started } from './harness.ts';

let fake: OpenAIFake;
let zdr: Started;
let open: Started;

const routes = () => [{ name: 'shop/chat', models: ['chat'], backends: [backend('up', fake.baseURL, { dataRetention: 'zero', region: 'eu-west' })] }];

beforeAll(async () => {
  fake = await startOpenAIFake();
  zdr = await startWith(routes(), { extra: { policy: { requireZeroDataRetention: true, logPrompts: false } } });
  open = await startWith(routes());
});
afterAll(async () => {
  await Promise.all([zdr.close(), open.close()]);
  await fake.close();
});
afterEach(() => {
  fake.requests.length = 0;
});

const post = (proxy: Started, path: string, body: unknown) =>
  fetch(`${proxy.proxy.llmUrl}/v1/${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function expectDenied(response: Response, param: string | null): Promise<void> {
  expect(response.status).toBe(403);
  const { error } = (await response.json()) as { error: { code: string; param: string | null; message: string } };
  expect(error.code).toBe('denied_by_policy');
  expect(error.param).toBe(param);
  expect(error.message).toMatch(/zero data retention/);
}

describe('zero data retention at request level', () => {
  test('a Responses call that did not say is forwarded with store:false; without the policy it is untouched', async () => {
    await post(zdr, 'responses', { model: 'chat', input: 'hello' });
    expect(fake.requests[0]!.body).toEqual({ model: 'up-model', input: 'hello', store: false });
    await post(open, 'responses', { model: 'chat', input: 'hello' });
    expect(fake.requests[1]!.body).toEqual({ model: 'up-model', input: 'hello' });
  });

  test('store:true, previous_response_id and stateful endpoints are refused before any upstream call', async () => {
    await expectDenied(await post(zdr, 'responses', { model: 'chat', input: 'hi', store: true }), 'store');
    await expectDenied(await post(zdr, 'responses', { model: 'chat', input: 'hi', previous_response_id: 'resp_123' }), 'previous_response_id');
    await expectDenied(await post(zdr, 'batches', { input_file_id: 'file-1', endpoint: '/v1/chat/completions', completion_window: '24h' }), null);
    await expectDenied(await post(zdr, 'chat/completions', { model: 'chat', store: true, messages: [{ role: 'user', content: 'hi' }] }), 'store');
    expect(fake.requests).toHaveLength(0);
  });

  test('endpoints not known to keep no data are refused (an allowlist: new stateful endpoints come under new names)', async () => {
    await expectDenied(await post(zdr, 'batch/jobs', { model: 'chat', input_files: ['f-1'], endpoint: '/v1/chat/completions' }), null); // Mistral's batches
    await expectDenied(await post(zdr, 'agents', { model: 'chat', name: 'a', instructions: 'kept at the provider' }), null); // Mistral's agents
    await expectDenied(await post(zdr, 'videos', { model: 'chat', prompt: 'a cat' }), null);
    await expectDenied(await post(zdr, 'responses', { model: 'chat', input: 'hi', background: true }), 'background');
    expect(fake.requests).toHaveLength(0);
    // Without the policy they are forwarded as before.
    expect((await post(open, 'agents', { model: 'chat', name: 'a' })).status).toBe(200);
    expect(fake.requests).toHaveLength(1);
  });

  test('a chat completion that does not ask to store is served', async () => {
    const completion = await zdr.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
    expect(completion.choices[0]!.message.content).toBeTruthy();
    expect(fake.requests[0]!.body.store).toBeUndefined();
  });
});
