// Exponential backoff with full jitter (AWS architecture blog, "Exponential Backoff And Jitter"):
// wait a random time in [0, min(cap, base * 2^retry)], so clients that failed together spread out.

export function fullJitterDelay(retry: number, baseMs: number, capMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, retry));
  return Math.floor(random() * ceiling);
}

/**
 * How long to wait before retrying, honouring the upstream's retry-after when it is within the cap.
 * Returns undefined when the upstream asks for longer than we are willing to wait.
 */
export function retryDelay(retry: number, baseMs: number, capMs: number, retryAfterMs: number | undefined, random?: () => number): number | undefined {
  if (retryAfterMs !== undefined) return retryAfterMs <= capMs ? retryAfterMs : undefined;
  return fullJitterDelay(retry, baseMs, capMs, random);
}
