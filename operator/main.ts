// `llmroute operator [--kubeconfig FILE] [--admin-port 8081] [--secrets-dir DIR]
//   [--webhook-cert-dir DIR --sidecar-image IMAGE [--webhook-port 9443]]`: runs the reconciler in a
// cluster (in-cluster config) or from a workstation (kubeconfig), and with a certificate directory
// the sidecar injection webhook, on every replica.
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
import { startWebhookServer, type WebhookServer } from './inject/webhook-server.ts';

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
    },
    strict: true,
  });
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
  if (values['webhook-cert-dir']) {
    if (!values['sidecar-image']) throw new Error('--sidecar-image is required with --webhook-cert-dir');
    const custom = kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    webhook = await startWebhookServer({
      certFile: join(values['webhook-cert-dir'], 'tls.crt'),
      keyFile: join(values['webhook-cert-dir'], 'tls.key'),
      port: Number(values['webhook-port']),
      listRoutes: async (namespace) => ((await custom.listNamespacedCustomObject({ group: 'llmroute.dev', version: 'v1alpha1', namespace, plural: 'llmroutes' })) as { items: unknown[] }).items,
      sidecar: { image: values['sidecar-image'], version: VERSION, secretsDir: values['secrets-dir'] ?? DEFAULT_SECRETS_DIR },
      logger,
    });
    logger.info({ port: webhook.port }, 'sidecar injection webhook serving');
  }
  return new Promise((resolve) => {
    const stop = () => {
      logger.info({}, 'shutting down');
      void Promise.all([leadership.stop(), elector.stop()])
        .then(() => webhook?.close())
        .then(() => connections.close())
        .then(() => admin.close(() => resolve(0)));
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
}
