// Route status writes, off the reconcile's critical path: a namespace's ConfigMap (what sidecars
// route by) must not wait behind the status writes of every route before it. Only the latest status
// wanted per route is kept; a status equal to the last one written is not written again (the informer
// cache lags behind our own writes, so the reconcile alone would rewrite it); bounded concurrency;
// a failed write is retried a few times (a deleted route's 404 is dropped). Writes can be deferred while
// ConfigMaps are still waiting to be applied (`deferWhile`), each for at most `maxDeferMs`.
import { sameStatus, type LLMRouteStatus } from './status.ts';

export type WriteStatus = (namespace: string, name: string, status: LLMRouteStatus) => Promise<void>;

export interface StatusWriterOptions {
  concurrency?: number;
  retryDelayMs?: number;
  maxAttempts?: number;
  /** While this returns true, writes wait (ConfigMaps still to apply come first), each at most `maxDeferMs`. */
  deferWhile?(): boolean;
  maxDeferMs?: number;
  onWritten?(namespace: string, name: string): void;
  onError?(namespace: string, name: string, error: unknown): void;
}

interface Wanted {
  namespace: string;
  name: string;
  status: LLMRouteStatus;
  attempts: number;
  /** When a write for this route was first wanted (kept when a newer status replaces a pending one). */
  since: number;
}

export class StatusWriter {
  private readonly write: WriteStatus;
  private readonly options: Required<Omit<StatusWriterOptions, 'onWritten' | 'onError' | 'deferWhile'>> & Pick<StatusWriterOptions, 'onWritten' | 'onError' | 'deferWhile'>;
  private readonly pending = new Map<string, Wanted>();
  private readonly inFlight = new Set<string>();
  /** By namespace, then route name: retain() looks at one namespace, not at every route. */
  private readonly lastWritten = new Map<string, Map<string, LLMRouteStatus>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private deferTimer: NodeJS.Timeout | undefined;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;

  constructor(write: WriteStatus, options: StatusWriterOptions = {}) {
    this.write = write;
    this.options = {
      concurrency: options.concurrency ?? 4,
      retryDelayMs: options.retryDelayMs ?? 1000,
      maxAttempts: options.maxAttempts ?? 5,
      maxDeferMs: options.maxDeferMs ?? 5000,
      deferWhile: options.deferWhile,
      onWritten: options.onWritten,
      onError: options.onError,
    };
  }

  /** Wants this status written; returns false when it is already the last one written. */
  submit(namespace: string, name: string, status: LLMRouteStatus): boolean {
    const key = `${namespace}/${name}`;
    if (sameStatus(status, this.lastWritten.get(namespace)?.get(name))) {
      this.pending.delete(key);
      return false;
    }
    this.pending.set(key, { namespace, name, status, attempts: 0, since: this.pending.get(key)?.since ?? Date.now() });
    this.pump();
    return true;
  }

  /** Tries the pending writes again (call when `deferWhile` may have turned false). */
  resume(): void {
    if (this.pending.size > 0) this.pump();
  }

  /** Forgets routes of a namespace that no longer exist (bounded memory under route churn). */
  retain(namespace: string, names: ReadonlySet<string>): void {
    const written = this.lastWritten.get(namespace);
    if (!written) return;
    for (const name of written.keys()) if (!names.has(name)) written.delete(name);
    if (written.size === 0) this.lastWritten.delete(namespace);
  }

  /** Resolves when nothing is pending or being written. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    clearTimeout(this.deferTimer);
    this.pending.clear();
    this.notifyIdle();
  }

  private isIdle(): boolean {
    return this.pending.size === 0 && this.inFlight.size === 0 && this.timers.size === 0;
  }

  private notifyIdle(): void {
    if (!this.isIdle()) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }

  private pump(): void {
    if (this.stopped) return;
    const deferring = this.options.deferWhile?.() === true;
    const now = Date.now();
    let nextDue = Infinity;
    for (const [key, wanted] of this.pending) {
      if (this.inFlight.size >= this.options.concurrency) break;
      if (this.inFlight.has(key)) continue; // a newer status waits until the current write is done
      if (deferring && now - wanted.since < this.options.maxDeferMs) {
        // Oldest first (insertion order): the rest are not due either (a retry put back at the end
        // waits at most until the deferral ends).
        nextDue = wanted.since + this.options.maxDeferMs;
        break;
      }
      this.pending.delete(key);
      this.inFlight.add(key);
      void this.write(wanted.namespace, wanted.name, wanted.status).then(
        () => {
          let written = this.lastWritten.get(wanted.namespace);
          if (!written) this.lastWritten.set(wanted.namespace, (written = new Map()));
          written.set(wanted.name, wanted.status);
          this.options.onWritten?.(wanted.namespace, wanted.name);
        },
        (error: unknown) => {
          this.options.onError?.(wanted.namespace, wanted.name, error);
          const gone = (error as { code?: number }).code === 404;
          if (gone || wanted.attempts + 1 >= this.options.maxAttempts || this.stopped) return;
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            // A newer status submitted meanwhile wins over this retry.
            if (!this.pending.has(key)) this.pending.set(key, { ...wanted, attempts: wanted.attempts + 1 });
            this.pump();
            this.notifyIdle();
          }, this.options.retryDelayMs);
          this.timers.add(timer);
        },
      ).finally(() => {
        this.inFlight.delete(key);
        this.pump();
        this.notifyIdle();
      });
    }
    // Deferred writes are written when resume() is called or, at the latest, when their deferral ends.
    if (this.pending.size === 0 && this.deferTimer !== undefined) {
      clearTimeout(this.deferTimer);
      this.deferTimer = undefined;
    }
    if (nextDue !== Infinity && this.deferTimer === undefined) {
      this.deferTimer = setTimeout(() => {
        this.deferTimer = undefined;
        this.pump();
      }, Math.max(1, nextDue - now));
    }
  }
}
