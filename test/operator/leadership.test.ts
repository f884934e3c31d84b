// One controller per term of leadership, even when the lease is lost and won back faster than a
// controller stops: never two reconciling at once, and an old term's sync never marks a new one ready.
import { describe, expect, test } from '@jest/globals';
import { Leadership, type TermController } from '#operator/leadership.ts';

function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

const tick = () => new Promise((r) => setImmediate(r));

function harness() {
  const log: string[] = [];
  const controllers: Array<TermController & { id: number; sync: () => void; finishStop: () => void }> = [];
  let leader = true;
  let running = 0;
  let maxRunning = 0;
  const leadership = new Leadership({
    start: () => {
      const id = controllers.length + 1;
      const synced = deferred();
      const stopped = deferred();
      running += 1;
      maxRunning = Math.max(maxRunning, running);
      log.push(`start ${id}`);
      const c = {
        id,
        ready: synced.promise,
        sync: synced.resolve,
        finishStop: stopped.resolve,
        stop: async () => {
          log.push(`stopping ${id}`);
          await stopped.promise;
          running -= 1;
          log.push(`stopped ${id}`);
        },
      };
      controllers.push(c);
      return c;
    },
    isLeader: () => leader,
    onReady: () => log.push('ready'),
  });
  return { leadership, log, controllers, setLeader: (v: boolean) => (leader = v), maxRunning: () => maxRunning };
}

describe('Leadership', () => {
  test('lost and won back while the old controller is still stopping: the new one starts only after it stopped', async () => {
    const h = harness();
    h.leadership.started();
    await tick();
    h.controllers[0]!.sync();
    await tick();
    expect(h.leadership.ready).toBe(true);

    h.leadership.stopped();
    h.leadership.started(); // the lease came back at once
    await tick();
    expect(h.log).toEqual(['start 1', 'ready', 'stopping 1']);
    expect(h.leadership.ready).toBe(false);
    h.controllers[0]!.finishStop();
    await tick();
    await tick();
    expect(h.log).toEqual(['start 1', 'ready', 'stopping 1', 'stopped 1', 'start 2']);
    expect(h.maxRunning()).toBe(1);
  });

  test("an earlier term's sync does not mark a later term ready", async () => {
    const h = harness();
    h.leadership.started();
    await tick();
    h.leadership.stopped();
    h.controllers[0]!.finishStop();
    h.leadership.started();
    await tick();
    await tick();
    expect(h.controllers).toHaveLength(2);
    h.controllers[0]!.sync(); // the first controller's informers finish listing late
    await tick();
    expect(h.leadership.ready).toBe(false);
    h.controllers[1]!.sync();
    await tick();
    expect(h.leadership.ready).toBe(true);
  });

  test('a start that comes due after the lease was lost again is dropped', async () => {
    const h = harness();
    h.leadership.started();
    await tick();
    h.leadership.stopped();
    h.leadership.started();
    h.setLeader(false);
    h.leadership.stopped();
    h.controllers[0]!.finishStop();
    await tick();
    await tick();
    expect(h.controllers).toHaveLength(1);
    expect(h.leadership.ready).toBe(true); // a follower is ready (it can take over)
    await h.leadership.stop();
  });
});
