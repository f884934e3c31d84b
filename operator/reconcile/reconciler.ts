// Reconcile one namespace: read routes and policies (from the informer caches), compile, apply the
// ConfigMap with server-side apply, then write each route's status where it changed.
import * as k8s from '@kubernetes/client-node';
import { compile } from '../compile/compile.ts';
import { API_GROUP, API_VERSION, type LLMRoute } from '../api/llmroute.ts';
import { configMapFor, FIELD_MANAGER } from './configmap.ts';
import { routeStatus, sameStatus, type LLMRouteStatus } from './status.ts';

export interface ReconcileSources {
  routes(namespace: string): Array<LLMRoute & { metadata: { uid?: string }; status?: Partial<LLMRouteStatus> }>;
  policies(namespace: string): readonly unknown[];
  configMapExists(namespace: string): boolean;
}

export interface ReconcileClients {
  objects: k8s.KubernetesObjectApi;
  custom: k8s.CustomObjectsApi;
}

export interface ReconcileOutcome {
  applied: boolean;
  generation?: string;
  statusWrites: number;
}

export async function reconcileNamespace(namespace: string, sources: ReconcileSources, clients: ReconcileClients, options: { secretsDir?: string } = {}): Promise<ReconcileOutcome> {
  const routes = sources.routes(namespace);
  if (routes.length === 0 && !sources.configMapExists(namespace)) return { applied: false, statusWrites: 0 };
  const result = compile(routes, sources.policies(namespace), { namespace, ...(options.secretsDir ? { secretsDir: options.secretsDir } : {}) });
  const owners = routes.filter((r) => r.metadata.uid).map((r) => ({ name: r.metadata.name, uid: r.metadata.uid! }));
  await clients.objects.patch(configMapFor(namespace, result, owners), undefined, undefined, FIELD_MANAGER, true, k8s.PatchStrategy.ServerSideApply);

  let statusWrites = 0;
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const byName = new Map(routes.map((r) => [r.metadata.name, r]));
  for (const status of result.routes) {
    const route = byName.get(status.name);
    if (!route) continue;
    const next = routeStatus(status, route.status, now);
    if (sameStatus(next, route.status)) continue;
    await clients.custom.patchNamespacedCustomObjectStatus(
      { group: API_GROUP, version: API_VERSION, namespace, plural: 'llmroutes', name: status.name, body: { status: next } },
      k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
    );
    statusWrites++;
  }
  return { applied: true, generation: result.config.generation, statusWrites };
}
