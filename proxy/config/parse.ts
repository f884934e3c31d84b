// Text -> validated config. Pure: no file system, no adapters (see proxy/runtime for binding).
import yaml from 'js-yaml';
import { configSchema, type ConfigInput, type ProxyConfig } from './schema.ts';
import { issuesFromZod, type ConfigIssue } from './issues.ts';
import { configGeneration } from './generation.ts';

export type ParseResult = { ok: true; config: ProxyConfig } | { ok: false; issues: ConfigIssue[] };

export function parseConfigText(text: string): ParseResult {
  let raw: unknown;
  try {
    raw = yaml.load(text, { schema: yaml.JSON_SCHEMA });
  } catch (err) {
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
