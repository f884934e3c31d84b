// The validating webhook's verdict on an LLMRoute, which is the compiler's: an invalid spec, a backend
// the namespace's policy denies, or a model another route serves is refused at `kubectl apply`; on an
// update only the problems it brings are, so a route that a policy tightened since can still be
// relabelled or deleted.
import { describe, expect, test } from '@jest/globals';
import { routeVerdict } from '#operator/admission/route-verdict.ts';

const NS = 'shop';
const mistral = { name: 'mistral', provider: 'mistral', model: 'mistral-large-latest', region: 'eu-west', credentials: { env: 'MISTRAL_API_KEY' } };
const deepseek = { name: 'deepseek', provider: 'deepseek', model: 'deepseek-chat', credentials: { env: 'DEEPSEEK_API_KEY' } };
const route = (name: string, backends: unknown[], models = ['chat'], metadata: Record<string, unknown> = {}) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: { name, namespace: NS, ...metadata }, spec: { models, backends } });
const policy = (spec: Record<string, unknown>) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: { name: 'residency', namespace: NS }, spec });
const euOnly = policy({ allowedRegions: ['eu-west'] });

describe('a route being created', () => {
  test('a compliant route is admitted without a word', () => {
    expect(routeVerdict(route('chat', [mistral]), undefined, NS, [euOnly], [])).toEqual({ allowed: true, warnings: [] });
  });

  test('a backend the policy denies refuses the route (403), naming the backend and the rule', () => {
    expect(routeVerdict(route('chat', [mistral, deepseek]), undefined, NS, [euOnly], [])).toEqual({
      allowed: false, code: 403,
      message: "denied by the namespace's LLMPolicy: backend deepseek: api.deepseek.com is DeepSeek's API, which processes data in mainland China (cn), and allowedRegions [eu-west] does not list cn",
    });
  });

  test('what the compiler finds invalid beyond the CRD schema is refused (422) with its path', () => {
    const verdict = routeVerdict(route('chat', [{ ...mistral, provider: 'anthropic', options: { inferenceGeo: 'US East' } }]), undefined, NS, [], []);
    expect(verdict).toMatchObject({ allowed: false, code: 422 });
    expect(verdict.allowed === false && verdict.message).toContain('invalid LLMRoute: spec.backends[0].options.inferenceGeo: a lower-case geography name');
  });

  test('a model another route of the namespace serves is refused (409); the route itself, on update, is not another', () => {
    const other = route('other', [mistral], ['chat', 'summarize']);
    expect(routeVerdict(route('chat', [mistral], ['chat', 'embed']), undefined, NS, [], [other])).toEqual({ allowed: false, code: 409, message: 'model chat is already served by LLMRoute other' });
    expect(routeVerdict(route('other', [mistral], ['chat']), other, NS, [], [other])).toEqual({ allowed: true, warnings: [] });
  });

  test('an invalid policy is the policy\'s fault: the route is admitted, with a warning that nothing is admitted until it is fixed', () => {
    const broken = policy({ allowedRegions: 'eu-west' });
    const verdict = routeVerdict(route('chat', [mistral]), undefined, NS, [broken], []);
    expect(verdict.allowed).toBe(true);
    expect(verdict.allowed && verdict.warnings[0]).toMatch(/^LLMPolicy residency of the namespace is invalid, so no backend is admitted until it is fixed: /);
  });

  test('without a policy any valid backend is admitted', () => {
    expect(routeVerdict(route('chat', [deepseek]), undefined, NS, [], [])).toEqual({ allowed: true, warnings: [] });
  });
});

describe('a route being updated', () => {
  test('a denial the stored route already had is a warning: relabelling a route that a policy tightened since is not blocked', () => {
    const stored = route('chat', [mistral, deepseek]);
    const relabelled = route('chat', [mistral, deepseek], ['chat'], { labels: { team: 'shop' } });
    const verdict = routeVerdict(relabelled, stored, NS, [euOnly], []);
    expect(verdict.allowed).toBe(true);
    expect(verdict.allowed && verdict.warnings).toEqual([expect.stringContaining('backend deepseek: api.deepseek.com')]);
  });

  test('an update that brings a new denial is refused', () => {
    expect(routeVerdict(route('chat', [mistral, deepseek]), route('chat', [mistral]), NS, [euOnly], [])).toMatchObject({ allowed: false, code: 403 });
  });

  test('a route being deleted (finalizers removed) is never refused', () => {
    const deleting = route('chat', [mistral, deepseek], ['chat'], { deletionTimestamp: '2026-12-04T00:00:00Z' });
    expect(routeVerdict(deleting, route('chat', [mistral]), NS, [euOnly], []).allowed).toBe(true);
  });
});
