// LLMPolicy allowedHosts: the hosts a namespace's backends may send data to, judged on the URL the
// sidecar really calls (a provider's default API included), whatever the backend declares. The
// egress-proxy and self-hosted cases no vendor-host table can know are what it is for.
import { describe, expect, test } from '@jest/globals';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { compile } from '#operator/compile/compile.ts';
import { HOST_PATTERN } from '#proxy/config/schema.ts';
import { hostMatches, intersectHostPatterns } from '#proxy/policy/host-patterns.ts';
import { startWith } from '#test/proxy/harness.ts';

const meta = (name: string) => ({ name, namespace: 'shop', generation: 1 });
const route = (...backends: unknown[]) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: meta('chat'), spec: { models: ['chat'], backends } });
const policy = (name: string, allowedHosts: unknown) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: meta(name), spec: { allowedHosts } });
const claude = { name: 'claude', provider: 'anthropic', model: 'claude-sonnet-4-5', credentials: { env: 'K' } };
const gpt = { name: 'gpt', provider: 'openai', model: 'gpt-4o', credentials: { env: 'K' } };
const azure = { name: 'azure', provider: 'azure-openai', model: 'gpt-4o', baseURL: 'https://shop.openai.azure.com', credentials: { env: 'K' } };
const vllm = { name: 'vllm', provider: 'openai-compatible', model: 'llama', baseURL: 'http://10.0.0.7:8000/v1' };

describe('allowedHosts in compile', () => {
  test('a backend is judged by the host it calls, its provider default included', () => {
    const result = compile([route(claude, gpt, azure, vllm)], [policy('egress', ['api.anthropic.com', '*.openai.azure.com', '10.0.0.7'])]);
    expect(result.config.routes[0]!.backends.map((b) => b.name)).toEqual(['claude', 'azure', 'vllm']);
    expect(result.routes[0]!.backends.find((b) => b.name === 'gpt')).toMatchObject({
      admitted: false, reason: 'DeniedByPolicy', message: 'baseURL host api.openai.com not in allowedHosts [api.anthropic.com, *.openai.azure.com, 10.0.0.7]',
    });
    expect(result.config.policy?.allowedHosts).toEqual(['api.anthropic.com', '*.openai.azure.com', '10.0.0.7']);
  });

  test('*. matches names under the domain at any depth, not the domain itself nor a lookalike', () => {
    expect(hostMatches('shop.openai.azure.com', '*.azure.com')).toBe(true);
    expect(hostMatches('azure.com', '*.azure.com')).toBe(false);
    expect(hostMatches('evilazure.com', '*.azure.com')).toBe(false);
    expect(hostMatches('azure.com.example.net', '*.azure.com')).toBe(false);
    expect(hostMatches('[fd00::7]', '[fd00:0:0:0:0:0:0:7]')).toBe(true); // as URL parsing writes a host
  });

  test('several policies combine by intersection, as one host list in the compiled config', () => {
    const result = compile([route(azure, gpt)], [policy('a', ['*.azure.com']), policy('b', ['shop.openai.azure.com', 'api.openai.com'])]);
    expect(result.config.policy?.allowedHosts).toEqual(['shop.openai.azure.com']);
    expect(result.config.routes[0]!.backends.map((b) => b.name)).toEqual(['azure']);
    // Disjoint lists allow no host at all, which is what both policies together say.
    expect(compile([route(gpt)], [policy('a', ['api.openai.com']), policy('b', ['api.anthropic.com'])]).config.routes).toEqual([]);
  });

  test.each([['https://api.openai.com'], ['api.openai.com:443'], ['API.openai.com'], ['*.'], ['*'], ['api.openai.com/v1'], [''], ['a..b']])('%j is not a host: the policy is invalid and admits nothing', (bad) => {
    const result = compile([route(claude)], [policy('egress', [bad])]);
    expect(result.config.routes).toEqual([]);
    expect(result.policies[0]).toMatchObject({ valid: false });
  });

  test('the CRD carries the same pattern as the schemas', () => {
    const crd = yaml.load(readFileSync(new URL('../../crds/llmroute.dev_llmpolicies.yaml', import.meta.url), 'utf8')) as { spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: { spec: { properties: { allowedHosts: { items: { pattern: string } } } } } } } }> } };
    expect(crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties.allowedHosts.items.pattern).toBe(HOST_PATTERN);
  });
});

describe('intersection is exact', () => {
  const label = fc.constantFrom('a', 'b', 'shop', 'openai', 'azure');
  const domain = fc.array(label, { minLength: 1, maxLength: 3 }).map((l) => l.join('.'));
  const pattern = fc.oneof(domain, domain.map((d) => `*.${d}`));
  test('a host both lists allow is what the intersection allows, and nothing more', () => {
    fc.assert(
      fc.property(fc.array(pattern, { maxLength: 4 }), fc.array(pattern, { maxLength: 4 }), fc.array(domain, { minLength: 1, maxLength: 8 }), (a, b, hosts) => {
        const both = intersectHostPatterns(a, b);
        for (const host of hosts) {
          const allowed = (list: readonly string[]) => list.some((p) => hostMatches(host, p));
          expect(allowed(both)).toBe(allowed(a) && allowed(b));
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('allowedHosts at run time', () => {
  test('the proxy denies a backend whose host is not listed, before any connection', async () => {
    const backend = { name: 'own', provider: 'openai-compatible' as const, model: 'llama', baseURL: 'http://10.0.0.7:8000/v1', credentials: { kind: 'none' as const } };
    const s = await startWith([{ name: 'shop/chat', models: ['chat'], backends: [backend] }], { extra: { policy: { allowedHosts: ['*.internal'], requireZeroDataRetention: false, logPrompts: false } } });
    try {
      const error = await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).catch((e: unknown) => e as { status?: number; code?: string });
      expect(error).toMatchObject({ status: 403, code: 'denied_by_policy' });
    } finally {
      await s.close();
    }
  });
});

describe('addresses and wildcards', () => {
  test('a wildcard never matches an IP address, however the address is written', () => {
    expect(hostMatches('10.0.0.7', '*.0.0.7')).toBe(false);
    expect(hostMatches(new URL('http://167772167/').hostname, '*.0.7')).toBe(false); // 10.0.0.7 as one number
    expect(hostMatches(new URL('http://167772167/').hostname, '10.0.0.7')).toBe(true);
    expect(hostMatches(new URL('http://0xa000007/').hostname, '10.0.0.7')).toBe(true);
  });
});
