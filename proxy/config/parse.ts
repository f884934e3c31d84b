// Text -> validated config. Pure: no file system, no adapters (see proxy/runtime for binding).
import yaml from 'js-yaml';
import { configSchema, type ConfigInput, type ProxyConfig } from './schema.ts';
import { issuesFromZod, type ConfigIssue } from './issues.ts';
import { configGeneration } from './generation.ts';

export type ParseResult = { ok: true; config: ProxyConfig } | { ok: false; issues: ConfigIssue[] };

/** Largest config.yaml accepted, in bytes: a ConfigMap holds at most 1 MiB. */
export const MAX_CONFIG_BYTES = 1024 * 1024;
/** Deepest YAML nesting accepted (the config's own shape is 6 levels deep; provider options add a few). */
const MAX_CONFIG_DEPTH = 64;

class YamlAliasError extends Error {}

/**
 * Refuses anchors, hence aliases: an alias cannot resolve without an anchor. The compiled config never
 * has them (the operator dumps with noRefs), and a few hundred bytes of nested aliases expand into a
 * tree of millions of nodes for the schema check and the generation hash (an "alias bomb"). Reads the
 * parser's own anchor table after each node, so `&` and `*` inside scalars are content, as they should be.
 */
function refuseAnchors(eventType: 'open' | 'close', state: unknown): void {
  if (eventType !== 'close') return;
  const anchors = (state as { anchorMap?: Record<string, unknown> }).anchorMap;
  if (anchors === undefined) throw new YamlAliasError('the YAML parser did not expose its anchors');
  for (const name in anchors) throw new YamlAliasError(`YAML anchors and aliases are not allowed in the config (anchor &${name.slice(0, 40)})`);
}

export function parseConfigText(text: string): ParseResult {
  // Cheap bound first (a UTF-16 code unit is at least one UTF-8 byte), exact when it could matter.
  if (text.length > MAX_CONFIG_BYTES || (text.length * 3 > MAX_CONFIG_BYTES && Buffer.byteLength(text, 'utf8') > MAX_CONFIG_BYTES)) {
    return { ok: false, issues: [{ path: '(root)', message: `the config is larger than ${MAX_CONFIG_BYTES} bytes` }] };
  }
  let raw: unknown;
  try {
    // maxDepth is a js-yaml 4.3 option its types do not declare yet.
    raw = yaml.load(text, { schema: yaml.JSON_SCHEMA, listener: refuseAnchors, maxDepth: MAX_CONFIG_DEPTH } as yaml.LoadOptions);
  } catch (err) {
    if (err instanceof YamlAliasError) return { ok: false, issues: [{ path: '(root)', message: err.message }] };
    return { ok: false, issues: [{ path: '(root)', message: `not valid YAML: ${(err as Error).message.split('\n')[0]}` }] };
  }
  return parseConfigObject(raw);
}

/** Shape and value problems of a config object, by path (the generation stamp is not checked). */
export function configIssues(raw: unknown): ConfigIssue[] {
  const result = configSchema.safeParse(raw);
  return result.success ? [] : issuesFromZod(result.error);
}

export function parseConfigObject(raw: unknown): ParseResult {
  const result = configSchema.safeParse(raw);
  if (!result.success) return { ok: false, issues: issuesFromZod(result.error) };
  const expected = configGeneration(raw as object);
  if (result.data.generation !== undefined && result.data.generation !== expected) {
    return {
      ok: false,
      issues: [{ path: 'generation', message: `does not match the content (expected ${expected}); the file was edited or truncated` }],
    };
  }
  return { ok: true, config: { ...result.data, generation: expected } };
}

/** Serialises a config for config.yaml, stamping its generation. */
export function serializeConfig(config: ConfigInput): string {
  const { generation: _old, apiVersion, kind, ...body } = config;
  return dumpStampedConfig({ apiVersion, kind, generation: configGeneration({ apiVersion, kind, ...body }), ...body });
}

/**
 * config.yaml text of a config already stamped with the generation of its content: compile()'s
 * output, which the operator writes on every reconcile (hashing the content again there was a third
 * of the compile's cost). Same text as serializeConfig for such a config.
 */
export function dumpStampedConfig(config: ConfigInput & { generation: string }): string {
  return yaml.dump(config, { noRefs: true, lineWidth: 120, sortKeys: false });
}
