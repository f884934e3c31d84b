// Events about routes and policies: emitted when what the status says changes (a compile failure, a
// denial by policy, a recovery), never again for the same state; deduplicated per object uid, rate
// limited per object, sent from a bounded queue that never blocks nor throws.
import { describe, expect, test } from '@jest/globals';
import { EventRecorder, type OperatorEvent } from '#operator/reconcile/events.ts';
import { policyStatus, routeStatus, type LLMRouteStatus } from '#operator/reconcile/status.ts';
import type { BackendStatus, RouteStatus } from '#operator/compile/compile.ts';

const NOW = '2026-01-01T00:00:00Z';
const admitted: BackendStatus = { name: 'mistral', admitted: true, reason: 'Admitted', message: 'admitted by policy' };
const denied: BackendStatus = { name: 'openai', admitted: false, reason: 'DeniedByPolicy', message: 'region us-east not in allowedRegions [eu-west]' };

function compiled(backends: BackendStatus[], generation = 1): RouteStatus {
  const ok = backends.filter((b) => b.admitted).length;
  return ok > 0
    ? { name: 'chat', namespace: 'ns', observedGeneration: generation, compiled: true, reason: 'Compiled', message: `${ok}/${backends.length} backends admitted`, issues: [], backends }
    : { name: 'chat', namespace: 'ns', observedGeneration: generation, compiled: false, reason: 'NoAdmittedBackends', message: `no backend can serve this route: ${backends.map((b) => `${b.name}: ${b.message}`).join('; ')}`, issues: [], backends };
}
const invalid: RouteStatus = { name: 'chat', namespace: 'ns', observedGeneration: 2, compiled: false, reason: 'InvalidSpec', message: 'spec.models: too small', issues: [], backends: [] };
const status = (r: RouteStatus, previous?: LLMRouteStatus) => routeStatus(r, previous, NOW);

/** A recorder whose sends are recorded (and succeed at once unless told otherwise). */
function recording(options: ConstructorParameters<typeof EventRecorder>[1] = {}, send?: (e: OperatorEvent) => Promise<void>) {
  const sent: OperatorEvent[] = [];
  const recorder = new EventRecorder(async (e) => {
    sent.push(e);
    await send?.(e);
  }, options);
  const summary = () => sent.map((e) => `${e.regarding.kind} ${e.regarding.name} ${e.type} ${e.reason}`);
  return { recorder, sent, summary };
}

const chat = { namespace: 'ns', name: 'chat', uid: 'uid-1' };

describe('EventRecorder: routes', () => {
  test('a denied backend is a DeniedByPolicy warning naming the rule, once, however often it is reconciled', async () => {
    const { recorder, sent, summary } = recording();
    const next = status(compiled([admitted, denied]));
    recorder.route(chat, undefined, next);
    recorder.route(chat, undefined, next); // the informer cache still has no status: same state, no event
    recorder.route(chat, next, status(compiled([admitted, denied]), next));
    await recorder.idle();
    expect(summary()).toEqual(['LLMRoute chat Warning DeniedByPolicy']);
    expect(sent[0]).toMatchObject({ action: 'Admit', regarding: { kind: 'LLMRoute', namespace: 'ns', name: 'chat', uid: 'uid-1' } });
    expect(sent[0]!.note).toContain('openai: region us-east not in allowedRegions [eu-west]');
  });

  test('a route that stops compiling is a CompileFailed warning; when it is served again, a Ready event', async () => {
    const { recorder, sent, summary } = recording();
    const ok = status(compiled([admitted]));
    recorder.route(chat, undefined, ok); // a new route that compiles: nothing to report
    const broken = status(invalid, ok);
    recorder.route(chat, ok, broken);
    recorder.route(chat, ok, broken); // reconciled again before the informer saw the status: no repeat
    recorder.route(chat, broken, status(compiled([admitted], 3), broken));
    await recorder.idle();
    expect(summary()).toEqual(['LLMRoute chat Warning CompileFailed', 'LLMRoute chat Normal Ready']);
    expect(sent[0]!.note).toBe('InvalidSpec: spec.models: too small');
    expect(sent[1]!.note).toContain('1/1 backends admitted');
  });

  test('a change of denial is reported again, and the end of it once', async () => {
    const { recorder, summary } = recording();
    const first = status(compiled([admitted, denied]));
    recorder.route(chat, undefined, first);
    const other = status(compiled([admitted, { ...denied, message: 'provider openai not in allowedProviders [mistral]' }]), first);
    recorder.route(chat, first, other);
    const clean = status(compiled([admitted, { ...denied, admitted: true, reason: 'Admitted', message: 'admitted by policy' }]), other);
    recorder.route(chat, other, clean);
    recorder.route(chat, clean, clean);
    await recorder.idle();
    expect(summary()).toEqual(['LLMRoute chat Warning DeniedByPolicy', 'LLMRoute chat Warning DeniedByPolicy', 'LLMRoute chat Normal PolicyCompliant']);
  });

  test('the status a route already carries counts as reported (a new leader does not repeat events)', async () => {
    const { recorder, summary } = recording();
    const carried = status(compiled([denied]));
    recorder.route(chat, carried, status(compiled([denied]), carried));
    await recorder.idle();
    expect(summary()).toEqual([]);
  });

  test('a route recreated under its name (another uid) is a new object, reported again; retain forgets the old one', async () => {
    const { recorder, summary } = recording();
    const failing = status(compiled([denied]));
    recorder.route(chat, undefined, failing);
    recorder.retain('ns', new Set(['uid-2']));
    recorder.route({ ...chat, uid: 'uid-2' }, undefined, failing);
    await recorder.idle();
    expect(summary()).toEqual(['LLMRoute chat Warning CompileFailed', 'LLMRoute chat Warning DeniedByPolicy', 'LLMRoute chat Warning CompileFailed', 'LLMRoute chat Warning DeniedByPolicy']);
  });

  test('a flapping route is rate limited: `burst` events, then one per `refillMs`', async () => {
    let now = 0;
    const dropped: string[] = [];
    const { recorder, summary } = recording({ burst: 2, refillMs: 1000, now: () => now, onDropped: (e, why) => dropped.push(`${e.reason} ${why}`) });
    const good = status(compiled([admitted]));
    const bad = status(invalid);
    recorder.route(chat, good, bad); // 1
    recorder.route(chat, bad, good); // 2
    recorder.route(chat, good, bad); // over the budget
    now = 1000;
    recorder.route(chat, bad, good); // one token back
    recorder.route(chat, good, bad); // over again
    await recorder.idle();
    expect(summary()).toEqual(['LLMRoute chat Warning CompileFailed', 'LLMRoute chat Normal Ready', 'LLMRoute chat Normal Ready']);
    expect(dropped).toEqual(['CompileFailed rate limited', 'CompileFailed rate limited']);
  });

  test('a long message is cut to the 1 kB events.k8s.io allows', async () => {
    const { recorder, sent } = recording();
    recorder.route(chat, undefined, status({ ...invalid, message: 'é'.repeat(2000) }));
    await recorder.idle();
    expect(Buffer.byteLength(sent[0]!.note)).toBeLessThanOrEqual(1024);
    expect(sent[0]!.note.endsWith('...')).toBe(true);
  });
});

describe('EventRecorder: policies', () => {
  const valid = { name: 'residency', valid: true, message: 'policy in force', issues: [] };
  const broken = { name: 'residency', valid: false, message: 'invalid policy: spec: unknown key allowedRegionz', issues: [] };
  test('an invalid policy is an InvalidPolicy warning, once; valid again, an Accepted event', async () => {
    const { recorder, sent, summary } = recording();
    const ref = { namespace: 'ns', name: 'residency', uid: 'p1' };
    const ok = policyStatus(valid, 1, [valid], undefined, NOW);
    recorder.policy(ref, undefined, ok);
    const bad = policyStatus(broken, 2, [broken], ok, NOW);
    recorder.policy(ref, ok, bad);
    recorder.policy(ref, ok, bad);
    recorder.policy(ref, bad, policyStatus(valid, 3, [valid], bad, NOW));
    await recorder.idle();
    expect(summary()).toEqual(['LLMPolicy residency Warning InvalidPolicy', 'LLMPolicy residency Normal Accepted']);
    expect(sent[0]!.note).toContain('allowedRegionz');
    expect(sent[0]).toMatchObject({ action: 'Validate', regarding: { kind: 'LLMPolicy', name: 'residency', uid: 'p1' } });
  });
});

describe('EventRecorder: sending', () => {
  const event = (n: number): OperatorEvent => ({ regarding: { kind: 'LLMRoute', namespace: 'ns', name: `r${n}` }, type: 'Warning', reason: 'CompileFailed', action: 'Compile', note: '' });

  test('the queue is bounded: beyond `maxQueued` events wait, the newest are dropped; emit never waits', async () => {
    const releases: Array<() => void> = [];
    const dropped: string[] = [];
    const { recorder, sent } = recording({ maxQueued: 2, concurrency: 1, onDropped: (e, why) => dropped.push(`${e.regarding.name} ${why}`) }, () => new Promise<void>((r) => releases.push(r)));
    expect([1, 2, 3, 4].map((n) => recorder.emit(event(n)))).toEqual([true, true, true, false]);
    expect(sent.map((e) => e.regarding.name)).toEqual(['r1']); // one at a time
    expect(dropped).toEqual(['r4 queue full']);
    while (releases.length > 0) {
      releases.shift()!();
      await new Promise((r) => setTimeout(r, 0));
    }
    await recorder.idle();
    expect(sent.map((e) => e.regarding.name)).toEqual(['r1', 'r2', 'r3']);
  });

  test('a failing or throwing send is reported, never thrown; the next events still go', async () => {
    const errors: string[] = [];
    let calls = 0;
    const recorder = new EventRecorder(
      (e) => {
        calls++;
        if (e.regarding.name === 'r1') throw new Error('synchronous');
        if (e.regarding.name === 'r2') return Promise.reject(Object.assign(new Error('forbidden'), { code: 403 }));
        return Promise.resolve();
      },
      { onError: (e, error) => errors.push(`${e.regarding.name}: ${(error as Error).message}`) },
    );
    expect(() => [1, 2, 3].forEach((n) => recorder.emit(event(n)))).not.toThrow();
    await recorder.idle();
    expect(calls).toBe(3);
    expect(errors).toEqual(['r1: synchronous', 'r2: forbidden']);
  });

  test('stop() drops what waits and nothing more is sent', async () => {
    const releases: Array<() => void> = [];
    const { recorder, sent } = recording({ concurrency: 1 }, () => new Promise<void>((r) => releases.push(r)));
    recorder.emit(event(1));
    recorder.emit(event(2));
    recorder.stop();
    expect(recorder.emit(event(3))).toBe(false);
    releases.shift()!();
    await recorder.idle();
    expect(sent.map((e) => e.regarding.name)).toEqual(['r1']);
  });
});
