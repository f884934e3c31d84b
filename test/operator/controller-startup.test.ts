// The controller against a minimal fake API server whose lists can answer late: no namespace may be
// reconciled from a partial view of the caches (its routes without its policy, its ConfigMap
// without its routes), which would apply a policy-denied backend or drop every route.
import { afterEach, describe, expect, test } from '@jest/globals';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import { kubeConfigFor } from './fake-api-server.ts';
import { startController, type Controller } from '#operator/controller.ts';

const GV = 'llmroute.dev/v1alpha1';
const meta = (name: string, uid: string) => ({ name, namespace: 'shop', uid, generation: 1, resourceVersion: '1', creationTimestamp: '2026-01-01T00:00:00Z' });
const route = {
  apiVersion: GV, kind: 'LLMRoute', metadata: meta('chat', 'uid-route'),
  spec: {
    models: ['chat'],
    backends: [
      { name: 'eu', provider: 'openai', model: 'gpt-4o', region: 'eu-west', credentials: { none: true } },
      { name: 'us', provider: 'openai', model: 'gpt-4o', region: 'us-east', credentials: { none: true } },
    ],
  },
};
const policy = { apiVersion: GV, kind: 'LLMPolicy', metadata: meta('residency', 'uid-policy'), spec: { allowedRegions: ['eu-west'] } };
const configMap = {
  apiVersion: 'v1', kind: 'ConfigMap',
  metadata: { ...meta('llmroute-config', 'uid-cm'), labels: { 'app.kubernetes.io/managed-by': 'llmroute-operator' } },
  data: { 'config.yaml': 'apiVersion: config.llmroute.dev/v1alpha1\nkind: ProxyConfig\nroutes: []\n' },
};

interface Fake {
  kubeConfig: KubeConfig;
  /** Bodies of the ConfigMap applies (server-side apply PATCHes), in order. */
  applied: string[];
  server: Server;
}

/** Lists answer after `delays[resource]` ms; watches stay open with no events; writes are accepted. */
async function fakeApiServer(delays: Partial<Record<'llmroutes' | 'llmpolicies' | 'configmaps', number>>, failing?: 'llmroutes'): Promise<Fake & { lists: number[] }> {
  const applied: string[] = [];
  /** When each list of the failing resource was asked for (ms since the start). */
  const failedLists: number[] = [];
  const started = Date.now();
  const lists = { llmroutes: [route], llmpolicies: [policy], configmaps: [configMap] };
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://fake');
      const json = (status: number, value: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(value));
      };
      const resource = (['llmroutes', 'llmpolicies', 'configmaps'] as const).find((r) => url.pathname.endsWith(`/${r}`));
      if (req.method === 'GET' && resource && url.searchParams.get('watch') === 'true') {
        res.writeHead(200, { 'content-type': 'application/json' }); // a watch with no events, kept open
        res.flushHeaders();
        return;
      }
      if (req.method === 'GET' && failing !== undefined && resource === failing) {
        failedLists.push(Date.now() - started);
        return json(404, { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404, message: 'the server could not find the requested resource' });
      }
      if (req.method === 'GET' && resource) {
        setTimeout(() => json(200, { kind: 'List', apiVersion: 'v1', metadata: { resourceVersion: '10' }, items: lists[resource] }), delays[resource] ?? 0);
        return;
      }
      if (req.method === 'GET' && url.pathname === '/api/v1') {
        return json(200, { kind: 'APIResourceList', groupVersion: 'v1', resources: [{ name: 'configmaps', singularName: 'configmap', namespaced: true, kind: 'ConfigMap', verbs: ['get', 'list', 'patch'] }] });
      }
      if (req.method === 'PATCH' && url.pathname.endsWith('/configmaps/llmroute-config')) {
        applied.push(body);
        return json(200, JSON.parse(body));
      }
      json(200, {}); // status patches, events
    });
  });
  const kubeConfig = await kubeConfigFor(server);
  return { kubeConfig, applied, server, lists: failedLists };
}

let controller: Controller | undefined;
let fake: (Fake & { lists: number[] }) | undefined;
afterEach(async () => {
  await controller?.stop();
  fake?.server.closeAllConnections();
  fake?.server.close();
  controller = fake = undefined;
});

const waitFor = async (condition: () => boolean, timeoutMs = 5000) => {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
};

describe('controller start: nothing is reconciled before every cache has listed', () => {
  test('policies listed late: the first apply already leaves the policy-denied backend out', async () => {
    fake = await fakeApiServer({ llmpolicies: 600 });
    controller = startController({ kubeConfig: fake.kubeConfig });
    await waitFor(() => fake!.applied.length > 0);
    for (const text of fake.applied) expect(text).not.toContain('us-east');
    expect(fake.applied[0]).toContain('eu-west');
  });

  test('routes listed late: the ConfigMap is never applied without them', async () => {
    fake = await fakeApiServer({ llmroutes: 600 });
    controller = startController({ kubeConfig: fake.kubeConfig });
    await waitFor(() => fake!.applied.length > 0);
    expect(fake.applied[0]).toContain('chat');
  });
});

describe('controller start: a list that fails', () => {
  test('is retried with a growing backoff, and the controller is not ready (nothing reconciled) meanwhile', async () => {
    fake = await fakeApiServer({}, 'llmroutes'); // the CRD is not installed yet
    controller = startController({ kubeConfig: fake.kubeConfig });
    let ready = false;
    void controller.ready.then(() => (ready = true));
    await new Promise((r) => setTimeout(r, 6500));
    // Backoff 1 s, 2 s, 4 s...: lists at about 0, 1, 3 and 7 s. One that falls back to 1 s lists every second or two.
    expect(fake.lists.length).toBeGreaterThanOrEqual(2);
    expect(fake.lists.length).toBeLessThanOrEqual(3);
    expect(ready).toBe(false);
    expect(fake.applied).toHaveLength(0);
  }, 15_000);
});
