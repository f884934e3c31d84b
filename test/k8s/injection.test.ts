// The sidecar injection webhook against a real kube-apiserver, which calls it over TLS as it calls
// any mutating webhook, applies its JSON Patch and validates the pod that results.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { join } from 'node:path';
import { copyFileSync, readFileSync } from 'node:fs';
import { X509Certificate } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Agent as UndiciAgent, fetch as undiciFetch } from 'undici';
import { eventually, startCluster, type Cluster } from './harness.ts';
import { issueLeaf, makeWebhookCerts, type WebhookCerts } from './webhook-certs.ts';
import { startWebhookServer, type WebhookServer } from '#operator/admission/webhook-server.ts';
import { reviewPod } from '#operator/inject/review-pod.ts';
import { DEFAULT_SIDECAR_RESOURCES } from '#operator/inject/sidecar-resources.ts';

let cluster: Cluster;
let webhook: WebhookServer;
let core: k8s.CoreV1Api;
let certs: WebhookCerts;
let custom: k8s.CustomObjectsApi;
const IMAGE = 'registry.example.com/platform/llmroute:0.1.0';
const GROUP = { group: 'llmroute.dev', version: 'v1alpha1' };

beforeAll(async () => {
  cluster = await startCluster();
  core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
  custom = cluster.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  certs = makeWebhookCerts();
  webhook = await startWebhookServer({
    certFile: join(certs.dir, 'tls.crt'),
    keyFile: join(certs.dir, 'tls.key'),
    host: '127.0.0.1',
    port: 0,
    listRoutes: async (namespace) => ((await custom.listNamespacedCustomObject({ ...GROUP, namespace, plural: 'llmroutes' })) as { items: unknown[] }).items,
    listPolicies: async (namespace) => ((await custom.listNamespacedCustomObject({ ...GROUP, namespace, plural: 'llmpolicies' })) as { items: unknown[] }).items,
    sidecar: { image: IMAGE, version: '0.1.0', secretsDir: '/var/run/llmroute/secrets', resources: DEFAULT_SIDECAR_RESOURCES },
  });
  const admission = cluster.kubeConfig.makeApiClient(k8s.AdmissionregistrationV1Api);
  await admission.createValidatingWebhookConfiguration({
    body: {
      metadata: { name: 'llmroute-route-validation' },
      webhooks: [{
        name: 'route.validate.llmroute.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Ignore',
        timeoutSeconds: 10,
        clientConfig: { url: `https://127.0.0.1:${webhook.port}/validate-llmroutes`, caBundle: Buffer.from(certs.caPem).toString('base64') },
        rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['llmroute.dev'], apiVersions: ['v1alpha1'], resources: ['llmroutes'], scope: 'Namespaced' }],
      }, {
        name: 'policy.validate.llmroute.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Ignore',
        timeoutSeconds: 10,
        clientConfig: { url: `https://127.0.0.1:${webhook.port}/validate-llmpolicies`, caBundle: Buffer.from(certs.caPem).toString('base64') },
        rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['llmroute.dev'], apiVersions: ['v1alpha1'], resources: ['llmpolicies'], scope: 'Namespaced' }],
      }],
    },
  });
  await admission.createMutatingWebhookConfiguration({
    body: {
      metadata: { name: 'llmroute-sidecar-injector' },
      webhooks: [{
        name: 'inject.llmroute.io',
        admissionReviewVersions: ['v1'],
        sideEffects: 'None',
        failurePolicy: 'Fail',
        timeoutSeconds: 10,
        clientConfig: { url: `https://127.0.0.1:${webhook.port}/mutate-pods`, caBundle: Buffer.from(certs.caPem).toString('base64') },
        rules: [{ operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Namespaced' }],
        namespaceSelector: { matchLabels: { 'llmroute.io/inject': 'enabled' } },
        objectSelector: { matchExpressions: [{ key: 'llmroute.io/inject', operator: 'NotIn', values: ['false'] }] },
      }],
    },
  });
}, 120_000);

afterAll(async () => {
  await webhook?.close();
  await cluster?.stop();
}, 60_000);

const pod = (name: string, labels: Record<string, string> = {}) => ({ metadata: { name, labels }, spec: { containers: [{ name: 'app', image: 'registry.example.com/shop/app:1' }] } });

describe('sidecar injection through the apiserver', () => {
  test('a pod of an opted-in namespace gets the sidecar, the config and its routes\' Secrets (sidecar only), and the app its env', async () => {
    await core.createNamespace({ body: { metadata: { name: 'shop', labels: { 'llmroute.io/inject': 'enabled' } } } });
    await custom.createNamespacedCustomObject({
      ...GROUP, namespace: 'shop', plural: 'llmroutes',
      body: { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: { name: 'chat' }, spec: { models: ['chat'], backends: [{ name: 'mistral', provider: 'mistral', model: 'mistral-large-latest', credentials: { secretRef: { name: 'mistral-key', key: 'apiKey' } } }] } },
    });
    const created = await core.createNamespacedPod({ namespace: 'shop', body: pod('app') });
    const stored = await core.readNamespacedPod({ name: 'app', namespace: 'shop' });
    for (const p of [created, stored]) {
      const sidecar = p.spec!.initContainers![0]!;
      expect(sidecar).toMatchObject({ name: 'llmroute', image: IMAGE, restartPolicy: 'Always' });
      expect(sidecar.volumeMounts!.map((m) => m.mountPath)).toEqual(['/etc/llmroute', '/var/run/llmroute/secrets']);
      expect(p.spec!.volumes!.find((v) => v.name === 'llmroute-secrets')!.projected!.sources).toEqual([{ secret: { name: 'mistral-key', optional: true, items: [{ key: 'apiKey', path: 'mistral-key/apiKey' }] } }]);
      const app = p.spec!.containers[0]!;
      expect(app.env).toEqual([{ name: 'OPENAI_BASE_URL', value: 'http://127.0.0.1:4000/v1' }, { name: 'OPENAI_API_KEY', value: 'llmroute-sidecar-holds-the-keys' }]);
      expect(app.volumeMounts ?? []).toEqual([]);
      expect(p.metadata!.annotations!['llmroute.io/status']).toBe('{"version":"0.1.0","secrets":["mistral-key"]}');
    }
  }, 60_000);

  test('resource annotations size the sidecar (the apiserver validates the result); a mistyped one refuses the pod, saying which', async () => {
    const tuned = await core.createNamespacedPod({ namespace: 'shop', body: { ...pod('tuned'), metadata: { name: 'tuned', annotations: { 'llmroute.io/cpu': '250m', 'llmroute.io/memory-limit': '512Mi' } } } });
    const sidecar = tuned.spec!.initContainers![0]!;
    expect(sidecar.resources).toEqual({ requests: { cpu: '250m', memory: '96Mi' }, limits: { memory: '512Mi' } });
    expect(sidecar.env!.find((e) => e.name === 'NODE_OPTIONS')!.value).toBe('--max-semi-space-size=1 --max-old-space-size=320');
    const refused = await core.createNamespacedPod({ namespace: 'shop', body: { ...pod('typo'), metadata: { name: 'typo', annotations: { 'llmroute.io/memory': '128m' } } } })
      .then(() => 'created', (e: { code?: number; body?: unknown }) => `${e.code} ${String(e.body)}`);
    expect(refused).toMatch(/^400 .*llmroute sidecar injection: llmroute\.io\/memory: 128m is 0\.128 bytes; memory is written in Mi or Gi/);
  }, 60_000);

  test('a pod that opts out, and a pod of a namespace that did not opt in, are left alone', async () => {
    const out = await core.createNamespacedPod({ namespace: 'shop', body: pod('opted-out', { 'llmroute.io/inject': 'false' }) });
    expect(out.spec!.initContainers ?? []).toEqual([]);
    await core.createNamespace({ body: { metadata: { name: 'elsewhere' } } });
    const other = await core.createNamespacedPod({ namespace: 'elsewhere', body: pod('app') });
    expect(other.spec!.initContainers ?? []).toEqual([]);
    expect(other.spec!.containers[0]!.env ?? []).toEqual([]);
  }, 60_000);
});

describe('LLMRoute validation at kubectl apply', () => {
  const create = (body: object) => custom.createNamespacedCustomObject({ ...GROUP, namespace: 'guarded', plural: 'llmroutes', body })
    .then(() => 'created', (e: { code?: number; body?: unknown }) => `${e.code} ${String(e.body)}`);
  const routeOf = (name: string, backends: unknown[], models = [name]) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: { name }, spec: { models, backends } });
  const mistral = { name: 'mistral', provider: 'mistral', model: 'mistral-large-latest', region: 'eu-west', credentials: { env: 'MISTRAL_API_KEY' } };
  const deepseek = { name: 'deepseek', provider: 'deepseek', model: 'deepseek-chat', credentials: { env: 'DEEPSEEK_API_KEY' } };

  test('a route the namespace\'s policy denies, or the compiler finds invalid, or whose model is taken, is refused at once, saying why', async () => {
    await core.createNamespace({ body: { metadata: { name: 'guarded' } } });
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'guarded', plural: 'llmpolicies', body: { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: { name: 'residency' }, spec: { allowedRegions: ['eu-west'] } } });
    expect(await create(routeOf('chat', [mistral, deepseek]))).toMatch(/^403 .*admission webhook \\?"route\.validate\.llmroute\.io\\?" denied the request: denied by the namespace's LLMPolicy: backend deepseek: api\.deepseek\.com is DeepSeek's API/);
    expect(await create(routeOf('geo', [{ ...mistral, provider: 'anthropic', options: { inferenceGeo: 'US East' } }]))).toMatch(/^422 .*invalid LLMRoute: spec\.backends\[0\]\.options\.inferenceGeo/);
    expect(await create(routeOf('chat', [mistral]))).toBe('created');
    expect(await create(routeOf('copy', [mistral], ['chat']))).toMatch(/^409 .*model chat is already served by LLMRoute chat/);
  }, 60_000);

  test('a route a policy tightened since can still be changed without bringing a new denial', async () => {
    await custom.patchNamespacedCustomObject({ ...GROUP, namespace: 'guarded', plural: 'llmpolicies', name: 'residency', body: { spec: { allowedRegions: ['eu-central'] } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    const relabel = (labels: Record<string, string>, backends?: unknown[]) => custom.patchNamespacedCustomObject({ ...GROUP, namespace: 'guarded', plural: 'llmroutes', name: 'chat', body: { metadata: { labels }, ...(backends ? { spec: { backends } } : {}) } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch))
      .then(() => 'patched', (e: { code?: number }) => `refused ${e.code}`);
    expect(await relabel({ team: 'shop' })).toBe('patched');
    expect(await relabel({ team: 'shop' }, [mistral, deepseek])).toBe('refused 403');
    // kubectl prints the apiserver's Warning headers: the denial the stored route already has is one.
    const res = await undiciFetch(`${cluster.server}/apis/llmroute.dev/v1alpha1/namespaces/guarded/llmroutes/chat`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${cluster.kubeConfig.getCurrentUser()!.token}`, 'content-type': 'application/merge-patch+json' },
      body: JSON.stringify({ metadata: { labels: { team: 'checkout' } } }),
      dispatcher: new UndiciAgent({ connect: { rejectUnauthorized: false } }),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('warning')).toContain('backend mistral: region eu-west not in allowedRegions [eu-central]');
  }, 60_000);

  test('a misspelt LLMPolicy is refused (it would admit nothing); a valid one is admitted, warning of what it newly denies', async () => {
    await core.createNamespace({ body: { metadata: { name: 'policed' } } });
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'policed', plural: 'llmroutes', body: routeOf('chat', [mistral]) });
    const apply = (spec: object) => undiciFetch(`${cluster.server}/apis/llmroute.dev/v1alpha1/namespaces/policed/llmpolicies/strict?fieldManager=test&force=true`, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${cluster.kubeConfig.getCurrentUser()!.token}`, 'content-type': 'application/apply-patch+yaml' },
      body: JSON.stringify({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: { name: 'strict' }, spec }),
      dispatcher: new UndiciAgent({ connect: { rejectUnauthorized: false } }),
    });
    const misspelt = await apply({ deniedModel: ['mistral-large-latest'] });
    expect(misspelt.status).toBe(422);
    expect(await misspelt.text()).toContain('invalid LLMPolicy');
    const denying = await apply({ deniedModels: ['mistral-large-latest'] });
    expect(denying.status).toBe(201);
    expect(denying.headers.get('warning')).toContain('LLMRoute chat: backend mistral will be denied: model mistral-large-latest matches deniedModels entry mistral-large-latest');
  }, 60_000);
});

describe('the apiserver and the webhook together', () => {
  const restricted = { runAsNonRoot: true, runAsUser: 1000, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };

  test('the injected sidecar passes Pod Security "restricted" (the namespace enforces it, on the pod as mutated)', async () => {
    await core.createNamespace({ body: { metadata: { name: 'strict', labels: { 'llmroute.io/inject': 'enabled', 'pod-security.kubernetes.io/enforce': 'restricted' } } } });
    const created = await core.createNamespacedPod({ namespace: 'strict', body: { metadata: { name: 'app' }, spec: { containers: [{ name: 'app', image: 'registry.example.com/shop/app:1', securityContext: restricted }] } } });
    expect(created.spec!.initContainers![0]!.name).toBe('llmroute');
    // The check is real: a container that is not restricted is refused in this namespace.
    await expect(core.createNamespacedPod({ namespace: 'strict', body: pod('loose') })).rejects.toMatchObject({ code: 403 });
  }, 60_000);

  test('a renewed certificate (same CA, new leaf) is taken up while pods are being admitted: none fails', async () => {
    await core.createNamespace({ body: { metadata: { name: 'rotating', labels: { 'llmroute.io/inject': 'enabled' } } } });
    issueLeaf(certs.dir, 'renewed');
    const outcomes: string[] = [];
    for (let i = 0; i < 24; i++) {
      if (i === 8) {
        // As a renewed Secret lands: the key first, then the certificate (a half-written pair in between).
        copyFileSync(join(certs.dir, 'renewed.key'), join(certs.dir, 'tls.key'));
        copyFileSync(join(certs.dir, 'renewed.crt'), join(certs.dir, 'tls.crt'));
      }
      const created = await core.createNamespacedPod({ namespace: 'rotating', body: pod(`p${i}`) }).then((p) => p.spec!.initContainers?.[0]?.name ?? 'not injected', (e: { code?: number }) => `refused ${e.code}`);
      outcomes.push(created);
      await new Promise((r) => setTimeout(r, 25));
    }
    expect(outcomes).toEqual(Array(24).fill('llmroute'));
    const served = await new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: webhook.port, rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.end();
      });
      socket.on('error', reject);
    });
    expect(served).toBe(new X509Certificate(readFileSync(join(certs.dir, 'renewed.crt'))).serialNumber);
  }, 60_000);

  test('with the webhook down, a pod of an opted-in namespace is refused (never admitted without its sidecar); others are not affected', async () => {
    await webhook.close();
    const refused = await core.createNamespacedPod({ namespace: 'shop', body: pod('while-down') }).then(() => 'created', (e: { code?: number; body?: unknown }) => `${e.code} ${String(e.body)}`);
    expect(refused).toMatch(/^500 .*failed calling webhook .*inject\.llmroute\.io/);
    // A namespace that did not opt in, such as the operator's own, keeps creating pods.
    await core.createNamespace({ body: { metadata: { name: 'llmroute-system' } } });
    expect((await core.createNamespacedPod({ namespace: 'llmroute-system', body: pod('operator') })).metadata!.name).toBe('operator');
  }, 60_000);
});

describe('the webhook server', () => {
  test('a rotated certificate (cert-manager rewrites the files) is served without a restart', async () => {
    const first = makeWebhookCerts();
    const server = await startWebhookServer({ certFile: join(first.dir, 'tls.crt'), keyFile: join(first.dir, 'tls.key'), host: '127.0.0.1', port: 0, listRoutes: async () => [], sidecar: { image: IMAGE, version: '0', secretsDir: '/s', resources: DEFAULT_SIDECAR_RESOURCES } });
    const servedSerial = () => new Promise<string>((resolve, reject) => {
      const socket = tlsConnect({ host: '127.0.0.1', port: server.port, rejectUnauthorized: false }, () => {
        resolve(socket.getPeerCertificate().serialNumber);
        socket.end();
      });
      socket.on('error', reject);
    });
    try {
      const before = await servedSerial();
      const second = makeWebhookCerts();
      copyFileSync(join(second.dir, 'tls.key'), join(first.dir, 'tls.key'));
      copyFileSync(join(second.dir, 'tls.crt'), join(first.dir, 'tls.crt'));
      const rotated = readFileSync(join(second.dir, 'tls.crt'), 'utf8');
      await eventually(async () => ((await servedSerial()) !== before ? true : undefined), 'the new certificate served');
      expect(new X509Certificate(rotated).serialNumber).toBe(await servedSerial());
    } finally {
      await server.close();
    }
  }, 30_000);
});

describe('a stopping webhook server', () => {
  /** Starts a server whose route listing takes `delayMs`, and sends it one review over a kept-alive connection. */
  async function slowServer(delayMs: number) {
    const server = await startWebhookServer({
      certFile: join(certs.dir, 'tls.crt'), keyFile: join(certs.dir, 'tls.key'), host: '127.0.0.1', port: 0,
      listRoutes: () => new Promise((r) => setTimeout(() => r([]), delayMs)),
      sidecar: { image: IMAGE, version: '0', secretsDir: '/s', resources: DEFAULT_SIDECAR_RESOURCES },
    });
    const agent = new HttpsAgent({ keepAlive: true, rejectUnauthorized: false });
    const review = () => new Promise<string>((resolve) => {
      const body = JSON.stringify({ apiVersion: 'admission.k8s.io/v1', kind: 'AdmissionReview', request: { uid: 'u', namespace: 'shop', operation: 'CREATE', object: { spec: { containers: [{ name: 'app' }] } } } });
      const req = httpsRequest({ host: '127.0.0.1', port: server.port, path: '/mutate-pods', method: 'POST', agent, headers: { 'content-type': 'application/json' } }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${(JSON.parse(text) as { response: { allowed: boolean } }).response.allowed}${res.headers.connection === 'close' ? ' connection: close' : ''}`));
        res.on('error', (e) => resolve(`broken: ${e.message}`));
      });
      req.on('error', (e: NodeJS.ErrnoException) => resolve(`failed: ${e.code ?? e.message}`));
      req.end(body);
    });
    return { server, review, agent };
  }

  test('answers the reviews under way before it closes, and takes no new connection', async () => {
    const { server, review, agent } = await slowServer(400);
    const underWay = review();
    await new Promise((r) => setTimeout(r, 100));
    const closing = server.close(5000);
    expect(await underWay).toBe('200 true connection: close');
    await closing;
    agent.destroy();
    expect(await review()).toBe('failed: ECONNREFUSED');
  });

  test('draining, it still answers, new connections too, but ends each connection with its answer', async () => {
    const { server, review, agent } = await slowServer(10);
    try {
      expect(await review()).toBe('200 true');
      server.drain();
      expect(await review()).toBe('200 true connection: close');
      expect(await review()).toBe('200 true connection: close');
    } finally {
      await server.close(100);
      agent.destroy();
    }
  });

  test('cuts what is left at the grace deadline', async () => {
    const { server, review, agent } = await slowServer(2000);
    const underWay = review();
    await new Promise((r) => setTimeout(r, 100));
    await server.close(200);
    expect(await underWay).toMatch(/^failed: ECONNRESET|^broken/);
    agent.destroy();
  });
});

describe('admission answers', () => {
  const request = (operation = 'CREATE') => ({ uid: 'u1', namespace: 'shop', operation, object: { metadata: { name: 'p' }, spec: { containers: [{ name: 'app' }] } } });
  const sidecar = { image: IMAGE, version: '0', secretsDir: '/s', resources: DEFAULT_SIDECAR_RESOURCES };

  test('a patch for a new pod; nothing for other operations', async () => {
    const answer = await reviewPod(request(), { listRoutes: async () => [], sidecar });
    expect(answer).toMatchObject({ uid: 'u1', allowed: true, patchType: 'JSONPatch' });
    expect(JSON.parse(Buffer.from(answer.patch as string, 'base64').toString('utf8'))[0]).toMatchObject({ op: 'add', path: '/spec/initContainers' });
    expect(await reviewPod(request('UPDATE'), { listRoutes: async () => [], sidecar })).toEqual({ uid: 'u1', allowed: true });
  });

  test('routes that cannot be read refuse the pod (fail closed), saying why; a pod left alone gets a warning', async () => {
    expect(await reviewPod(request(), { listRoutes: () => Promise.reject(new Error('forbidden')), sidecar })).toMatchObject({ uid: 'u1', allowed: false, status: { code: 503 } });
    // A passing hiccup (the apiserver's 429 while its storage reinitializes) is tried once more.
    let calls = 0;
    const flaky = async () => (++calls === 1 ? Promise.reject(new Error('429')) : []);
    expect(await reviewPod(request(), { listRoutes: flaky, sidecar })).toMatchObject({ allowed: true, patchType: 'JSONPatch' });
    expect(calls).toBe(2);
    const hostNetwork = { ...request(), object: { spec: { hostNetwork: true, containers: [{ name: 'app' }] } } };
    expect(await reviewPod(hostNetwork, { listRoutes: async () => [], sidecar })).toMatchObject({ allowed: true, warnings: [expect.stringContaining('hostNetwork')] });
  });
});
