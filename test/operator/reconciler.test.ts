// One namespace's reconcile, on in-memory sources: the ConfigMap applied, route and policy statuses
// handed to the status writer (by uid), events for what changed; a namespace with only a policy gets
// the policy's status and no ConfigMap.
import { afterEach, beforeEach, describe, expect, jest, test } from '@jest/globals';
import { reconcileNamespace, type ReconcileSources } from '#operator/reconcile/reconciler.ts';
import { StatusWriter, type StatusTarget } from '#operator/reconcile/status-writer.ts';
import { EventRecorder, type OperatorEvent } from '#operator/reconcile/events.ts';
import type { LLMPolicyStatus } from '#operator/reconcile/status.ts';

const mistral = { name: 'mistral', provider: 'mistral', model: 'mistral-large-latest', region: 'eu-west', dataRetention: 'zero', credentials: { env: 'MISTRAL_API_KEY' } };
const openai = { name: 'openai', provider: 'openai', model: 'gpt-4o', region: 'us-east', credentials: { env: 'OPENAI_API_KEY' } };
const route = (name: string, backends: object[], uid = `uid-${name}`) => ({
  apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: { name, namespace: 'ns', uid, generation: 1, creationTimestamp: '2026-01-01T00:00:00Z' }, spec: { models: [name], backends },
});
const policy = (name: string, spec: object, generation = 1) => ({ apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: { name, namespace: 'ns', uid: `uid-${name}`, generation }, spec });

function harness(routes: object[], policies: object[], patchError?: () => unknown) {
  const applied: object[] = [];
  const written: Array<{ target: StatusTarget; status: Record<string, unknown> }> = [];
  const sent: OperatorEvent[] = [];
  const statuses = new StatusWriter(async (target, status) => void written.push({ target, status: status as Record<string, unknown> }));
  const events = new EventRecorder(async (e) => void sent.push(e));
  const sources: ReconcileSources = {
    routes: () => routes as never,
    policies: () => policies as never,
    configMapExists: () => false,
  };
  const objects = {
    patch: async (obj: object) => {
      const error = patchError?.();
      if (error) throw error;
      applied.push(obj);
    },
  } as never;
  const reconcile = async () => {
    const outcome = await reconcileNamespace('ns', sources, { objects, statuses, events });
    await statuses.idle();
    await events.idle();
    return outcome;
  };
  return { reconcile, applied, written, sent };
}

const accepted = (s: Record<string, unknown>) => (s as unknown as LLMPolicyStatus).conditions.find((c) => c.type === 'Accepted');
const ready = (s: Record<string, unknown>) => (s as unknown as LLMPolicyStatus).conditions.find((c) => c.type === 'Ready');

// Statuses carry the reconcile's time to the second (lastTransitionTime): two reconciles that must
// compare equal would differ when a second boundary fell between them. Only Date is frozen.
beforeEach(() => {
  jest.useFakeTimers({ now: new Date('2026-12-04T10:00:00.100Z'), doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'requestAnimationFrame', 'cancelAnimationFrame', 'requestIdleCallback', 'cancelIdleCallback', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
});
afterEach(() => {
  jest.useRealTimers();
});

describe('reconcileNamespace', () => {
  test('a policy gets observedGeneration and Ready and Accepted conditions, written once', async () => {
    const h = harness([route('chat', [mistral])], [policy('residency', { allowedRegions: ['eu-west'] }, 3)]);
    expect(await h.reconcile()).toMatchObject({ applied: true, statusUpdates: 2 });
    const written = h.written.find((w) => w.target.kind === 'LLMPolicy')!;
    expect(written.target).toEqual({ kind: 'LLMPolicy', namespace: 'ns', name: 'residency', uid: 'uid-residency' });
    expect(written.status.observedGeneration).toBe(3);
    expect(ready(written.status)).toMatchObject({ status: 'True', reason: 'Ready', observedGeneration: 3 });
    expect(accepted(written.status)).toMatchObject({ status: 'True', reason: 'Accepted', observedGeneration: 3 });
    // Reconciled again with the same objects (the informer cache not caught up): nothing rewritten.
    expect(await h.reconcile()).toMatchObject({ statusUpdates: 0 });
    expect(h.written).toHaveLength(2);
    expect(h.sent).toEqual([]);
  });

  test('an invalid policy: Accepted False (InvalidPolicy) on it and on nothing else, events on it and on the routes it now blocks', async () => {
    const h = harness([route('chat', [mistral])], [policy('residency', { allowedRegionz: ['eu-west'] }), policy('zdr', { requireZeroDataRetention: true })]);
    await h.reconcile();
    const byName = new Map(h.written.map((w) => [w.target.name, w.status]));
    expect(accepted(byName.get('residency')!)).toMatchObject({ status: 'False', reason: 'InvalidPolicy' });
    expect(accepted(byName.get('residency')!)!.message).toContain('allowedRegionz');
    expect(ready(byName.get('residency')!)).toMatchObject({ status: 'False', reason: 'InvalidPolicy' });
    expect(accepted(byName.get('zdr')!)).toMatchObject({ status: 'True', reason: 'Accepted' });
    expect(accepted(byName.get('zdr')!)!.message).toContain('LLMPolicy residency in this namespace is invalid');
    expect(h.sent.map((e) => `${e.regarding.kind} ${e.regarding.name} ${e.reason}`).sort()).toEqual([
      'LLMPolicy residency InvalidPolicy',
      'LLMRoute chat CompileFailed',
      'LLMRoute chat DeniedByPolicy',
    ]);
    await h.reconcile();
    expect(h.sent).toHaveLength(3); // the same state: no new events
  });

  test('a route denied by policy: its status and a DeniedByPolicy event name the rule', async () => {
    const h = harness([route('chat', [mistral, openai])], [policy('residency', { allowedRegions: ['eu-west'] })]);
    await h.reconcile();
    expect(h.sent).toHaveLength(1);
    expect(h.sent[0]).toMatchObject({ type: 'Warning', reason: 'DeniedByPolicy', regarding: { kind: 'LLMRoute', name: 'chat', uid: 'uid-chat' } });
    expect(h.sent[0]!.note).toContain("openai: api.openai.com is OpenAI's global endpoint, which processes data in any region (us.api.openai.com and eu.api.openai.com process in-region), and allowedRegions [eu-west] does not list global");
  });

  test('a namespace with a policy and no route gets the policy status, and no ConfigMap', async () => {
    const h = harness([], [policy('residency', { allowedRegions: ['eu-west'] })]);
    expect(await h.reconcile()).toMatchObject({ applied: false, statusUpdates: 1 });
    expect(h.applied).toEqual([]);
    expect(h.written.map((w) => w.target.name)).toEqual(['residency']);
  });

  test('a namespace with neither routes, policies nor ConfigMap is left alone', async () => {
    const h = harness([], []);
    expect(await h.reconcile()).toEqual({ applied: false, statusUpdates: 0 });
    expect(h.applied).toEqual([]);
  });

  test('a ConfigMap the API server refuses (too large) turns Ready False on its routes; a transient failure changes no status', async () => {
    const tooLong = Object.assign(new Error('HTTP-Code: 422'), {
      code: 422,
      body: JSON.stringify({ kind: 'Status', message: 'ConfigMap "llmroute-config" is invalid: []: Too long: must have at most 1048576 bytes' }),
    });
    const unavailable = Object.assign(new Error('HTTP-Code: 503'), { code: 503, body: '' });
    let failure: unknown = unavailable;
    const h = harness([route('chat', [mistral])], [], () => failure);
    const readyOf = (w: { status: Record<string, unknown> }) => (w.status as unknown as { conditions: Array<{ type: string; status: string; reason: string; message: string }> }).conditions.find((c) => c.type === 'Ready')!;

    await expect(h.reconcile()).rejects.toBe(unavailable); // retried by the queue; statuses left alone
    expect(h.written).toEqual([]);

    failure = tooLong;
    await expect(h.reconcile()).rejects.toBe(tooLong); // still retried: the cause may be fixed outside
    expect(readyOf(h.written[0]!)).toMatchObject({ status: 'False', reason: 'ConfigMapRefused' });
    expect(readyOf(h.written[0]!).message).toContain('Too long: must have at most 1048576 bytes');

    failure = undefined;
    expect(await h.reconcile()).toMatchObject({ applied: true });
    expect(readyOf(h.written.at(-1)!)).toMatchObject({ status: 'True', reason: 'Ready' });
  });

  test('a ConfigMap the API server refuses: the valid policies it carries are Accepted but not Ready (ConfigMapRefused) until it is applied', async () => {
    const tooLong = Object.assign(new Error('HTTP-Code: 422'), { code: 422, body: JSON.stringify({ kind: 'Status', message: 'Too long: must have at most 1048576 bytes' }) });
    let failure: unknown = tooLong;
    const h = harness([route('chat', [mistral])], [policy('residency', { allowedRegions: ['eu-west'] })], () => failure);
    const policyWrites = () => h.written.filter((w) => w.target.kind === 'LLMPolicy');

    await expect(h.reconcile()).rejects.toBe(tooLong);
    expect(accepted(policyWrites().at(-1)!.status)).toMatchObject({ status: 'True', reason: 'Accepted' });
    expect(ready(policyWrites().at(-1)!.status)).toMatchObject({ status: 'False', reason: 'ConfigMapRefused' });
    expect(ready(policyWrites().at(-1)!.status)!.message).toContain('Too long: must have at most 1048576 bytes');

    failure = undefined;
    await h.reconcile();
    expect(ready(policyWrites().at(-1)!.status)).toMatchObject({ status: 'True', reason: 'Ready' });
  });
});

describe('the last route deleted', () => {
  test('the ConfigMap serves nothing but keeps its owner references, so the garbage collector removes it', async () => {
    const applied: Array<{ metadata: { ownerReferences: Array<{ name: string; uid: string }> }; data: Record<string, string> }> = [];
    const statuses = new StatusWriter(async () => undefined);
    await reconcileNamespace(
      'ns',
      { routes: () => [], policies: () => [], configMapExists: () => true, configMapOwners: () => [{ name: 'chat', uid: 'uid-chat' }] },
      { objects: { patch: async (obj: never) => void applied.push(obj) } as never, statuses },
    );
    expect(applied).toHaveLength(1);
    expect(applied[0]!.metadata.ownerReferences).toEqual([expect.objectContaining({ name: 'chat', uid: 'uid-chat', kind: 'LLMRoute' })]);
    expect(applied[0]!.data['config.yaml']).toContain('routes: []');
  });
});
