// What leadership switches on and off: one controller per term of leadership. A lease can be lost
// and won back quickly; the next controller then starts only once the previous one has stopped (two
// never reconcile at once), a start scheduled in a term that ended meanwhile is dropped, and an
// earlier controller's informer sync can never mark a later term ready. Pure of Kubernetes: the
// controller factory and the leadership check are given.

export interface TermController {
  /** Resolves once its informers have synced. */
  ready: Promise<void>;
  stop(): Promise<void>;
}

export interface LeadershipOptions<C extends TermController> {
  start(): C;
  /** Whether this replica still holds the lease (checked when a delayed start comes due). */
  isLeader(): boolean;
  onReady?(): void;
}

export class Leadership<C extends TermController> {
  private term = 0;
  private current: C | undefined;
  private stopping: Promise<void> = Promise.resolve();
  private synced = true;
  private readonly options: LeadershipOptions<C>;

  constructor(options: LeadershipOptions<C>) {
    this.options = options;
  }

  /** Ready to serve: not leading, or leading with the informers synced. */
  get ready(): boolean {
    return this.synced;
  }

  started(): void {
    const term = (this.term += 1);
    this.synced = false;
    void this.stopping.then(() => {
      if (term !== this.term || !this.options.isLeader()) return;
      const mine = this.options.start();
      this.current = mine;
      void mine.ready.then(() => {
        if (this.current !== mine) return;
        this.synced = true;
        this.options.onReady?.();
      });
    });
  }

  stopped(): void {
    this.term += 1;
    const previous = this.current;
    this.current = undefined;
    this.synced = true;
    this.stopping = this.stopping.then(() => previous?.stop()).catch(() => undefined);
  }

  /** Stops the controller of the current term, if any (shutdown). */
  async stop(): Promise<void> {
    this.stopped();
    await this.stopping;
  }
}
