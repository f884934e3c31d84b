// The product version, from package.json (one source of truth; read once at start).
import { readFileSync } from 'node:fs';

// From the sources (proxy/) the package is one level up; from the build (dist/proxy/) two.
function readVersion(): string {
  for (const candidate of ['../package.json', '../../package.json']) {
    try {
      const pkg = JSON.parse(readFileSync(new URL(candidate, import.meta.url), 'utf8')) as { name?: unknown; version?: unknown };
      if (pkg.name === 'llmroute' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not there: try the next
    }
  }
  return 'unknown';
}

export const VERSION = readVersion();
