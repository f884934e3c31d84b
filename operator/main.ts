// `llmroute operator [--kubeconfig FILE] [--admin-port 8081] [--secrets-dir DIR]
//   [--webhook-cert-dir DIR --sidecar-image IMAGE [--webhook-port 9443] [--sidecar-cpu Q] [--sidecar-memory Q]
//   [--sidecar-cpu-limit Q] [--sidecar-memory-limit Q] [--webhook-drain 5s]]`: runs the reconciler in a
// cluster (in-cluster config) or from a workstation (kubeconfig), and with a certificate directory
// the admission webhooks (sidecar injection, route and policy validation), on every replica.
import { createServer } from 'node:http';
import { once } from 'node:events';
import { parseArgs } from 'node:util';
import * as k8s from '@kubernetes/client-node';
import { hostname } from 'node:os';
import { shareConnections, startController, type Controller } from './controller.ts';
import { startLeaderElection } from './leader-election.ts';
import { Leadership } from './leadership.ts';
import { createOperatorMetrics } from './metrics.ts';
import { createLogger } from '../proxy/logger.ts';
import { VERSION } from '../proxy/version.ts';
import { join } from 'node:path';
import { DEFAULT_SECRETS_DIR } from './compile/compile.ts';
import { parseDuration } from './api/duration.ts';
import { startWebhookServer, type WebhookServer } from './admission/webhook-server.ts';
import { DEFAULT_SIDECAR_RESOURCES, resolveSidecarResources, type SidecarResources } from './inject/sidecar-resources.ts';

/** How long a stopping replica waits for the reviews under way: the chart's default webhook timeout, 10 s (5 s drain + 10 s within the 30 s grace period). */
const WEBHOOK_ANSWER_GRACE_MS = 10_000;

const RESOURCE_FLAGS = { cpuRequest: 'sidecar-cpu', memoryRequest: 'sidecar-memory', cpuLimit: 'sidecar-cpu-limit', memoryLimit: 'sidecar-memory-limit' } as const;

/** The sidecar's default resources from the flags: an absent flag keeps the built-in default, an empty one sets none. Checked at start, as annotations are at admission. */
function sidecarResourcesFrom(values: Partial<Record<string, string | boolean | undefined>>): SidecarResources {
  const resources: SidecarResources = { ...DEFAULT_SIDECAR_RESOURCES };
  for (const [key, flag] of Object.entries(RESOURCE_FLAGS) as Array<[keyof SidecarResources, string]>) {
    const value = values[flag];
    if (typeof value === 'string') resources[key] = value.trim() === '' ? undefined : value.trim();
  }
  const checked = resolveSidecarResources(resources, {}, (key) => `--${RESOURCE_FLAGS[key]}`);
  if ('error' in checked) throw new Error(checked.error);
  return resources;
}

export async function runOperatorCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      kubeconfig: { type: 'string' },
      'admin-port': { type: 'string', default: '8081' },
      'secrets-dir': { type: 'string' },
      'lease-namespace': { type: 'string', default: process.env.POD_NAMESPACE ?? 'llmroute-system' },
      'webhook-cert-dir': { type: 'string' },
      'webhook-port': { type: 'string', default: '9443' },
      'sidecar-image': { type: 'string' },
      // On SIGTERM the webhook keeps admitting pods this long, while the apiserver learns that the
      // replica's endpoint is gone (else pod creations sent to it meanwhile fail), then answers what it has.
      'webhook-drain': { type: 'string', default: '5s' },
      // The injected sidecar's resources (an empty value: none); pods override them with annotations.
      'sidecar-cpu': { type: 'string' },
      'sidecar-memory': { type: 'string' },
      'sidecar-cpu-limit': { type: 'string' },
      'sidecar-memory-limit': { type: 'string' },
    },
    strict: true,
  });
  // Flags are checked before anything connects, so that a mistake stops the operator at once.
  if (values['webhook-cert-dir'] && !values['sidecar-image']) throw new Error('--sidecar-image is required with --webhook-cert-dir');
  const resources = sidecarResourcesFrom(values);
  const webhookDrainMs = parseDuration(values['webhook-drain']);
  if (webhookDrainMs === undefined) throw new Error(`--webhook-drain: ${JSON.stringify(values['webhook-drain'])} is not a duration (e.g. 5s)`);
  const logger = createLogger(process.env.LLMROUTE_LOG_LEVEL ?? 'info');
  const loaded = new k8s.KubeConfig();
  if (values.kubeconfig) loaded.loadFromFile(values.kubeconfig);
  else loaded.loadFromDefault();
  // One connection pool for the Lease renewals too (otherwise a TLS handshake every renewal).
  const connections = shareConnections(loaded);
  const kubeConfig = connections.kubeConfig;
  const metrics = createOperatorMetrics();
  // The Lease holder and the events' reportingInstance.
  const identity = `${hostname()}-${process.pid}`;
  // Only the leader reconciles; a follower is ready (it can take over) but idle.
  const leadership: Leadership<Controller> = new Leadership({
    start: () => startController({ kubeConfig, logger, metrics, identity, ...(values['secrets-dir'] ? { secretsDir: values['secrets-dir'] } : {}) }),
    isLeader: () => elector.isLeader(),
    onReady: () => logger.info({}, 'informers synced; reconciling'),
  });
  const elector = startLeaderElection({
    kubeConfig,
    namespace: values['lease-namespace'],
    name: 'llmroute-operator',
    identity,
    onStartedLeading: () => {
      logger.info({}, 'became leader; starting informers');
      metrics.isLeader.set(1);
      leadership.started();
    },
    onStoppedLeading: () => {
      logger.info({}, 'lost leadership; stopping informers');
      metrics.isLeader.set(0);
      leadership.stopped();
    },
  });
  const admin = createServer((req, res) => {
    if (req.url === '/healthz') res.writeHead(200).end('ok');
    else if (req.url === '/readyz') res.writeHead(leadership.ready ? 200 : 503).end(leadership.ready ? 'ready' : 'syncing');
    else if (req.url === '/metrics') void metrics.registry.metrics().then((text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text));
    else res.writeHead(404).end();
  });
  admin.listen(Number(values['admin-port']), '0.0.0.0');
  await once(admin, 'listening');
  let webhook: WebhookServer | undefined;
  const certDir = values['webhook-cert-dir'];
  const sidecarImage = values['sidecar-image'];
  if (certDir && sidecarImage) {
    const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    webhook = await startWebhookServer({
      certFile: join(certDir, 'tls.crt'),
      keyFile: join(certDir, 'tls.key'),
      port: Number(values['webhook-port']),
      listRoutes: async (namespace) => ((await custom.listNamespacedCustomObject({ group: 'llmroute.dev', version: 'v1alpha1', namespace, plural: 'llmroutes' })) as { items: unknown[] }).items,
      listPolicies: async (namespace) => ((await custom.listNamespacedCustomObject({ group: 'llmroute.dev', version: 'v1alpha1', namespace, plural: 'llmpolicies' })) as { items: unknown[] }).items,
      sidecar: { image: sidecarImage, version: VERSION, secretsDir: values['secrets-dir'] ?? DEFAULT_SECRETS_DIR, resources },
      logger,
    });
    logger.info({ port: webhook.port }, 'admission webhooks serving (sidecar injection, LLMRoute and LLMPolicy validation)');
  }
  return new Promise((resolve) => {
    const stop = () => {
      logger.info({}, 'shutting down');
      // The webhook keeps admitting while the apiserver learns that this replica's endpoint is gone,
      // steering its connections away meanwhile, beside the leadership hand-over.
      webhook?.drain();
      void Promise.all([leadership.stop(), elector.stop(), webhook && new Promise((r) => setTimeout(r, webhookDrainMs))])
        .then(() => webhook?.close(WEBHOOK_ANSWER_GRACE_MS))
        .then(() => connections.close())
        .then(() => admin.close(() => resolve(0)));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
