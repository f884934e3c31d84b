// Kubernetes Events (events.k8s.io/v1) about the objects the operator reconciles: an LLMRoute that
// stops compiling or has a backend denied by policy, and that recovers; an LLMPolicy that becomes
// invalid, and valid again. What `kubectl describe` and `kubectl events` show next to the status.
//
// Events report changes, not states: one is emitted when what an object's status says changes (the
// Ready condition, the policy denials, a policy's Accepted condition), never for a reconcile that finds
// the same state again. The state last reported is remembered per object uid; the first time an object
// is seen, the status it already carries stands for it (a new leader does not repeat its predecessor's
// events). Emitting never blocks nor fails a reconcile: events go to a bounded queue, sent in the
// background by a few workers; a full queue drops the newest, each object has a small token bucket
// (a route flapping between states cannot flood its namespace), and send errors are only reported.
import * as k8s from '@kubernetes/client-node';
import { randomBytes } from 'node:crypto';
import { GROUP_VERSION } from '../api/llmroute.ts';
import type { Condition, LLMPolicyStatus, LLMRouteStatus } from './status.ts';
import { StatusWriter } from './status-writer.ts';

/** events.k8s.io/v1 `reportingController`: who emitted the event. */
export const REPORTING_CONTROLLER = 'llmroute.dev/operator';

export interface ObjectRef {
  kind: 'LLMRoute' | 'LLMPolicy';
  namespace: string;
  name: string;
  uid?: string;
}

export interface OperatorEvent {
  regarding: ObjectRef;
  type: 'Normal' | 'Warning';
  /** CompileFailed, DeniedByPolicy, Ready, PolicyCompliant (routes); InvalidPolicy, Accepted (policies). */
  reason: string;
  /** What the operator was doing: Compile, Admit (routes), Validate (policies). */
  action: string;
  note: string;
}

export type SendEvent = (event: OperatorEvent) => Promise<void>;

export interface EventRecorderOptions {
  /** Events waiting to be sent at most; more are dropped. */
  maxQueued?: number;
  concurrency?: number;
  /** Per object: at most `burst` events at once, then one more per `refillMs`. */
  burst?: number;
  refillMs?: number;
  now?(): number;
  onError?(event: OperatorEvent, error: unknown): void;
  onDropped?(event: OperatorEvent, why: 'queue full' | 'rate limited'): void;
}

/** The parts of a status that events report; each field is compared as a whole. */
interface Reported {
  /** Routes: 'True', or the reason and message of a False Ready condition. Policies: the same for Accepted. */
  ok?: string;
  /** Routes: the PolicyCompliant message while it is False, '' otherwise. */
  denied?: string;
}

interface Tracked {
  reported: Reported;
  tokens: number;
  refilledAt: number;
}

/** events.k8s.io/v1 limits `note` to 1 kB. */
const NOTE_BYTES = 1024;

function truncate(text: string, bytes = NOTE_BYTES): string {
  if (Buffer.byteLength(text) <= bytes) return text;
  let cut = text.slice(0, bytes - 3);
  while (Buffer.byteLength(cut) > bytes - 3) cut = cut.slice(0, -1);
  return `${cut}...`;
}

const condition = (status: { conditions?: Condition[] } | undefined, type: Condition['type']) => status?.conditions?.find((c) => c.type === type);
const okState = (c: Condition | undefined) => (c === undefined ? undefined : c.status === 'True' ? 'True' : `False: ${c.reason}: ${c.message}`);

function routeState(status: Partial<LLMRouteStatus> | undefined): Reported | undefined {
  const ready = condition(status, 'Ready');
  if (!ready) return undefined;
  const compliant = condition(status, 'PolicyCompliant');
  return { ok: okState(ready), denied: compliant?.status === 'False' ? compliant.message : '' };
}

function policyState(status: Partial<LLMPolicyStatus> | undefined): Reported | undefined {
  const accepted = condition(status, 'Accepted');
  return accepted ? { ok: okState(accepted) } : undefined;
}

type Change = Omit<OperatorEvent, 'regarding'>;

/** The events a route's change of state calls for (`before` undefined: never reported, no status yet). */
function routeChanges(before: Reported | undefined, after: Reported, next: LLMRouteStatus): Change[] {
  const changes: Change[] = [];
  const ready = condition(next, 'Ready')!;
  if (after.ok !== before?.ok) {
    if (ready.status === 'False') changes.push({ type: 'Warning', reason: 'CompileFailed', action: 'Compile', note: `${ready.reason}: ${ready.message}` });
    else if (before?.ok !== undefined) changes.push({ type: 'Normal', reason: 'Ready', action: 'Compile', note: ready.message });
  }
  if (after.denied !== (before?.denied ?? '')) {
    if (after.denied) changes.push({ type: 'Warning', reason: 'DeniedByPolicy', action: 'Admit', note: `backends denied by the namespace LLMPolicy: ${after.denied}` });
    else changes.push({ type: 'Normal', reason: 'PolicyCompliant', action: 'Admit', note: condition(next, 'PolicyCompliant')?.message ?? 'every backend is admitted' });
  }
  return changes;
}

function policyChanges(before: Reported | undefined, after: Reported, next: LLMPolicyStatus): Change[] {
  if (after.ok === before?.ok) return [];
  const accepted = condition(next, 'Accepted')!;
  if (accepted.status === 'False') return [{ type: 'Warning', reason: accepted.reason, action: 'Validate', note: accepted.message }];
  return before?.ok !== undefined ? [{ type: 'Normal', reason: accepted.reason, action: 'Validate', note: accepted.message }] : [];
}

export class EventRecorder {
  private readonly send: SendEvent;
  private readonly options: Required<Omit<EventRecorderOptions, 'onError' | 'onDropped'>> & Pick<EventRecorderOptions, 'onError' | 'onDropped'>;
  /** By namespace, then object key (uid): what was last reported, and the object's token bucket. */
  private readonly tracked = new Map<string, Map<string, Tracked>>();
  private readonly queue: OperatorEvent[] = [];
  private sending = 0;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;

  constructor(send: SendEvent, options: EventRecorderOptions = {}) {
    this.send = send;
    this.options = {
      maxQueued: options.maxQueued ?? 100,
      concurrency: options.concurrency ?? 2,
      burst: options.burst ?? 10,
      refillMs: options.refillMs ?? 30_000,
      now: options.now ?? Date.now,
      onError: options.onError,
      onDropped: options.onDropped,
    };
  }

  /** A route's newly computed status; `current` is the status it carries (informer cache). */
  route(ref: Omit<ObjectRef, 'kind'>, current: Partial<LLMRouteStatus> | undefined, next: LLMRouteStatus): void {
    this.report({ ...ref, kind: 'LLMRoute' }, routeState(current), routeState(next), (before, after) => routeChanges(before, after, next));
  }

  /** A policy's newly computed status; `current` is the status it carries (informer cache). */
  policy(ref: Omit<ObjectRef, 'kind'>, current: Partial<LLMPolicyStatus> | undefined, next: LLMPolicyStatus): void {
    this.report({ ...ref, kind: 'LLMPolicy' }, policyState(current), policyState(next), (before, after) => policyChanges(before, after, next));
  }

  /** Records the events of the change from what was last reported for `target` to `after`. */
  private report(target: ObjectRef, current: Reported | undefined, after: Reported | undefined, changesOf: (before: Reported | undefined, after: Reported) => Change[]): void {
    if (!after) return;
    const entry = this.entry(target, current);
    const changes = changesOf(entry.reported.ok === undefined ? undefined : entry.reported, after);
    entry.reported = after;
    for (const change of changes) this.record(entry, { regarding: target, ...change });
  }

  /** Forgets the objects of a namespace that no longer exist (`keys`: StatusWriter.keyOf() of those that do). */
  retain(namespace: string, keys: ReadonlySet<string>): void {
    const objects = this.tracked.get(namespace);
    if (!objects) return;
    for (const key of objects.keys()) if (!keys.has(key)) objects.delete(key);
    if (objects.size === 0) this.tracked.delete(namespace);
  }

  /** Queues an event; false when it was dropped (queue full, stopped). Never throws, never waits. */
  emit(event: OperatorEvent): boolean {
    if (this.stopped) return false;
    if (this.queue.length >= this.options.maxQueued) {
      this.options.onDropped?.(event, 'queue full');
      return false;
    }
    this.queue.push(event);
    this.pump();
    return true;
  }

  /** Resolves when nothing is queued or being sent. */
  idle(): Promise<void> {
    if (this.queue.length === 0 && this.sending === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops what is queued; sends under way finish on their own. */
  stop(): void {
    this.stopped = true;
    this.queue.length = 0;
    this.notifyIdle();
  }

  private entry(target: ObjectRef, current: Reported | undefined): Tracked {
    let objects = this.tracked.get(target.namespace);
    if (!objects) this.tracked.set(target.namespace, (objects = new Map()));
    const key = StatusWriter.keyOf(target);
    let entry = objects.get(key);
    if (!entry) objects.set(key, (entry = { reported: current ?? {}, tokens: this.options.burst, refilledAt: this.options.now() }));
    return entry;
  }

  private record(entry: Tracked, event: OperatorEvent): void {
    const now = this.options.now();
    const refills = Math.floor((now - entry.refilledAt) / this.options.refillMs);
    if (refills > 0) {
      entry.tokens = Math.min(this.options.burst, entry.tokens + refills);
      entry.refilledAt = entry.tokens === this.options.burst ? now : entry.refilledAt + refills * this.options.refillMs;
    }
    if (entry.tokens < 1) {
      this.options.onDropped?.(event, 'rate limited');
      return;
    }
    entry.tokens--;
    this.emit({ ...event, note: truncate(event.note) });
  }

  private pump(): void {
    while (!this.stopped && this.sending < this.options.concurrency && this.queue.length > 0) {
      const event = this.queue.shift()!;
      this.sending++;
      let sent: Promise<void>;
      try {
        sent = this.send(event);
      } catch (error) {
        sent = Promise.reject(error);
      }
      void sent
        .catch((error: unknown) => this.options.onError?.(event, error))
        .finally(() => {
          this.sending--;
          this.pump();
          this.notifyIdle();
        });
    }
  }

  private notifyIdle(): void {
    if (this.queue.length > 0 || this.sending > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** Creates the event with the events.k8s.io/v1 API (what `kubectl events` and `kubectl describe` show). */
export function eventSender(api: k8s.EventsV1Api, reportingInstance: string): SendEvent {
  return async (event) => {
    const { regarding } = event;
    await api.createNamespacedEvent({
      namespace: regarding.namespace,
      body: {
        apiVersion: 'events.k8s.io/v1',
        kind: 'Event',
        // `<object>.<time><random>`, as client-go names them (a generateName may not end with a dot).
        metadata: { name: `${regarding.name.slice(0, 220)}.${Date.now().toString(16)}${randomBytes(4).toString('hex')}`, namespace: regarding.namespace },
        eventTime: new k8s.V1MicroTime(),
        reportingController: REPORTING_CONTROLLER,
        reportingInstance: reportingInstance.slice(0, 128),
        action: event.action,
        reason: event.reason,
        type: event.type,
        note: event.note,
        regarding: { apiVersion: GROUP_VERSION, kind: regarding.kind, namespace: regarding.namespace, name: regarding.name, ...(regarding.uid ? { uid: regarding.uid } : {}) },
      },
    });
  };
}
