// A work queue keyed by namespace: a key queued many times runs once; a key is never processed
// by two workers at once (changes during processing queue it again); failures are retried with
// per-key exponential backoff; at most `concurrency` keys run at a time.
export interface WorkQueueOptions {
  concurrency?: number;
  /** Called when no key is left waiting for a worker (some may still be running). */
  onCaughtUp?(): void;
  /** Called with depth() whenever it changes (a key queued, started waiting again, or finished). */
  onDepth?(depth: number): void;
  /** Keys are collected but none runs until start() (the controller waits for its caches to fill). */
  paused?: boolean;
}

export class WorkQueue {
  private readonly pending = new Set<string>();
  private readonly running = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private paused: boolean;
  private readonly work: (key: string) => Promise<void>;
  private readonly concurrency: number;
  private readonly onCaughtUp: (() => void) | undefined;
  private readonly onDepth: ((depth: number) => void) | undefined;
  private lastDepth = 0;

  constructor(work: (key: string) => Promise<void>, options: WorkQueueOptions = {}) {
    this.work = work;
    this.concurrency = options.concurrency ?? 4;
    this.onCaughtUp = options.onCaughtUp;
    this.onDepth = options.onDepth;
    this.paused = options.paused ?? false;
  }

  /** Lets a queue created paused run what it collected, and what comes next. */
  start(): void {
    this.paused = false;
    this.pump();
  }

  add(key: string): void {
    if (this.stopped) return;
    if (this.running.has(key)) this.dirty.add(key);
    else this.pending.add(key);
    this.pump();
    this.reportDepth();
  }

  depth(): number {
    return this.pending.size + this.running.size;
  }

  /** Keys waiting for a worker (not counting those running). */
  backlog(): number {
    return this.pending.size;
  }

  /** Drops what waits (running keys finish) and cancels the retry timers. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pending.clear();
    this.dirty.clear();
    this.reportDepth();
  }

  private reportDepth(): void {
    const depth = this.depth();
    if (depth === this.lastDepth) return;
    this.lastDepth = depth;
    this.onDepth?.(depth);
  }

  private pump(): void {
    if (this.stopped || this.paused) return;
    for (const key of this.pending) {
      if (this.running.size >= this.concurrency) return;
      this.pending.delete(key);
      this.running.add(key);
      void this.run(key);
    }
    if (this.pending.size === 0) this.onCaughtUp?.();
  }

  private async run(key: string): Promise<void> {
    try {
      await this.work(key);
      this.failures.delete(key);
    } catch {
      if (this.stopped) return;
      const n = (this.failures.get(key) ?? 0) + 1;
      this.failures.set(key, n);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.add(key);
      }, Math.min(30_000, 100 * 2 ** n));
      this.timers.add(timer);
    } finally {
      this.running.delete(key);
      if (this.dirty.delete(key) && !this.stopped) this.pending.add(key);
      this.pump();
      this.reportDepth();
    }
  }
}
