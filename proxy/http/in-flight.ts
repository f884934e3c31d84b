// The requests being served now, for a graceful shutdown. An egress sidecar must not refuse its app's
// new calls on SIGTERM (classic sidecars get TERM together with the app, which may still be finishing
// work): it keeps serving, and stops once no request has been in flight for a quiet period, or at a
// deadline, when what is left is ended with a terminal error (streams get an error event, not silence).

/** The abort reason of requests cut by the shutdown deadline (not by their client leaving). */
export const SHUTTING_DOWN: Error = Object.freeze(new Error('llmroute: the sidecar is shutting down'));

export interface DrainOptions {
  /** Stop once nothing has been in flight for this long. */
  quietMs: number;
  /** Stop at this point whatever is still in flight (end it with a terminal error). */
  deadlineMs: number;
  /** How long the cut requests get to write their terminal error before connections are closed. */
  graceMs?: number;
}

export type DrainResult = { reason: 'quiet' | 'deadline'; cut: number };

export class InFlightRequests {
  /** Each request's controller: aborting it cancels the upstream call and ends the response. */
  private readonly active = new Set<AbortController>();
  private draining = false;

  get size(): number {
    return this.active.size;
  }

  get isDraining(): boolean {
    return this.draining;
  }

  add(request: AbortController): void {
    this.active.add(request);
  }

  delete(request: AbortController): void {
    this.active.delete(request);
  }

  /** Waits until nothing has been in flight for `quietMs` (new requests are still served meanwhile), or the deadline. */
  async drain(options: DrainOptions): Promise<DrainResult> {
    this.draining = true;
    const started = Date.now();
    const tick = Math.max(10, Math.min(100, options.quietMs / 4));
    let quietSince = this.active.size === 0 ? started : undefined;
    for (;;) {
      const now = Date.now();
      if (this.active.size > 0) quietSince = undefined;
      else quietSince ??= now;
      if (quietSince !== undefined && now - quietSince >= options.quietMs) return { reason: 'quiet', cut: 0 };
      if (now - started >= options.deadlineMs) break;
      await sleep(Math.min(tick, options.deadlineMs - (now - started)));
    }
    const cut = this.active.size;
    for (const request of this.active) request.abort(SHUTTING_DOWN);
    const graceEnd = Date.now() + (options.graceMs ?? 1000);
    while (this.active.size > 0 && Date.now() < graceEnd) await sleep(10);
    return { reason: 'deadline', cut };
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, Math.max(0, ms)));
