// Leader election on a coordination.k8s.io Lease, so several operator replicas can run and only one
// reconciles. Optimistic concurrency (resourceVersion) decides races; the leader renews every
// `renewMs`; a lease not renewed for `leaseMs` may be taken; a stopping leader releases it at once.
// As in client-go: a leader whose renewal has not succeeded within the renew deadline (2/3 of the
// lease) stops leading, even while its request hangs, so it never leads past the lease another replica
// may take; and a lease's age is measured on this replica's clock, from when this replica saw it
// change, never by comparing the holder's renewTime with the local clock (clocks drift apart).
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
  const leaseMs = options.leaseMs ?? 15_000;
  const renewMs = options.renewMs ?? 5_000;
  const renewDeadlineMs = Math.floor((leaseMs * 2) / 3);
  // Each renewal must start before the previous one's deadline, or a leader would lose the lease at every cycle.
  if (renewMs >= renewDeadlineMs) throw new RangeError(`renewMs (${renewMs}) must be shorter than 2/3 of leaseMs (${renewDeadlineMs})`);
  const api = options.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
  const { namespace, name, identity } = options;
  let leader = false;
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  /** The lease record last seen (holder and renew time) and when, on the local monotonic clock. */
  let observed: { record: string; at: number } | undefined;
  /** Only the latest attempt may change leadership: a hung one that ends late is ignored. */
  let attempt = 0;
  /** When the attempt that last renewed the lease started (local monotonic clock). */
  let renewedAt: number | undefined;

  const setLeader = (value: boolean) => {
    if (value === leader) return;
    leader = value;
    if (value) options.onStartedLeading();
    else options.onStoppedLeading();
  };

  const tryAcquireOrRenew = async (id: number): Promise<void> => {
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
      if (id === attempt) setLeader(true);
      return;
    }
    const holder = lease.spec?.holderIdentity;
    const record = `${holder ?? ''}|${String(lease.spec?.renewTime ?? '')}`;
    const seenAt = performance.now();
    if (observed?.record !== record) observed = { record, at: seenAt };
    const expired = !holder || observed.at + (lease.spec?.leaseDurationSeconds ?? 15) * 1000 < seenAt;
    if (holder !== identity && !expired) {
      if (id === attempt) setLeader(false);
      return;
    }
    const transitions = (lease.spec?.leaseTransitions ?? 0) + (holder === identity ? 0 : 1);
    const acquireTime = holder === identity ? lease.spec?.acquireTime : (micro(now) as unknown as Date);
    await api.replaceNamespacedLease({ name, namespace, body: { ...lease, spec: { ...lease.spec, ...spec, acquireTime, leaseTransitions: transitions } } });
    if (id === attempt) setLeader(true);
  };

  const loop = async () => {
    if (stopped) return;
    const id = ++attempt;
    const started = performance.now();
    // A leader's deadline counts from its last renewal, not from this attempt (which starts renewMs
    // later): it stops leading a full leaseMs - renewDeadlineMs before a standby may take the lease.
    const budgetMs = leader && renewedAt !== undefined ? Math.max(0, renewedAt + renewDeadlineMs - started) : renewDeadlineMs;
    let deadline: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        tryAcquireOrRenew(id),
        new Promise((_, reject) => (deadline = setTimeout(() => reject(new Error('renew deadline passed')), budgetMs))),
      ]);
      if (leader) renewedAt = started;
    } catch {
      // A conflict (someone else won the race), an unreachable apiserver or a renewal that hangs past
      // the renew deadline: not leading until proven.
      attempt++; // the attempt still running, if any, may no longer make this replica the leader
      setLeader(false);
    } finally {
      clearTimeout(deadline);
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
