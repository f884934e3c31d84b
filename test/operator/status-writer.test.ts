// The status writer: only the latest status per object, nothing rewritten that was already written,
// bounded concurrency, retries, a deleted object dropped, writes deferred while ConfigMaps wait;
// objects keyed by uid, so a route deleted and recreated under its name is a new object.
import { describe, expect, test } from '@jest/globals';
import { StatusWriter, type StatusTarget } from '#operator/reconcile/status-writer.ts';
import type { LLMRouteStatus } from '#operator/reconcile/status.ts';

const status = (admitted: string): LLMRouteStatus => ({ backendsAdmitted: admitted, conditions: [], backends: [] });
/** A route; its uid is `<namespace>/<name>` unless given (the second life of a recreated route). */
const route = (namespace: string, name: string, uid = `${namespace}/${name}`): StatusTarget => ({ kind: 'LLMRoute', namespace, name, uid });
const key = (namespace: string, name: string) => new Set([`${namespace}/${name}`]);

/** A write function whose calls wait until released, recording what was written. */
function controllable() {
  const calls: Array<{ key: string; uid: string | undefined; admitted: string; release(error?: unknown): void }> = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const write = (target: StatusTarget, s: object) =>
    new Promise<void>((resolve, reject) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      calls.push({ key: `${target.namespace}/${target.name}`, uid: target.uid, admitted: (s as LLMRouteStatus).backendsAdmitted, release: (error) => { concurrent--; if (error) reject(error); else resolve(); } });
    });
  return { write, calls, maxConcurrent: () => maxConcurrent };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('StatusWriter', () => {
  test('a newer status replaces a pending one; the one being written finishes first', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write, { concurrency: 1 });
    writer.submit(route('ns', 'a'), status('1/1'));
    writer.submit(route('ns', 'a'), status('1/2')); // waits: 'a' is being written
    writer.submit(route('ns', 'a'), status('2/2')); // replaces 1/2
    expect(io.calls.map((c) => c.admitted)).toEqual(['1/1']);
    io.calls[0]!.release();
    await tick();
    expect(io.calls.map((c) => c.admitted)).toEqual(['1/1', '2/2']);
    io.calls[1]!.release();
    await writer.idle();
  });

  test('the status last written is not written again', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write);
    expect(writer.submit(route('ns', 'a'), status('1/1'))).toBe(true);
    io.calls[0]!.release();
    await writer.idle();
    expect(writer.submit(route('ns', 'a'), status('1/1'))).toBe(false);
    expect(io.calls).toHaveLength(1);
  });

  test('at most `concurrency` writes at once', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write, { concurrency: 3 });
    for (let i = 0; i < 10; i++) writer.submit(route('ns', `r${i}`), status('1/1'));
    expect(io.calls).toHaveLength(3);
    while (io.calls.some((c) => c.release)) {
      const open = io.calls.splice(0, io.calls.length);
      for (const c of open) c.release();
      await tick();
      if (io.calls.length === 0) break;
    }
    await writer.idle();
    expect(io.maxConcurrent()).toBe(3);
  });

  test('a failed write is retried; a deleted route (404) or one whose name is now another object\'s (409, 422) is not', async () => {
    const io = controllable();
    const errors: string[] = [];
    const writer = new StatusWriter(io.write, { retryDelayMs: 5, onError: (target) => errors.push(target.name) });
    writer.submit(route('ns', 'flaky'), status('1/1'));
    writer.submit(route('ns', 'gone'), status('1/1'));
    writer.submit(route('ns', 'replaced'), status('1/1'));
    writer.submit(route('ns', 'conflict'), status('1/1'));
    io.calls[0]!.release(Object.assign(new Error('boom'), { code: 500 }));
    io.calls[1]!.release(Object.assign(new Error('not found'), { code: 404 }));
    io.calls[2]!.release(Object.assign(new Error('metadata.uid: field is immutable'), { code: 422 }));
    io.calls[3]!.release(Object.assign(new Error('Precondition failed: UID in precondition'), { code: 409 }));
    await new Promise((r) => setTimeout(r, 30));
    expect(io.calls.map((c) => c.key)).toEqual(['ns/flaky', 'ns/gone', 'ns/replaced', 'ns/conflict', 'ns/flaky']);
    io.calls[4]!.release();
    await writer.idle();
    expect(errors).toEqual(['flaky', 'gone', 'replaced', 'conflict']);
  });

  test('each write names the uid of the object it was computed for', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write);
    writer.submit(route('ns', 'a', 'uid-1'), status('1/1'));
    expect(io.calls.map((c) => c.uid)).toEqual(['uid-1']);
    io.calls[0]!.release();
    await writer.idle();
  });

  test('a route deleted and recreated under its name gets its status written, even before retain sees the old one gone', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write);
    writer.submit(route('ns', 'a', 'uid-1'), status('1/1'));
    io.calls[0]!.release();
    await writer.idle();
    // The same status computed for the new object is not "already written": that was another object.
    expect(writer.submit(route('ns', 'a', 'uid-2'), status('1/1'))).toBe(true);
    expect(io.calls.map((c) => c.uid)).toEqual(['uid-1', 'uid-2']);
    io.calls[1]!.release();
    await writer.idle();
    expect(writer.submit(route('ns', 'a', 'uid-2'), status('1/1'))).toBe(false);
    writer.retain('ns', key('ns', 'unrelated'));
    expect(writer.submit(route('ns', 'a', 'uid-2'), status('1/1'))).toBe(true);
    io.calls[2]!.release();
    await writer.idle();
  });

  test('the pending status of a deleted route is dropped by retain, never written to a namesake', async () => {
    const io = controllable();
    let busy = true;
    const writer = new StatusWriter(io.write, { deferWhile: () => busy, maxDeferMs: 60_000 });
    writer.submit(route('ns', 'a', 'uid-1'), status('0/1'));
    writer.submit(route('ns', 'b', 'uid-b'), status('1/1'));
    writer.retain('ns', new Set(['uid-2', 'uid-b'])); // a was deleted and recreated: uid-2
    writer.submit(route('ns', 'a', 'uid-2'), status('1/1'));
    busy = false;
    writer.resume();
    expect(io.calls.map((c) => `${c.uid} ${c.admitted}`)).toEqual(['uid-b 1/1', 'uid-2 1/1']);
    for (const c of io.calls) c.release();
    await writer.idle();
  });

  test('stop() cancels pending retries: idle() resolves and no timer is left behind', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write, { retryDelayMs: 60_000 });
    writer.submit(route('ns', 'a'), status('1/1'));
    io.calls[0]!.release(Object.assign(new Error('boom'), { code: 500 }));
    await tick();
    writer.stop();
    await writer.idle();
    expect(writer.submit(route('ns', 'a'), status('1/2'))).toBe(false); // stopped: nothing more is written
    expect(io.calls).toHaveLength(1);
  });

  test('retain forgets deleted routes, so a recreated one gets its status written', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write);
    writer.submit(route('ns', 'a'), status('1/1'));
    io.calls[0]!.release();
    await writer.idle();
    writer.retain('ns', new Set());
    expect(writer.submit(route('ns', 'a'), status('1/1'))).toBe(true);
    io.calls[1]!.release();
    await writer.idle();
  });

  test('retain looks at its own namespace only', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write);
    writer.submit(route('ns', 'a'), status('1/1'));
    writer.submit(route('other', 'a'), status('1/1'));
    for (const c of io.calls) c.release();
    await writer.idle();
    writer.retain('ns', new Set());
    expect(writer.submit(route('other', 'a'), status('1/1'))).toBe(false); // still known as written
    expect(writer.submit(route('ns', 'a'), status('1/1'))).toBe(true);
    io.calls[2]!.release();
    await writer.idle();
  });

  test('writes wait while deferWhile() holds and go on resume()', async () => {
    const io = controllable();
    let busy = true;
    const writer = new StatusWriter(io.write, { deferWhile: () => busy, maxDeferMs: 60_000 });
    expect(writer.submit(route('ns', 'a'), status('1/1'))).toBe(true);
    writer.submit(route('ns', 'b'), status('1/1'));
    await tick();
    expect(io.calls).toHaveLength(0);
    writer.resume(); // still busy: still waiting
    expect(io.calls).toHaveLength(0);
    busy = false;
    writer.resume();
    expect(io.calls.map((c) => c.key)).toEqual(['ns/a', 'ns/b']);
    for (const c of io.calls) c.release();
    await writer.idle();
  });

  test('a deferred write goes at the latest after maxDeferMs, even while deferWhile() holds', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write, { deferWhile: () => true, maxDeferMs: 30 });
    writer.submit(route('ns', 'a'), status('1/1'));
    await new Promise((r) => setTimeout(r, 10));
    writer.submit(route('ns', 'a'), status('1/2')); // replaces the pending one; the wait still counts from the first
    expect(io.calls).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 40));
    expect(io.calls.map((c) => c.admitted)).toEqual(['1/2']);
    io.calls[0]!.release();
    await writer.idle();
  });

  test('stop() while writes are deferred leaves nothing pending', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write, { deferWhile: () => true, maxDeferMs: 60_000 });
    writer.submit(route('ns', 'a'), status('1/1'));
    writer.stop();
    await writer.idle();
    expect(io.calls).toHaveLength(0);
  });
});

describe('StatusWriter: an object found already showing its status', () => {
  test('a stale write still waiting (deferred) is withdrawn', async () => {
    const io = controllable();
    let busy = true;
    const writer = new StatusWriter(io.write, { deferWhile: () => busy, maxDeferMs: 60_000 });
    writer.submit(route('ns', 'a'), status('1/2')); // a policy appeared: deferred while ConfigMaps wait
    writer.alreadyShows(route('ns', 'a'), status('2/2')); // the policy went away again: the object shows 2/2
    busy = false;
    writer.resume();
    await writer.idle();
    expect(io.calls).toHaveLength(0);
  });

  test('a stale write in flight is followed by the status the object should show', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write);
    writer.submit(route('ns', 'a'), status('1/2'));
    writer.alreadyShows(route('ns', 'a'), status('2/2'));
    io.calls[0]!.release();
    await tick();
    expect(io.calls.map((c) => c.admitted)).toEqual(['1/2', '2/2']);
    io.calls[1]!.release();
    await writer.idle();
  });

  test('a failed stale write is not retried over it', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write, { retryDelayMs: 5 });
    writer.submit(route('ns', 'a'), status('1/2'));
    io.calls[0]!.release(Object.assign(new Error('unavailable'), { code: 503 }));
    await tick();
    writer.alreadyShows(route('ns', 'a'), status('2/2'));
    await new Promise((r) => setTimeout(r, 30));
    await writer.idle();
    expect(io.calls.map((c) => c.admitted)).toEqual(['1/2']);
  });
});
