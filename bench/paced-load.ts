// Open-loop load at a steady rate: request i is due at start + i/rate, whatever happened to the ones
// before it, over a fixed set of kept-alive connections.
//
// Why not autocannon's `overallRate`: its limiter lets each connection send its quota for the second
// back-to-back and then pause until the next second, so "500 requests/s on 50 connections" arrives
// as a burst of 50 concurrent requests at the top of every second; and its coordinated-omission
// correction records, for a response of n ms, extra samples n-1, n-2, ... 1 ms (expected interval
// ceil(1/rate) = 1 ms), which moves every percentile. Under those bursts added latency measures how
// long a queue of 50 takes to drain, not what a proxy adds at 500 requests/s.
//
// A request's latency runs from the moment it was due and picked up by the generator to the end of
// its response: waiting for a free connection counts (the target was too slow to keep up), the
// generator's own timer lateness does not (it would charge every target alike, direct calls too).
import { Client } from 'undici';

/** Kept-alive connections to one target, reused across rounds (a round does not pay for connecting). */
export class LoadConnections {
  readonly clients: Client[];
  constructor(port: number, connections: number) {
    this.clients = Array.from({ length: connections }, () => new Client(`http://127.0.0.1:${port}`, { pipelining: 1 }));
  }
  close(): Promise<void> {
    return Promise.all(this.clients.map((c) => c.close())).then(() => undefined);
  }
}

export interface PacedLoadOptions {
  path: string;
  body: string;
  rate: number;
  seconds: number;
}

export interface PacedLoadRound {
  /** Latency of each successful request, ms, in completion order. */
  latencies: number[];
  /** Non-2xx answers and failed requests. */
  errors: number;
}

/** One round of `rate` requests/s for `seconds` over the given connections. */
export async function pacedLoad(connections: LoadConnections, options: PacedLoadOptions): Promise<PacedLoadRound> {
  const idle: Client[] = [...connections.clients];
  const headers = { 'content-type': 'application/json', authorization: 'Bearer bench' };
  const total = Math.round(options.rate * options.seconds);
  const intervalMs = 1000 / options.rate;
  /** Pick-up times of due requests waiting for a connection. */
  const waiting: number[] = [];
  const latencies: number[] = [];
  let errors = 0;
  let issued = 0;
  let finished = 0;
  const start = performance.now();

  const send = (client: Client, pickedUpAt: number): void => {
    void (async () => {
      try {
        const res = await client.request({ method: 'POST', path: options.path, body: options.body, headers });
        for await (const _ of res.body);
        if (res.statusCode < 200 || res.statusCode > 299) errors++;
        else latencies.push(performance.now() - pickedUpAt);
      } catch {
        errors++;
      }
      finished++;
      const next = waiting.shift();
      if (next !== undefined) send(client, next);
      else idle.push(client);
    })();
  };

  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      while (issued < total && start + issued * intervalMs <= now) {
        issued++;
        const client = idle.pop();
        if (client) send(client, now);
        else waiting.push(now);
      }
      if (issued < total) setTimeout(tick, Math.max(0, start + issued * intervalMs - performance.now()));
      else resolve();
    };
    tick();
  });
  while (finished < total) await new Promise((r) => setTimeout(r, 5));
  return { latencies, errors };
}
