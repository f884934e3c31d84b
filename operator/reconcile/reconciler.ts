// Reconcile one namespace: read routes and policies (from the informer caches), compile, apply the
// ConfigMap with server-side apply, then hand each route's changed status to the status writer
// (written in the background: the next namespace's ConfigMap does not wait for them).
import * as k8s from '@kubernetes/client-node';
import { compile } from '../compile/compile.ts';
import { API_GROUP, API_VERSION, type LLMRoute } from '../api/llmroute.ts';
import { CONFIG_KEY, configMapFor, FIELD_MANAGER } from './configmap.ts';
import { routeStatus, sameStatus, type LLMRouteStatus } from './status.ts';
import type { StatusWriter } from './status-writer.ts';

export interface ReconcileSources {
  routes(namespace: string): Array<LLMRoute & { metadata: { uid?: string }; status?: Partial<LLMRouteStatus> }>;
  policies(namespace: string): readonly unknown[];
  configMapExists(namespace: string): boolean;
}

export interface ReconcileClients {
  objects: k8s.KubernetesObjectApi;
  statuses: StatusWriter;
  /** Told the config text just before it is applied (so its own watch event can be recognised). */
  applying?(namespace: string, configText: string): void;
}

export interface ReconcileOutcome {
  applied: boolean;
  generation?: string;
  /** Route statuses handed to the status writer (changed since the cached and the last written). */
  statusUpdates: number;
}

export async function reconcileNamespace(namespace: string, sources: ReconcileSources, clients: ReconcileClients, options: { secretsDir?: string } = {}): Promise<ReconcileOutcome> {
  const routes = sources.routes(namespace);
  if (routes.length === 0 && !sources.configMapExists(namespace)) return { applied: false, statusUpdates: 0 };
  const result = compile(routes, sources.policies(namespace), { namespace, ...(options.secretsDir ? { secretsDir: options.secretsDir } : {}) });
  const owners = routes.filter((r) => r.metadata.uid).map((r) => ({ name: r.metadata.name, uid: r.metadata.uid! }));
  const configMap = configMapFor(namespace, result, owners);
  clients.applying?.(namespace, configMap.data[CONFIG_KEY]);
  await clients.objects.patch(configMap, undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);

  let statusUpdates = 0;
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const byName = new Map(routes.map((r) => [r.metadata.name, r]));
  clients.statuses.retain(namespace, new Set(byName.keys()));
  for (const status of result.routes) {
    const route = byName.get(status.name);
    if (!route) continue;
    const next = routeStatus(status, route.status, now);
    if (sameStatus(next, route.status)) continue;
    if (clients.statuses.submit(namespace, status.name, next)) statusUpdates++;
  }
  return { applied: true, generation: result.config.generation, statusUpdates };
}

/** Writes one route's status through the status subresource (merge patch: status only). */
export function statusPatcher(custom: k8s.CustomObjectsApi) {
  return async (namespace: string, name: string, status: LLMRouteStatus): Promise<void> => {
    await custom.patchNamespacedCustomObjectStatus(
      { group: API_GROUP, version: API_VERSION, namespace, plural: 'llmroutes', name, body: { status } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
  };
}
