// The heap watermark's decision, apart from any heap: over the watermark refuses, and only falling
// HYSTERESIS_PERCENT under it admits again (a heap hovering at the line must not flap).
import { describe, expect, test } from '@jest/globals';
import { HYSTERESIS_PERCENT, nextOverloaded, watchHeap } from '#proxy/runtime/heap-watermark.ts';

describe('heap watermark', () => {
  test('enters at the watermark, leaves only below it minus the hysteresis', () => {
    expect(nextOverloaded(false, 84.9, 85)).toBe(false);
    expect(nextOverloaded(false, 85, 85)).toBe(true);
    expect(nextOverloaded(true, 84, 85)).toBe(true);
    expect(nextOverloaded(true, 85 - HYSTERESIS_PERCENT, 85)).toBe(true);
    expect(nextOverloaded(true, 85 - HYSTERESIS_PERCENT - 0.1, 85)).toBe(false);
  });

  test('samples at once and on its interval, reports each change once', async () => {
    let used = 90;
    const changes: Array<[boolean, number]> = [];
    const heap = watchHeap({ maxPercent: 85, sampleMs: 10, read: () => ({ usedBytes: used, limitBytes: 100 }), onChange: (o, p) => changes.push([o, p]) });
    try {
      expect(heap.overloaded).toBe(true); // the first sample is taken at start, not one interval later
      expect(heap.usedPercent).toBe(90);
      used = 82; // under the watermark, within the hysteresis: still refusing
      await new Promise((r) => setTimeout(r, 40));
      expect(heap.overloaded).toBe(true);
      used = 50;
      await new Promise((r) => setTimeout(r, 40));
      expect(heap.overloaded).toBe(false);
      expect(changes).toEqual([[true, 90], [false, 50]]);
    } finally {
      heap.stop();
    }
  });

  test('the real reading is a share of V8 heap limit', () => {
    const heap = watchHeap({ maxPercent: 100 });
    try {
      expect(heap.usedPercent).toBeGreaterThan(0);
      expect(heap.usedPercent).toBeLessThan(100);
    } finally {
      heap.stop();
    }
  });
});
