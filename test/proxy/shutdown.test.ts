// Graceful shutdown of an egress sidecar: the app may still call while the pod terminates, so new
// requests are served during the drain; open streams finish, or end with a terminal error event at the
// deadline (never silence); readiness reports the drain.
import { afterEach, describe, expect, test } from '@jest/globals';
import { spawn } from 'node:child_process';
import OpenAI from 'openai';
import { startOpenAIFake, type OpenAIFake } from '#test/fakes/openai-fake.ts';
import { backend, startWith, waitFor, type Started } from './harness.ts';
import { freePort } from '#test/free-port.ts';

const route = (fake: OpenAIFake) => ({ name: 'chat', models: ['chat'], backends: [backend('up', fake.baseURL)] });

/** Reads a stream to its end: the text, and the error that ended it (the SDK throws on an error event). */
async function readStream(client: OpenAI): Promise<{ text: string; error?: { status?: number; code?: string | null } }> {
  let text = '';
  try {
    const stream = await client.chat.completions.create({ model: 'chat', stream: true, messages: [{ role: 'user', content: 'hi' }] });
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    return { text };
  } catch (err) {
    return { text, error: err as { status?: number; code?: string | null } };
  }
}

describe('graceful shutdown', () => {
  let fake: OpenAIFake;
  let s: Started;

  afterEach(async () => {
    await s?.close();
    await fake?.close();
  });

  test('an open stream finishes, a new request is served and readiness says draining, then the drain ends quietly', async () => {
    fake = await startOpenAIFake();
    s = await startWith([route(fake)]);
    fake.queue({ content: 'one two three four five', delayBetweenMs: 120 });
    const open = readStream(s.client);
    await waitFor(() => s.proxy.inFlight() === 1);

    const drained = s.proxy.drain({ quietMs: 300, deadlineMs: 10_000 });
    const ready = await fetch(`${s.proxy.adminUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(((await ready.json()) as { status: string }).status).toBe('draining');
    // The app's new call during the drain is answered, not refused.
    const late = await s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'late call' }] });
    expect(late.choices[0]!.message.content).toBeTruthy();

    const stream = await open;
    expect(stream.error).toBeUndefined();
    expect(stream.text).toBe('one two three four five');
    expect(await drained).toEqual({ reason: 'quiet', cut: 0 });
    expect(fake.aborted).toBe(0);
  });

  test('at the deadline a stream still open ends with a terminal error event and its upstream is cut', async () => {
    fake = await startOpenAIFake();
    s = await startWith([route(fake)]);
    // The role chunk goes out (the response is committed: 200 and streaming), then a minute of nothing.
    fake.queue({ content: 'never sent', delayBetweenMs: 60_000 });
    const open = readStream(s.client);
    await waitFor(() => fake.requests.length === 1 && s.proxy.inFlight() === 1);

    const result = await s.proxy.drain({ quietMs: 200, deadlineMs: 500 });
    expect(result).toEqual({ reason: 'deadline', cut: 1 });
    const stream = await open;
    expect(stream.text).toBe('');
    // An error event inside the started stream (the SDK gives no HTTP status for those), not a cut connection.
    expect(stream.error?.status).toBeUndefined();
    expect(stream.error?.code).toBe('proxy_shutting_down');
    await waitFor(() => fake.aborted === 1);
    expect(s.proxy.inFlight()).toBe(0);
  });

  test('at the deadline a request waiting for its upstream answers 503 proxy_shutting_down', async () => {
    fake = await startOpenAIFake();
    s = await startWith([route(fake)]);
    fake.queue({ delayHeadersMs: 60_000 });
    const pending = s.client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] }).then(
      () => undefined,
      (err: unknown) => err as { status?: number; code?: string },
    );
    await waitFor(() => fake.requests.length === 1);

    expect(await s.proxy.drain({ quietMs: 200, deadlineMs: 300 })).toEqual({ reason: 'deadline', cut: 1 });
    const error = await pending;
    expect(error?.status).toBe(503);
    expect(error?.code).toBe('proxy_shutting_down');
    await waitFor(() => fake.aborted === 1);
  });
});

describe('llmroute proxy on SIGTERM', () => {
  test('keeps serving until the open stream has finished, then exits 0', async () => {
    const fake = await startOpenAIFake();
    const { mkdtemp, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { configText } = await import('./harness.ts');
    const dir = await mkdtemp(join(tmpdir(), 'llmroute-shutdown-'));
    const config = join(dir, 'config.yaml');
    await writeFile(config, configText([route(fake)]));
    const [port, adminPort] = [await freePort(), await freePort()];
    const bin = new URL('../../bin/llmroute.js', import.meta.url).pathname;
    const child = spawn(process.execPath, [bin, 'proxy', '--config', config, '--port', String(port), '--admin-port', String(adminPort), '--drain-quiet', '300ms'], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LLMROUTE_LOG_LEVEL: 'warn' },
    });
    try {
      const deadline = Date.now() + 20_000;
      while (!(await fetch(`http://127.0.0.1:${adminPort}/readyz`).then((r) => r.ok, () => false))) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error('the sidecar did not become ready');
        await new Promise((r) => setTimeout(r, 50));
      }
      const client = new OpenAI({ baseURL: `http://127.0.0.1:${port}/v1`, apiKey: 'unused', maxRetries: 0 });
      fake.queue({ content: 'a b c d e f', delayBetweenMs: 150 });
      const open = readStream(client);
      await waitFor(() => fake.requests.length === 1);
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      child.kill('SIGTERM');
      const stream = await open;
      expect(stream.error).toBeUndefined();
      expect(stream.text).toBe('a b c d e f');
      expect(await exited).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      await fake.close();
    }
  }, 30_000);
});
