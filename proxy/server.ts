// Starts the sidecar in-process: config store (+ watcher), dispatch state, LLM and admin servers.
// main.ts (the CLI) and the tests both use this; nothing here reads process.env or argv.
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { adminRequestListener, llmRequestListener } from './http/app.ts';
import { InFlightRequests, type DrainOptions, type DrainResult } from './http/in-flight.ts';
import { ConfigStore, type Logger } from './runtime/config-store.ts';
import { watchFile, type WatchHandle } from './runtime/config-watcher.ts';
import { watchHeap, type HeapWatermarkOptions } from './runtime/heap-watermark.ts';
import { BreakerRegistry, type BreakerOptions } from './routing/circuit-breaker.ts';
import { RetryBudget, type RetryBudgetOptions } from './routing/retry-budget.ts';
import { Pools } from './upstream/pools.ts';
import { nodeHttp } from './io/builtins.ts';
import { noopTelemetry, type Telemetry } from './telemetry/hooks.ts';

export interface ProxyOptions {
  /** Path of config.yaml to load and watch; or `configText` for a fixed config. */
  configPath?: string;
  configText?: string;
  host?: string;
  port?: number;
  adminHost?: string;
  adminPort?: number;
  env?: Readonly<Record<string, string | undefined>>;
  logger?: Logger;
  telemetry?: Telemetry;
  metrics?: (accept?: string) => Promise<{ contentType: string; body: string }>;
  retryBudget?: RetryBudgetOptions;
  breaker?: BreakerOptions;
  /** Poll interval of the config watcher (tests shorten it). */
  watchPollMs?: number;
  /** Bounds on what clients of the LLM port may hold (defaults in CLIENT_LIMITS). */
  limits?: Partial<ClientLimits>;
  /** The heap watermark's sampling (tests give their own readings and a short interval). */
  heapSampling?: Pick<HeapWatermarkOptions, 'read' | 'sampleMs'>;
}

/** What one client may hold of the LLM port (reliability bar A3/A4, B3, B4, B29). */
export interface ClientLimits {
  /** Requests served at once; past it a request gets 503 `overloaded` at once instead of queueing. */
  maxInFlight: number;
  /** Heap used, in percent of V8's heap limit, past which new requests get 503 `overloaded` (100: never). */
  maxHeapPercent: number;
  /** A stream whose client takes no bytes for this long is cut, with its upstream call. */
  writeStallMs: number;
  /** Headers must arrive within this (slowloris); then 408 and the connection is closed. */
  headersTimeoutMs: number;
  /** The whole request (headers and body) must arrive within this (slow POST); then 408. Not the response. */
  requestTimeoutMs: number;
  /** How often Node checks the two timeouts above. */
  timeoutCheckMs: number;
}

export const CLIENT_LIMITS: ClientLimits = { maxInFlight: 1000, maxHeapPercent: 85, writeStallMs: 30_000, headersTimeoutMs: 20_000, requestTimeoutMs: 60_000, timeoutCheckMs: 5_000 };

export interface RunningProxy {
  llmUrl: string;
  adminUrl: string;
  store: ConfigStore;
  /** Circuit-breaker state of every backend of the config in force (for the metrics scrape). */
  breakerStates(): Array<{ route: string; backend: string; state: 'closed' | 'open' | 'half_open' }>;
  /** Re-reads the config file now (the watcher does this on change). */
  reload(): Promise<void>;
  /** Requests being served now. */
  inFlight(): number;
  /**
   * Graceful shutdown, first half: /readyz turns 503 (`draining`) while new requests are still served;
   * resolves once none has been in flight for `quietMs`, or at `deadlineMs`, having ended what was left
   * (streams with a terminal error event, others with 503 `proxy_shutting_down`). Then call close().
   */
  drain(options: DrainOptions): Promise<DrainResult>;
  close(): Promise<void>;
}

const silentLogger: Logger = { info() {}, warn() {}, error() {} };

async function listen(server: Server, host: string, port: number): Promise<string> {
  server.listen(port, host);
  await once(server, 'listening');
  const address = server.address() as AddressInfo;
  return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;
}

export async function startProxy(options: ProxyOptions): Promise<RunningProxy> {
  const telemetry = options.telemetry ?? noopTelemetry;
  const logger = options.logger ?? silentLogger;
  const store = new ConfigStore({ env: options.env ?? {}, logger, telemetry });
  if (options.configText !== undefined) {
    const outcome = store.loadText(options.configText, 'inline');
    if (!outcome.ok) throw new Error(`invalid config:\n${outcome.issues.map((i) => `${i.path}: ${i.message}`).join('\n')}`);
  } else if (options.configPath !== undefined) {
    // A missing or invalid file at start is not fatal: /readyz says not ready until a good one arrives.
    await store.loadFile(options.configPath);
  } else {
    throw new Error('startProxy needs configPath or configText');
  }

  const pools = new Pools();
  const breakers = new BreakerRegistry(options.breaker);
  const deps = { pools, breakers, budget: new RetryBudget(options.retryBudget) };
  const inFlight = new InFlightRequests();
  const limits = { ...CLIENT_LIMITS, ...options.limits };
  const heap = watchHeap({
    maxPercent: limits.maxHeapPercent,
    ...options.heapSampling,
    onChange: (overloaded, usedPercent) =>
      overloaded
        ? logger.warn({ heapPercent: Math.round(usedPercent), watermarkPercent: limits.maxHeapPercent }, 'heap over its watermark: refusing new requests (503 overloaded)')
        : logger.info({ heapPercent: Math.round(usedPercent) }, 'heap back under its watermark: admitting requests'),
  });
  const llm = nodeHttp().createServer(
    { keepAliveTimeout: 65_000, headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs), requestTimeout: limits.requestTimeoutMs, connectionsCheckingInterval: limits.timeoutCheckMs },
    llmRequestListener({ runtime: () => store.runtime(), telemetry, deps, inFlight, writeStallMs: limits.writeStallMs, maxInFlight: limits.maxInFlight, heap }),
  );
  const admin = nodeHttp().createServer(adminRequestListener({ store, draining: () => inFlight.isDraining, ...(options.metrics ? { metrics: options.metrics } : {}) }));
  const llmUrl = await listen(llm, options.host ?? '127.0.0.1', options.port ?? 4000);
  const adminUrl = await listen(admin, options.adminHost ?? options.host ?? '127.0.0.1', options.adminPort ?? 4001);

  const configPath = options.configPath;
  const reload = async () => {
    if (configPath !== undefined) await store.loadFile(configPath);
  };
  let watcher: WatchHandle | undefined;
  if (configPath !== undefined && options.configText === undefined) {
    // Never an unhandled rejection from a watcher callback: a failed reload keeps the config in force.
    watcher = watchFile(configPath, () => void reload().catch((err: unknown) => logger.error({ error: String((err as Error)?.message ?? err) }, 'config reload failed; keeping the config in force')), options.watchPollMs !== undefined ? { pollMs: options.watchPollMs } : {});
  }
  logger.info({ llmUrl, adminUrl, generation: store.runtime()?.generation ?? null }, 'llmroute proxy listening');

  return {
    llmUrl,
    adminUrl,
    store,
    reload,
    inFlight: () => inFlight.size,
    async drain(drainOptions) {
      logger.info({ inFlight: inFlight.size, quietMs: drainOptions.quietMs, deadlineMs: drainOptions.deadlineMs }, 'draining: serving until no request is in flight');
      const result = await inFlight.drain(drainOptions);
      logger.info({ ...result }, result.reason === 'quiet' ? 'drained' : 'drain deadline reached: ended the requests still in flight');
      return result;
    },
    breakerStates() {
      const runtime = store.runtime();
      if (!runtime) return [];
      const now = Date.now();
      return runtime.routes.flatMap((route) => route.backends.map((b) => ({ route: route.config.name, backend: b.config.name, state: breakers.for(b.id).state(now) })));
    },
    async close() {
      watcher?.close();
      heap.stop();
      llm.closeAllConnections();
      admin.closeAllConnections();
      await Promise.all([new Promise((r) => llm.close(r)), new Promise((r) => admin.close(r))]);
      await pools.close();
    },
  };
}
