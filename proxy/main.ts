// CLI entry points of the sidecar: `llmroute proxy`, `llmroute dev`, `llmroute demo`.
// Settings come from argv and the environment here, and only here; everything below is injected.
import { parseArgs } from 'node:util';
import { startProxy, type RunningProxy } from './server.ts';
import type { DrainOptions } from './http/in-flight.ts';
import { DEFAULT_CONFIG_TEXT } from './default-config.ts';
import { backendCost } from './cost/cost.ts';
import { createLogger, requestLineLogger } from './logger.ts';
import { ProxyMetrics } from './telemetry/metrics.ts';
import { createObserver, workloadIdentity } from './telemetry/observer.ts';
import { tracingConfigFromEnv } from './telemetry/otel-config.ts';
import { createTracing } from './telemetry/tracing.ts';
import { SEMCONV } from './telemetry/semconv.ts';
import { VERSION } from './version.ts';

export const serveOptions = {
  config: { type: 'string' },
  host: { type: 'string', default: '127.0.0.1' },
  port: { type: 'string', default: '4000' },
  'admin-port': { type: 'string', default: '4001' },
  'admin-host': { type: 'string' },
  // Requests served at once; past it, 503 `overloaded` at once (proxy/server.ts CLIENT_LIMITS).
  'max-in-flight': { type: 'string', default: '1000' },
  // Heap used (percent of V8's heap limit) past which new requests get 503 `overloaded`; 100 turns it off.
  'max-heap-percent': { type: 'string', default: '85' },
  // Graceful shutdown (SIGTERM/SIGINT): keep serving until nothing has been in flight for --drain-quiet,
  // ending what is left at --drain-deadline. The deadline's default stays inside Kubernetes' default 30 s grace.
  'drain-quiet': { type: 'string', default: '1s' },
  'drain-deadline': { type: 'string', default: '20s' },
} as const;

/** `--drain-*` values: milliseconds from `250ms`, `1.5s` or plain seconds. */
export function duration(value: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s)?$/.exec(value.trim());
  if (!match) throw Object.assign(new Error(`--${flag} must be a duration such as 500ms or 20s`), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' });
  return Math.round(Number(match[1]) * (match[2] === 'ms' ? 1 : 1000));
}

export function maxInFlight(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw Object.assign(new Error('--max-in-flight must be a positive integer'), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' });
  return n;
}

export function maxHeapPercent(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 10 || n > 100) throw Object.assign(new Error('--max-heap-percent must be an integer from 10 to 100'), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' });
  return n;
}

export function drainOptions(values: { 'drain-quiet': string; 'drain-deadline': string }): DrainOptions {
  return { quietMs: duration(values['drain-quiet'], 'drain-quiet'), deadlineMs: duration(values['drain-deadline'], 'drain-deadline') };
}

export function port(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw Object.assign(new Error(`--${flag} must be a port number`), { code: 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' });
  return n;
}

/** Resolves with the exit code once a signal has drained and closed the proxy; a second signal skips the drain. */
export function waitForSignal(proxy: RunningProxy, extra: () => void = () => undefined, drain: DrainOptions = { quietMs: 1000, deadlineMs: 20_000 }): Promise<number> {
  return new Promise((resolve) => {
    let stopping = false;
    const stop = () => {
      if (stopping) {
        void proxy.close().then(() => resolve(0));
        return;
      }
      stopping = true;
      extra();
      void proxy.drain(drain).then(() => proxy.close()).then(() => resolve(0));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

export async function runProxyCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: serveOptions, strict: true });
  // Required: a sidecar whose args lost their --config must not come up healthy answering with the
  // demo's echo model. The embedded default is `llmroute demo`'s.
  const configPath = values.config;
  if (!configPath) throw Object.assign(new Error('--config FILE is required (the compiled config); `llmroute demo` serves the embedded default'), { code: 'ERR_PARSE_ARGS_MISSING_OPTION' });
  const drain = drainOptions(values);
  const limits = { maxInFlight: maxInFlight(values['max-in-flight']), maxHeapPercent: maxHeapPercent(values['max-heap-percent']) };
  const logger = createLogger(process.env.LLMROUTE_LOG_LEVEL ?? 'info');
  const metrics = new ProxyMetrics();
  const workload = workloadIdentity(process.env);
  const tracingConfig = tracingConfigFromEnv(process.env, { serviceName: 'llmroute-sidecar' });
  for (const warning of tracingConfig.warnings) logger.warn({}, `tracing: ${warning}`);
  const tracing = await createTracing(tracingConfig, {
    serviceVersion: VERSION,
    workloadAttributes: resourceAttributesOf(workload),
    countSpans: (result, n) => metrics.traceSpans.inc({ result }, n),
  });
  logger.info({ tracing: tracingConfig.enabled ? 'otlp' : `off (${tracingConfig.reason})` }, 'tracing configured');
  const telemetry = createObserver({ metrics, logger: requestLineLogger(logger), costOf: backendCost, ...(workload ? { workload } : {}), tracer: tracing.tracer });
  const proxy = await startProxy({
    telemetry,
    metrics: (accept?: string) => metrics.render(accept), // the scraper's Accept header picks the format
    configPath,
    host: values.host,
    port: port(values.port, 'port'),
    adminPort: port(values['admin-port'], 'admin-port'),
    ...(values['admin-host'] ? { adminHost: values['admin-host'] } : {}),
    env: process.env,
    logger,
    limits,
  });
  metrics.observeBreakers(() => proxy.breakerStates());
  const code = await waitForSignal(proxy, undefined, drain);
  await tracing.shutdown().catch(() => undefined); // flushes what is queued; an unreachable collector is not an error at exit
  return code;
}

function resourceAttributesOf(workload: Record<string, string> | undefined): Record<string, string> {
  const attributes: Record<string, string> = {};
  if (workload?.namespace) attributes[SEMCONV.K8S_NAMESPACE_NAME] = workload.namespace;
  if (workload?.pod) attributes[SEMCONV.K8S_POD_NAME] = workload.pod;
  return attributes;
}

export async function runDemoCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string', default: '4000' }, 'admin-port': { type: 'string', default: '4001' } }, strict: true });
  const logger = createLogger(process.env.LLMROUTE_LOG_LEVEL ?? 'warn');
  const proxy = await startProxy({ configText: DEFAULT_CONFIG_TEXT, port: port(values.port, 'port'), adminPort: port(values['admin-port'], 'admin-port'), env: {}, logger });
  const request = { model: 'demo', messages: [{ role: 'user', content: 'Hello from the llmroute quick start!' }] };
  const response = await fetch(`${proxy.llmUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) });
  const body = (await response.json()) as { choices?: Array<{ message?: { content?: string } }> };
  const out = process.stdout;
  out.write(`llmroute proxy listening on ${proxy.llmUrl}/v1 (admin ${proxy.adminUrl}), embedded default config\n\n`);
  out.write(`POST /v1/chat/completions ${JSON.stringify(request)}\n`);
  out.write(`-> HTTP ${response.status}, backend ${response.headers.get('x-llmroute-backend')}, attempts ${response.headers.get('x-llmroute-attempts')}\n`);
  out.write(`-> ${body.choices?.[0]?.message?.content ?? JSON.stringify(body)}\n\n`);
  out.write(`Point any OpenAI SDK at it: OPENAI_BASE_URL=${proxy.llmUrl}/v1 OPENAI_API_KEY=unused (model "demo"). Ctrl-C to stop.\n`);
  if (response.status !== 200) {
    await proxy.close();
    return 1;
  }
  return waitForSignal(proxy);
}
