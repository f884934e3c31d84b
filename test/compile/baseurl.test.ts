// B11: a backend's baseURL is http(s)://host[:port][/path] and nothing else, in the LLMRoute (operator,
// CLI), in the compiled config (proxy) and in the CRD's pattern (kubectl), with one message per case.
import { describe, expect, test } from '@jest/globals';
import { readFileSync } from 'node:fs';
import yaml from 'js-yaml';
import { compile } from '#operator/compile/compile.ts';
import { routeStatus } from '#operator/reconcile/status.ts';
import { parseConfigObject } from '#proxy/config/parse.ts';
import { BASE_URL_PATTERN, CONFIG_API_VERSION, CONFIG_KIND } from '#proxy/config/schema.ts';

const route = (baseURL: string, backends: Array<Record<string, unknown>> = []) => ({
  apiVersion: 'llmroute.dev/v1alpha1',
  kind: 'LLMRoute',
  metadata: { name: 'chat', namespace: 'shop', generation: 3 },
  spec: { models: ['chat'], backends: [{ name: 'azure', provider: 'openai-compatible', model: 'gpt-4o', baseURL, credentials: { none: true } }, ...backends] },
});

const compiledConfig = (baseURL: string) => ({
  apiVersion: CONFIG_API_VERSION,
  kind: CONFIG_KIND,
  routes: [{ name: 'shop/chat', models: ['chat'], backends: [{ name: 'a', provider: 'openai-compatible', model: 'm', baseURL, credentials: { kind: 'none' } }] }],
});

const GOOD = [
  'https://api.openai.com/v1',
  'https://api.openai.com/v1/',
  'https://myres.openai.azure.com',
  'http://127.0.0.1:8080/v1',
  'http://[::1]:8080/v1',
  'http://vllm.ml.svc.cluster.local:8000/v1',
  'https://gateway.ai.cloudflare.com/v1/acc-1/gw_2/openai',
  'https://host/.well-known/v1.2/a~b/x%20y',
];

/** [url, what the message must say] */
const BAD: Array<[string, RegExp]> = [
  ['https://evil.example#.openai.azure.com', /fragment/],
  ['https://evil.example/#x', /fragment/],
  ['https://user:secretpw@host/v1', /user info/],
  ['https://user@host/v1', /user info/],
  ['https://host/v1?x=1', /query/],
  ['https://host/v1/../../other', /dot segments/],
  ['https://host/v1/./x', /dot segments/],
  ['https://host/v1/..', /dot segments/],
  ['https://host/v1/%2e%2e/other', /dot segments/],
  ['https://host/v1/.%2E/other', /dot segments/],
  ['https://host/a%2Fb', /encoded \//],
  ['ftp://host/x', /http or https scheme/],
  ['javascript:alert(1)', /http or https scheme/],
  ['file:///etc/passwd', /http or https scheme/],
  ['https:///v1', /host/],
  ['http://:80/v1', /host/],
  ['https:host/v1', /http:\/\/ or https:\/\//],
  ['HTTPS://host/v1', /http:\/\/ or https:\/\//],
  ['https://host\\@evil/v1', /backslash/],
  ['https://ho st/v1', /spaces/],
  ['https://host//v1', /empty path segments/],
  ['https://host:99999/v1', /not a valid URL/],
];

describe('baseURL components (B11)', () => {
  test.each(GOOD)('%s compiles', (url) => {
    const result = compile([route(url)], []);
    expect(result.routes[0]).toMatchObject({ compiled: true, reason: 'Compiled' });
    expect(result.config.routes[0]!.backends[0]!.baseURL).toBe(url);
    expect(parseConfigObject(compiledConfig(url)).ok).toBe(true);
  });

  test.each(BAD)('%s is refused by the operator with a message at spec.backends[0].baseURL', (url, why) => {
    const result = compile([route(url)], []);
    expect(result.config.routes).toEqual([]);
    const status = result.routes[0]!;
    expect(status).toMatchObject({ compiled: false, reason: 'InvalidSpec' });
    expect(status.issues).toEqual([{ path: 'spec.backends[0].baseURL', message: expect.stringMatching(why) }]);
    // The route's conditions say why, and never repeat the URL (it may carry a password).
    const conditions = routeStatus(status, undefined, '2026-01-01T00:00:00Z').conditions;
    const ready = conditions.find((c) => c.type === 'Ready')!;
    expect(ready).toMatchObject({ status: 'False', reason: 'InvalidSpec', observedGeneration: 3 });
    expect(ready.message).toMatch(/^spec\.backends\[0\]\.baseURL: /);
    expect(ready.message).toMatch(why);
    expect(JSON.stringify(conditions)).not.toContain('secretpw');
  });

  test.each(BAD)('%s is refused by the proxy at routes[0].backends[0].baseURL', (url, why) => {
    const parsed = parseConfigObject(compiledConfig(url));
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.issues).toEqual([{ path: 'routes[0].backends[0].baseURL', message: expect.stringMatching(why) }]);
  });

  test('the path names the backend that is wrong', () => {
    const result = compile([route('https://ok.openai.azure.com', [{ name: 'b', provider: 'openai-compatible', model: 'm', baseURL: 'https://x/v1?k=1', credentials: { none: true } }])], []);
    expect(result.routes[0]!.issues.map((i) => i.path)).toEqual(['spec.backends[1].baseURL']);
  });
});

describe('the CRD pattern for baseURL', () => {
  const crd = yaml.load(readFileSync(new URL('../../crds/llmroute.dev_llmroutes.yaml', import.meta.url), 'utf8')) as {
    spec: { versions: Array<{ schema: { openAPIV3Schema: { properties: { spec: { properties: { backends: { items: { properties: { baseURL: { pattern: string; maxLength: number } } } } } } } } } }> };
  };
  const schema = crd.spec.versions[0]!.schema.openAPIV3Schema.properties.spec.properties.backends.items.properties.baseURL;

  test('is the pattern the TypeScript schema checks (so kubectl and compile() agree)', () => {
    expect(schema.pattern).toBe(BASE_URL_PATTERN);
    expect(schema.maxLength).toBe(2048);
  });

  test('uses no lookaround (the apiserver compiles it with RE2)', () => {
    expect(schema.pattern).not.toMatch(/\(\?[=!<]/);
  });

  test('accepts every good URL and refuses every bad one but the port range (checked by compile)', () => {
    const pattern = new RegExp(schema.pattern);
    for (const url of GOOD) expect([url, pattern.test(url)]).toEqual([url, true]);
    for (const [url] of BAD) expect([url, pattern.test(url)]).toEqual([url, url === 'https://host:99999/v1']);
  });
});
