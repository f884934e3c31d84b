// The namespace work queue: a key queued many times runs once, never twice at once, at most
// `concurrency` at a time; it says when nothing is left waiting for a worker (status writes wait until then)
// and reports its depth as it changes, down to 0 when drained (the queue-depth gauge).
import { describe, expect, jest, test } from '@jest/globals';
import { WorkQueue } from '#operator/reconcile/work-queue.ts';

/** Work whose runs wait until released. */
function controllable() {
  const runs: Array<{ key: string; release(): void }> = [];
  const work = (key: string) => new Promise<void>((resolve) => runs.push({ key, release: resolve }));
  return { work, runs };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe('WorkQueue', () => {
  test('at most `concurrency` keys run; the others wait in the backlog', async () => {
    const io = controllable();
    const queue = new WorkQueue(io.work, { concurrency: 2 });
    for (const key of ['a', 'b', 'c', 'a']) queue.add(key);
    expect(io.runs.map((r) => r.key)).toEqual(['a', 'b']);
    expect(queue.backlog()).toBe(1); // c; the second a waits for the running one
    expect(queue.depth()).toBe(3);
    io.runs[0]!.release();
    await tick();
    expect(io.runs.map((r) => r.key)).toEqual(['a', 'b', 'c']);
    expect(queue.backlog()).toBe(1); // a again: it changed while it ran
    for (const r of io.runs.splice(0)) r.release();
    await tick();
    expect(io.runs.map((r) => r.key)).toEqual(['a']);
    io.runs[0]!.release();
    await tick();
    expect(queue.depth()).toBe(0);
  });

  test('onCaughtUp is called once no key waits for a worker, not while some do', async () => {
    const io = controllable();
    const backlogs: number[] = [];
    const queue = new WorkQueue(io.work, { concurrency: 1, onCaughtUp: () => backlogs.push(queue.backlog()) });
    queue.add('a');
    expect(backlogs).toEqual([0]); // a runs at once: nothing waits
    queue.add('b');
    expect(backlogs).toEqual([0]); // b waits: not caught up
    io.runs[0]!.release();
    await tick();
    expect(io.runs.map((r) => r.key)).toEqual(['a', 'b']);
    expect(backlogs).toEqual([0, 0]); // b took the free worker
    io.runs[1]!.release();
    await tick();
  });

  test('onDepth follows depth() and reports 0 once the queue has drained', async () => {
    const io = controllable();
    const depths: number[] = [];
    const queue = new WorkQueue(io.work, { concurrency: 1, onDepth: (d) => depths.push(d) });
    queue.add('a');
    queue.add('b');
    queue.add('a'); // a is running: it will run again
    expect(depths).toEqual([1, 2]);
    io.runs[0]!.release();
    await tick();
    io.runs[1]!.release();
    await tick();
    io.runs[2]!.release();
    await tick();
    expect(io.runs.map((r) => r.key)).toEqual(['a', 'b', 'a']);
    expect(queue.depth()).toBe(0);
    expect(depths.at(-1)).toBe(0);
    for (let i = 1; i < depths.length; i++) expect(depths[i]).not.toBe(depths[i - 1]); // changes only
  });

  test('after stop() nothing runs again and no retry timer is left behind (no open handle)', async () => {
    const runs: Array<{ key: string; fail(): void; release(): void }> = [];
    const queue = new WorkQueue((key) => new Promise<void>((resolve, reject) => runs.push({ key, release: resolve, fail: () => reject(new Error('apiserver down')) })), { concurrency: 2 });
    queue.add('a');
    queue.add('b');
    queue.add('a'); // changed while running: would run again
    const real = globalThis.setTimeout;
    const retries: number[] = [];
    const spy = jest.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      if ((ms ?? 0) >= 100) retries.push(ms!);
      return real(fn, ms);
    }) as typeof setTimeout);
    try {
      queue.stop();
      runs[0]!.release();
      runs[1]!.fail(); // a failure after stop() schedules no retry
      await tick();
      await tick();
    } finally {
      spy.mockRestore();
    }
    expect(retries).toEqual([]);
    expect(runs.map((r) => r.key)).toEqual(['a', 'b']);
    expect(queue.depth()).toBe(0);
    queue.add('c'); // ignored once stopped
    expect(runs).toHaveLength(2);
  });
});
