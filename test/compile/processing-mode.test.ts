// A backend whose config says it processes data globally is judged by that, not by the region it
// declares (reliability bar B15): Vertex AI's `global` location under a regional policy is denied, at
// compile time and again by the proxy at run time.
import { describe, expect, test } from '@jest/globals';
import { compile } from '#operator/compile/compile.ts';
import { startWith } from '#test/proxy/harness.ts';

const meta = (name: string) => ({ name, namespace: 'shop', generation: 1 });
const vertex = (location: string) => ({
  name: `vertex-${location}`, provider: 'gemini', model: 'gemini-2.5-flash', region: 'europe-west4', dataRetention: 'zero' as const,
  credentials: { env: 'VERTEX_TOKEN' }, options: { vertex: { project: 'shop-prod-1234', location } },
});
const route = { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: meta('chat'), spec: { models: ['chat'], backends: [vertex('global'), vertex('europe-west4')] } };
const policy = (allowedRegions: string[]) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: meta('residency'), spec: { allowedRegions } });

describe('global processing mode', () => {
  test('Vertex location global declared as europe-west4 is denied under an EU policy; the regional one is admitted', () => {
    const result = compile([route], [policy(['europe-west4'])]);
    expect(result.config.routes[0]!.backends.map((b) => b.name)).toEqual(['vertex-europe-west4']);
    const denied = result.routes[0]!.backends.find((b) => b.name === 'vertex-global')!;
    expect(denied).toMatchObject({ admitted: false, reason: 'DeniedByPolicy' });
    expect(denied.message).toContain('Vertex AI location global processes data in any region');
  });

  test('a policy that lists global admits it', () => {
    const result = compile([route], [policy(['europe-west4', 'global'])]);
    expect(result.config.routes[0]!.backends.map((b) => b.name)).toEqual(['vertex-global', 'vertex-europe-west4']);
  });

  test('the proxy denies it at run time too, if it ever reaches the config', async () => {
    const backend = { ...vertex('global'), credentials: { kind: 'none' as const }, provider: 'gemini' as const };
    const s = await startWith([{ name: 'shop/chat', models: ['chat'], backends: [backend] }], { extra: { policy: { allowedRegions: ['europe-west4'], requireZeroDataRetention: false, logPrompts: false } } });
    try {
      const error = await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e as { status?: number; code?: string });
      expect(error).toMatchObject({ status: 403, code: 'denied_by_policy' });
    } finally {
      await s.close();
    }
  });
});
