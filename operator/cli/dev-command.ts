// `llmroute dev`: compile LLMRoute files with the operator's compile() and serve them, recompiling
// when a file changes (a bad edit keeps the last good config).
import { parseArgs } from 'node:util';
import { dumpStampedConfig } from '../../proxy/config/parse.ts';
import { watchFile } from '../../proxy/runtime/config-watcher.ts';
import { startProxy } from '../../proxy/server.ts';
import { createLogger } from '../../proxy/logger.ts';
import { drainOptions, port, serveOptions, waitForSignal } from '../../proxy/main.ts';
import { compileFiles, describeProblems } from './compile-command.ts';

export async function runDevCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { ...serveOptions, file: { type: 'string', short: 'f', multiple: true }, 'secrets-dir': { type: 'string' } }, strict: true });
  if (!values.file?.length) throw Object.assign(new Error('at least one -f FILE is required'), { code: 'ERR_PARSE_ARGS_USAGE' });
  const files = values.file;
  const drain = drainOptions(values);
  const logger = createLogger(process.env.LLMROUTE_LOG_LEVEL ?? 'info');
  const compileNow = async (): Promise<string | undefined> => {
    try {
      const result = await compileFiles({ files, secretsDir: values['secrets-dir'] });
      for (const problem of describeProblems(result)) logger.warn({ problem }, 'compile problem');
      return dumpStampedConfig(result.config);
    } catch (err) {
      logger.error({ error: (err as Error).message }, 'compile failed; keeping the last good config');
      return undefined;
    }
  };
  const first = await compileNow();
  if (first === undefined) return 1;
  const proxy = await startProxy({ configText: first, host: values.host, port: port(values.port, 'port'), adminPort: port(values['admin-port'], 'admin-port'), env: process.env, logger });
  const watchers = files.map((f) =>
    watchFile(f, async () => {
      const text = await compileNow();
      if (text !== undefined) proxy.store.loadText(text, f);
    }),
  );
  return waitForSignal(proxy, () => watchers.forEach((w) => w.close()), drain);
}

