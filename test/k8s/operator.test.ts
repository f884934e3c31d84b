import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import * as k8s from '@kubernetes/client-node';
import { eventually, startCluster, type Cluster } from './harness.ts';
import { startController, type Controller } from '#operator/controller.ts';
import { statusPatcher } from '#operator/reconcile/reconciler.ts';
import { createOperatorMetrics } from '#operator/metrics.ts';
import { parseConfigText } from '#proxy/config/parse.ts';
import { looksLikeApiKey } from '#proxy/config/schema.ts';
import { startProxy } from '#proxy/server.ts';
import { startOpenAIFake } from '#test/fakes/openai-fake.ts';
import OpenAI from 'openai';
import { Agent, fetch as undiciFetch } from 'undici';

let cluster: Cluster;
let controller: Controller;
let core: k8s.CoreV1Api;
let custom: k8s.CustomObjectsApi;
let eventsApi: k8s.EventsV1Api;
const metrics = createOperatorMetrics();
// undici's own fetch: the global fetch rejects dispatchers from the npm undici package.
const insecure = new Agent({ connect: { rejectUnauthorized: false } });

const GROUP = { group: 'llmroute.dev', version: 'v1alpha1' };

beforeAll(async () => {
  cluster = await startCluster();
  core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
  custom = cluster.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
  eventsApi = cluster.kubeConfig.makeApiClient(k8s.EventsV1Api);
  controller = startController({ kubeConfig: cluster.kubeConfig, metrics, identity: 'operator-test' });
  await controller.ready;
}, 120_000);

afterAll(async () => {
  await controller?.stop();
  await cluster?.stop();
  await insecure.close();
}, 60_000);


async function namespace(name: string): Promise<void> {
  await core.createNamespace({ body: { metadata: { name } } });
}

const route = (name: string, spec: Record<string, unknown>) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: { name }, spec });
const openai = { name: 'openai', provider: 'openai', model: 'gpt-4o', region: 'us-east', credentials: { secretRef: { name: 'openai-key', key: 'apiKey' } } };
const mistral = { name: 'mistral', provider: 'mistral', model: 'mistral-large-latest', region: 'eu-west', dataRetention: 'zero', credentials: { env: 'MISTRAL_API_KEY' } };

/** The events.k8s.io/v1 events about an object of a namespace, oldest first. */
async function eventsAbout(ns: string, kind: string, name: string): Promise<k8s.EventsV1Event[]> {
  const list = await eventsApi.listNamespacedEvent({ namespace: ns });
  return list.items.filter((e) => e.regarding?.kind === kind && e.regarding.name === name).sort((a, b) => String(a.eventTime).localeCompare(String(b.eventTime)));
}

type PolicyObject = { metadata?: { generation?: number }; status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string; reason: string; observedGeneration?: number }> } };

/** An object as `kubectl get` shows it: the apiserver's Table rendering (meta.k8s.io/v1), by column name. */
async function table(ns: string, plural: string, name: string) {
  const res = await undiciFetch(`${cluster.server}/apis/llmroute.dev/v1alpha1/namespaces/${ns}/${plural}/${name}`, {
    headers: { authorization: `Bearer ${cluster.kubeConfig.getCurrentUser()!.token}`, accept: 'application/json;as=Table;v=v1;g=meta.k8s.io' },
    dispatcher: insecure,
  });
  if (!res.ok) throw new Error(`${plural}/${name}: ${res.status} ${await res.text()}`);
  const body = (await res.json()) as { kind: string; columnDefinitions: Array<{ name: string; priority: number }>; rows: Array<{ cells: unknown[] }> };
  if (body.kind !== 'Table') throw new Error(`not a Table: ${body.kind}`);
  return {
    columns: body.columnDefinitions,
    row: Object.fromEntries(body.columnDefinitions.map((c, i) => [c.name, body.rows[0]?.cells[i]])) as Record<string, unknown>,
  };
}

async function compiledConfig(ns: string, predicate: (text: string) => boolean) {
  return eventually(async () => {
    const cm = await core.readNamespacedConfigMap({ name: 'llmroute-config', namespace: ns });
    const text = cm.data?.['config.yaml'];
    return text !== undefined && predicate(text) ? { cm, text } : undefined;
  }, `ConfigMap in ${ns}`);
}

describe('operator against a real kube-apiserver', () => {
  test('a route becomes the namespace ConfigMap, with status, and updates and deletes follow', async () => {
    await namespace('shop');
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'shop', plural: 'llmroutes', body: route('chat', { models: ['chat'], backends: [openai] }) });
    const { cm, text } = await compiledConfig('shop', (t) => t.includes('chat'));
    const parsed = parseConfigText(text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    expect(parsed.config.routes[0]!.backends[0]!.credentials).toEqual({ kind: 'file', path: '/var/run/llmroute/secrets/openai-key/apiKey' });
    expect(cm.metadata?.annotations?.['llmroute.dev/config-generation']).toBe(parsed.config.generation);
    expect(cm.metadata?.ownerReferences?.[0]).toMatchObject({ kind: 'LLMRoute', name: 'chat' });

    const status = await eventually(async () => {
      const obj = (await custom.getNamespacedCustomObject({ ...GROUP, namespace: 'shop', plural: 'llmroutes', name: 'chat' })) as { status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string }> } };
      return obj.status?.observedGeneration === 1 ? obj.status : undefined;
    }, 'status');
    expect(status.conditions?.find((c) => c.type === 'Ready')?.status).toBe('True');

    // Update: the new model appears and observedGeneration follows.
    await custom.patchNamespacedCustomObject({ ...GROUP, namespace: 'shop', plural: 'llmroutes', name: 'chat', body: { spec: { models: ['chat', 'assistant'] } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    await compiledConfig('shop', (t) => t.includes('assistant'));
    await eventually(async () => {
      const obj = (await custom.getNamespacedCustomObject({ ...GROUP, namespace: 'shop', plural: 'llmroutes', name: 'chat' })) as { status?: { observedGeneration?: number } };
      return obj.status?.observedGeneration === 2 ? true : undefined;
    }, 'observedGeneration 2');

    // A second route, then delete the first: its models disappear.
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'shop', plural: 'llmroutes', body: route('other', { models: ['other'], backends: [mistral] }) });
    await compiledConfig('shop', (t) => t.includes('other'));
    await custom.deleteNamespacedCustomObject({ ...GROUP, namespace: 'shop', plural: 'llmroutes', name: 'chat' });
    await compiledConfig('shop', (t) => !t.includes('assistant') && t.includes('other'));
  }, 60_000);

  test('a policy leaves a denied backend out and the status names the rule', async () => {
    await namespace('eu');
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'eu', plural: 'llmpolicies', body: { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: { name: 'residency' }, spec: { allowedRegions: ['eu-west', 'eu-central'] } } });
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'eu', plural: 'llmroutes', body: route('chat', { models: ['chat'], backends: [openai, mistral] }) });
    const { text } = await compiledConfig('eu', (t) => t.includes('mistral'));
    expect(text).not.toContain('name: openai');
    const status = await eventually(async () => {
      const obj = (await custom.getNamespacedCustomObject({ ...GROUP, namespace: 'eu', plural: 'llmroutes', name: 'chat' })) as { status?: { backends?: Array<{ name: string; admitted: boolean; reason: string; message: string }>; backendsAdmitted?: string } };
      return obj.status?.backends ? obj.status : undefined;
    }, 'status with backends');
    expect(status.backendsAdmitted).toBe('1/2');
    expect(status.backends?.find((b) => b.name === 'openai')).toMatchObject({ admitted: false, reason: 'DeniedByPolicy', message: "api.openai.com is OpenAI's global endpoint, which processes data in any region (us.api.openai.com and eu.api.openai.com process in-region), and allowedRegions [eu-west, eu-central] does not list global" });

    // A Warning event on the route names the rule, once, from the operator.
    const route1 = (await custom.getNamespacedCustomObject({ ...GROUP, namespace: 'eu', plural: 'llmroutes', name: 'chat' })) as { metadata: { uid: string } };
    const [event] = await eventually(async () => {
      const found = (await eventsAbout('eu', 'LLMRoute', 'chat')).filter((e) => e.reason === 'DeniedByPolicy');
      return found.length > 0 ? found : undefined;
    }, 'a DeniedByPolicy event');
    expect(event).toMatchObject({ type: 'Warning', action: 'Admit', reportingController: 'llmroute.dev/operator', reportingInstance: 'operator-test' });
    expect(event!.regarding).toMatchObject({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', namespace: 'eu', name: 'chat', uid: route1.metadata.uid });
    expect(event!.note).toContain("openai: api.openai.com is OpenAI's global endpoint, which processes data in any region (us.api.openai.com and eu.api.openai.com process in-region), and allowedRegions [eu-west, eu-central] does not list global");

    // More reconciles of the namespace (another route, then its status coming back) repeat no event.
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'eu', plural: 'llmroutes', body: route('second', { models: ['second'], backends: [mistral] }) });
    await compiledConfig('eu', (t) => t.includes('second'));
    await eventually(async () => {
      const obj = (await custom.getNamespacedCustomObject({ ...GROUP, namespace: 'eu', plural: 'llmroutes', name: 'second' })) as { status?: { observedGeneration?: number } };
      return obj.status?.observedGeneration === 1 ? true : undefined;
    }, 'status of the second route');
    await new Promise((r) => setTimeout(r, 500));
    const events = await eventsAbout('eu', 'LLMRoute', 'chat');
    expect(events.map((e) => e.reason)).toEqual(['DeniedByPolicy']);
    expect(await eventsAbout('eu', 'LLMRoute', 'second')).toEqual([]);

    // The policy admits global processing too: the route is compliant again, which one Normal event says.
    await custom.patchNamespacedCustomObject({ ...GROUP, namespace: 'eu', plural: 'llmpolicies', name: 'residency', body: { spec: { allowedRegions: ['eu-west', 'eu-central', 'global'] } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    const after = await eventually(async () => {
      const found = await eventsAbout('eu', 'LLMRoute', 'chat');
      return found.some((e) => e.reason === 'PolicyCompliant') ? found : undefined;
    }, 'a PolicyCompliant event');
    expect(after.map((e) => `${e.type} ${e.reason}`)).toEqual(['Warning DeniedByPolicy', 'Normal PolicyCompliant']);
  }, 60_000);

  test('an LLMPolicy gets its status (observedGeneration, Ready, Accepted) through the status subresource, also without routes', async () => {
    await namespace('policy-only');
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'policy-only', plural: 'llmpolicies', body: { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: { name: 'zdr' }, spec: { requireZeroDataRetention: true } } });
    const read = async () => (await custom.getNamespacedCustomObject({ ...GROUP, namespace: 'policy-only', plural: 'llmpolicies', name: 'zdr' })) as PolicyObject;
    const first = await eventually(async () => {
      const p = await read();
      return p.status?.observedGeneration === 1 ? p.status : undefined;
    }, 'policy status');
    expect(first.conditions).toEqual([
      expect.objectContaining({ type: 'Ready', status: 'True', reason: 'Ready', observedGeneration: 1 }),
      expect.objectContaining({ type: 'Accepted', status: 'True', reason: 'Accepted', observedGeneration: 1 }),
    ]);
    // No ConfigMap for a namespace without routes.
    await expect(core.readNamespacedConfigMap({ name: 'llmroute-config', namespace: 'policy-only' })).rejects.toMatchObject({ code: 404 });

    await custom.patchNamespacedCustomObject({ ...GROUP, namespace: 'policy-only', plural: 'llmpolicies', name: 'zdr', body: { spec: { allowedProviders: ['mistral'] } } }, k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
    await eventually(async () => {
      const p = await read();
      return p.status?.observedGeneration === 2 && p.status.conditions?.every((c) => c.observedGeneration === 2) ? true : undefined;
    }, 'policy observedGeneration 2');
    expect(await eventsAbout('policy-only', 'LLMPolicy', 'zdr')).toEqual([]); // valid all along: nothing to report
  }, 60_000);

  test('a misspelt policy field is kept, not pruned: the policy is invalid and the namespace admits nothing', async () => {
    await namespace('typo');
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'typo', plural: 'llmroutes', body: route('chat', { models: ['chat'], backends: [mistral] }) });
    // Without strict field validation (the API server's default for clients that do not ask): pruned, this
    // would leave a policy that requires nothing in force.
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'typo', plural: 'llmpolicies', body: { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: { name: 'zdr' }, spec: { requireZeroDatRetention: true } } });
    const stored = (await custom.getNamespacedCustomObject({ ...GROUP, namespace: 'typo', plural: 'llmpolicies', name: 'zdr' })) as { spec: Record<string, unknown> };
    expect(stored.spec).toMatchObject({ requireZeroDatRetention: true });
    const status = await eventually(async () => {
      const p = (await custom.getNamespacedCustomObject({ ...GROUP, namespace: 'typo', plural: 'llmpolicies', name: 'zdr' })) as PolicyObject;
      return p.status?.conditions?.find((c) => c.type === 'Ready')?.reason === 'InvalidPolicy' ? p.status : undefined;
    }, 'the policy marked invalid');
    expect(status.conditions?.find((c) => c.type === 'Ready')).toMatchObject({ status: 'False', reason: 'InvalidPolicy' });
    const config = await eventually(async () => {
      const cm = await core.readNamespacedConfigMap({ name: 'llmroute-config', namespace: 'typo' }).catch(() => undefined);
      const text = cm?.data?.['config.yaml'];
      return text !== undefined && !text.includes('mistral-large') ? text : undefined;
    }, 'a ConfigMap that admits no backend');
    expect(config).not.toContain('mistral');
  }, 60_000);

  test('allowedHosts: the apiserver refuses a URL where a host belongs; a host list leaves backends calling other hosts out', async () => {
    await namespace('hosts');
    const policy = (allowedHosts: string[]) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: { name: 'egress' }, spec: { allowedHosts } });
    // The CRD's pattern, compiled by the apiserver's RE2: a scheme, a port or upper case is refused at apply time.
    for (const bad of ['https://api.mistral.ai', 'api.mistral.ai:443', 'API.mistral.ai']) {
      await expect(custom.createNamespacedCustomObject({ ...GROUP, namespace: 'hosts', plural: 'llmpolicies', body: policy([bad]) })).rejects.toMatchObject({ code: 422 });
    }
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'hosts', plural: 'llmpolicies', body: policy(['*.mistral.ai']) });
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'hosts', plural: 'llmroutes', body: route('chat', { models: ['chat'], backends: [openai, mistral] }) });
    const { text } = await compiledConfig('hosts', (t) => t.includes('mistral-large'));
    expect(text).not.toContain('name: openai');
    const parsed = parseConfigText(text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    expect(parsed.config.policy.allowedHosts).toEqual(['*.mistral.ai']);
    const status = await eventually(async () => {
      const obj = (await custom.getNamespacedCustomObject({ ...GROUP, namespace: 'hosts', plural: 'llmroutes', name: 'chat' })) as { status?: { backends?: Array<{ name: string; message: string }> } };
      return obj.status?.backends ? obj.status : undefined;
    }, 'route status');
    expect(status.backends?.find((b) => b.name === 'openai')?.message).toBe('baseURL host api.openai.com not in allowedHosts [*.mistral.ai]');
  }, 60_000);

  test('policy limits: sizes as the apiserver takes them (a number or 20Mi) become the sidecar caps; a malformed one is refused at apply', async () => {
    await namespace('limits');
    const policy = (limits: Record<string, unknown>) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: { name: 'caps' }, spec: { limits } });
    await expect(custom.createNamespacedCustomObject({ ...GROUP, namespace: 'limits', plural: 'llmpolicies', body: policy({ maxRequestSize: '20 MB' }) })).rejects.toMatchObject({ code: 422 });
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'limits', plural: 'llmpolicies', body: policy({ maxRequestSize: '20Mi', maxResponseSize: 134217728 }) });
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'limits', plural: 'llmroutes', body: route('chat', { models: ['chat'], backends: [mistral] }) });
    const { text } = await compiledConfig('limits', (t) => t.includes('maxBodyBytes'));
    const parsed = parseConfigText(text);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.issues));
    expect(parsed.config.server).toEqual({ maxBodyBytes: 20 * 1024 * 1024, maxResponseBytes: 134217728 });
  }, 60_000);

  test('a key pasted as credentials.env is refused by the apiserver (CEL), and the refusal does not repeat it', async () => {
    await namespace('pasted-key');
    const key = 'q7Xk2LmN9pRt4VwY8zAb3CdE6fGh1JkM'; // shaped like a Mistral key, made up
    const refusal = await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'pasted-key', plural: 'llmroutes', body: route('chat', { models: ['chat'], backends: [{ ...mistral, credentials: { env: key } }] }) })
      .then(() => undefined, (e: unknown) => e as { code?: number; body?: unknown });
    expect(refusal?.code).toBe(422);
    expect(String(refusal?.body)).toContain('looks like an API key');
    expect(String(refusal?.body)).not.toContain(key);
    await expect(custom.getNamespacedCustomObject({ ...GROUP, namespace: 'pasted-key', plural: 'llmroutes', name: 'chat' })).rejects.toMatchObject({ code: 404 });
    // The CEL rule and the compiler's looksLikeApiKey judge alike (dry-run creates: nothing is stored).
    const samples = ['hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh', 'k3j9x2m4p8q1w7e5r6t0y2u4i9o3p1a8s7d6', 'AIzaSyD4x9Kq2Lm7Np3Rt8Vw1Yz5Ab6Cd0Ef2Gh', 'AZURE_OPENAI_KEY_westeurope2', 'OPENAI_API_KEY_gpt4o_prod', 'hf_token', 'MISTRAL_API_KEY'];
    for (const name of samples) {
      const body = route(`n${samples.indexOf(name)}`, { models: ['chat'], backends: [{ ...mistral, credentials: { env: name } }] });
      const refused = await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'pasted-key', plural: 'llmroutes', body, dryRun: 'All' }).then(() => false, (e: { code?: number }) => e.code === 422);
      expect([name, refused]).toEqual([name, looksLikeApiKey(name)]);
    }
  }, 60_000);

  test('kubectl get shows READY and REASON of a route and a policy (the printer columns, as the apiserver serves them)', async () => {
    await namespace('columns');
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'columns', plural: 'llmpolicies', body: { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: { name: 'ok' }, spec: { allowedRegions: ['eu-west'] } } });
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'columns', plural: 'llmroutes', body: route('chat', { models: ['chat'], backends: [mistral] }) });
    for (const [plural, name] of [['llmpolicies', 'ok'], ['llmroutes', 'chat']] as const) {
      const row = await eventually(async () => {
        const { row: r } = await table('columns', plural, name);
        return r.Ready === 'True' && r.Observed === 1 ? r : undefined;
      }, `${plural}/${name} Ready in kubectl get`);
      expect(row).toMatchObject({ Ready: 'True', Reason: 'Ready' });
      expect(String(row.Message)).not.toBe('');
      const t = await table('columns', plural, name);
      expect(t.columns.filter((c) => c.priority === 0).map((c) => c.name)).toEqual(expect.arrayContaining(['Name', 'Ready', 'Reason', 'Age']));
      expect(t.columns.filter((c) => c.priority > 0).map((c) => c.name)).toEqual(['Message', 'Observed']);
    }
  }, 60_000);

  test('a route deleted and recreated under its name gets its own status; a status meant for the old one cannot land on it', async () => {
    await namespace('recreate');
    const create = () => custom.createNamespacedCustomObject({ ...GROUP, namespace: 'recreate', plural: 'llmroutes', body: route('chat', { models: ['chat'], backends: [mistral] }) });
    type RouteObject = { metadata: { uid: string }; status?: { observedGeneration?: number; backendsAdmitted?: string; conditions?: Array<{ type: string; status: string }> } };
    const read = async () => (await custom.getNamespacedCustomObject({ ...GROUP, namespace: 'recreate', plural: 'llmroutes', name: 'chat' })) as RouteObject;
    const withStatus = async (uid?: string) => eventually(async () => {
      const r = await read();
      return (uid === undefined || r.metadata.uid !== uid) && r.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? r : undefined;
    }, 'route status');
    await create();
    const old = await withStatus();
    // Deleted and created again at once: the same name and the same computed status, another object.
    await custom.deleteNamespacedCustomObject({ ...GROUP, namespace: 'recreate', plural: 'llmroutes', name: 'chat' });
    await create();
    const again = await withStatus(old.metadata.uid);
    expect(again.status?.backendsAdmitted).toBe('1/1');

    // A write computed for the old object (a retry, a stale queue) is refused for the new one.
    const write = statusPatcher(custom);
    const error = await write({ kind: 'LLMRoute', namespace: 'recreate', name: 'chat', uid: old.metadata.uid }, { backendsAdmitted: '0/9', conditions: [], backends: [] }).catch((e: unknown) => e);
    expect([409, 422]).toContain((error as { code?: number }).code);
    expect((await read()).status?.backendsAdmitted).toBe('1/1');
    // The same write with the right uid goes through.
    await write({ kind: 'LLMRoute', namespace: 'recreate', name: 'chat', uid: again.metadata.uid }, { ...again.status, backendsAdmitted: '1/1' });
  }, 60_000);

  test.each([
    ['an unknown provider', { models: ['m'], backends: [{ ...mistral, provider: 'skynet' }] }, 'spec.backends[0].provider'],
    ['two credential kinds at once', { models: ['m'], backends: [{ ...mistral, credentials: { env: 'A', none: true } }] }, 'set exactly one of secretRef, env or none'],
    ['a bad duration', { models: ['m'], backends: [{ ...mistral, timeouts: { total: 'forever' } }] }, 'spec.backends[0].timeouts.total'],
    ['no models', { models: [], backends: [mistral] }, 'spec.models'],
    ['two backends with one name', { models: ['m'], backends: [mistral, { ...mistral, model: 'other' }] }, 'Duplicate value'],
    ['a weighted route with every weight 0', { models: ['m'], strategy: 'weighted', backends: [{ ...mistral, weight: 0 }] }, 'weighted strategy needs at least one backend with weight'],
  ])('the apiserver rejects %s with a clear message', async (_name, spec, message) => {
    const error = await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'default', plural: 'llmroutes', body: route('bad', spec) }).catch((e: unknown) => e);
    expect((error as { code?: number }).code).toBe(422);
    expect(String((error as { body?: string }).body ?? error)).toContain(message);
  });

  test('a hand-deleted ConfigMap is recreated (drift repair)', async () => {
    await namespace('drift');
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'drift', plural: 'llmroutes', body: route('chat', { models: ['chat'], backends: [mistral] }) });
    const { cm } = await compiledConfig('drift', (t) => t.includes('chat'));
    await core.deleteNamespacedConfigMap({ name: 'llmroute-config', namespace: 'drift' });
    const { cm: again } = await compiledConfig('drift', (t) => t.includes('chat'));
    expect(again.metadata?.uid).not.toBe(cm.metadata?.uid);
  }, 60_000);

  test('a hand-edited ConfigMap (a policy taken out) is put back, with or without its label', async () => {
    await namespace('edited');
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'edited', plural: 'llmpolicies', body: { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: { name: 'residency' }, spec: { allowedRegions: ['eu-west'] } } });
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'edited', plural: 'llmroutes', body: route('chat', { models: ['chat'], backends: [mistral] }) });
    const { text } = await compiledConfig('edited', (t) => t.includes('allowedRegions'));
    const merge = k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch);
    const withoutPolicy = text.replace(/allowedRegions:[^\n]*\n(\s+- [^\n]*\n)*/, '');
    expect(withoutPolicy).not.toContain('allowedRegions');
    const edited = await core.patchNamespacedConfigMap({ name: 'llmroute-config', namespace: 'edited', body: { data: { 'config.yaml': withoutPolicy } } }, merge);
    expect(edited.data?.['config.yaml']).toBe(withoutPolicy); // the edit landed; the operator then puts its config back
    expect((await compiledConfig('edited', (t) => t.includes('allowedRegions'))).text).toBe(text);
    // Taking the label off hides it from the operator's ConfigMap informer: to the operator it was deleted.
    await core.patchNamespacedConfigMap({ name: 'llmroute-config', namespace: 'edited', body: { metadata: { labels: { 'app.kubernetes.io/managed-by': null } }, data: { 'config.yaml': 'tampered' } } }, merge);
    expect((await compiledConfig('edited', (t) => t.includes('allowedRegions'))).text).toBe(text);
  }, 60_000);

  test('the proxy routes by the config the operator wrote', async () => {
    const fake = await startOpenAIFake({ content: 'from the cluster config' });
    await namespace('app');
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'app', plural: 'llmroutes', body: route('chat', { models: ['chat'], backends: [{ name: 'local', provider: 'openai-compatible', model: 'llama', baseURL: fake.baseURL, credentials: { none: true } }] }) });
    const { text } = await compiledConfig('app', (t) => t.includes('llama'));
    const proxy = await startProxy({ configText: text, port: 0, adminPort: 0 });
    try {
      const client = new OpenAI({ baseURL: `${proxy.llmUrl}/v1`, apiKey: 'unused', maxRetries: 0 });
      const answer = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'hi' }] });
      expect(answer.choices[0]!.message.content).toBe('from the cluster config');
      expect(fake.requests[0]!.body.model).toBe('llama');
    } finally {
      await proxy.close();
      await fake.close();
    }
  }, 60_000);

  test('reconciles and status writes are counted in the operator metrics', async () => {
    const text = await metrics.registry.metrics();
    const successes = Number(/llmroute_operator_reconciles_total\{result="success"\} (\d+)/.exec(text)?.[1] ?? 0);
    const writes = Number(/llmroute_operator_status_writes_total (\d+)/.exec(text)?.[1] ?? 0);
    expect(successes).toBeGreaterThan(0);
    expect(writes).toBeGreaterThan(0);
    expect(text).toContain('llmroute_operator_reconcile_duration_seconds_bucket');
  });

  test('the queue-depth gauge returns to 0 once the queue has drained', async () => {
    await namespace('depth');
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'depth', plural: 'llmroutes', body: route('chat', { models: ['chat'], backends: [mistral] }) });
    await compiledConfig('depth', (t) => t.includes('chat'));
    await eventually(async () => (controller.queueDepth() === 0 ? true : undefined), 'an empty queue');
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/^llmroute_operator_queue_depth 0$/m);
  });

  test('the operator converges again after the apiserver restarts', async () => {
    await cluster.restartApiServer();
    await namespace('after-restart');
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: 'after-restart', plural: 'llmroutes', body: route('chat', { models: ['late'], backends: [mistral] }) });
    await compiledConfig('after-restart', (t) => t.includes('late'));
  }, 90_000);
});

describe('leader election', () => {
  test('two replicas elect one leader and the other takes over when it stops', async () => {
    const { startLeaderElection } = await import('#operator/leader-election.ts');
    await namespace('llmroute-system');
    const events: string[] = [];
    const elector = (id: string) =>
      startLeaderElection({
        kubeConfig: cluster.kubeConfig, namespace: 'llmroute-system', name: 'llmroute-operator', identity: id, leaseMs: 3000, renewMs: 500,
        onStartedLeading: () => events.push(`${id} leads`), onStoppedLeading: () => events.push(`${id} stops`),
      });
    const a = elector('replica-a');
    await eventually(async () => (a.isLeader() ? true : undefined), 'replica-a leading');
    const b = elector('replica-b');
    await new Promise((r) => setTimeout(r, 1500));
    expect(b.isLeader()).toBe(false);
    await a.stop();
    await eventually(async () => (b.isLeader() ? true : undefined), 'replica-b taking over');
    expect(a.isLeader()).toBe(false);
    await b.stop();
    expect(events).toEqual(['replica-a leads', 'replica-a stops', 'replica-b leads', 'replica-b stops']);
  }, 60_000);

  test('a leader whose Lease is taken over stops leading at its next renewal, and does not take it back while it is held', async () => {
    const { startLeaderElection } = await import('#operator/leader-election.ts');
    const k8s = await import('@kubernetes/client-node');
    await namespace('llmroute-system').catch(() => undefined); // may exist already (the test above)
    const name = 'llmroute-operator-stolen';
    const events: string[] = [];
    const a = startLeaderElection({
      kubeConfig: cluster.kubeConfig, namespace: 'llmroute-system', name, identity: 'replica-a', leaseMs: 3000, renewMs: 300,
      onStartedLeading: () => events.push('leads'), onStoppedLeading: () => events.push('stops'),
    });
    try {
      await eventually(async () => (a.isLeader() ? true : undefined), 'replica-a leading');
      // Another holder writes the Lease (a partitioned leader's lease taken after expiry looks the same).
      const api = cluster.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
      const lease = await api.readNamespacedLease({ name, namespace: 'llmroute-system' });
      const now = new Date().toISOString().replace('Z', '000Z') as unknown as Date;
      await api.replaceNamespacedLease({ name, namespace: 'llmroute-system', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'intruder', renewTime: now, leaseDurationSeconds: 60 } } });
      await eventually(async () => (a.isLeader() ? undefined : true), 'replica-a stepping down');
      await new Promise((r) => setTimeout(r, 1500)); // several renew periods
      expect(a.isLeader()).toBe(false);
      expect(events).toEqual(['leads', 'stops']);
    } finally {
      await a.stop();
    }
  }, 60_000);
});
