// A retry budget (as in Envoy and Finagle): every request deposits a fraction of a token, every
// retry or failover spends a whole one. In an outage retries stop at about `ratio` extra traffic
// instead of multiplying it; a small reserve lets a quiet proxy still retry.

export interface RetryBudgetOptions {
  /** Extra attempts allowed per request on average (0.2 = 20%). */
  ratio: number;
  /** Tokens available to a proxy that has seen little traffic yet. */
  minReserve: number;
  /** Cap on saved tokens, so a long calm period cannot fund a retry storm. */
  maxTokens: number;
}

export class RetryBudget {
  private tokens: number;
  private readonly options: RetryBudgetOptions;

  constructor(options: RetryBudgetOptions = { ratio: 0.2, minReserve: 10, maxTokens: 100 }) {
    this.options = options;
    this.tokens = options.minReserve;
  }

  /** Called once per incoming request. */
  deposit(): void {
    this.tokens = Math.min(this.options.maxTokens, this.tokens + this.options.ratio);
  }

  /** Called before a retry or failover attempt; false means the budget is spent. */
  trySpend(): boolean {
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
