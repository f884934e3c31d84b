// Passive circuit breaking (outlier ejection): after `threshold` consecutive failures a backend is
// ejected for a time that grows with each ejection (base * 2^(n-1), capped). After the time passes
// it gets traffic again; a success resets it. Apart from that, a backend that answered 429/503 with
// a Retry-After is busy until then: requests go to the others first (reliability bar B22).

export interface BreakerOptions {
  threshold: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
}

export const DEFAULT_BREAKER: BreakerOptions = { threshold: 5, baseEjectionMs: 5_000, maxEjectionMs: 300_000 };

/** The longest a Retry-After keeps a backend busy: a provider's hour-long hint is not a reason to shun it that long. */
export const MAX_BUSY_MS = 60_000;

export class CircuitBreaker {
  private failures = 0;
  private ejections = 0;
  private ejectedUntil = 0;
  private busyUntil = 0;
  private readonly options: BreakerOptions;

  constructor(options: BreakerOptions = DEFAULT_BREAKER) {
    this.options = options;
  }

  isOpen(now: number = Date.now()): boolean {
    return now < this.ejectedUntil;
  }

  /** Neither ejected nor busy: a first choice for the next request. */
  isAvailable(now: number = Date.now()): boolean {
    return now >= this.ejectedUntil && now >= this.busyUntil;
  }

  /** The backend asked for a pause (Retry-After on a 429 or 503): other backends go first until then. */
  busyFor(ms: number, now: number = Date.now()): void {
    this.busyUntil = Math.max(this.busyUntil, now + Math.min(Math.max(0, ms), MAX_BUSY_MS));
  }

  /** Closed; open (ejected now); or half-open: the ejection ran out and no success has reset it yet. */
  state(now: number = Date.now()): 'closed' | 'open' | 'half_open' {
    if (now < this.ejectedUntil) return 'open';
    return this.ejections > 0 ? 'half_open' : 'closed';
  }

  recordSuccess(): void {
    this.failures = 0;
    this.ejections = 0;
  }

  recordFailure(now: number = Date.now()): void {
    this.failures += 1;
    if (this.failures >= this.options.threshold) {
      this.ejections += 1;
      this.failures = 0;
      this.ejectedUntil = now + Math.min(this.options.maxEjectionMs, this.options.baseEjectionMs * 2 ** (this.ejections - 1));
    }
  }
}

/** Breakers by backend id; survives config reloads so a reload does not forgive a broken backend. */
export class BreakerRegistry {
  private readonly breakers = new Map<string, CircuitBreaker>();
  private readonly options: BreakerOptions;

  constructor(options: BreakerOptions = DEFAULT_BREAKER) {
    this.options = options;
  }

  /** Every breaker's state, by backend id (`route/backend`). */
  *states(now: number = Date.now()): Generator<{ id: string; state: 'closed' | 'open' | 'half_open' }> {
    for (const [id, breaker] of this.breakers) yield { id, state: breaker.state(now) };
  }

  for(id: string): CircuitBreaker {
    let breaker = this.breakers.get(id);
    if (!breaker) {
      breaker = new CircuitBreaker(this.options);
      this.breakers.set(id, breaker);
    }
    return breaker;
  }
}
