// Route and policy status writes, off the reconcile's critical path: a namespace's ConfigMap (what
// sidecars route by) must not wait behind the status writes of every route before it. Only the latest
// status wanted per object is kept; a status equal to the last one written is not written again (the
// informer cache lags behind our own writes, so the reconcile alone would rewrite it); bounded
// concurrency; a failed write is retried a few times (a deleted object's 404, or a write refused for
// good, is dropped). Writes can be deferred while ConfigMaps are still waiting to be applied
// (`deferWhile`), each for at most `maxDeferMs`.
//
// Objects are keyed by metadata.uid, not by name: a route deleted and recreated under the same name
// is another object, which neither inherits the old one's pending status nor is skipped because the
// old one's status was "already written" (the write itself names the uid too: see statusPatcher).
import { sameStatus } from './status.ts';

export interface StatusTarget {
  kind: 'LLMRoute' | 'LLMPolicy';
  namespace: string;
  name: string;
  /** metadata.uid: the key of the object, and a precondition of the write. */
  uid?: string;
}

export type WriteStatus = (target: StatusTarget, status: object) => Promise<void>;

export interface StatusWriterOptions {
  concurrency?: number;
  retryDelayMs?: number;
  maxAttempts?: number;
  /** While this returns true, writes wait (ConfigMaps still to apply come first), each at most `maxDeferMs`. */
  deferWhile?(): boolean;
  maxDeferMs?: number;
  onWritten?(target: StatusTarget): void;
  onError?(target: StatusTarget, error: unknown): void;
}

interface Wanted {
  target: StatusTarget;
  status: object;
  attempts: number;
  /** When a write for this object was first wanted (kept when a newer status replaces a pending one). */
  since: number;
}

/**
 * Errors a retry cannot fix: 404 (the object is gone), 409 (a precondition failed: the uid names an
 * object that was replaced), 422 (the API server refuses the status, or the uid no longer matches).
 */
const PERMANENT = new Set([404, 409, 422]);

export class StatusWriter {
  /** The key of an object: its uid, or (without one: tests, hand-made objects) kind, namespace and name. */
  static keyOf(target: StatusTarget): string {
    return target.uid ?? `${target.kind}/${target.namespace}/${target.name}`;
  }

  private readonly write: WriteStatus;
  private readonly options: Required<Omit<StatusWriterOptions, 'onWritten' | 'onError' | 'deferWhile'>> & Pick<StatusWriterOptions, 'onWritten' | 'onError' | 'deferWhile'>;
  private readonly pending = new Map<string, Wanted>();
  private readonly inFlight = new Set<string>();
  /** By namespace, then object key: retain() looks at one namespace, not at every object. */
  private readonly lastWritten = new Map<string, Map<string, object>>();
  /** By namespace, then object key: the status each object should end up with (the latest reconcile's). */
  private readonly latest = new Map<string, Map<string, object>>();
  /** The status each write in flight is writing. */
  private readonly writing = new Map<string, object>();
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
  submit(target: StatusTarget, status: object): boolean {
    if (this.stopped) return false;
    const key = StatusWriter.keyOf(target);
    this.remember(target.namespace, key, status);
    if (sameStatus(status, this.lastWritten.get(target.namespace)?.get(key))) {
      this.pending.delete(key);
      return false;
    }
    this.pending.set(key, { target, status, attempts: 0, since: this.pending.get(key)?.since ?? Date.now() });
    this.pump();
    return true;
  }

  /**
   * The object already shows this status (the informer's copy says so): nothing needs writing, and a
   * write still waiting (deferred, or due for a retry) of an older status is withdrawn, since it would
   * overwrite the right status with a stale one. A write already in flight of another status is
   * followed by this one.
   */
  alreadyShows(target: StatusTarget, status: object): void {
    if (this.stopped) return;
    const key = StatusWriter.keyOf(target);
    this.remember(target.namespace, key, status);
    this.pending.delete(key);
    const inFlight = this.writing.get(key);
    if (inFlight !== undefined && !sameStatus(inFlight, status)) {
      this.pending.set(key, { target, status, attempts: 0, since: Date.now() });
      return;
    }
    this.pump(); // nothing may be left to wait for: drops the deferral timer
    this.notifyIdle();
  }

  private remember(namespace: string, key: string, status: object): void {
    let wanted = this.latest.get(namespace);
    if (!wanted) this.latest.set(namespace, (wanted = new Map()));
    wanted.set(key, status);
  }

  /** Tries the pending writes again (call when `deferWhile` may have turned false). */
  resume(): void {
    if (this.pending.size > 0) this.pump();
  }

  /**
   * Forgets the objects of a namespace that no longer exist (`keys`: keyOf() of those that do): what was
   * written for them (bounded memory under churn) and what still waited to be written.
   */
  retain(namespace: string, keys: ReadonlySet<string>): void {
    for (const byKey of [this.lastWritten, this.latest]) {
      const known = byKey.get(namespace);
      if (!known) continue;
      for (const key of known.keys()) if (!keys.has(key)) known.delete(key);
      if (known.size === 0) byKey.delete(namespace);
    }
    let dropped = false;
    for (const [key, wanted] of this.pending) {
      if (wanted.target.namespace === namespace && !keys.has(key)) {
        this.pending.delete(key);
        dropped = true;
      }
    }
    if (dropped) {
      this.pump();
      this.notifyIdle();
    }
  }

  /** Resolves when nothing is pending or being written. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    clearTimeout(this.deferTimer);
    this.deferTimer = undefined;
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
      this.writing.set(key, wanted.status);
      const { target } = wanted;
      void this.write(target, wanted.status).then(
        () => {
          let written = this.lastWritten.get(target.namespace);
          if (!written) this.lastWritten.set(target.namespace, (written = new Map()));
          written.set(key, wanted.status);
          this.options.onWritten?.(target);
        },
        (error: unknown) => {
          this.options.onError?.(target, error);
          const permanent = PERMANENT.has((error as { code?: number } | undefined)?.code ?? 0);
          if (permanent || wanted.attempts + 1 >= this.options.maxAttempts || this.stopped) return;
          const timer = setTimeout(() => {
            this.timers.delete(timer);
            // A newer status submitted meanwhile wins over this retry, and so does a reconcile that
            // found the object already showing another status.
            const latest = this.latest.get(target.namespace)?.get(key);
            if (!this.pending.has(key) && (latest === undefined || sameStatus(latest, wanted.status))) this.pending.set(key, { ...wanted, attempts: wanted.attempts + 1 });
            this.pump();
            this.notifyIdle();
          }, this.options.retryDelayMs);
          this.timers.add(timer);
        },
      ).finally(() => {
        this.inFlight.delete(key);
        this.writing.delete(key);
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
