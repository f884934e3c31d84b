// LLMPolicy limits: the body caps of the namespace's sidecars, set where platform teams set policy.
// Sizes are written as Kubernetes users write them; several policies keep the smallest.
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { compile } from '#operator/compile/compile.ts';
import { BYTE_SIZE_PATTERN, parseByteSize } from '#operator/api/byte-size.ts';
import { dumpStampedConfig, parseConfigText } from '#proxy/config/parse.ts';
import { startWith } from '#test/proxy/harness.ts';

const meta = (name: string) => ({ name, namespace: 'shop', generation: 1 });
const route = { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: meta('chat'), spec: { models: ['chat'], backends: [{ name: 'echo', provider: 'echo', model: 'echo', credentials: { none: true } }] } };
const policy = (name: string, limits: unknown) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: meta(name), spec: { limits } });

describe('sizes', () => {
  test.each([['20Mi', 20 * 1024 ** 2], ['1Gi', 1024 ** 3], ['500k', 500_000], ['3M', 3_000_000], ['4096', 4096], [2048, 2048]] as const)('%j is %d bytes', (text, bytes) => {
    expect(parseByteSize(text)).toBe(bytes);
  });
  test.each(['1.5Mi', '20MB', '-1', 'Mi', '20 Mi', '', 1.5])('%j is not a size', (text) => {
    expect(parseByteSize(text)).toBeUndefined();
  });
});

describe('limits in compile', () => {
  test('they become the compiled server caps, which the proxy loads', () => {
    const { config } = compile([route], [policy('caps', { maxRequestSize: '20Mi', maxResponseSize: '256Mi' })]);
    expect(config.server).toEqual({ maxBodyBytes: 20 * 1024 ** 2, maxResponseBytes: 256 * 1024 ** 2 });
    const parsed = parseConfigText(dumpStampedConfig(config));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    expect(parsed.config.server).toEqual({ maxBodyBytes: 20 * 1024 ** 2, maxResponseBytes: 256 * 1024 ** 2 });
  });

  test('several policies keep the smallest of each; without limits the config carries none (the proxy defaults hold)', () => {
    const { config } = compile([route], [policy('a', { maxRequestSize: '20Mi' }), policy('b', { maxRequestSize: '5Mi', maxResponseSize: '1Gi' }), policy('c', { maxResponseSize: 100_000_000 })]);
    expect(config.server).toEqual({ maxBodyBytes: 5 * 1024 ** 2, maxResponseBytes: 100_000_000 });
    expect('server' in compile([route], []).config).toBe(false);
  });

  test.each([{ maxRequestSize: '1Gi' }, { maxResponseSize: '2Gi' }, { maxRequestSize: '100' }, { maxRequestSize: '1.5Mi' }, { maxBodySize: '1Mi' }])('%j is refused: the policy is invalid, and says why', (limits) => {
    const result = compile([route], [policy('caps', limits)]);
    expect(result.policies[0]).toMatchObject({ valid: false });
    expect(result.config.routes).toEqual([]);
  });

  test('the CRD pattern is the parser\'s', () => {
    type Node = { properties: Record<string, Node>; pattern?: string };
    const crd = yaml.load(readFileSync(new URL('../../crds/llmroute.dev_llmpolicies.yaml', import.meta.url), 'utf8')) as { spec: { versions: Array<{ schema: { openAPIV3Schema: Node } }> } };
    const limits = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec!.properties.limits!;
    expect(Object.values(limits.properties).map((p) => p.pattern)).toEqual([BYTE_SIZE_PATTERN, BYTE_SIZE_PATTERN]);
  });
});

describe('the proxy enforces a compiled request cap', () => {
  test('a body over maxRequestSize gets 413 request_too_large', async () => {
    const { config } = compile([route], [policy('caps', { maxRequestSize: '2Ki' })]);
    const s = await startWith(config.routes, { extra: { server: config.server } });
    try {
      const error = await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'x'.repeat(4096) }] }).catch((e: unknown) => e as { status?: number; code?: string });
      expect(error).toMatchObject({ status: 413, code: 'request_too_large' });
      const ok = await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'short' }] });
      expect(ok.choices[0]!.message.content).toContain('short');
    } finally {
      await s.close();
    }
  });
});
