// Durations as users write them in LLMRoute (`250ms`, `2s`, `1m30s`, `1h`), to milliseconds.
const DURATION = /^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?(?:(\d+)ms)?$/;

export const DURATION_PATTERN = '^([0-9]+h)?([0-9]+m)?([0-9]+(\\.[0-9]+)?s)?([0-9]+ms)?$';

export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || text === '') return undefined;
  const [, h, min, s, ms] = m;
  const total = Number(h ?? 0) * 3_600_000 + Number(min ?? 0) * 60_000 + Number(s ?? 0) * 1000 + Number(ms ?? 0);
  return Math.round(total);
}
