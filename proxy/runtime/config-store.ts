// Holds the runtime in force and swaps it atomically. A config that fails to parse or build is
// refused and the last good one stays; the outcome is logged and reported to telemetry.
import { readFile } from 'node:fs/promises';
import { parseConfigText } from '../config/parse.ts';
import { formatIssues, type ConfigIssue } from '../config/issues.ts';
import type { Telemetry } from '../telemetry/hooks.ts';
import { buildRuntime, type Runtime } from './runtime.ts';

export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export type LoadOutcome = { ok: true; generation: string; changed: boolean } | { ok: false; issues: ConfigIssue[] };

export class ConfigStore {
  private current: Runtime | undefined;
  private lastError: string | undefined;
  private readonly env: Readonly<Record<string, string | undefined>>;
  private readonly logger: Logger;
  private readonly telemetry: Telemetry;

  constructor(options: { env: Readonly<Record<string, string | undefined>>; logger: Logger; telemetry: Telemetry }) {
    this.env = options.env;
    this.logger = options.logger;
    this.telemetry = options.telemetry;
  }

  runtime(): Runtime | undefined {
    return this.current;
  }

  /** The last refused config's problems, for /readyz (undefined when the last load succeeded). */
  lastLoadError(): string | undefined {
    return this.lastError;
  }

  loadText(text: string, source: string): LoadOutcome {
    const parsed = parseConfigText(text);
    const built = parsed.ok ? buildRuntime(parsed.config, this.env) : parsed;
    if (!built.ok) {
      this.lastError = formatIssues(built.issues);
      this.logger.error({ source, issues: built.issues, generationInForce: this.current?.generation ?? null }, 'config refused; keeping the last good config');
      this.telemetry.configLoaded({ ok: false, issues: built.issues.length });
      return { ok: false, issues: built.issues };
    }
    this.lastError = undefined;
    const changed = built.runtime.generation !== this.current?.generation;
    if (changed) {
      this.current = built.runtime;
      this.logger.info({ source, generation: built.runtime.generation, routes: built.runtime.config.routes.length }, 'config loaded');
      this.telemetry.configLoaded({ ok: true, generation: built.runtime.generation });
    }
    return { ok: true, generation: built.runtime.generation, changed };
  }

  async loadFile(path: string): Promise<LoadOutcome> {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      const issues = [{ path: '(file)', message: `cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? 'error'}` }];
      this.lastError = formatIssues(issues);
      this.logger.error({ source: path, issues }, 'config unreadable; keeping the last good config');
      this.telemetry.configLoaded({ ok: false, issues: 1 });
      return { ok: false, issues };
    }
    return this.loadText(text, path);
  }
}
