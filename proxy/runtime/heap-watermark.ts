// Memory pressure as an overload signal (reliability bar A4): past a share of V8's heap limit, new
// requests are refused at once (503 `overloaded`) instead of being admitted into an out-of-memory kill,
// which would cut every stream of the pod at once. The in-flight cap bounds how many requests run;
// this bounds what they hold (large bodies, slow clients' buffers). Sampled on a timer, never per request.
import type * as V8 from 'node:v8';

/** Points below the watermark the heap must fall before requests are admitted again (no flapping). */
export const HYSTERESIS_PERCENT = 5;
const DEFAULT_SAMPLE_MS = 500;

export interface HeapReading {
  usedBytes: number;
  limitBytes: number;
}

export interface HeapWatermark {
  /** The heap is over the watermark: refuse new requests. */
  readonly overloaded: boolean;
  /** Heap used at the last sample, in percent of V8's heap limit. */
  readonly usedPercent: number;
  readonly maxPercent: number;
  stop(): void;
}

export interface HeapWatermarkOptions {
  maxPercent: number;
  sampleMs?: number;
  /** Tests give their own readings. */
  read?: () => HeapReading;
  /** Told when the state changes (a log line). */
  onChange?: (overloaded: boolean, usedPercent: number) => void;
}

/** Pure: whether the heap is overloaded after a reading, given whether it was before. */
export function nextOverloaded(wasOverloaded: boolean, usedPercent: number, maxPercent: number): boolean {
  return wasOverloaded ? usedPercent >= maxPercent - HYSTERESIS_PERCENT : usedPercent >= maxPercent;
}

const readV8 = (): HeapReading => {
  // getBuiltinModule, as for the other built-ins (proxy/io/builtins.ts): no ESM namespace to build.
  const stats = (process.getBuiltinModule('node:v8') as typeof V8).getHeapStatistics();
  return { usedBytes: stats.used_heap_size, limitBytes: stats.heap_size_limit };
};

export function watchHeap(options: HeapWatermarkOptions): HeapWatermark {
  const read = options.read ?? readV8;
  let overloaded = false;
  let usedPercent = 0;
  const sample = () => {
    const { usedBytes, limitBytes } = read();
    usedPercent = limitBytes > 0 ? (usedBytes / limitBytes) * 100 : 0;
    const next = nextOverloaded(overloaded, usedPercent, options.maxPercent);
    if (next !== overloaded) {
      overloaded = next;
      options.onChange?.(overloaded, usedPercent);
    }
  };
  sample();
  const timer = setInterval(sample, options.sampleMs ?? DEFAULT_SAMPLE_MS);
  timer.unref();
  return {
    get overloaded() {
      return overloaded;
    },
    get usedPercent() {
      return usedPercent;
    },
    maxPercent: options.maxPercent,
    stop: () => clearInterval(timer),
  };
}
