// The routes both failed-generation suites drive: a Mistral backend that fails over to an OpenAI one,
// and single-backend DeepSeek and OpenAI routes (no retries: each attempt is the one under test).
import type { OpenAIFake } from '#test/fakes/openai-fake.ts';
import type { RouteInput } from './harness.ts';

export function failedGenerationRoutes(failing: OpenAIFake, healthy: OpenAIFake): RouteInput[] {
  return [
    {
      name: 'ns/mistral-first',
      models: ['mistral-first'],
      backends: [
        { name: 'mistral', provider: 'mistral', model: 'mistral-large-latest', baseURL: failing.baseURL, credentials: { kind: 'none' } },
        { name: 'fallback', provider: 'openai', model: 'gpt-4o-mini', baseURL: healthy.baseURL, credentials: { kind: 'none' } },
      ],
      retries: { attempts: 0 },
    },
    { name: 'ns/deepseek-only', models: ['deepseek-only'], backends: [{ name: 'deepseek', provider: 'deepseek', model: 'deepseek-chat', baseURL: failing.baseURL, credentials: { kind: 'none' } }], retries: { attempts: 0 } },
    { name: 'ns/openai-only', models: ['openai-only'], backends: [{ name: 'oa', provider: 'openai', model: 'gpt-4o-mini', baseURL: failing.baseURL, credentials: { kind: 'none' } }], retries: { attempts: 0 } },
  ];
}
