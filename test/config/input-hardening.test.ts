// B19: the proxy's config loader refuses YAML anchors/aliases (alias bombs) and oversized files, and a
// load that throws for any reason refuses the config like an invalid one: the last good config stays,
// the refusal is reported (log, telemetry, /readyz), and nothing escapes as an unhandled rejection.
import { afterAll, afterEach, beforeAll, describe, expect, test } from '@jest/globals';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MAX_CONFIG_BYTES, parseConfigText, serializeConfig } from '#proxy/config/parse.ts';
import { CONFIG_API_VERSION, CONFIG_KIND, type ConfigInput } from '#proxy/config/schema.ts';
import { ConfigStore } from '#proxy/runtime/config-store.ts';
import { startProxy } from '#proxy/server.ts';

const config = (model = 'chat', extra: Record<string, unknown> = {}): ConfigInput => ({
  apiVersion: CONFIG_API_VERSION,
  kind: CONFIG_KIND,
  routes: [{ name: 'shop/chat', models: [model], backends: [{ name: 'a', provider: 'echo', model: 'echo-1', credentials: { kind: 'none' }, ...extra }] }],
});

const header = `apiVersion: ${CONFIG_API_VERSION}\nkind: ${CONFIG_KIND}\n`;

/** The kind of file from the audit (669 bytes for 8 levels): each level lists nine aliases of the level before. */
function aliasBomb(levels: number): string {
  let text = `${header}routes:\n  - name: shop/chat\n    models: [chat]\n    backends:\n      - name: a\n        provider: echo\n        model: echo-1\n        credentials: {kind: none}\n        options:\n          l0: &l0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n`;
  for (let i = 1; i <= levels; i++) text += `          l${i}: &l${i} [${Array(9).fill(`*l${i - 1}`).join(', ')}]\n`;
  return text;
}

describe('YAML anchors and aliases', () => {
  test('an alias bomb is refused at parse, before anything walks its expansion', () => {
    // 9^7 leaves once expanded (the audit's 8-level file took 10.8 s and 400 MB; this one stays cheap
    // enough to show the difference without the fix).
    const text = aliasBomb(6);
    expect(text.length).toBeLessThan(1000);
    const parsed = parseConfigText(text);
    // Compared as a summary: a failure must not print the expanded tree.
    expect(parsed.ok ? 'accepted' : parsed.issues.map((i) => `${i.path}: ${i.message}`).join('\n')).toBe('(root): YAML anchors and aliases are not allowed in the config (anchor &l0)');
  });

  test('an otherwise valid config that reuses a node through an alias is refused too', () => {
    const text = `${header}routes:\n  - name: shop/a\n    models: [a]\n    backends:\n      - &b {name: a, provider: echo, model: echo-1, credentials: {kind: none}}\n  - name: shop/b\n    models: [b]\n    backends:\n      - *b\n`;
    const parsed = parseConfigText(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.issues[0]!.message).toMatch(/anchors and aliases are not allowed in the config \(anchor &b\)/);
  });

  test('an anchor without any alias is refused (aliases need one), as is a scalar anchor', () => {
    expect(parseConfigText(`${header}namespace: &ns shop\nroutes: []\n`).ok).toBe(false);
    expect(parseConfigText(`${header}routes: &r []\n`).ok).toBe(false);
  });

  test('& and * inside scalars are content, not anchors or aliases', () => {
    const text =
      `${header}namespace: "&ns *ns"\n# a comment with &anchor and *alias\nroutes:\n` +
      `  - name: 'shop/a&b'\n    models: ["*", "&x", 'it''s *fine*', a&b, a*b]\n    backends:\n` +
      `      - name: x\n        provider: echo\n        model: "gpt & *co"\n        credentials: {kind: none}\n        options: {note: "*ref &amp;"}\n` +
      `        region: |\n          &block *scalar\n`;
    const parsed = parseConfigText(text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    expect(parsed.config.namespace).toBe('&ns *ns');
    expect(parsed.config.routes[0]!.name).toBe('shop/a&b');
    expect(parsed.config.routes[0]!.models).toEqual(['*', '&x', "it's *fine*", 'a&b', 'a*b']);
    expect(parsed.config.routes[0]!.backends[0]!.model).toBe('gpt & *co');
    expect(parsed.config.routes[0]!.backends[0]!.region).toBe('&block *scalar\n');
  });

  test('what the operator writes (noRefs) still parses, even when two backends are equal', () => {
    const shared = { name: 'a', provider: 'echo' as const, model: 'echo-1', credentials: { kind: 'none' as const } };
    const input: ConfigInput = { apiVersion: CONFIG_API_VERSION, kind: CONFIG_KIND, routes: [{ name: 'shop/a', models: ['a'], backends: [shared] }, { name: 'shop/b', models: ['b'], backends: [shared] }] };
    expect(parseConfigText(serializeConfig(input)).ok).toBe(true);
  });
});

describe('size and depth bounds', () => {
  test('a config over 1 MiB is refused without being parsed', () => {
    const text = serializeConfig(config()) + `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`;
    expect(parseConfigText(text)).toEqual({ ok: false, issues: [{ path: '(root)', message: `the config is larger than ${MAX_CONFIG_BYTES} bytes` }] });
  });

  test('the bound counts UTF-8 bytes, not characters', () => {
    const text = serializeConfig(config()) + `# ${'€'.repeat(Math.ceil(MAX_CONFIG_BYTES / 3))}\n`; // under 1 Mi characters, over 1 MiB
    expect(text.length).toBeLessThan(MAX_CONFIG_BYTES);
    expect(parseConfigText(text).ok).toBe(false);
  });

  test('YAML nested deeper than the config could need is refused', () => {
    const text = `${header}routes: []\nnamespace: ${'['.repeat(70)}${']'.repeat(70)}\n`;
    const parsed = parseConfigText(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.issues[0]!.message).toMatch(/maxDepth/);
  });
});

describe('the config store keeps the last good config whatever a load does', () => {
  /** An environment whose reads throw for one name: something throwing in the middle of a load. */
  const explodingEnv = new Proxy({} as Record<string, string | undefined>, {
    get(_target, name) {
      if (name === 'EXPLODE') throw new Error('boom');
      return undefined;
    },
  });
  const logs: Array<{ level: string; obj: object; msg?: string }> = [];
  const logger = {
    info: (obj: object, msg?: string) => void logs.push({ level: 'info', obj, ...(msg ? { msg } : {}) }),
    warn: (obj: object, msg?: string) => void logs.push({ level: 'warn', obj, ...(msg ? { msg } : {}) }),
    error: (obj: object, msg?: string) => void logs.push({ level: 'error', obj, ...(msg ? { msg } : {}) }),
  };
  const loads: Array<{ ok: boolean }> = [];
  const telemetry = { startRequest: () => { throw new Error('not used'); }, configLoaded: (r: { ok: boolean }) => void loads.push(r) };

  let dir: string;
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown) => void unhandled.push(reason);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'llmroute-config-'));
    process.on('unhandledRejection', onUnhandled);
  });
  afterAll(() => {
    process.off('unhandledRejection', onUnhandled);
    rmSync(dir, { recursive: true, force: true });
  });
  afterEach(() => {
    logs.length = 0;
    loads.length = 0;
  });

  test('a load that throws is a refusal, reported like an invalid config', () => {
    const store = new ConfigStore({ env: explodingEnv, logger, telemetry: telemetry as never });
    expect(store.loadText(serializeConfig(config('one')), 'test')).toMatchObject({ ok: true });
    const good = store.runtime()!.generation;
    logs.length = 0;
    loads.length = 0;

    const outcome = store.loadText(serializeConfig(config('two', { credentials: { kind: 'env', name: 'EXPLODE' } })), 'test');
    expect(outcome).toEqual({ ok: false, issues: [{ path: '(root)', message: 'the config could not be processed (Error)' }] });
    expect(store.runtime()!.generation).toBe(good);
    expect(store.lastLoadError()).toContain('could not be processed');
    expect(loads).toEqual([{ ok: false, issues: 1 }]);
    expect(logs.map((l) => [l.level, l.msg])).toEqual([['error', 'config refused; keeping the last good config']]);
  });

  test('the watched file: an aliased, an oversized and a throwing config are each refused, the last good one stays', async () => {
    const path = join(dir, 'config.yaml');
    // Swapped in whole, as the kubelet does, so the watcher never reads half a file.
    const swap = (text: string) => {
      writeFileSync(`${path}.tmp`, text);
      renameSync(`${path}.tmp`, path);
    };
    swap(serializeConfig(config('one')));
    const proxy = await startProxy({ configPath: path, port: 0, adminPort: 0, env: explodingEnv, watchPollMs: 50 });
    try {
      const good = proxy.store.runtime()!.generation;
      const refusals: Array<[string, RegExp]> = [
        [aliasBomb(6), /anchors and aliases are not allowed/],
        [serializeConfig(config('two')) + `# ${'x'.repeat(MAX_CONFIG_BYTES)}\n`, /larger than 1048576 bytes/],
        [serializeConfig(config('three', { credentials: { kind: 'env', name: 'EXPLODE' } })), /could not be processed/],
      ];
      for (const [text, why] of refusals) {
        swap(text);
        await new Promise((r) => setTimeout(r, 250)); // the watcher's own reload (not awaited by anyone)
        await expect(proxy.reload()).resolves.toBeUndefined();
        expect(proxy.store.runtime()!.generation).toBe(good);
        const ready = (await (await fetch(`${proxy.adminUrl}/readyz`)).json()) as { status: string; generation: string; lastRefusedConfig?: string };
        expect(ready).toMatchObject({ status: 'ready', generation: good });
        expect(ready.lastRefusedConfig).toMatch(why);
      }
      // The watcher's own reloads (nobody awaits them) saw the same files: nothing escaped.
      expect(unhandled).toEqual([]);
      // And a good config is still taken afterwards.
      swap(serializeConfig(config('four')));
      await proxy.reload();
      expect(proxy.store.runtime()!.models).toEqual(['four']);
    } finally {
      await proxy.close();
    }
  });
});
