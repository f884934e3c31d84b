// A real kube-apiserver and etcd on 127.0.0.1 for tests: free ports, generated service-account
// keys, a static admin token, a kubeconfig; CRDs from crds/ installed. Binaries come from
// scripts/build-k8s.sh (cached under ~/.cache/llmroute).
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { freePort } from '../free-port.ts';

const root = new URL('../..', import.meta.url).pathname;

export interface Cluster {
  kubeconfigPath: string;
  kubeConfig: k8s.KubeConfig;
  server: string;
  stop(): Promise<void>;
  /** Stops and starts the apiserver only (etcd keeps the data), to break watches. */
  restartApiServer(): Promise<void>;
}

export { freePort };

/** Polls `fn` until it returns a value (errors count as not yet), or fails after `timeoutMs`. */
export async function eventually<T>(fn: () => Promise<T | undefined>, what: string | (() => string), timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${typeof what === 'string' ? what : what()} did not happen in time${last ? `: ${String(last)}` : ''}`);
}

function binDir(): string {
  try {
    return execFileSync(join(root, 'scripts/build-k8s.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
  } catch (err) {
    throw new Error(`the Kubernetes harness binaries are missing and could not be built (scripts/build-k8s.sh): ${(err as Error).message}`);
  }
}

async function waitHealthy(check: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      /* not yet */
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${what} did not become ready in ${timeoutMs} ms`);
}

export async function startCluster(): Promise<Cluster> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'llmroute-k8s-'));
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const token = randomBytes(16).toString('hex');
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  writeFileSync(join(dir, 'sa.key'), privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'sa.pub'), publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'tokens.csv'), `${token},admin,admin,system:masters\n`);

  const etcd = spawn(join(bin, 'etcd'), [
    '--name=harness', `--data-dir=${join(dir, 'etcd')}`,
    `--listen-client-urls=http://127.0.0.1:${etcdPort}`, `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=harness=http://127.0.0.1:${peerPort}`, '--log-level=error',
  ], { stdio: 'ignore' });
  await waitHealthy(async () => (await fetch(`http://127.0.0.1:${etcdPort}/health`)).ok, 'etcd');

  let apiserver: ChildProcess | undefined;
  const startApiServer = async () => {
    apiserver = spawn(join(bin, 'kube-apiserver'), [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`, '--bind-address=127.0.0.1', `--secure-port=${apiPort}`,
      `--cert-dir=${join(dir, 'certs')}`, `--token-auth-file=${join(dir, 'tokens.csv')}`, '--authorization-mode=RBAC',
      `--service-account-key-file=${join(dir, 'sa.pub')}`, `--service-account-signing-key-file=${join(dir, 'sa.key')}`,
      '--service-account-issuer=https://kubernetes.default.svc', '--service-cluster-ip-range=10.96.0.0/16',
      '--disable-admission-plugins=ServiceAccount', '--enable-priority-and-fairness=false', '--v=0',
    ], { stdio: ['ignore', 'ignore', process.env.HARNESS_DEBUG ? 'inherit' : 'ignore'] });
    await waitHealthy(async () => {
      const res = await undiciFetch(`https://127.0.0.1:${apiPort}/readyz`, { headers: { authorization: `Bearer ${token}` }, dispatcher: insecure });
      return res.ok;
    }, 'kube-apiserver');
  };
  // undici's own fetch: the global fetch rejects dispatchers from the npm undici package.
  const { Agent, fetch: undiciFetch } = await import('undici');
  const insecure = new Agent({ connect: { rejectUnauthorized: false } });
  await startApiServer();

  const server = `https://127.0.0.1:${apiPort}`;
  const kubeconfigPath = join(dir, 'kubeconfig');
  writeFileSync(kubeconfigPath, yaml.dump({
    apiVersion: 'v1', kind: 'Config', 'current-context': 'harness',
    clusters: [{ name: 'harness', cluster: { server, 'insecure-skip-tls-verify': true } }],
    users: [{ name: 'admin', user: { token } }],
    contexts: [{ name: 'harness', context: { cluster: 'harness', user: 'admin' } }],
  }));
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  await installCrds(kubeConfig);

  const stopApiServer = async () => {
    if (apiserver && apiserver.exitCode === null) {
      apiserver.kill('SIGTERM');
      await once(apiserver, 'exit');
    }
  };
  return {
    kubeconfigPath,
    kubeConfig,
    server,
    async restartApiServer() {
      await stopApiServer();
      await startApiServer();
    },
    async stop() {
      await stopApiServer();
      etcd.kill('SIGTERM');
      if (etcd.exitCode === null) await once(etcd, 'exit');
      await insecure.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function installCrds(kc: k8s.KubeConfig): Promise<void> {
  const api = k8s.KubernetesObjectApi.makeApiClient(kc);
  const ext = kc.makeApiClient(k8s.ApiextensionsV1Api);
  const crdDir = join(root, 'crds');
  for (const file of readdirSync(crdDir).filter((f) => f.endsWith('.yaml'))) {
    // loadYaml builds the typed object: the client's serializer knows x-kubernetes-* only under its
    // own field names (x_kubernetes_*) and silently drops the YAML spelling of a plain object.
    const crd = k8s.loadYaml<k8s.V1CustomResourceDefinition>(readFileSync(join(crdDir, file), 'utf8'));
    await api.create(crd);
    await waitHealthy(async () => {
      const got = await ext.readCustomResourceDefinition({ name: crd.metadata!.name! });
      return (got.status?.conditions ?? []).some((c) => c.type === 'Established' && c.status === 'True');
    }, `CRD ${crd.metadata!.name}`);
  }
}
