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
    expect(verdict.allowed && verdict.warnings).toEqual(['LLMPolicy residency of the namespace is invalid, so no backend is admitted until it is fixed (see its status)']);
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

describe('review findings', () => {
  test('a model is taken only by a route the compiler serves: one left out (all its backends denied) takes none', () => {
    const denied = route('old', [deepseek], ['chat']);
    expect(routeVerdict(route('new', [mistral], ['chat']), undefined, NS, [euOnly], [denied])).toEqual({ allowed: true, warnings: [] });
    expect(routeVerdict(route('new', [mistral], ['chat']), undefined, NS, [], [denied])).toMatchObject({ allowed: false, code: 409 });
  });

  test('an old problem is the same problem after its backend moves in the list: removing another backend is not refused', () => {
    const geo = { ...mistral, name: 'anth', provider: 'anthropic', options: { inferenceGeo: 'US East' } };
    const stored = route('chat', [mistral, geo]);
    const verdict = routeVerdict(route('chat', [geo]), stored, NS, [], []);
    expect(verdict.allowed).toBe(true);
    expect(verdict.allowed && verdict.warnings).toEqual([expect.stringContaining('spec.backends[0].options.inferenceGeo')]);
  });

  test('while one policy is invalid, what the valid ones deny is still refused', () => {
    const broken = { ...policy({ allowedRegion: ['x'] }), metadata: { name: 'broken', namespace: NS } };
    expect(routeVerdict(route('chat', [deepseek]), undefined, NS, [euOnly, broken], [])).toMatchObject({ allowed: false, code: 403 });
  });

  test('warnings are capped, the rest counted', () => {
    const many = Array.from({ length: 12 }, (_, i) => ({ ...deepseek, name: `d${i}` }));
    const verdict = routeVerdict(route('chat', many), route('chat', many), NS, [euOnly], []);
    expect(verdict.allowed && verdict.warnings).toHaveLength(11);
    expect(verdict.allowed && verdict.warnings[10]).toBe("and 2 more (see the route's status)");
  });
});
