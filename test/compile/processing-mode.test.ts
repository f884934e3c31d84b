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

describe('Vertex AI multi-regions and locations', () => {
  test('location eu declared as europe-west4 is judged as eu (the multi-region), not the declared region', () => {
    const result = compile([{ ...route, spec: { models: ['chat'], backends: [vertex('eu')] } }], [policy(['europe-west4'])]);
    expect(result.config.routes).toHaveLength(0);
    expect(result.routes[0]!.backends[0]!.message).toContain('Vertex AI location eu is where data is processed, and allowedRegions [europe-west4] does not list eu');
    expect(compile([{ ...route, spec: { models: ['chat'], backends: [vertex('eu')] } }], [policy(['eu'])]).config.routes[0]!.backends).toHaveLength(1);
  });
});

describe('Azure OpenAI deployment types', () => {
  const azure = (name: string, options: Record<string, unknown>) => ({
    name, provider: 'azure-openai', model: 'gpt-4o', region: 'swedencentral', baseURL: 'https://shop.openai.azure.com', credentials: { env: 'AZ_KEY' }, options,
  });
  const routeOf = (...backends: unknown[]) => ({ ...route, spec: { models: ['chat'], backends } });
  const admitted = (allowedRegions: string[], ...backends: unknown[]) => compile([routeOf(...backends)], [policy(allowedRegions)]).config.routes[0]?.backends.map((b) => b.name) ?? [];

  test('under a region policy: standard is judged by its region, dataZone by its zone, global only where global is listed', () => {
    const backends = [azure('standard', { deploymentType: 'standard' }), azure('eu-zone', { deploymentType: 'dataZone', dataZone: 'eu' }), azure('global', { deploymentType: 'global' })];
    expect(admitted(['swedencentral'], ...backends)).toEqual(['standard']);
    expect(admitted(['swedencentral', 'eu'], ...backends)).toEqual(['standard', 'eu-zone']);
    expect(admitted(['swedencentral', 'eu', 'global'], ...backends)).toEqual(['standard', 'eu-zone', 'global']);
  });

  test('an undeclared deployment type is denied under a region policy (it may be Global), and admitted without one', () => {
    const result = compile([routeOf(azure('unknown', {}))], [policy(['swedencentral'])]);
    expect(result.config.routes).toHaveLength(0);
    expect(result.routes[0]!.backends[0]!.message).toContain('options.deploymentType is not declared');
    expect(compile([routeOf(azure('unknown', {}))], []).config.routes[0]!.backends).toHaveLength(1);
  });

  test('dataZone goes with deploymentType dataZone, and only with it', () => {
    for (const options of [{ deploymentType: 'dataZone' }, { deploymentType: 'standard', dataZone: 'eu' }]) {
      const result = compile([routeOf(azure('b', options))], []);
      expect(result.config.routes).toHaveLength(0);
      expect(JSON.stringify(result.routes[0]!.issues)).toContain('dataZone (eu or us) is set exactly when deploymentType is dataZone');
    }
  });
});

describe('endpoints with no regional processing', () => {
  const backendOf = (extra: Record<string, unknown>) => ({ name: 'b', model: 'm', region: 'swedencentral', credentials: { env: 'KEY' }, ...extra });
  const admittedUnder = (allowedRegions: string[], backend: Record<string, unknown>) =>
    compile([{ ...route, spec: { models: ['chat'], backends: [backend] } }], [policy(allowedRegions)]).routes[0]!.backends[0]!;

  test('the Gemini Developer API (no vertex) is global whatever region it declares', () => {
    const gemini = backendOf({ provider: 'gemini', model: 'gemini-2.5-flash', region: 'europe-west4' });
    expect(admittedUnder(['europe-west4'], gemini)).toMatchObject({ admitted: false, message: expect.stringContaining('the Gemini Developer API (without options.vertex) processes data in any region') });
    expect(admittedUnder(['europe-west4', 'global'], gemini).admitted).toBe(true);
  });

  test.each(['https://shop.openai.azure.com/openai/v1', 'https://shop.cognitiveservices.azure.com/openai/v1', 'https://shop.services.ai.azure.com/openai/v1'])(
    'an Azure OpenAI endpoint configured as openai-compatible (%s) cannot pass a region policy',
    (baseURL) => {
      const backend = backendOf({ provider: 'openai-compatible', baseURL });
      expect(admittedUnder(['swedencentral'], backend)).toMatchObject({ admitted: false, message: expect.stringContaining('use provider azure-openai and declare options.deploymentType') });
    },
  );
});
