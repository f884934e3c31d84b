// Keep-alive connection pools per upstream origin (undici). Redirects are never followed: undici's
// request() does not follow them, and a 3xx is treated as an upstream error.
import { Pool } from 'undici';

export interface PoolOptions {
  connectTimeoutMs: number;
}

export class Pools {
  private readonly pools = new Map<string, Pool>();

  get(origin: string, options: PoolOptions): Pool {
    const key = `${origin}|${options.connectTimeoutMs}`;
    let pool = this.pools.get(key);
    if (!pool) {
      pool = new Pool(origin, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000, connect: { timeout: options.connectTimeoutMs } });
      this.pools.set(key, pool);
    }
    return pool;
  }

  async close(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.destroy()));
    this.pools.clear();
  }
}
