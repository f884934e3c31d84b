// Reads LLMRoute / LLMPolicy objects from YAML files (one or many documents per file, or a List).
import { readFile } from 'node:fs/promises';
import yaml from 'js-yaml';

export interface LoadedDocuments {
  routes: unknown[];
  policies: unknown[];
  /** Documents that are neither, with where they came from. */
  ignored: string[];
}

export async function loadDocuments(files: readonly string[]): Promise<LoadedDocuments> {
  const out: LoadedDocuments = { routes: [], policies: [], ignored: [] };
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    let docs: unknown[];
    try {
      docs = yaml.loadAll(text, undefined, { schema: yaml.JSON_SCHEMA });
    } catch (err) {
      throw new Error(`${file}: not valid YAML: ${(err as Error).message.split('\n')[0]}`);
    }
    const flat = docs.flatMap((d) => (isList(d) ? d.items : [d]));
    flat.forEach((doc, i) => {
      if (doc === null || doc === undefined) return;
      const kind = (doc as { kind?: unknown }).kind;
      if (kind === 'LLMRoute') out.routes.push(doc);
      else if (kind === 'LLMPolicy') out.policies.push(doc);
      else out.ignored.push(`${file} document ${i + 1} (kind ${String(kind)})`);
    });
  }
  return out;
}

function isList(doc: unknown): doc is { items: unknown[] } {
  return typeof doc === 'object' && doc !== null && (doc as { kind?: unknown }).kind === 'List' && Array.isArray((doc as { items?: unknown }).items);
}
