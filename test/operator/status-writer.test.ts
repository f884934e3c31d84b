// The status writer: only the latest status per route, nothing rewritten that was already written,
// bounded concurrency, retries, a deleted route dropped, writes deferred while ConfigMaps wait.
import { describe, expect, test } from '@jest/globals';
import { StatusWriter } from '#operator/reconcile/status-writer.ts';
import type { LLMRouteStatus } from '#operator/reconcile/status.ts';

const status = (admitted: string): LLMRouteStatus => ({ backendsAdmitted: admitted, conditions: [], backends: [] });

/** A write function whose calls wait until released, recording what was written. */
function controllable() {
  const calls: Array<{ key: string; admitted: string; release(error?: unknown): void }> = [];
  let concurrent = 0;
  let maxConcurrent = 0;
  const write = (namespace: string, name: string, s: LLMRouteStatus) =>
    new Promise<void>((resolve, reject) => {
      concurrent++;
      maxConcurrent = Math.max(maxConcurrent, concurrent);
      calls.push({ key: `${namespace}/${name}`, admitted: s.backendsAdmitted, release: (error) => { concurrent--; if (error) reject(error); else resolve(); } });
    });
  return { write, calls, maxConcurrent: () => maxConcurrent };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('StatusWriter', () => {
  test('a newer status replaces a pending one; the one being written finishes first', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write, { concurrency: 1 });
    writer.submit('ns', 'a', status('1/1'));
    writer.submit('ns', 'a', status('1/2')); // waits: 'a' is being written
    writer.submit('ns', 'a', status('2/2')); // replaces 1/2
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
    expect(writer.submit('ns', 'a', status('1/1'))).toBe(true);
    io.calls[0]!.release();
    await writer.idle();
    expect(writer.submit('ns', 'a', status('1/1'))).toBe(false);
    expect(io.calls).toHaveLength(1);
  });

  test('at most `concurrency` writes at once', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write, { concurrency: 3 });
    for (let i = 0; i < 10; i++) writer.submit('ns', `r${i}`, status('1/1'));
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

  test('a failed write is retried; a deleted route (404) is not', async () => {
    const io = controllable();
    const errors: string[] = [];
    const writer = new StatusWriter(io.write, { retryDelayMs: 5, onError: (_ns, name) => errors.push(name) });
    writer.submit('ns', 'flaky', status('1/1'));
    writer.submit('ns', 'gone', status('1/1'));
    io.calls[0]!.release(Object.assign(new Error('boom'), { code: 500 }));
    io.calls[1]!.release(Object.assign(new Error('not found'), { code: 404 }));
    await new Promise((r) => setTimeout(r, 30));
    expect(io.calls.map((c) => c.key)).toEqual(['ns/flaky', 'ns/gone', 'ns/flaky']);
    io.calls[2]!.release();
    await writer.idle();
    expect(errors).toEqual(['flaky', 'gone']);
  });

  test('retain forgets deleted routes, so a recreated one gets its status written', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write);
    writer.submit('ns', 'a', status('1/1'));
    io.calls[0]!.release();
    await writer.idle();
    writer.retain('ns', new Set());
    expect(writer.submit('ns', 'a', status('1/1'))).toBe(true);
    io.calls[1]!.release();
    await writer.idle();
  });

  test('retain looks at its own namespace only', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write);
    writer.submit('ns', 'a', status('1/1'));
    writer.submit('other', 'a', status('1/1'));
    for (const c of io.calls) c.release();
    await writer.idle();
    writer.retain('ns', new Set());
    expect(writer.submit('other', 'a', status('1/1'))).toBe(false); // still known as written
    expect(writer.submit('ns', 'a', status('1/1'))).toBe(true);
    io.calls[2]!.release();
    await writer.idle();
  });

  test('writes wait while deferWhile() holds and go on resume()', async () => {
    const io = controllable();
    let busy = true;
    const writer = new StatusWriter(io.write, { deferWhile: () => busy, maxDeferMs: 60_000 });
    expect(writer.submit('ns', 'a', status('1/1'))).toBe(true);
    writer.submit('ns', 'b', status('1/1'));
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
    writer.submit('ns', 'a', status('1/1'));
    await new Promise((r) => setTimeout(r, 10));
    writer.submit('ns', 'a', status('1/2')); // replaces the pending one; the wait still counts from the first
    expect(io.calls).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 40));
    expect(io.calls.map((c) => c.admitted)).toEqual(['1/2']);
    io.calls[0]!.release();
    await writer.idle();
  });

  test('stop() while writes are deferred leaves nothing pending', async () => {
    const io = controllable();
    const writer = new StatusWriter(io.write, { deferWhile: () => true, maxDeferMs: 60_000 });
    writer.submit('ns', 'a', status('1/1'));
    writer.stop();
    await writer.idle();
    expect(io.calls).toHaveLength(0);
  });
});
