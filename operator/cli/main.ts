// `llmroute <command>`: one entry point for the CLI, the sidecar and the operator.
import { parseArgs } from 'node:util';
import { runCompile, runValidate } from './compile-command.ts';

const USAGE = `usage: llmroute <command> [options]

commands:
  compile  -f FILE [-f FILE...] [-o config.yaml] [--secrets-dir DIR] [--namespace NS]
           compile LLMRoute/LLMPolicy YAML into the sidecar's config (stdout by default)
  validate -f FILE [-f FILE...]   report every problem by path; exit 1 if any
  proxy    --config FILE [--host 127.0.0.1] [--port 4000] [--admin-port 4001]   run the sidecar
  dev      -f FILE [-f FILE...] [--port 4000]   compile and serve, recompiling on change
  demo     serve the embedded default config and send it one request
  operator [--kubeconfig FILE] [--admin-port 8081] [--secrets-dir DIR]   reconcile LLMRoutes into ConfigMaps
           [--webhook-cert-dir DIR --sidecar-image IMAGE [--webhook-port 9443]]   and inject the sidecar
           [--sidecar-cpu 50m] [--sidecar-memory 96Mi] [--sidecar-cpu-limit Q] [--sidecar-memory-limit 256Mi] [--webhook-drain 5s]
`;

type Command = (argv: string[]) => Promise<number>;

const fileOptions = {
  file: { type: 'string', short: 'f', multiple: true },
  output: { type: 'string', short: 'o' },
  'secrets-dir': { type: 'string' },
  namespace: { type: 'string' },
} as const;

function compileArgs(argv: string[]) {
  const { values } = parseArgs({ args: argv, options: fileOptions, strict: true });
  if (!values.file || values.file.length === 0) throw new UsageError('at least one -f FILE is required');
  return { files: values.file, output: values.output, secretsDir: values['secrets-dir'], namespace: values.namespace };
}

export class UsageError extends Error {}

const commands: Record<string, Command> = {
  compile: (argv) => runCompile(compileArgs(argv), process.stdout, process.stderr),
  validate: (argv) => runValidate(compileArgs(argv), process.stdout, process.stderr),
  // Heavier commands load their modules only when used, so `compile` starts fast.
  proxy: async (argv) => (await import('../../proxy/main.ts')).runProxyCommand(argv),
  dev: async (argv) => (await import('./dev-command.ts')).runDevCommand(argv),
  demo: async (argv) => (await import('../../proxy/main.ts')).runDemoCommand(argv),
  operator: async (argv) => (await import('../main.ts')).runOperatorCommand(argv),
};

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '-h' || name === '--help' || name === 'help') {
    process.stdout.write(USAGE);
    return name ? 0 : 2;
  }
  const command = commands[name];
  if (!command) {
    process.stderr.write(`llmroute: unknown command "${name}"\n${USAGE}`);
    return 2;
  }
  try {
    return await command(rest);
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`llmroute ${name}: ${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`llmroute ${name}: ${(err as Error).message}\n`);
    return 1;
  }
}
