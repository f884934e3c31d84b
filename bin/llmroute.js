#!/usr/bin/env node
// The `llmroute` command. Runs the compiled CLI when the package was built (`npm run build`),
// otherwise the TypeScript sources directly (Node >= 22.18 strips types natively).
import { existsSync } from 'node:fs';

const built = new URL('../dist/operator/cli/main.js', import.meta.url);
const source = new URL('../operator/cli/main.ts', import.meta.url);
const { main } = await import(existsSync(built) ? built.href : source.href);
const code = await main(process.argv.slice(2));
if (typeof code === 'number') process.exitCode = code;
