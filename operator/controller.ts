// The operator's control loop: informers (list + watch, restarted with backoff on any error) feed
// a namespace-keyed work queue; each key runs reconcileNamespace().
import * as k8s from '@kubernetes/client-node';
import { hostname } from 'node:os';
import type { Dispatcher } from 'undici';
import { API_GROUP, API_VERSION } from './api/llmroute.ts';
import { CONFIG_KEY, CONFIGMAP_NAME, FIELD_MANAGER, MANAGED_BY_LABEL } from './reconcile/configmap.ts';
import { ChangeFilter } from './reconcile/change-filter.ts';
import { reconcileNamespace, statusPatcher, type ReconcileOutcome } from './reconcile/reconciler.ts';
import { StatusWriter } from './reconcile/status-writer.ts';
import { EventRecorder, eventSender } from './reconcile/events.ts';
import { WorkQueue } from './reconcile/work-queue.ts';
import type { OperatorMetrics } from './metrics.ts';

export interface ControllerLogger {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ControllerOptions {
  kubeConfig: k8s.KubeConfig;
  logger?: ControllerLogger;
  secretsDir?: string;
  metrics?: OperatorMetrics;
  /** events.k8s.io `reportingInstance` (default `<hostname>-<pid>`, the leader-election identity). */
  identity?: string;
  onReconciled?(namespace: string, outcome: ReconcileOutcome): void;
}

/**
 * A reconcile is mostly waiting for the apiserver (compile is ~5 ms of a ~130 ms reconcile in
 * bench/operator.ts), so several namespaces are reconciled at once. 8 rather than 4: p95 convergence at
 * 500 routes went from ~1.7 s to ~1.0 s; 16 was no faster but wrote each ConfigMap ~6 times instead of
 * ~5 and used more memory.
 */
export const RECONCILE_CONCURRENCY = 8;

export interface Controller {
  /** Resolves once every informer has listed once. */
  ready: Promise<void>;
  queueDepth(): number;
  stop(): Promise<void>;
}

type Obj = k8s.KubernetesObject & { status?: unknown };

const quiet: ControllerLogger = { info() {}, error() {} };

const SHARED = Symbol('llmroute.sharedConnections');

/**
 * A view of `base` whose API clients share one keep-alive connection pool. @kubernetes/client-node 2.0
 * builds a new undici Agent for every call (KubeConfig.createDispatcher, from applySecurityAuthentication),
 * so each request opened its own TCP + TLS connection: a handshake per status write on both ends and
 * hundreds of idle sockets during a burst (bench/operator.ts, 500 routes: 726 connections, p95 convergence
 * 6.0 s, peak RSS 339 MB; with the pool: 15 connections, 3.1 s, 255 MB). A new pool is made when the TLS
 * material (CA, client certificate) changes. If a later client-node lacks that method, `base` is used as is.
 */
export function shareConnections(base: k8s.KubeConfig): { kubeConfig: k8s.KubeConfig; close(): Promise<void> } {
  // Already shared (the CLI shares one pool between the Lease and the controller): the owner closes it.
  if ((base as { [SHARED]?: true })[SHARED]) return { kubeConfig: base, close: async () => undefined };
  type Factory = (cluster: unknown, agentOptions: unknown) => Dispatcher | undefined;
  const create = (base as unknown as { createDispatcher?: Factory }).createDispatcher;
  if (typeof create !== 'function') return { kubeConfig: base, close: async () => undefined };
  const kubeConfig = Object.create(base) as k8s.KubeConfig;
  (kubeConfig as { [SHARED]?: true })[SHARED] = true;
  let key: string | undefined;
  let shared: Dispatcher | undefined;
  const retire = async (dispatcher: Dispatcher | undefined) => {
    if (!dispatcher) return;
    const closed = dispatcher.close().catch(() => undefined);
    const timer = setTimeout(() => void dispatcher.destroy().catch(() => undefined), 2000);
    await closed;
    clearTimeout(timer);
  };
  (kubeConfig as unknown as { createDispatcher: Factory }).createDispatcher = (cluster, agentOptions) => {
    const next = JSON.stringify([cluster, agentOptions]);
    if (next !== key) {
      void retire(shared);
      key = next;
      shared = create.call(base, cluster, agentOptions);
    }
    return shared;
  };
  return { kubeConfig, close: () => retire(shared) };
}

export function startController(options: ControllerOptions): Controller {
  const connections = shareConnections(options.kubeConfig);
  const kc = connections.kubeConfig;
  const logger = options.logger ?? quiet;
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const objects = k8s.KubernetesObjectApi.makeApiClient(kc);
  const listCustom = (plural: string) => () =>
    custom.listClusterCustomObject({ group: API_GROUP, version: API_VERSION, plural }) as Promise<k8s.KubernetesListObject<Obj>>;
  const selector = `${MANAGED_BY_LABEL}=${FIELD_MANAGER}`;

  const informers = {
    routes: k8s.makeInformer<Obj>(kc, `/apis/${API_GROUP}/${API_VERSION}/llmroutes`, listCustom('llmroutes')),
    policies: k8s.makeInformer<Obj>(kc, `/apis/${API_GROUP}/${API_VERSION}/llmpolicies`, listCustom('llmpolicies')),
    configMaps: k8s.makeInformer<k8s.V1ConfigMap>(kc, '/api/v1/configmaps', () => core.listConfigMapForAllNamespaces({ labelSelector: selector }), selector),
  };

  const metrics = options.metrics;
  const changes = new ChangeFilter();
  const statuses = new StatusWriter(statusPatcher(custom), {
    // ConfigMaps first: while namespaces wait for a reconcile worker, status writes wait too (at most
    // maxDeferMs), so they do not compete with the ConfigMap applies for the apiserver.
    deferWhile: () => !stopped && queue.backlog() > 0,
    onWritten: () => metrics?.statusWrites.inc(),
    onError: (target, error) => logger.error({ namespace: target.namespace, kind: target.kind, name: target.name, error: String((error as Error)?.message ?? error) }, 'status write failed'),
  });
  // Events are fire-and-forget: a bounded queue, sent in the background; a failure is logged only.
  const events = new EventRecorder(eventSender(kc.makeApiClient(k8s.EventsV1Api), options.identity ?? `${hostname()}-${process.pid}`), {
    onError: (event, error) => logger.error({ namespace: event.regarding.namespace, kind: event.regarding.kind, name: event.regarding.name, reason: event.reason, error: String((error as Error)?.message ?? error) }, 'event not recorded'),
    onDropped: (event, why) => logger.error({ namespace: event.regarding.namespace, kind: event.regarding.kind, name: event.regarding.name, reason: event.reason, why }, 'event dropped'),
  });
  const queue = new WorkQueue(async (namespace) => {
    const endTimer = metrics?.reconcileSeconds.startTimer();
    try {
      const outcome = await reconcileNamespace(
        namespace,
        {
          routes: (ns) => informers.routes.list(ns) as never,
          policies: (ns) => informers.policies.list(ns) as never,
          configMapExists: (ns) => informers.configMaps.get(CONFIGMAP_NAME, ns) !== undefined,
          configMapOwners: (ns) =>
            (informers.configMaps.get(CONFIGMAP_NAME, ns)?.metadata?.ownerReferences ?? []).filter((o) => o.kind === 'LLMRoute').map((o) => ({ name: o.name, uid: o.uid })),
        },
        { objects, statuses, events, applying: (ns, text) => changes.applying(ns, text) },
        options.secretsDir ? { secretsDir: options.secretsDir } : {},
      );
      if (outcome.applied) logger.info({ namespace, generation: outcome.generation, statusUpdates: outcome.statusUpdates }, 'reconciled');
      metrics?.reconciles.inc({ result: 'success' });
      options.onReconciled?.(namespace, outcome);
    } catch (err) {
      logger.error({ namespace, error: (err as Error).message }, 'reconcile failed; will retry');
      metrics?.reconciles.inc({ result: 'error' });
      throw err;
    } finally {
      endTimer?.();
    }
  }, {
    concurrency: RECONCILE_CONCURRENCY,
    // Nothing is reconciled before all three caches have listed: a namespace compiled from a partial
    // view (its routes without its policy, its ConfigMap without its routes) would be applied as is,
    // a policy-denied backend included or every route gone, at every leader start.
    paused: true,
    onCaughtUp: () => statuses.resume(),
    onDepth: (depth) => metrics?.queueDepth.set(depth),
  });

  let stopped = false;
  const timers = new Set<NodeJS.Timeout>();
  /** Resolves once each informer has listed (a failed list does not count: its restart must succeed). */
  const listed: Promise<void>[] = [];
  // Events that cannot change a namespace's config (our own status and ConfigMap writes coming back)
  // are not queued: at scale they were ~40% of all reconciles.
  const relevant: Record<string, (event: 'add' | 'update' | 'delete', obj: Obj) => boolean> = {
    routes: (event, obj) => changes.routeEvent(event, obj),
    // Like routes: a policy update that keeps its generation is our own status write coming back.
    policies: (event, obj) => changes.routeEvent(event, obj),
    configMaps: (event, obj) => changes.configMapEvent(event, (obj as k8s.V1ConfigMap).data?.[CONFIG_KEY], obj.metadata?.namespace ?? ''),
  };
  for (const [name, informer] of Object.entries(informers) as Array<[string, k8s.Informer<Obj> & k8s.ObjectCache<Obj>]>) {
    const on = (event: 'add' | 'update' | 'delete') => (obj: Obj) => {
      if (obj.metadata?.namespace && relevant[name]!(event, obj)) queue.add(obj.metadata.namespace);
    };
    informer.on('add', on('add'));
    informer.on('update', on('update'));
    informer.on('delete', on('delete'));
    let failures = 0;
    let markListed!: () => void;
    listed.push(new Promise<void>((resolve) => (markListed = resolve)));
    // start() resolves whether or not its list succeeded (a failed list only calls the error
    // callbacks): a resource version is what shows that it did.
    const started = () => {
      if (!hasListed(informer)) return;
      failures = 0;
      markListed();
    };
    // makeInformer relists on 410 Gone by itself but stops on any other error: restart it.
    informer.on('error', (err: unknown) => {
      if (stopped) return;
      failures++;
      const delay = Math.min(30_000, 500 * 2 ** Math.min(failures, 6));
      logger.error({ informer: name, error: String((err as Error)?.message ?? err), retryInMs: delay }, 'watch failed; restarting');
      const timer = setTimeout(() => {
        timers.delete(timer);
        if (!stopped) informer.start().then(started, () => undefined);
      }, delay);
      timers.add(timer);
    });
    informer.start().then(started, () => undefined);
  }
  const ready = Promise.all(listed).then(() => {
    if (!stopped) queue.start();
  });
  // Resync: re-check every namespace we know of periodically, so drift is repaired even without events.
  const resync = setInterval(() => {
    for (const r of informers.routes.list()) if (r.metadata?.namespace) queue.add(r.metadata.namespace);
    for (const p of informers.policies.list()) if (p.metadata?.namespace) queue.add(p.metadata.namespace);
  }, 60_000);

  return {
    ready,
    queueDepth: () => queue.depth(),
    async stop() {
      stopped = true;
      clearInterval(resync);
      for (const t of timers) clearTimeout(t);
      queue.stop(); // the depth gauge drops to the reconciles still running, then to 0 as they end
      events.stop();
      statuses.resume();
      // Let the statuses already computed reach the apiserver, briefly (a successor recomputes them anyway).
      await Promise.race([statuses.idle(), new Promise((r) => setTimeout(r, 2000).unref())]);
      statuses.stop();
      await Promise.all(Object.values(informers).map((i) => i.stop()));
      await connections.close();
    },
  };
}

/** Whether an informer's last start listed its objects (makeInformer's ListWatch keeps the list's resource version). */
function hasListed(informer: object): boolean {
  const latest = (informer as { latestResourceVersion?: () => string }).latestResourceVersion;
  if (typeof latest !== 'function') return true; // a client-node without it: trust start()
  return latest.call(informer) !== '';
}
