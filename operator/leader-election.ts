// Leader election on a coordination.k8s.io Lease, so several operator replicas can run and only one
// reconciles. Optimistic concurrency (resourceVersion) decides races; the leader renews every
// `renewMs`; a lease not renewed for `leaseMs` may be taken; a stopping leader releases it at once.
import * as k8s from '@kubernetes/client-node';

export interface LeaderElectionOptions {
  kubeConfig: k8s.KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseMs?: number;
  renewMs?: number;
  onStartedLeading(): void;
  onStoppedLeading(): void;
}

export interface LeaderElector {
  isLeader(): boolean;
  stop(): Promise<void>;
}

const micro = (d: Date) => d.toISOString().replace('Z', '000Z');

export function startLeaderElection(options: LeaderElectionOptions): LeaderElector {
  const api = options.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
  const leaseMs = options.leaseMs ?? 15_000;
  const renewMs = options.renewMs ?? 5_000;
  const { namespace, name, identity } = options;
  let leader = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;

  const setLeader = (value: boolean) => {
    if (value === leader) return;
    leader = value;
    if (value) options.onStartedLeading();
    else options.onStoppedLeading();
  };

  const tryAcquireOrRenew = async (): Promise<void> => {
    const now = new Date();
    let lease: k8s.V1Lease | undefined;
    try {
      lease = await api.readNamespacedLease({ name, namespace });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
    }
    const spec: k8s.V1LeaseSpec = { holderIdentity: identity, leaseDurationSeconds: Math.ceil(leaseMs / 1000), renewTime: micro(now) as unknown as Date };
    if (!lease) {
      await api.createNamespacedLease({ namespace, body: { metadata: { name, namespace }, spec: { ...spec, acquireTime: micro(now) as unknown as Date, leaseTransitions: 0 } } });
      setLeader(true);
      return;
    }
    const holder = lease.spec?.holderIdentity;
    const renewed = lease.spec?.renewTime ? new Date(lease.spec.renewTime).getTime() : 0;
    const expired = !holder || renewed + (lease.spec?.leaseDurationSeconds ?? 15) * 1000 < now.getTime();
    if (holder !== identity && !expired) {
      setLeader(false);
      return;
    }
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
    const acquireTime = holder === identity ? lease.spec?.acquireTime : (micro(now) as unknown as Date);
    await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: { ...lease.spec, ...spec, acquireTime, leaseTransitions: transitions } } });
    setLeader(true);
  };

  const loop = async () => {
    if (stopped) return;
    try {
      await tryAcquireOrRenew();
    } catch {
      // A conflict (someone else won the race) or an unreachable apiserver: not leading until proven.
      setLeader(false);
    }
    if (!stopped) timer = setTimeout(loop, leader ? renewMs : Math.max(500, renewMs / 2));
  };
  void loop();

  return {
    isLeader: () => leader,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      if (!leader) return;
      try {
        const lease = await api.readNamespacedLease({ name, namespace });
        if (lease.spec?.holderIdentity === identity) {
          await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: { ...lease.spec, holderIdentity: undefined, leaseDurationSeconds: 1 } } });
        }
      } catch {
        /* best effort: the lease expires anyway */
      }
      setLeader(false);
    },
  };
}
