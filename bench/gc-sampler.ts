// Preloaded into the benchmark's llmroute processes (`node --import bench/gc-sampler.ts`): records every
// garbage collection's kind and pause. SIGUSR2 writes what was recorded since the last SIGUSR2 to the
// file named by LLMROUTE_BENCH_GC_FILE and starts over. A young-generation collection that grows to
// milliseconds means request objects survive it (how a retention bug in the stream path showed).
import { writeFileSync } from 'node:fs';
import { constants, PerformanceObserver, type PerformanceEntry } from 'node:perf_hooks';

export interface GcSummary {
  minor: number[];
  major: number[];
}

const file = process.env.LLMROUTE_BENCH_GC_FILE;
let recorded: GcSummary = { minor: [], major: [] };

new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) recorded.minor.push(entry.duration);
    else if (kind === constants.NODE_PERFORMANCE_GC_MAJOR) recorded.major.push(entry.duration);
  }
}).observe({ entryTypes: ['gc'] });

process.on('SIGUSR2', () => {
  if (file) writeFileSync(file, JSON.stringify(recorded));
  recorded = { minor: [], major: [] };
});
