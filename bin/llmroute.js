#!/usr/bin/env node
// The `llmroute` command. Runs the TypeScript sources when they are present (a checkout: Node >= 22.18
// strips types natively), so a stale build can never shadow an edit; runs the compiled CLI
// bundle (`npm run build`: dist/llmroute.js) in an image or package without sources, or when
// LLMROUTE_DIST=1 (the benchmarks).
import { existsSync } from 'node:fs';

const built = new URL('../dist/llmroute.js', import.meta.url);
const source = new URL('../operator/cli/main.ts', import.meta.url);
const useBuilt = existsSync(built) && (process.env.LLMROUTE_DIST === '1' || !existsSync(source));
const { main } = await import(useBuilt ? built.href : source.href);
const code = await main(process.argv.slice(2));
if (typeof code === 'number') process.exitCode = code;
