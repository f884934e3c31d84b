// Holds the runtime in force and swaps it atomically. A config that fails to parse or build is
// refused and the last good one stays; the outcome is logged and reported to telemetry.
import { open } from 'node:fs/promises';
import { MAX_CONFIG_BYTES, parseConfigText } from '../config/parse.ts';
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

  /** Whatever throws while parsing or building refuses the config like an invalid one (the last good one stays). */
  loadText(text: string, source: string): LoadOutcome {
    let built: ReturnType<typeof buildRuntime>;
    try {
      const parsed = parseConfigText(text);
      built = parsed.ok ? buildRuntime(parsed.config, this.env) : parsed;
    } catch (err) {
      const message = err instanceof RangeError ? 'the config is too deeply nested or too large to process' : 'the config could not be processed';
      built = { ok: false, issues: [{ path: '(root)', message: `${message} (${err instanceof Error ? err.name : 'error'})` }] };
    }
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

  /** A missing, unreadable, oversized or invalid file is refused, never a rejection: the file watcher calls this without awaiting. */
  async loadFile(path: string): Promise<LoadOutcome> {
    let text: string;
    try {
      text = await readBounded(path, MAX_CONFIG_BYTES);
    } catch (err) {
      const reason = err instanceof ConfigTooLargeError ? `larger than ${MAX_CONFIG_BYTES} bytes` : ((err as NodeJS.ErrnoException).code ?? 'error');
      const issues = [{ path: '(file)', message: `cannot read ${path}: ${reason}` }];
      this.lastError = formatIssues(issues);
      this.logger.error({ source: path, issues }, 'config unreadable; keeping the last good config');
      this.telemetry.configLoaded({ ok: false, issues: 1 });
      return { ok: false, issues };
    }
    return this.loadText(text, path);
  }
}

class ConfigTooLargeError extends Error {}

/** The file's text, read no further than `limit` bytes (a config file is never read whole when it is too big). */
async function readBounded(path: string, limit: number): Promise<string> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(limit + 1);
    let size = 0;
    while (size < buffer.length) {
      const { bytesRead } = await handle.read(buffer, size, buffer.length - size, null);
      if (bytesRead === 0) break;
      size += bytesRead;
    }
    if (size > limit) throw new ConfigTooLargeError();
    return buffer.toString('utf8', 0, size);
  } finally {
    await handle.close();
  }
}
