// `llmroute compile` and `llmroute validate`: the operator's compile(), offline.
import { writeFile } from 'node:fs/promises';
import { compile, type CompileResult } from '../compile/compile.ts';
import { dumpStampedConfig } from '../../proxy/config/parse.ts';
import { loadDocuments } from './load-documents.ts';

export interface CompileArgs {
  files: string[];
  output?: string | undefined;
  secretsDir?: string | undefined;
  namespace?: string | undefined;
}

/** A compile of files, with the documents that were neither an LLMRoute nor an LLMPolicy (a misspelt kind). */
export type FilesCompileResult = CompileResult & { ignored: string[] };

export async function compileFiles(args: CompileArgs): Promise<FilesCompileResult> {
  const docs = await loadDocuments(args.files);
  return { ...compile(docs.routes, docs.policies, { secretsDir: args.secretsDir, namespace: args.namespace }), ignored: docs.ignored };
}

/** Human-readable problems of a compile, one per line; empty when everything compiled and was admitted. */
export function describeProblems(result: FilesCompileResult): string[] {
  // A document of another kind would vanish without a word (kind: LLMRoutes compiles to no route).
  const lines: string[] = result.ignored.map((where) => `${where}: not an LLMRoute or LLMPolicy (apiVersion llmroute.dev/v1alpha1), left out`);
  for (const p of result.policies) if (!p.valid) for (const i of p.issues) lines.push(`LLMPolicy ${p.name}: ${i.path}: ${i.message}`);
  for (const r of result.routes) {
    const who = `LLMRoute ${r.namespace ? `${r.namespace}/` : ''}${r.name}`;
    if (r.issues.length > 0) for (const i of r.issues) lines.push(`${who}: ${i.path}: ${i.message}`);
    else if (!r.compiled) lines.push(`${who}: ${r.reason}: ${r.message}`);
    for (const b of r.backends) if (!b.admitted && b.reason === 'DeniedByPolicy') lines.push(`${who}: backend ${b.name}: ${b.reason}: ${b.message}`);
  }
  return lines;
}

export async function runCompile(args: CompileArgs, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const result = await compileFiles(args);
  for (const line of describeProblems(result)) stderr.write(`warning: ${line}\n`);
  const text = dumpStampedConfig(result.config);
  if (args.output) await writeFile(args.output, text);
  else stdout.write(text);
  return 0;
}

export async function runValidate(args: CompileArgs, stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): Promise<number> {
  const result = await compileFiles(args);
  const problems = describeProblems(result);
  for (const line of problems) stderr.write(`${line}\n`);
  if (problems.length > 0) return 1;
  stdout.write(`ok: ${result.routes.length} route(s), ${result.config.routes.reduce((n, r) => n + r.models.length, 0)} model(s), generation ${result.config.generation}\n`);
  return 0;
}
