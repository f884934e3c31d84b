// The generation of a config is a hash of its content, so the operator, the CLI and the proxy
// agree on the identity of a config without coordination, and an unchanged compile is a no-op.
import { nodeCrypto } from '../io/builtins.ts';

/** JSON with object keys sorted, so equal content hashes equally whatever the key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}

/** `sha256-<first 16 hex>` of the config without its own `generation` field. */
export function configGeneration(config: object): string {
  const { generation: _ignored, ...content } = config as Record<string, unknown>;
  return 'sha256-' + nodeCrypto().createHash('sha256').update(canonicalJson(content)).digest('hex').slice(0, 16);
}
