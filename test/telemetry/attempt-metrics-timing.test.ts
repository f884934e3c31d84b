// An attempt's metrics are recorded just after the callback that wrote its answer (off the path the
// client waits on), yet promptly: a scrape during a long request already sees its failed attempts,
// and the cost the answer's header needs is known the moment the attempt ends.
import { describe, expect, test } from '@jest/globals';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { BackendConfig } from '#proxy/config/schema.ts';
import { ProxyMetrics } from '#proxy/telemetry/metrics.ts';
import { createObserver } from '#proxy/telemetry/observer.ts';

const backend = { name: 'primary', provider: 'openai', model: 'gpt-4o-mini' } as BackendConfig;

function startAttempt(metrics: ProxyMetrics, cost = 0.25) {
  const observer = createObserver({ metrics, costOf: () => cost });
  const request = observer.startRequest({ requestId: 'r1', operation: 'chat', httpRoute: '/v1/chat/completions', headers: {} });
  request.routeResolved({ route: 'ns/chat', clientModel: 'chat', stream: false, logPrompts: false, deniedBackends: [] });
  const attempt = request.startAttempt({ backend, providerName: 'openai', serverAddress: 'api.openai.com', serverPort: 443, attempt: 1, reason: 'initial' });
  return { request, attempt };
}

const attemptsCounted = async (metrics: ProxyMetrics): Promise<string[]> =>
  (await metrics.render()).body.split('\n').filter((line) => line.startsWith('llmroute_upstream_attempts_total{'));

describe('attempt metrics', () => {
  test('a failed attempt is counted while its request is still in flight', async () => {
    const metrics = new ProxyMetrics();
    const { attempt } = startAttempt(metrics);
    attempt.end({ outcome: 'http_error', status: 503, errorType: '503' });
    await nextTurn();
    const lines = await attemptsCounted(metrics);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/outcome="http_error".* 1$/);
  });

  test('the cost is returned at once and counted with the usage once the request ends', async () => {
    const metrics = new ProxyMetrics();
    const { request, attempt } = startAttempt(metrics);
    const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
    expect(attempt.end({ outcome: 'success', status: 200, usage })).toEqual({ costUsd: 0.25 });
    request.end({ status: 200, attempts: 1 });
    const body = (await metrics.render()).body;
    expect(body).toMatch(/llmroute_cost_usd_total\{[^}]*backend="primary"[^}]*\} 0\.25/);
    expect(body).toMatch(/llmroute_tokens_total\{[^}]*type="input"[^}]*\} 10/);
    expect(body).toMatch(/llmroute_upstream_attempts_total\{[^}]*outcome="success"[^}]*\} 1/);
  });

  test('an update prom-client refuses loses its own metric only, once, and never throws', async () => {
    const metrics = new ProxyMetrics();
    const { request, attempt } = startAttempt(metrics, Infinity);
    attempt.end({ outcome: 'success', status: 200, usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } });
    expect(() => request.end({ status: 200, attempts: 1 })).not.toThrow();
    await nextTurn(); // the deferred flush finds nothing left to run twice
    const lines = await attemptsCounted(metrics);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/ 1$/);
  });
});
