// Sizes as Kubernetes users write them (`20Mi`, `1Gi`, `500k`, or a plain number of bytes), to bytes.
// Whole numbers only: a size in bytes has no fraction to round.
const UNITS: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 };

/** The CRD's `pattern` for a size written as a string. */
export const BYTE_SIZE_PATTERN = '^[0-9]+(Ki|Mi|Gi|k|M|G)?$';
const BYTE_SIZE = new RegExp(BYTE_SIZE_PATTERN);

/** Bytes, or undefined when the value is not a size (the CRD admits a number or such a string). */
export function parseByteSize(value: number | string): number | undefined {
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? value : undefined;
  if (!BYTE_SIZE.test(value)) return undefined;
  const [, digits, unit] = /^([0-9]+)(.*)$/.exec(value)!;
  const bytes = Number(digits) * UNITS[unit!]!;
  return Number.isSafeInteger(bytes) ? bytes : undefined;
}
