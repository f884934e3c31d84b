// Wire config -> runtime config: adapters bound, options validated, key sources opened and an O(1)
// model -> route index built. Built once per config load; if it fails the previous runtime stays.
import type { BackendConfig, ProxyConfig, RouteConfig } from '../config/schema.ts';
import type { ConfigIssue } from '../config/issues.ts';
import type { BackendTarget, ProviderAdapter } from '../providers/adapter.ts';
import { bindAdapter } from '../providers/registry.ts';
import { admitBackend } from '../policy/admit.ts';
import { keySource, type KeySource } from './credentials.ts';

export interface RuntimeBackend {
  config: BackendConfig;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- options type is the adapter's own
  adapter: ProviderAdapter<any>;
  baseURL: string;
  options: Record<string, unknown>;
  key: KeySource;
  /** Route-unique identity for per-backend state (breaker, pools): `route/backend`. */
  id: string;
  /** `gen_ai.provider.name` of this backend, and host and port of the upstream, for telemetry. */
  telemetryName: string;
  host: string;
  port: number;
  /** Policy verdict at load: a denied backend is never called (fail closed). */
  denied: string | undefined;
}

export interface RuntimeRoute {
  config: RouteConfig;
  backends: RuntimeBackend[];
  /** The backends the namespace policy admits, in config order (decided once, at load). */
  allowed: RuntimeBackend[];
  /** Names of the backends the policy refused. */
  deniedNames: readonly string[];
}

export interface Runtime {
  generation: string;
  config: ProxyConfig;
  routeFor(model: string): RuntimeRoute | undefined;
  /** Every route, in config order. */
  routes: readonly RuntimeRoute[];
  /** Model names served, sorted (for /v1/models and 404 messages). */
  models: readonly string[];
}

export type BuildResult = { ok: true; runtime: Runtime } | { ok: false; issues: ConfigIssue[] };

export function targetOf(backend: RuntimeBackend): BackendTarget {
  return { config: backend.config, baseURL: backend.baseURL, options: backend.options, apiKey: backend.key.current() };
}

export function buildRuntime(config: ProxyConfig, env: Readonly<Record<string, string | undefined>>): BuildResult {
  const issues: ConfigIssue[] = [];
  const index = new Map<string, RuntimeRoute>();
  const routes: RuntimeRoute[] = [];
  config.routes.forEach((route, r) => {
    const backends: RuntimeBackend[] = [];
    route.backends.forEach((backend, b) => {
      const at = `routes[${r}].backends[${b}]`;
      const binding = bindAdapter(backend);
      if (!binding.ok) {
        for (const i of binding.issues) issues.push({ path: `${at}.${i.path}`, message: i.message });
        return;
      }
      const { adapter, baseURL, options } = binding;
      const url = new URL(baseURL);
      // Judged on the URL really called, the adapter's default included.
      const admission = admitBackend({ ...backend, baseURL, options }, config.policy);
      backends.push({
        config: backend,
        adapter,
        baseURL,
        options,
        key: keySource(backend.credentials, env),
        id: `${route.name}/${backend.name}`,
        telemetryName: adapter.telemetryNameFor?.(options) ?? adapter.telemetryName,
        host: url.hostname,
        port: url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80,
        denied: admission.admitted ? undefined : admission.message,
      });
    });
    const runtimeRoute: RuntimeRoute = {
      config: route,
      backends,
      allowed: backends.filter((b) => b.denied === undefined),
      deniedNames: backends.filter((b) => b.denied !== undefined).map((b) => b.config.name),
    };
    routes.push(runtimeRoute);
    for (const model of route.models) index.set(model, runtimeRoute);
  });
  if (issues.length > 0) return { ok: false, issues };
  const models = [...index.keys()].sort();
  return { ok: true, runtime: { generation: config.generation, config, routeFor: (m) => index.get(m), routes, models } };
}
