// The injection patch: what the webhook adds to a pod, applied here as the apiserver applies it
// (RFC 6902 `add`), on pods with and without the lists it extends. The apiserver itself applies it in
// test/k8s/injection.test.ts.
import { describe, expect, test } from '@jest/globals';
import { injectionPatch, PLACEHOLDER_API_KEY, secretRefsOf, SIDECAR_NAME, STATUS_ANNOTATION, type PatchOp, type PodLike } from '#operator/inject/sidecar-patch.ts';
import { DEFAULT_SIDECAR_RESOURCES } from '#operator/inject/sidecar-resources.ts';

/** RFC 6902 `add`: `-` appends, an index inserts, an object member is set. */
function apply(doc: unknown, patch: PatchOp[]): unknown {
  const copy = structuredClone(doc) as Record<string, unknown>;
  for (const { path, value } of patch) {
    const segments = path.split('/').slice(1).map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
    const last = segments.pop()!;
    let parent: unknown = copy;
    for (const s of segments) {
      parent = (parent as Record<string, unknown>)[s];
      if (parent === undefined) throw new Error(`${path}: missing parent`);
    }
    if (Array.isArray(parent)) {
      if (last === '-') parent.push(value);
      else parent.splice(Number(last), 0, value);
    } else (parent as Record<string, unknown>)[last] = value;
  }
  return copy;
}

const settings = { image: 'registry.example.com/llmroute:0.1.0', version: '0.1.0', secretsDir: '/var/run/llmroute/secrets', resources: DEFAULT_SIDECAR_RESOURCES, secretRefs: [{ name: 'mistral-key', key: 'apiKey' }, { name: 'openai-key', key: 'apiKey' }, { name: 'openai-key', key: 'orgKey' }] };
type Pod = { metadata: { annotations: Record<string, string> }; spec: { initContainers: Array<Record<string, any>>; containers: Array<{ name: string; env?: Array<{ name: string; value?: string }>; volumeMounts?: unknown[] }>; volumes: Array<Record<string, any>> } };
const inject = (pod: PodLike) => {
  const result = injectionPatch(pod, settings);
  if (!('patch' in result)) throw new Error(JSON.stringify(result));
  return apply(pod, result.patch) as Pod;
};

describe('injection patch', () => {
  test('a bare pod gets the native sidecar, its volumes, the app env and the status annotation', () => {
    const pod = inject({ spec: { containers: [{ name: 'app' }] } });
    const sidecar = pod.spec.initContainers[0]!;
    expect(sidecar).toMatchObject({ name: SIDECAR_NAME, image: settings.image, restartPolicy: 'Always', securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true } });
    expect(sidecar.resources).toEqual({ requests: { cpu: '50m', memory: '96Mi' }, limits: { memory: '256Mi' } });
    expect(sidecar.env[0]).toEqual({ name: 'NODE_OPTIONS', value: '--max-semi-space-size=1 --max-old-space-size=160' });
    expect(sidecar.args).toEqual(['proxy', '--config', '/etc/llmroute/config.yaml', '--port', '4000', '--admin-host', '0.0.0.0', '--admin-port', '4001']);
    expect(sidecar.volumeMounts).toEqual([{ name: 'llmroute-config', mountPath: '/etc/llmroute', readOnly: true }, { name: 'llmroute-secrets', mountPath: '/var/run/llmroute/secrets', readOnly: true }]);
    expect(pod.spec.volumes).toEqual([
      { name: 'llmroute-config', configMap: { name: 'llmroute-config', optional: true } },
      { name: 'llmroute-secrets', projected: { defaultMode: 0o444, sources: [
        { secret: { name: 'mistral-key', optional: true, items: [{ key: 'apiKey', path: 'mistral-key/apiKey' }] } },
        { secret: { name: 'openai-key', optional: true, items: [{ key: 'apiKey', path: 'openai-key/apiKey' }, { key: 'orgKey', path: 'openai-key/orgKey' }] } },
      ] } },
    ]);
    expect(pod.spec.containers[0]!.env).toEqual([{ name: 'OPENAI_BASE_URL', value: 'http://127.0.0.1:4000/v1' }, { name: 'OPENAI_API_KEY', value: PLACEHOLDER_API_KEY }]);
    // The keys are mounted into the sidecar only: an app that could read them could bypass the policy.
    expect(pod.spec.containers[0]!.volumeMounts).toBeUndefined();
    expect(JSON.parse(pod.metadata.annotations[STATUS_ANNOTATION]!)).toEqual({ version: '0.1.0', secrets: ['mistral-key', 'openai-key'] });
  });

  test('existing lists are extended, not replaced; env the app sets is kept; the sidecar starts first', () => {
    const pod = inject({
      metadata: { annotations: { team: 'shop' } },
      spec: {
        initContainers: [{ name: 'migrate' }],
        containers: [{ name: 'app', env: [{ name: 'OPENAI_BASE_URL' }, { name: 'LOG' }] }, { name: 'worker', env: [] }],
        volumes: [{ name: 'data' }],
      },
    });
    expect(pod.spec.initContainers.map((c) => c.name)).toEqual([SIDECAR_NAME, 'migrate']);
    expect(pod.spec.volumes.map((v) => v.name)).toEqual(['data', 'llmroute-config', 'llmroute-secrets']);
    // The app chose its endpoint (it sets one of the two): nothing is added, not even the other.
    expect(pod.spec.containers[0]!.env!.map((e) => e.name)).toEqual(['OPENAI_BASE_URL', 'LOG']);
    expect(pod.spec.containers[1]!.env!.map((e) => e.name)).toEqual(['OPENAI_BASE_URL', 'OPENAI_API_KEY']);
    expect(Object.keys(pod.metadata.annotations)).toEqual(['team', STATUS_ANNOTATION]);
  });

  test('an app that takes its environment from envFrom keeps it: env would override it', () => {
    const pod = inject({ spec: { containers: [{ name: 'app', envFrom: [{ configMapRef: { name: 'settings' } }] }] } });
    expect(pod.spec.containers[0]!.env).toBeUndefined();
  });

  test('no Secret referenced: no secrets volume', () => {
    const result = injectionPatch({ spec: { containers: [{ name: 'app' }] } }, { ...settings, secretRefs: [] });
    const pod = apply({ spec: { containers: [{ name: 'app' }] } }, 'patch' in result ? result.patch : []) as Pod;
    expect(pod.spec.volumes.map((v) => v.name)).toEqual(['llmroute-config']);
    expect(pod.spec.initContainers[0]!.volumeMounts).toHaveLength(1);
  });

  test.each([
    ['an injected pod (the apiserver may call again)', { spec: { initContainers: [{ name: SIDECAR_NAME }], containers: [{ name: 'app' }] } }, 'already has a container named llmroute'],
    ['a hostNetwork pod', { spec: { hostNetwork: true, containers: [{ name: 'app' }] } }, 'hostNetwork'],
    ['a pod with a volume of the same name', { spec: { containers: [{ name: 'app' }], volumes: [{ name: 'llmroute-config' }] } }, 'already has a volume named llmroute-config'],
    ['a pod whose app mounts the sidecar\'s keys volume by name', { spec: { containers: [{ name: 'app', volumeMounts: [{ name: 'llmroute-secrets' }] }] } }, 'container app mounts a volume named'],
    ['a pod sharing its process namespace', { spec: { shareProcessNamespace: true, containers: [{ name: 'app' }] } }, 'process namespace'],
    ['a pod on the host\'s PID namespace', { spec: { hostPID: true, containers: [{ name: 'app' }] } }, 'process namespace'],
    ['a Windows pod', { spec: { os: { name: 'windows' }, containers: [{ name: 'app' }] } }, 'windows pods are not injected'],
  ])('%s is left alone, saying why', (_name, pod, why) => {
    const result = injectionPatch(pod, settings);
    expect('skipped' in result && result.skipped).toContain(why);
  });
});

describe('sidecar resources', () => {
  const sidecarOf = (annotations: Record<string, string>, resources = settings.resources) => {
    const result = injectionPatch({ metadata: { annotations }, spec: { containers: [{ name: 'app' }] } }, { ...settings, resources });
    if (!('patch' in result)) throw new Error(JSON.stringify(result));
    return (apply({ metadata: { annotations }, spec: { containers: [{ name: 'app' }] } }, result.patch) as Pod).spec.initContainers[0]!;
  };
  const refusal = (annotations: Record<string, string>) => {
    const result = injectionPatch({ metadata: { annotations }, spec: { containers: [{ name: 'app' }] } }, settings);
    return 'refused' in result ? result.refused : `not refused: ${JSON.stringify(result).slice(0, 80)}`;
  };

  test('pod annotations override the defaults, and the heap ceiling follows the memory limit', () => {
    const sidecar = sidecarOf({ 'llmroute.io/cpu': '200m', 'llmroute.io/memory': '256Mi', 'llmroute.io/cpu-limit': '1', 'llmroute.io/memory-limit': '1Gi' });
    expect(sidecar.resources).toEqual({ requests: { cpu: '200m', memory: '256Mi' }, limits: { cpu: '1', memory: '1Gi' } });
    expect(sidecar.env[0].value).toBe('--max-semi-space-size=1 --max-old-space-size=640');
  });

  test('the operator\'s defaults apply where no annotation is set; without a memory limit V8 keeps its own heap ceiling', () => {
    const sidecar = sidecarOf({ 'llmroute.io/cpu': '100m' }, { cpuRequest: '10m', memoryRequest: '64Mi' });
    expect(sidecar.resources).toEqual({ requests: { cpu: '100m', memory: '64Mi' } });
    expect(sidecar.env[0].value).toBe('--max-semi-space-size=1');
  });

  test.each([
    [{ 'llmroute.io/memory': 'lots' }, 'llmroute.io/memory: "lots" is not a Kubernetes quantity (e.g. 128Mi or 1Gi)'],
    [{ 'llmroute.io/cpu': '' }, 'llmroute.io/cpu: "" is not a Kubernetes quantity (e.g. 100m or 1)'],
    [{ 'llmroute.io/memory-limit': '512m' }, 'llmroute.io/memory-limit: 512m is 0.512 bytes; memory is written in Mi or Gi'],
    [{ 'llmroute.io/cpu': '2', 'llmroute.io/cpu-limit': '500m' }, 'llmroute.io/cpu (2) is above llmroute.io/cpu-limit (500m)'],
    [{ 'llmroute.io/memory': '300Mi' }, 'llmroute.io/memory (300Mi) is above the default llmroute.io/memory-limit (256Mi)'],
    [{ 'llmroute.io/memory-limit': '64Mi', 'llmroute.io/memory': '64Mi' }, "llmroute.io/memory-limit: 64Mi is below the sidecar's minimum of 96Mi"],
    [{ 'llmroute.io/cpu': '0' }, 'llmroute.io/cpu: must be above zero'],
  ])('%j refuses the pod, naming the annotation', (annotations, message) => {
    expect(refusal(annotations)).toBe(message);
  });

  test('quantities are read as Kubernetes reads them: exponents, signs, equal values written differently', () => {
    expect(sidecarOf({ 'llmroute.io/cpu': '700m', 'llmroute.io/cpu-limit': '0.7' }).resources.limits.cpu).toBe('0.7');
    expect(sidecarOf({ 'llmroute.io/memory': '1e+08', 'llmroute.io/memory-limit': '2.68435456e+08' }).env[0].value).toBe('--max-semi-space-size=1 --max-old-space-size=160');
    expect(sidecarOf({ 'llmroute.io/cpu': '+1', 'llmroute.io/cpu-limit': '1.' }).resources.requests.cpu).toBe('+1');
    expect(refusal({ 'llmroute.io/cpu': '1001m', 'llmroute.io/cpu-limit': '1' })).toBe('llmroute.io/cpu (1001m) is above llmroute.io/cpu-limit (1)');
    expect(refusal({ 'llmroute.io/cpu': '-1' })).toContain('is not a Kubernetes quantity');
  });

  test('a pod left alone for another reason is not refused for its annotations', () => {
    const result = injectionPatch({ metadata: { annotations: { 'llmroute.io/memory': 'lots' } }, spec: { hostNetwork: true, containers: [{ name: 'app' }] } }, settings);
    expect(result).toHaveProperty('skipped');
  });
});

describe('the Secrets of a namespace\'s routes', () => {
  test('each reference once; malformed ones (which would make the apiserver refuse the pod) left out', () => {
    const route = (backends: unknown[]) => ({ spec: { backends } });
    expect(secretRefsOf([
      route([{ credentials: { secretRef: { name: 'openai-key', key: 'apiKey' } } }, { credentials: { env: 'X' } }]),
      route([{ credentials: { secretRef: { name: 'openai-key', key: 'apiKey' } } }, { credentials: { secretRef: { name: 'Bad_Name', key: 'k' } } }, { credentials: { secretRef: { name: 'ok', key: '..' } } }]),
      { spec: { backends: 'not a list' } },
      null,
    ])).toEqual([{ name: 'openai-key', key: 'apiKey' }]);
  });
});
