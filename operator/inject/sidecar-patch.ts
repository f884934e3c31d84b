// What the injection webhook adds to a pod: the sidecar as a native sidecar (an init container with
// `restartPolicy: Always`: started before the app, stopped after it), the namespace's compiled
// ConfigMap, the Secrets its routes reference (read-only, mounted into the sidecar only: an app that
// could read the keys could call the provider directly and bypass the policy), and for each app
// container that sets neither (nor takes its environment from envFrom), `OPENAI_BASE_URL` and a
// placeholder `OPENAI_API_KEY` (the SDKs refuse to start without a key). The container is the one docs/sidecar.md shows. Pure: a JSON Patch.
import { secretRefSchema } from '../api/llmroute.ts';
import { resolveSidecarResources, type SidecarResources } from './sidecar-resources.ts';

export interface SecretRef {
  name: string;
  key: string;
}

export interface SidecarSettings {
  image: string;
  /** Recorded in the pod's `llmroute.io/status` annotation. */
  version: string;
  /** Where the sidecar reads `<secret>/<key>` (the operator compiles the same directory into the config). */
  secretsDir: string;
  /** The Secrets the namespace's routes reference. */
  secretRefs: readonly SecretRef[];
  llmPort?: number;
  adminPort?: number;
  /** The operator's defaults; a pod's `llmroute.io/cpu`... annotations override them. */
  resources: SidecarResources;
}

export type PatchOp = { op: 'add'; path: string; value: unknown };

export const SIDECAR_NAME = 'llmroute';
export const STATUS_ANNOTATION = 'llmroute.io/status';
const CONFIG_VOLUME = 'llmroute-config';
const SECRETS_VOLUME = 'llmroute-secrets';
export const PLACEHOLDER_API_KEY = 'llmroute-sidecar-holds-the-keys';

interface Container {
  name?: string;
  env?: Array<{ name?: string }>;
  envFrom?: unknown[];
  volumeMounts?: Array<{ name?: string }>;
}
export interface PodLike {
  metadata?: { annotations?: Record<string, string> };
  spec?: {
    containers?: Container[];
    initContainers?: Container[];
    ephemeralContainers?: Container[];
    volumes?: Array<{ name?: string }>;
    hostNetwork?: boolean;
    hostPID?: boolean;
    shareProcessNamespace?: boolean;
    os?: { name?: string };
  };
}

/** The patch; or why the pod is left as it is (admitted, with a warning); or why it is refused. */
export type Injection = { patch: PatchOp[] } | { skipped: string } | { refused: string };

/** JSON Pointer escaping of one path segment. */
const pointer = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

type Resolved = Extract<ReturnType<typeof resolveSidecarResources>, { resources: unknown }>;

function sidecarContainer(settings: SidecarSettings, sized: Resolved): Record<string, unknown> {
  const adminPort = settings.adminPort ?? 4001;
  const mounts: Array<Record<string, unknown>> = [{ name: CONFIG_VOLUME, mountPath: '/etc/llmroute', readOnly: true }];
  if (settings.secretRefs.length > 0) mounts.push({ name: SECRETS_VOLUME, mountPath: settings.secretsDir, readOnly: true });
  return {
    name: SIDECAR_NAME,
    image: settings.image,
    restartPolicy: 'Always',
    args: ['proxy', '--config', '/etc/llmroute/config.yaml', '--port', String(settings.llmPort ?? 4000), '--admin-host', '0.0.0.0', '--admin-port', String(adminPort)],
    env: [
      // A 1 MiB young generation keeps resident memory down (bench/RESULTS.md); the heap ceiling follows the memory limit.
      { name: 'NODE_OPTIONS', value: `--max-semi-space-size=1${sized.maxOldSpaceMiB === undefined ? '' : ` --max-old-space-size=${sized.maxOldSpaceMiB}`}` },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_SERVICE_ACCOUNT', valueFrom: { fieldRef: { fieldPath: 'spec.serviceAccountName' } } },
    ],
    ports: [{ name: 'llmroute-admin', containerPort: adminPort }],
    startupProbe: { httpGet: { path: '/healthz', port: 'llmroute-admin' }, periodSeconds: 1, failureThreshold: 30 },
    readinessProbe: { httpGet: { path: '/readyz', port: 'llmroute-admin' } },
    livenessProbe: { httpGet: { path: '/healthz', port: 'llmroute-admin' } },
    resources: sized.resources,
    securityContext: {
      runAsNonRoot: true,
      runAsUser: 65532,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
    volumeMounts: mounts,
  };
}

/** One projected volume: each Secret's key at `<secret>/<key>`, optional (a Secret created later appears when the kubelet syncs). */
function secretsVolume(refs: readonly SecretRef[]): Record<string, unknown> {
  const bySecret = new Map<string, Set<string>>();
  for (const { name, key } of refs) bySecret.set(name, (bySecret.get(name) ?? new Set()).add(key));
  const sources = [...bySecret].sort(([a], [b]) => a.localeCompare(b)).map(([name, keys]) => ({
    secret: { name, optional: true, items: [...keys].sort().map((key) => ({ key, path: `${name}/${key}` })) },
  }));
  // World-readable inside the volume: the kubelet leaves Secret files owned by root (or fsGroup), and
  // the sidecar runs as 65532 with whatever group the image or pod gives it. Only the sidecar mounts it.
  return { name: SECRETS_VOLUME, projected: { defaultMode: 0o444, sources } };
}

/** The patch that injects the sidecar, or why the pod is left as it is. */
export function injectionPatch(pod: PodLike, settings: SidecarSettings): Injection {
  const spec = pod.spec ?? {};
  const containers = spec.containers ?? [];
  const names = new Set([...containers, ...(spec.initContainers ?? [])].map((c) => c.name));
  // Idempotent: the apiserver may call the webhook again for the same pod (reinvocation).
  if (names.has(SIDECAR_NAME)) return { skipped: `the pod already has a container named ${SIDECAR_NAME}` };
  // On the node's network, 127.0.0.1:4000 would be every process's on the node: the keys behind it too.
  if (spec.hostNetwork) return { skipped: 'hostNetwork pods are not injected: the LLM port would be open to the whole node' };
  // A process that sees the sidecar's can read its files and memory (/proc/<pid>/root, environ).
  if (spec.shareProcessNamespace || spec.hostPID) return { skipped: 'pods sharing a process namespace (shareProcessNamespace, hostPID) are not injected: the app could read the sidecar\'s keys' };
  // The sidecar is a Linux container with a Linux security context.
  if (spec.os?.name !== undefined && spec.os.name !== 'linux') return { skipped: `${spec.os.name} pods are not injected: the sidecar is a Linux container` };
  const taken = new Set((spec.volumes ?? []).map((v) => v.name));
  for (const volume of [CONFIG_VOLUME, SECRETS_VOLUME]) {
    if (taken.has(volume)) return { skipped: `the pod already has a volume named ${volume}` };
  }
  // A container that mounts these names would get the sidecar's volumes (its keys) once they exist.
  const mounted = [...containers, ...(spec.initContainers ?? []), ...(spec.ephemeralContainers ?? [])].find((c) => (c.volumeMounts ?? []).some((m) => m.name === CONFIG_VOLUME || m.name === SECRETS_VOLUME));
  if (mounted) return { skipped: `container ${mounted.name ?? '?'} mounts a volume named ${CONFIG_VOLUME} or ${SECRETS_VOLUME}, which are the sidecar's` };

  const sized = resolveSidecarResources(settings.resources, pod.metadata?.annotations);
  if ('error' in sized) return { refused: sized.error };

  const patch: PatchOp[] = [];
  const add = (path: string, value: unknown) => patch.push({ op: 'add', path, value });
  const sidecar = sidecarContainer(settings, sized);
  // First among the init containers, so that it is up before any other starts.
  if (spec.initContainers === undefined) add('/spec/initContainers', [sidecar]);
  else add('/spec/initContainers/0', sidecar);
  const volumes: Array<Record<string, unknown>> = [{ name: CONFIG_VOLUME, configMap: { name: 'llmroute-config', optional: true } }];
  if (settings.secretRefs.length > 0) volumes.push(secretsVolume(settings.secretRefs));
  if (spec.volumes === undefined) add('/spec/volumes', volumes);
  else for (const v of volumes) add('/spec/volumes/-', v);

  const baseURL = `http://127.0.0.1:${settings.llmPort ?? 4000}/v1`;
  containers.forEach((container, i) => {
    // An app that sets either variable, or takes its environment from a ConfigMap or Secret (envFrom,
    // which `env` would override), has chosen its endpoint: nothing is added.
    const names = new Set((container.env ?? []).map((e) => e.name));
    if (names.has('OPENAI_BASE_URL') || names.has('OPENAI_API_KEY') || (container.envFrom ?? []).length > 0) return;
    const env = [{ name: 'OPENAI_BASE_URL', value: baseURL }, { name: 'OPENAI_API_KEY', value: PLACEHOLDER_API_KEY }];
    if (container.env === undefined) add(`/spec/containers/${i}/env`, env);
    else for (const e of env) add(`/spec/containers/${i}/env/-`, e);
  });

  const status = JSON.stringify({ version: settings.version, secrets: [...new Set(settings.secretRefs.map((r) => r.name))].sort() });
  if (pod.metadata === undefined) add('/metadata', { annotations: { [STATUS_ANNOTATION]: status } });
  else if (pod.metadata.annotations === undefined) add('/metadata/annotations', { [STATUS_ANNOTATION]: status });
  else add(`/metadata/annotations/${pointer(STATUS_ANNOTATION)}`, status);
  return { patch };
}

/** The Secrets (name and key) referenced by a namespace's LLMRoutes, as listed from the apiserver. */
export function secretRefsOf(routes: readonly unknown[]): SecretRef[] {
  const refs = new Map<string, SecretRef>();
  for (const route of routes) {
    const backends = (route as { spec?: { backends?: unknown } } | null)?.spec?.backends;
    if (!Array.isArray(backends)) continue;
    for (const backend of backends) {
      // Only well-formed references (an invalid route admits nothing anyway): a key such as `../x`
      // would make the apiserver refuse the whole pod.
      const parsed = secretRefSchema.safeParse((backend as { credentials?: { secretRef?: unknown } } | null)?.credentials?.secretRef);
      if (parsed.success && !/^\.\.?$/.test(parsed.data.key)) refs.set(`${parsed.data.name}/${parsed.data.key}`, parsed.data);
    }
  }
  return [...refs.values()];
}
