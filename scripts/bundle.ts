// `npm run build`: the `llmroute` command as one ESM bundle in dist/ (dist/llmroute.js plus the chunks
// its subcommands load on demand), straight from the TypeScript sources.
//
// Why a bundle and not tsc's file-per-module output: a sidecar runs in every pod, so its resident
// memory counts many times over. Loaded file by file, the proxy idles ~12 MB higher (bench/RESULTS.md):
// every module is a separate source string, module record and compile, and ESM re-exports keep whole
// packages alive that the bundle tree-shakes away. Whitespace and syntax are minified (smaller source
// strings held by V8) but identifiers are kept, so stack traces stay readable without source maps.
// Every package is bundled: dist/ runs without node_modules.
import { rmSync } from 'node:fs';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const outdir = `${root}dist`;

rmSync(outdir, { recursive: true, force: true });
const result = await build({
  absWorkingDir: root,
  entryPoints: { llmroute: 'operator/cli/main.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node22',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  legalComments: 'linked',
  packages: 'bundle',
  // CommonJS packages inside an ESM bundle call require() for Node built-ins; give them a real one.
  banner: { js: "import { createRequire as __llmrouteCreateRequire } from 'node:module'; const require = __llmrouteCreateRequire(import.meta.url);" },
  chunkNames: 'chunks/[name]-[hash]',
  logLevel: 'warning',
  metafile: true,
});
const scripts = Object.entries(result.metafile.outputs).filter(([file]) => file.endsWith('.js'));
const bytes = scripts.reduce((sum, [, output]) => sum + output.bytes, 0);
console.log(`dist/llmroute.js: ${scripts.length} files, ${(bytes / 1e6).toFixed(1)} MB`);
