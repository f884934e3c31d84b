// Golden fixtures for the Anthropic and Gemini translators, in both directions: OpenAI request ->
// upstream request, upstream response -> OpenAI response, upstream stream events -> OpenAI chunks,
// upstream errors -> OpenAI errors. One JSON file per case under test/fixtures/translation/.
import { describe, expect, test } from '@jest/globals';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { bindAdapter } from '#proxy/providers/registry.ts';
import { UnsupportedRequestError, type BackendTarget, type ProviderAdapter, type StreamOutput } from '#proxy/providers/adapter.ts';
import { createGeminiAdapter } from '#proxy/providers/gemini/adapter.ts';
import { ThoughtSignatureStore, type IssuedCall } from '#proxy/providers/gemini/thought-signatures.ts';
import type { ChatCompletionRequest } from '#proxy/openai/types.ts';
import { backendSchema } from '#proxy/config/schema.ts';

const root = join(import.meta.dirname, '..', 'fixtures', 'translation');

interface Fixture {
  description: string;
  provider: 'anthropic' | 'gemini';
  kind: 'request' | 'response' | 'stream' | 'error';
  backend?: Record<string, unknown>;
  /** Gemini: thought signatures issued in earlier turns, by our tool-call id. */
  signatures?: Record<string, IssuedCall>;
  clientWantsUsage?: boolean;
  input: unknown;
  expected?: unknown;
  expectedUrl?: string;
  expectedHeaders?: Record<string, string>;
  expectedError?: { code: string; param?: string };
  expectedUsage?: unknown;
  /** Gemini: signatures the store must hold afterwards. */
  expectedSignatures?: Record<string, IssuedCall>;
}

function load(): Array<[string, Fixture]> {
  const cases: Array<[string, Fixture]> = [];
  for (const provider of readdirSync(root).sort()) {
    for (const file of readdirSync(join(root, provider)).sort()) {
      if (file.endsWith('.json')) cases.push([`${provider}/${file}`, JSON.parse(readFileSync(join(root, provider, file), 'utf8')) as Fixture]);
    }
  }
  return cases;
}

function setup(fixture: Fixture): { adapter: ProviderAdapter; target: BackendTarget; store: ThoughtSignatureStore } {
  const backend = backendSchema.parse({ name: 'b', provider: fixture.provider, model: fixture.provider === 'anthropic' ? 'claude-sonnet-4-5' : 'gemini-2.5-flash', credentials: { kind: 'env', name: 'K' }, ...fixture.backend });
  const store = new ThoughtSignatureStore();
  for (const [id, call] of Object.entries(fixture.signatures ?? {})) store.remember(id, call);
  const binding = bindAdapter(backend);
  if (!binding.ok) throw new Error(JSON.stringify(binding.issues));
  const adapter = fixture.provider === 'gemini' ? (createGeminiAdapter(store) as ProviderAdapter) : binding.adapter;
  return { adapter, store, target: { config: backend, baseURL: binding.baseURL, options: binding.options, apiKey: 'test-key' } };
}

/** Generated parts (timestamps, ids we mint) are replaced so fixtures can be exact. */
function normalise(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value), (key, v: unknown) => {
    if (key === 'created') return undefined;
    if (typeof v === 'string' && /^call_[A-Za-z0-9_-]{16}$/.test(v)) return 'call_<generated>';
    return v;
  });
}

function readable(outputs: StreamOutput[]): unknown[] {
  return outputs.map((o) => (o.kind === 'chunk' ? { chunk: normalise(JSON.parse(o.json)) } : o.kind === 'done' ? { done: true } : { error: { status: o.error.status, code: o.error.body.error.code, retryable: o.error.retryable } }));
}

describe.each(load())('%s', (_file, fixture) => {
  test(fixture.description, () => {
    const { adapter, target, store } = setup(fixture);
    switch (fixture.kind) {
      case 'request': {
        const request = fixture.input as ChatCompletionRequest;
        if (fixture.expectedError) {
          let thrown: unknown;
          try {
            adapter.buildChatRequest(request, target);
          } catch (err) {
            thrown = err;
          }
          expect(thrown).toBeInstanceOf(UnsupportedRequestError);
          const error = thrown as UnsupportedRequestError;
          expect({ code: error.code, ...(fixture.expectedError.param ? { param: error.param } : {}) }).toEqual(fixture.expectedError);
          return;
        }
        const built = adapter.buildChatRequest(request, target);
        expect(JSON.parse(built.body!)).toEqual(fixture.expected);
        if (fixture.expectedUrl) expect(built.url).toBe(fixture.expectedUrl);
        if (fixture.expectedHeaders) expect(built.headers).toMatchObject(fixture.expectedHeaders);
        break;
      }
      case 'response':
        expect(normalise(adapter.parseChatResponse(fixture.input, target, 'client-model'))).toEqual(fixture.expected);
        break;
      case 'stream': {
        const translator = adapter.createStreamTranslator(target, { clientWantsUsage: fixture.clientWantsUsage ?? false, clientModel: 'client-model' });
        const outputs: StreamOutput[] = [];
        for (const event of fixture.input as Array<{ event?: string; data: unknown }>) {
          outputs.push(...translator.push({ ...(event.event ? { event: event.event } : {}), data: typeof event.data === 'string' ? event.data : JSON.stringify(event.data) }));
        }
        outputs.push(...translator.end());
        expect(readable(outputs)).toEqual(fixture.expected);
        if (fixture.expectedUsage !== undefined) expect(translator.usage()).toEqual(fixture.expectedUsage);
        break;
      }
      case 'error': {
        const { status, headers, body } = fixture.input as { status: number; headers?: Record<string, string>; body: unknown };
        const error = adapter.classifyError(status, headers ?? {}, typeof body === 'string' ? body : JSON.stringify(body));
        expect({ status: error.status, retryable: error.retryable, reason: error.reason, body: error.body, ...(error.retryAfterMs !== undefined ? { retryAfterMs: error.retryAfterMs } : {}) }).toEqual(fixture.expected);
        break;
      }
    }
    for (const [id, call] of Object.entries(fixture.expectedSignatures ?? {})) expect(store.recall(id)).toEqual(call);
  });
});
