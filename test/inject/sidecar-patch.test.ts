// The injection patch: what the webhook adds to a pod, applied here as the apiserver applies it
// (RFC 6902 `add`), on pods with and without the lists it extends. The apiserver itself applies it in
// test/k8s/injection.test.ts.
import { describe, expect, test } from '@jest/globals';
import { injectionPatch, PLACEHOLDER_API_KEY, secretRefsOf, SIDECAR_NAME, STATUS_ANNOTATION, type PatchOp, type PodLike } from '#operator/inject/sidecar-patch.ts';

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

const settings = { image: 'registry.example.com/llmroute:0.1.0', version: '0.1.0', secretsDir: '/var/run/llmroute/secrets', secretRefs: [{ name: 'mistral-key', key: 'apiKey' }, { name: 'openai-key', key: 'apiKey' }, { name: 'openai-key', key: 'orgKey' }] };
type Pod = { metadata: { annotations: Record<string, string> }; spec: { initContainers: Array<Record<string, any>>; containers: Array<{ name: string; env?: Array<{ name: string; value?: string }>; volumeMounts?: unknown[] }>; volumes: Array<Record<string, any>> } };
const inject = (pod: PodLike) => {
  const result = injectionPatch(pod, settings);
  if ('skipped' in result) throw new Error(result.skipped);
  return apply(pod, result.patch) as Pod;
};

describe('injection patch', () => {
  test('a bare pod gets the native sidecar, its volumes, the app env and the status annotation', () => {
    const pod = inject({ spec: { containers: [{ name: 'app' }] } });
    const sidecar = pod.spec.initContainers[0]!;
    expect(sidecar).toMatchObject({ name: SIDECAR_NAME, image: settings.image, restartPolicy: 'Always', securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true } });
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
