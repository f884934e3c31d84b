import { describe, expect, test } from '@jest/globals';
import { compile } from '#operator/compile/compile.ts';
import { dumpStampedConfig, parseConfigText, serializeConfig } from '#proxy/config/parse.ts';

const meta = (name: string, extra: Record<string, unknown> = {}) => ({ name, namespace: 'shop', generation: 1, ...extra });

function route(name: string, spec: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: meta(name, extra), spec };
}

const openai = { name: 'openai', provider: 'openai', model: 'gpt-4o', region: 'us-east', credentials: { secretRef: { name: 'openai-key', key: 'apiKey' } } };
const mistral = { name: 'mistral', provider: 'mistral', model: 'mistral-large-latest', region: 'eu-west', dataRetention: 'zero', credentials: { env: 'MISTRAL_API_KEY' } };

describe('compile', () => {
  test('a route compiles to backends with secret file paths, millisecond durations and defaults', () => {
    const result = compile([route('chat', { models: ['chat'], backends: [{ ...openai, timeouts: { firstToken: '2s', total: '2m' } }], retries: { backoff: '250ms' } })], [], {
      secretsDir: '/secrets/',
    });
    expect(result.config.routes).toEqual([
      {
        name: 'shop/chat',
        models: ['chat'],
        strategy: 'failover',
        retries: { attempts: 1, backoffMs: 250, maxBackoffMs: 10_000 },
        backends: [
          {
            name: 'openai', provider: 'openai', model: 'gpt-4o', region: 'us-east', dataRetention: 'standard', weight: 1, options: {},
            credentials: { kind: 'file', path: '/secrets/openai-key/apiKey' },
            timeouts: { firstTokenMs: 2000, totalMs: 120_000 },
          },
        ],
      },
    ]);
    expect(result.routes[0]).toMatchObject({ name: 'chat', compiled: true, reason: 'Compiled', observedGeneration: 1 });
  });

  test('a backend price override reaches the compiled config, and a negative price is refused', () => {
    const selfHosted = { name: 'vllm', provider: 'openai-compatible', model: 'llama-3.3-70b', baseURL: 'http://vllm.ml:8000/v1', credentials: { none: true }, pricing: { input: 0.12, output: 0.4 } };
    const ok = compile([route('local', { models: ['local'], backends: [selfHosted] })], []);
    expect(ok.config.routes[0]!.backends[0]!.pricing).toEqual({ input: 0.12, output: 0.4 });
    const bad = compile([route('bad', { models: ['bad'], backends: [{ ...selfHosted, pricing: { input: -1 } }] })], []);
    expect(bad.config.routes).toEqual([]);
    expect(bad.routes[0]).toMatchObject({ compiled: false, reason: 'InvalidSpec' });
    expect(bad.routes[0]!.message).toContain('pricing.input');
  });

  test("route-wide prices apply to every backend; a backend's own prices win field by field", () => {
    const a = { name: 'a', provider: 'openai', model: 'gpt-4o', credentials: { none: true }, pricing: { output: 9 } };
    const b = { name: 'b', provider: 'openai-compatible', model: 'llama', baseURL: 'http://vllm.ml:8000/v1', credentials: { none: true } };
    const result = compile([route('chargeback', { models: ['chat'], pricing: { input: 1, output: 4 }, backends: [a, b] })], []);
    expect(result.config.routes[0]!.backends.map((x) => x.pricing)).toEqual([{ input: 1, output: 9 }, { input: 1, output: 4 }]);
    const none = compile([route('list', { models: ['chat'], backends: [b] })], []);
    expect(none.config.routes[0]!.backends[0]!.pricing).toBeUndefined();
  });

  test('the same input compiles to the same bytes and generation', () => {
    const input = [route('chat', { models: ['chat'], backends: [openai] })];
    expect(serializeConfig(compile(input, []).config)).toBe(serializeConfig(compile(input, []).config));
  });

  test('the compiled config passes the proxy validation unchanged', () => {
    const result = compile([route('chat', { models: ['chat'], backends: [openai, mistral] })], []);
    const parsed = parseConfigText(serializeConfig(result.config));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    expect(parsed.config.generation).toBe(result.config.generation);
  });

  test('the same route object compiled again under another policy is admitted anew, and its compiled config is its own', () => {
    const chat = route('chat', { models: ['chat'], backends: [openai, mistral] });
    const residency = { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: meta('residency'), spec: { allowedRegions: ['eu-west'] } };
    const open = compile([chat], []);
    const restricted = compile([chat], [residency]);
    expect(open.config.routes[0]!.backends.map((b) => b.name)).toEqual(['openai', 'mistral']);
    expect(restricted.config.routes[0]!.backends.map((b) => b.name)).toEqual(['mistral']);
    // Mutating one result leaves the next compile of the same object untouched.
    open.config.routes[0]!.models.push('extra');
    (open.config.routes[0]!.backends[0]!.options as Record<string, unknown>).extra = true;
    const again = compile([chat], []);
    expect(again.config.routes[0]!.models).toEqual(['chat']);
    expect(again.config.routes[0]!.backends[0]!.options).toEqual({});
  });

  test("compile's stamp is the content's generation: the operator's dump without re-hashing is the same text", () => {
    const residency = { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: meta('residency'), spec: { allowedRegions: ['eu-west'] } };
    const result = compile([route('chat', { models: ['chat'], backends: [openai, mistral] })], [residency]);
    const text = dumpStampedConfig(result.config);
    expect(text).toBe(serializeConfig(result.config));
    const parsed = parseConfigText(text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    expect(parsed.config.generation).toBe(result.config.generation);
  });

  test('a policy leaves out the backends it denies and names every broken rule', () => {
    const policy = { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: meta('residency'), spec: { allowedRegions: ['eu-west', 'eu-central'], requireZeroDataRetention: true } };
    const result = compile([route('chat', { models: ['chat'], backends: [openai, mistral] })], [policy]);
    expect(result.config.routes[0]!.backends.map((b) => b.name)).toEqual(['mistral']);
    const denied = result.routes[0]!.backends.find((b) => b.name === 'openai')!;
    expect(denied).toMatchObject({ admitted: false, reason: 'DeniedByPolicy' });
    expect(denied.message).toContain("api.openai.com is OpenAI's global endpoint, which processes data in any region (us.api.openai.com and eu.api.openai.com process in-region), and allowedRegions [eu-west, eu-central] does not list global");
    expect(denied.message).toContain('dataRetention is standard but the policy requires zero');
    expect(result.config.policy).toMatchObject({ allowedRegions: ['eu-west', 'eu-central'], requireZeroDataRetention: true, logPrompts: false });
  });

  test('a route whose every backend is denied is left out with NoAdmittedBackends', () => {
    const policy = { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: meta('p'), spec: { allowedProviders: ['anthropic'] } };
    const result = compile([route('chat', { models: ['chat'], backends: [openai] })], [policy]);
    expect(result.config.routes).toEqual([]);
    expect(result.routes[0]).toMatchObject({ compiled: false, reason: 'NoAdmittedBackends' });
  });

  test('an invalid policy admits nothing (fail closed)', () => {
    const policy = { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: meta('p'), spec: { allowedRegionz: ['eu'] } };
    const result = compile([route('chat', { models: ['chat'], backends: [mistral] })], [policy]);
    expect(result.policies[0]!.valid).toBe(false);
    expect(result.config.routes).toEqual([]);
  });

  test('prompt logging is allowed only when every policy allows it', () => {
    const allow = (n: string) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: meta(n), spec: { logPrompts: 'allowed' } });
    const never = { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: meta('never'), spec: { logPrompts: 'never' } };
    expect(compile([], []).config.policy!.logPrompts).toBe(false);
    expect(compile([], [allow('a')]).config.policy!.logPrompts).toBe(true);
    expect(compile([], [allow('a'), never]).config.policy!.logPrompts).toBe(false);
  });

  test('an invalid route is reported by path and does not break the other routes', () => {
    const bad = route('bad', { models: ['x'], backends: [{ ...openai, timeouts: { total: 'soon' } }, { ...openai }] });
    const good = route('good', { models: ['chat'], backends: [openai] });
    const result = compile([bad, good], []);
    expect(result.config.routes.map((r) => r.name)).toEqual(['shop/good']);
    const status = result.routes.find((r) => r.name === 'bad')!;
    expect(status.reason).toBe('InvalidSpec');
    expect(status.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['spec.backends[0].timeouts.total', 'spec.backends[1].name']));
  });

  test('the older route keeps a contested model and the newer one reports ModelConflict', () => {
    const older = route('older', { models: ['chat'], backends: [openai] }, { creationTimestamp: '2026-01-01T00:00:00Z' });
    const newer = route('newer', { models: ['chat', 'other'], backends: [openai] }, { creationTimestamp: '2026-02-01T00:00:00Z' });
    const result = compile([newer, older], []);
    expect(result.config.routes.map((r) => r.name)).toEqual(['shop/older']);
    expect(result.routes.find((r) => r.name === 'newer')).toMatchObject({ reason: 'ModelConflict', compiled: false });
  });

  test('objects of other namespaces are ignored when a namespace is given', () => {
    const other = { ...route('chat', { models: ['chat'], backends: [openai] }), metadata: { name: 'chat', namespace: 'other' } };
    expect(compile([other], [], { namespace: 'shop' }).routes).toEqual([]);
  });

  test('backend options that the adapter rejects make the backend invalid, with the path', () => {
    const azure = { name: 'azure', provider: 'azure-openai', model: 'gpt-4o', baseURL: 'https://x.openai.azure.com', credentials: { none: true }, options: { apiVersion: 42 } };
    const result = compile([route('chat', { models: ['chat'], backends: [azure, mistral] })], []);
    const status = result.routes[0]!;
    expect(status.backends[0]).toMatchObject({ name: 'azure', admitted: false, reason: 'InvalidBackend' });
    expect(status.issues[0]!.path).toMatch(/^spec\.backends\[0\]\.options\.apiVersion/);
  });

  test('openai-compatible backends without a baseURL are invalid', () => {
    const selfHosted = { name: 'vllm', provider: 'openai-compatible', model: 'llama', credentials: { none: true } };
    const result = compile([route('chat', { models: ['chat'], backends: [selfHosted] })], []);
    expect(result.routes[0]!.issues).toEqual([{ path: 'spec.backends[0].baseURL', message: expect.stringContaining('no default base URL') }]);
  });
});

describe('compile: timeouts', () => {
  test('a backend idle timeout and a route request deadline compile to milliseconds', () => {
    const result = compile([route('chat', { models: ['chat'], backends: [{ ...openai, timeouts: { idle: '30s', total: '2m' } }], timeouts: { request: '5m' } })], []);
    const compiled = result.config.routes[0]!;
    expect(compiled.backends[0]!.timeouts).toEqual({ idleMs: 30_000, totalMs: 120_000 });
    expect(compiled.timeouts).toEqual({ requestMs: 300_000 });
  });

  test('without a request deadline the route has no timeouts key (the proxy applies its default)', () => {
    const result = compile([route('chat', { models: ['chat'], backends: [openai] })], []);
    expect(result.config.routes[0]).not.toHaveProperty('timeouts');
  });

  test('invalid idle and request durations are reported by path', () => {
    const result = compile([route('chat', { models: ['chat'], backends: [{ ...openai, timeouts: { idle: '30 seconds' } }], timeouts: { request: '0s', total: '1m' } })], []);
    expect(result.routes[0]!.reason).toBe('InvalidSpec');
    expect(result.routes[0]!.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['spec.backends[0].timeouts.idle', 'spec.timeouts.request', 'spec.timeouts']));
  });
});

describe('compile: timeouts beyond the compiled config bound', () => {
  test('a timeout over 24h is an invalid spec reported by path, not a compile crash', () => {
    const result = compile([route('chat', { models: ['chat'], backends: [{ ...openai, timeouts: { idle: '25h', total: '25h' } }], timeouts: { request: '25h' } })], []);
    expect(result.routes[0]!.reason).toBe('InvalidSpec');
    expect(result.routes[0]!.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['spec.backends[0].timeouts.idle', 'spec.backends[0].timeouts.total', 'spec.timeouts.request']));
  });

  test('a backoff over 60s or a maxBackoff over 5m is an invalid spec too; the others in the namespace still compile', () => {
    const result = compile([route('chat', { models: ['chat'], backends: [openai], retries: { backoff: '2m', maxBackoff: '10m' } }), route('other', { models: ['other'], backends: [openai] })], []);
    expect(result.routes[0]!.reason).toBe('InvalidSpec');
    expect(result.routes[0]!.issues.map((i) => i.path)).toEqual(expect.arrayContaining(['spec.retries.backoff', 'spec.retries.maxBackoff']));
    expect(result.config.routes.map((r) => r.name)).toEqual(['shop/other']);
  });
});

describe('compile: names at the limits Kubernetes allows', () => {
  test('a route named with the longest legal name in a long namespace compiles; the others are unaffected', () => {
    const namespace = 'n'.repeat(63);
    const long = 'a'.repeat(253);
    const result = compile([route('chat', { models: ['chat'], backends: [openai] }, { namespace }), route(long, { models: ['long'], backends: [mistral] }, { namespace })], [], { namespace });
    expect(result.config.routes.map((r) => r.name).sort()).toEqual([`${namespace}/${long}`, `${namespace}/chat`]);
  });
});

describe('compile: two routes of one name (files given to the CLI)', () => {
  test('the older keeps the name; the other is left out with DuplicateName, and nothing throws', () => {
    const first = route('chat', { models: ['m1'], backends: [openai] }, { namespace: undefined, creationTimestamp: '2026-01-01T00:00:00Z' });
    const second = route('chat', { models: ['m2'], backends: [mistral] }, { namespace: undefined, creationTimestamp: '2026-01-02T00:00:00Z' });
    const result = compile([second, first], []);
    expect(result.config.routes.map((r) => r.models)).toEqual([['m1']]);
    expect(result.routes.find((r) => r.reason === 'DuplicateName')).toMatchObject({ compiled: false, message: expect.stringContaining('chat') });
  });
});
