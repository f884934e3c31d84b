// The validating webhook's verdict on an LLMPolicy: an invalid one (which would admit nothing) is
// refused at `kubectl apply`; a valid one is admitted with a warning for each backend of the
// namespace's routes that it newly denies.
import { describe, expect, test } from '@jest/globals';
import { policyVerdict } from '#operator/admission/policy-verdict.ts';

const NS = 'shop';
const backend = (name: string, provider: string, extra: Record<string, unknown> = {}) => ({ name, provider, model: 'm', credentials: { env: 'KEY' }, ...extra });
const route = (name: string, backends: unknown[]) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: { name, namespace: NS, creationTimestamp: `2026-01-0${name.length % 9 + 1}T00:00:00Z` }, spec: { models: [name], backends } });
const policy = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: { name, namespace: NS }, spec });
const routes = [route('chat', [backend('mistral', 'mistral', { region: 'eu-west' }), backend('deepseek', 'deepseek')]), route('embed', [backend('local', 'openai-compatible', { baseURL: 'http://vllm.models.svc:8000/v1', region: 'eu-west' })])];

describe('a policy being applied', () => {
  test('an invalid policy (a misspelt field the CRD keeps) is refused, naming it', () => {
    const verdict = policyVerdict(policy('residency', { allowedRegion: ['eu-west'] }), undefined, NS, [], routes);
    expect(verdict).toMatchObject({ allowed: false, code: 422 });
    expect(verdict.allowed === false && verdict.message).toMatch(/^invalid LLMPolicy: spec.*allowedRegion/);
  });

  test('a valid policy is admitted, with a warning for each backend it newly denies', () => {
    expect(policyVerdict(policy('residency', { allowedRegions: ['eu-west'] }), undefined, NS, [], routes)).toEqual({
      allowed: true,
      warnings: ["LLMRoute chat: backend deepseek will be denied: api.deepseek.com is DeepSeek's API, which processes data in mainland China (cn), and allowedRegions [eu-west] does not list cn"],
    });
  });

  test('what another policy of the namespace denies already is not repeated; a policy replaced by its new version is judged as replaced', () => {
    const providers = policy('providers', { allowedProviders: ['mistral', 'openai-compatible'] });
    expect(policyVerdict(policy('residency', { allowedRegions: ['eu-west'] }), undefined, NS, [providers], routes)).toEqual({ allowed: true, warnings: [] });
    // Loosening a stored policy denies nothing new; tightening it warns of what it takes away.
    const stored = policy('residency', { allowedRegions: ['eu-west', 'cn'] });
    expect(policyVerdict(policy('residency', { allowedRegions: ['eu-west', 'cn', 'us'] }), undefined, NS, [stored], routes)).toEqual({ allowed: true, warnings: [] });
    expect(policyVerdict(policy('residency', { allowedRegions: ['eu-west'] }), undefined, NS, [stored], routes)).toEqual({ allowed: true, warnings: [expect.stringContaining('LLMRoute chat: backend deepseek will be denied')] });
  });

  test('many denials are summed up after ten', () => {
    const many = Array.from({ length: 12 }, (_, i) => route(`r${i}`, [backend('deepseek', 'deepseek')]));
    const verdict = policyVerdict(policy('residency', { allowedRegions: ['eu-west'] }), undefined, NS, [], many);
    expect(verdict.allowed && verdict.warnings).toHaveLength(11);
    expect(verdict.allowed && verdict.warnings[10]).toBe("and 2 more backends this policy denies (see the routes' status)");
  });
});

describe('review findings', () => {
  test('a policy stored invalid can be relabelled and, being deleted, have its finalizer removed; a new mistake is still refused', () => {
    const broken = policy('residency', { allowedRegion: ['eu-west'] });
    expect(policyVerdict({ ...broken, metadata: { ...broken.metadata, labels: { team: 'platform' } } }, broken, NS, [broken], routes)).toMatchObject({ allowed: true, warnings: [expect.stringMatching(/^this LLMPolicy is invalid/)] });
    expect(policyVerdict({ ...broken, metadata: { ...broken.metadata, deletionTimestamp: '2026-12-04T00:00:00Z' } }, broken, NS, [broken], routes).allowed).toBe(true);
    expect(policyVerdict(policy('residency', { allowedRegion: ['eu-west'], deniedModel: ['x'] }), broken, NS, [broken], routes)).toMatchObject({ allowed: false, code: 422 });
  });

  test('fixing an invalid policy warns of what the fixed one denies (the invalid one denied everything, for its own fault)', () => {
    const broken = policy('residency', { allowedRegion: ['eu-west'] });
    expect(policyVerdict(policy('residency', { allowedRegions: ['eu-west'] }), broken, NS, [broken], routes)).toEqual({ allowed: true, warnings: [expect.stringContaining('LLMRoute chat: backend deepseek will be denied')] });
  });

  test('a backend that was never serving (its route left out for a model conflict) is not said to be taken away', () => {
    const older = { ...route('chat', [backend('deepseek', 'deepseek')]), metadata: { name: 'older', namespace: NS, creationTimestamp: '2026-01-01T00:00:00Z' } };
    const younger = { ...route('chat', [backend('mistral', 'mistral', { region: 'eu-west' }), backend('deepseek2', 'deepseek')]), metadata: { name: 'younger', namespace: NS, creationTimestamp: '2026-02-01T00:00:00Z' } };
    // The policy denies the older route's only backend, which frees the model for the younger one, whose deepseek2 it denies too.
    const verdict = policyVerdict(policy('residency', { allowedRegions: ['eu-west'] }), undefined, NS, [], [older, younger]);
    expect(verdict).toEqual({ allowed: true, warnings: [expect.stringContaining('LLMRoute older: backend deepseek will be denied')] });
  });
});
