import { describe, expect, test } from '@jest/globals';
import { parseConfigText, serializeConfig } from '#proxy/config/parse.ts';
import { configGeneration } from '#proxy/config/generation.ts';
import { CONFIG_API_VERSION, CONFIG_KIND, type ConfigInput } from '#proxy/config/schema.ts';
import { parseDuration } from '#operator/api/duration.ts';

const minimal: ConfigInput = {
  apiVersion: CONFIG_API_VERSION,
  kind: CONFIG_KIND,
  routes: [
    {
      name: 'shop/chat',
      models: ['chat'],
      backends: [{ name: 'a', provider: 'openai', model: 'gpt-4o', credentials: { kind: 'env', name: 'OPENAI_API_KEY' } }],
    },
  ],
};

describe('compiled config contract', () => {
  test('a serialised config parses back with defaults filled and the same generation', () => {
    const text = serializeConfig(minimal);
    const parsed = parseConfigText(text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    expect(parsed.config.generation).toBe(configGeneration(minimal));
    expect(parsed.config.routes[0]!.strategy).toBe('failover');
    expect(parsed.config.routes[0]!.backends[0]!.weight).toBe(1);
    expect(parsed.config.server.maxBodyBytes).toBe(10 * 1024 * 1024);
  });

  test('the generation ignores key order and changes with content', () => {
    const reordered = { routes: minimal.routes, kind: CONFIG_KIND, apiVersion: CONFIG_API_VERSION };
    expect(configGeneration(reordered)).toBe(configGeneration(minimal));
    expect(configGeneration({ ...minimal, routes: [] })).not.toBe(configGeneration(minimal));
  });

  test('a generation that does not match the content is refused', () => {
    const parsed = parseConfigText(serializeConfig(minimal).replace('gpt-4o', 'gpt-5'));
    expect(parsed.ok).toBe(false);
  });

  test('every problem is reported with its path', () => {
    const bad = {
      ...minimal,
      routes: [
        { name: 'r', models: ['chat'], backends: [{ name: 'a', provider: 'nope', model: 'm', credentials: { kind: 'none' } }] },
        { name: 'r2', models: ['chat'], backends: [{ name: 'b', provider: 'openai', model: '', credentials: { kind: 'file', path: 'rel' } }] },
      ],
    };
    const parsed = parseConfigText(JSON.stringify(bad));
    if (parsed.ok) throw new Error('expected issues');
    const paths = parsed.issues.map((i) => i.path);
    expect(paths).toEqual(
      expect.arrayContaining(['routes[0].backends[0].provider', 'routes[1].backends[0].model', 'routes[1].backends[0].credentials.path']),
    );
  });

  test('unknown keys are rejected rather than ignored', () => {
    const parsed = parseConfigText(JSON.stringify({ ...minimal, rutes: [] }));
    expect(parsed.ok).toBe(false);
  });

  test.each([
    ['250ms', 250],
    ['2s', 2000],
    ['1.5s', 1500],
    ['1m30s', 90_000],
    ['1h', 3_600_000],
    ['2x', undefined],
    ['', undefined],
  ])('duration %s is %s ms', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });
});

describe('compiled config contract: timeouts', () => {
  const withTimeouts = (backendTimeouts: unknown, routeTimeouts?: unknown) => ({
    ...minimal,
    routes: [{ ...minimal.routes[0]!, backends: [{ ...minimal.routes[0]!.backends[0]!, timeouts: backendTimeouts }], ...(routeTimeouts !== undefined ? { timeouts: routeTimeouts } : {}) }],
  });

  test('a backend idleMs and a route requestMs are accepted as they are', () => {
    const parsed = parseConfigText(JSON.stringify(withTimeouts({ idleMs: 30_000, totalMs: 120_000 }, { requestMs: 300_000 })));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    expect(parsed.config.routes[0]!.backends[0]!.timeouts).toEqual({ idleMs: 30_000, totalMs: 120_000 });
    expect(parsed.config.routes[0]!.timeouts).toEqual({ requestMs: 300_000 });
  });

  test.each([
    ['a zero idleMs', { idleMs: 0 }, undefined, 'routes[0].backends[0].timeouts.idleMs'],
    ['a fractional idleMs', { idleMs: 1.5 }, undefined, 'routes[0].backends[0].timeouts.idleMs'],
    ['a negative requestMs', {}, { requestMs: -1 }, 'routes[0].timeouts.requestMs'],
    ['an unknown route timeout', {}, { totalMs: 1000 }, 'routes[0].timeouts'],
  ])('%s is refused with its path', (_name, backendTimeouts, routeTimeouts, path) => {
    const parsed = parseConfigText(JSON.stringify(withTimeouts(backendTimeouts, routeTimeouts)));
    if (parsed.ok) throw new Error('expected issues');
    expect(parsed.issues.map((i) => i.path)).toContain(path);
  });
});

describe('compiled config contract: route names', () => {
  test('two routes of one name are refused (they would share circuit breakers and metric series)', () => {
    const route = minimal.routes[0]!;
    const parsed = parseConfigText(serializeConfig({ ...minimal, routes: [route, { ...route, models: ['other'] }] }));
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.issues).toContainEqual({ path: 'routes[1].name', message: 'duplicate route name "shop/chat"' });
  });
});
