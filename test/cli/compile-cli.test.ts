import { describe, expect, test } from '@jest/globals';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { parseConfigText } from '#proxy/config/parse.ts';

const run = promisify(execFile);
const bin = new URL('../../bin/llmroute.js', import.meta.url).pathname;
const fixture = new URL('../fixtures/routes/shop.yaml', import.meta.url).pathname;

async function llmroute(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('llmroute compile and validate', () => {
  test('compile writes a config the proxy accepts, with policy-denied backends left out and reported', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llmroute-cli-'));
    const out = join(dir, 'config.yaml');
    const result = await llmroute('compile', '-f', fixture, '-o', out, '--secrets-dir', '/run/keys');
    expect(result.code).toBe(0);
    expect(result.stderr).toContain("backend openai: DeniedByPolicy: api.openai.com is OpenAI's global endpoint, which processes data in any region (us.api.openai.com and eu.api.openai.com process in-region), and allowedRegions [eu-west, eu-central] does not list global");
    const parsed = parseConfigText(await readFile(out, 'utf8'));
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    expect(parsed.config.routes[0]!.backends.map((b) => b.name)).toEqual(['mistral']);
    expect(parsed.config.routes[0]!.retries).toEqual({ attempts: 2, backoffMs: 250, maxBackoffMs: 10_000 });
  });

  test('compile prints to stdout by default and never a secret value, only file paths', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llmroute-cli-'));
    const file = join(dir, 'route.yaml');
    await writeFile(file, `apiVersion: llmroute.dev/v1alpha1\nkind: LLMRoute\nmetadata: {name: chat}\nspec:\n  models: [chat]\n  backends:\n    - {name: a, provider: openai, model: gpt-4o, credentials: {secretRef: {name: k, key: apiKey}}}\n`);
    const result = await llmroute('compile', '-f', file);
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('path: /var/run/llmroute/secrets/k/apiKey');
  });

  test('validate lists every problem with its path and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llmroute-cli-'));
    const file = join(dir, 'bad.yaml');
    await writeFile(file, `apiVersion: llmroute.dev/v1alpha1\nkind: LLMRoute\nmetadata: {name: chat}\nspec:\n  models: []\n  strategy: random\n  backends:\n    - {name: a, provider: openai, model: gpt-4o, timeouts: {total: forever}}\n`);
    const result = await llmroute('validate', '-f', file);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('LLMRoute chat: spec.models');
    expect(result.stderr).toContain('LLMRoute chat: spec.strategy');
    expect(result.stderr).toContain('LLMRoute chat: spec.backends[0].timeouts.total');
  });

  test('a document of another kind (a misspelt LLMRoutes) is a problem, not silently left out', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llmroute-cli-'));
    const file = join(dir, 'typo.yaml');
    await writeFile(file, `apiVersion: llmroute.dev/v1alpha1\nkind: LLMRoutes\nmetadata: {name: chat}\nspec:\n  models: [chat]\n  backends:\n    - {name: e, provider: echo, model: x}\n`);
    const result = await llmroute('validate', '-f', file);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`${file} document 1 (kind LLMRoutes): not an LLMRoute or LLMPolicy`);
    const compiled = await llmroute('compile', '-f', file);
    expect(compiled.stderr).toContain('warning:');
  });

  test('validate succeeds on a clean file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'llmroute-cli-'));
    const file = join(dir, 'ok.yaml');
    await writeFile(file, `apiVersion: llmroute.dev/v1alpha1\nkind: LLMRoute\nmetadata: {name: chat}\nspec:\n  models: [chat]\n  backends:\n    - {name: a, provider: openai, model: gpt-4o, credentials: {env: OPENAI_API_KEY}}\n`);
    const result = await llmroute('validate', '-f', file);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^ok: 1 route\(s\), 1 model\(s\), generation sha256-[0-9a-f]{16}/);
  });

  test('a missing -f is a usage error', async () => {
    const result = await llmroute('compile');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('at least one -f FILE is required');
  });

  test('proxy without --config is a usage error, never a sidecar answering with the demo echo model', async () => {
    const result = await llmroute('proxy', '--port', '0', '--admin-port', '0');
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--config FILE is required');
  });

  test.each(['5', '101', '85.5', 'lots'])('proxy --max-heap-percent %s is a usage error', async (value) => {
    const result = await llmroute('proxy', '--config', '/nonexistent.yaml', '--port', '0', '--admin-port', '0', '--max-heap-percent', value);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--max-heap-percent must be an integer from 10 to 100');
  });
});

describe('llmroute operator flags', () => {
  // Checked before the operator connects anywhere: the kubeconfig named here does not exist.
  test.each([
    [['--sidecar-cpu', 'lots'], '--sidecar-cpu: "lots" is not a Kubernetes quantity (e.g. 100m or 1)'],
    [['--sidecar-memory', '512Mi'], '--sidecar-memory (512Mi) is above --sidecar-memory-limit (256Mi)'],
    [['--sidecar-memory-limit', '64Mi', '--sidecar-memory', '32Mi'], "--sidecar-memory-limit: 64Mi is below the sidecar's minimum of 96Mi"],
  ])('%j stops the operator at once, naming the flag', async (flags, message) => {
    const result = await llmroute('operator', '--kubeconfig', '/nonexistent/kubeconfig', '--webhook-cert-dir', '/nonexistent', '--sidecar-image', 'llmroute:test', ...flags);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`llmroute operator: ${message}\n`);
  });
});
