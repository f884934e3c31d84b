// The order in which a request tries a route's backends.
import type { Strategy } from '../config/schema.ts';

/** failover: as configured. weighted: one backend picked by weight first, the rest in order after it. */
export function attemptOrder<T extends { config: { weight: number } }>(strategy: Strategy, backends: readonly T[], random: () => number = Math.random): T[] {
  if (strategy !== 'weighted' || backends.length < 2) return [...backends];
  const total = backends.reduce((sum, b) => sum + b.config.weight, 0);
  if (total <= 0) return [...backends];
  let point = random() * total;
  let chosen = backends.length - 1;
  for (let i = 0; i < backends.length; i++) {
    point -= backends[i]!.config.weight;
    if (point < 0) {
      chosen = i;
      break;
    }
  }
  return [backends[chosen]!, ...backends.filter((_, i) => i !== chosen)];
}
