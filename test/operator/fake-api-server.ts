// For unit tests of the operator's Kubernetes I/O without an apiserver: a node:http server on
// 127.0.0.1 and a KubeConfig that points client-node at it (plain HTTP, a dummy token).
import { once } from 'node:events';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as k8s from '@kubernetes/client-node';

export async function kubeConfigFor(server: Server): Promise<k8s.KubeConfig> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const kubeConfig = new k8s.KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'fake', server: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, skipTLSVerify: true }],
    users: [{ name: 'u', token: 't' }],
    contexts: [{ name: 'c', cluster: 'fake', user: 'u' }],
    currentContext: 'c',
  });
  return kubeConfig;
}
