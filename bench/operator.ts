// `npm run bench:operator`: how fast the operator turns LLMRoutes into the namespace ConfigMap, and what
// it costs in memory, against the real kube-apiserver + etcd of the test harness, all on 127.0.0.1.
// The operator runs as its own process (`llmroute operator --kubeconfig`), so its RSS is its own.
// Convergence = from a create/patch call returning here to the first ConfigMap `llmroute-config`
// version (seen through a watch) whose config.yaml serves that route's model.
// Writes its section of bench/RESULTS.md (between the operator-bench markers) and prints it.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, openSync, closeSync } from 'node:fs';
import { once } from 'node:events';
import { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { connect as http2Connect, type ClientHttp2Session, type ClientHttp2Stream, type OutgoingHttpHeaders, type SecureClientSessionOptions } from 'node:http2';
import type { RequestOptions } from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { freePort, startCluster, type Cluster } from '../test/k8s/harness.ts';

const root = new URL('..', import.meta.url).pathname;
const NAMESPACES = Number(process.env.BENCH_OPERATOR_NAMESPACES ?? 50);
const ROUTES_PER_NAMESPACE = Number(process.env.BENCH_OPERATOR_ROUTES_PER_NAMESPACE ?? 10);
const CLIENT_CONCURRENCY = Number(process.env.BENCH_OPERATOR_CONCURRENCY ?? 20);
const UPDATES = Number(process.env.BENCH_OPERATOR_UPDATES ?? 20);
/** Bound on each wait (for convergence, for the operator to go idle); the whole run is bounded by 3x that. */
const TIMEOUT_MS = Number(process.env.BENCH_OPERATOR_TIMEOUT_S ?? 120) * 1000;
const TARGET_P95_MS = 1000;
const TARGET_RSS_MB = 150;

/** Where LLMRoutes of a namespace are created (POST) and, with `/<name>`, patched and deleted. */
const routesPath = (namespace: string) => `/apis/llmroute.dev/v1alpha1/namespaces/${namespace}/llmroutes`;
const CONFIGMAP = 'llmroute-config';
const SELECTOR = 'app.kubernetes.io/managed-by=llmroute-operator';

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));


/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

function summarize(values: number[]) {
  const sorted = [...values].sort((a, b) => a - b);
  return { n: sorted.length, p50: percentile(sorted, 50), p95: percentile(sorted, 95), max: sorted[sorted.length - 1] ?? NaN };
}

function procMb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? NaN) / 1024;
}

/** CPU seconds (user + system) a process has used so far. */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // USER_HZ is 100 on Linux
}

/** Our direct children by command name (the harness's etcd and kube-apiserver, the operator). */
function childPids(): Map<string, number> {
  const found = new Map<string, number>();
  for (const task of readdirSync(`/proc/${process.pid}/task`)) {
    const text = readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8').trim();
    for (const pid of text ? text.split(/\s+/).map(Number) : []) {
      try {
        found.set(readFileSync(`/proc/${pid}/comm`, 'utf8').trim(), pid);
      } catch {
        /* exited */
      }
    }
  }
  return found;
}

type CpuSnapshot = Record<'kube-apiserver' | 'etcd' | 'operator' | 'bench' | 'machineBusy' | 'machineSteal' | 'wall', number>;

/** Machine-wide CPU seconds from /proc/stat: busy (not idle, not iowait) and stolen by the hypervisor. */
function machineCpu(): { busy: number; steal: number } {
  const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/);
  const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = ticks.map(Number);
  return { busy: (user + nice + system + irq + softirq) / 100, steal: steal / 100 };
}

function cpuSnapshot(operatorPid: number): CpuSnapshot {
  const pids = childPids();
  const of = (name: string) => {
    const pid = pids.get(name);
    return pid ? cpuSeconds(pid) : NaN;
  };
  const own = process.cpuUsage();
  const machine = machineCpu();
  return {
    'kube-apiserver': of('kube-apiserver'), etcd: of('etcd'), operator: cpuSeconds(operatorPid), bench: (own.user + own.system) / 1e6,
    machineBusy: machine.busy, machineSteal: machine.steal, wall: performance.now() / 1000,
  };
}

function cpuDelta(a: CpuSnapshot, b: CpuSnapshot): CpuSnapshot {
  const d = {} as CpuSnapshot;
  for (const k of Object.keys(a) as Array<keyof CpuSnapshot>) d[k] = b[k] - a[k];
  return d;
}

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`operator bench: ${what} did not happen within ${ms / 1000} s; giving up`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `task` over `items` with at most `limit` in flight. */
async function pool<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await task(items[next++]!);
  }));
}

/**
 * The load generator's client: plain HTTP/2 requests to the apiserver (node:http2) over one TLS
 * connection, with the kubeconfig's TLS settings and credentials. HTTP/2 is what client-node's undici
 * dispatcher negotiates with the apiserver by ALPN too (and client-go / kubectl), so the apiserver serves
 * the same protocol, multiplexed on one kept-alive connection. No client library in the path (no typed
 * models, no object serializer, no middleware, no fetch): bodies are JSON encoded by the caller, responses
 * are checked for their status and read to their end, not deserialized. (Kept here, not imported from the
 * operator, so the load stays the same whatever the operator does.)
 */
class ApiClient {
  private readonly origin: string;
  private readonly tls: SecureClientSessionOptions;
  private readonly headers: Record<string, string>;
  private session: ClientHttp2Session | undefined;

  private constructor(origin: string, tls: SecureClientSessionOptions, headers: Record<string, string>) {
    this.origin = origin;
    this.tls = tls;
    this.headers = headers;
  }

  static async connect(kc: KubeConfig): Promise<ApiClient> {
    const cluster = kc.getCurrentCluster();
    if (!cluster) throw new Error('operator bench: the kubeconfig has no current cluster');
    if (cluster.proxyUrl) throw new Error('operator bench: a proxy in the kubeconfig is not supported by the load generator');
    const url = new URL(cluster.server);
    if (url.protocol !== 'https:') throw new Error(`operator bench: the load generator speaks HTTP/2 over TLS only, not to ${cluster.server}`);
    // The kubeconfig's CA, client certificate and key, skip-verify, and bearer token / auth provider.
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    const headers: Record<string, string> = { accept: 'application/json' };
    for (const [name, value] of Object.entries(opts.headers ?? {})) if (value !== undefined) headers[name.toLowerCase()] = String(value);
    if (opts.auth) headers.authorization = `Basic ${Buffer.from(opts.auth).toString('base64')}`;
    const tls = Object.fromEntries(Object.entries({ ca: opts.ca, cert: opts.cert, key: opts.key, pfx: opts.pfx, passphrase: opts.passphrase, rejectUnauthorized: opts.rejectUnauthorized, servername: opts.servername })
      .filter(([, v]) => v !== undefined && v !== null)) as SecureClientSessionOptions;
    const client = new ApiClient(url.origin, tls, headers);
    // Connect now, not on the first measured request.
    const session = client.connection();
    if (!session.connecting && session.destroyed) throw new Error('operator bench: could not connect to the apiserver');
    if (session.connecting) {
      await new Promise<void>((resolve, reject) => {
        session.once('connect', () => resolve());
        session.once('error', reject);
      });
    }
    return client;
  }

  /** The HTTP/2 session; a new one if the last was closed (GOAWAY) or broke. */
  private connection(): ClientHttp2Session {
    if (this.session && !this.session.closed && !this.session.destroyed) return this.session;
    const session = http2Connect(this.origin, this.tls);
    // A broken session fails its streams (and so the calls on them); the next call opens a new one.
    session.on('error', (err) => console.error(`operator bench: HTTP/2 connection to the apiserver: ${String(err)}`));
    return (this.session = session);
  }

  private open(method: string, path: string, body?: Buffer, contentType?: string): ClientHttp2Stream {
    const headers: OutgoingHttpHeaders = { ':method': method, ':path': path, ...this.headers };
    if (body) {
      headers['content-type'] = contentType;
      headers['content-length'] = body.length;
    }
    const stream = this.connection().request(headers, { endStream: !body });
    if (body) stream.end(body);
    return stream;
  }

  /** One request and its whole response: the status, and the body as text when `keep(status)`. */
  private exchange(method: string, path: string, keep: (status: number) => boolean, body?: Buffer, contentType?: string): Promise<{ status: number; text: string }> {
    return new Promise((resolve, reject) => {
      const stream = this.open(method, path, body, contentType);
      let status = 0;
      let chunks: Buffer[] | undefined;
      let ended = false;
      stream.once('response', (headers) => {
        status = Number(headers[':status']);
        if (keep(status)) chunks = [];
      });
      stream.on('data', (chunk: Buffer) => chunks?.push(chunk));
      stream.once('end', () => {
        ended = true;
        resolve({ status, text: chunks ? Buffer.concat(chunks).toString('utf8') : '' });
      });
      stream.once('error', reject);
      stream.once('close', () => {
        if (!ended) reject(new Error(`operator bench: ${method} ${path}: the stream closed before its response ended (HTTP/2 code ${stream.rstCode})`));
      });
    });
  }

  /** Sends a request whose body is already encoded; fails loudly unless the status is one of `expect`. Resolves once the response has been read to its end (the call returns then, as a client's would), without decoding it. */
  async send(method: 'POST' | 'PATCH' | 'DELETE', path: string, expect: readonly number[], body?: Buffer, contentType = 'application/json'): Promise<void> {
    const res = await this.exchange(method, path, (status) => !expect.includes(status), body, contentType);
    if (!expect.includes(res.status)) throw new Error(`operator bench: ${method} ${path} answered ${res.status}, expected ${expect.join(' or ')}: ${res.text.slice(0, 1000)}`);
  }

  async getJson<T>(path: string): Promise<T> {
    const res = await this.exchange('GET', path, () => true);
    if (res.status !== 200) throw new HttpError(res.status, `operator bench: GET ${path} answered ${res.status}: ${res.text.slice(0, 1000)}`);
    return JSON.parse(res.text) as T;
  }

  /** A streaming GET (a watch): resolves with the stream once its response headers arrived, if they say 200; its body is unread. */
  async stream(path: string): Promise<ClientHttp2Stream> {
    const stream = this.open('GET', path);
    const status = await new Promise<number>((resolve, reject) => {
      stream.once('response', (headers) => resolve(Number(headers[':status'])));
      stream.once('error', reject);
      stream.once('close', () => reject(new Error(`operator bench: GET ${path}: the stream closed before its response (HTTP/2 code ${stream.rstCode})`)));
    });
    if (status !== 200) {
      const chunks: Buffer[] = [];
      for await (const chunk of stream) chunks.push(chunk as Buffer);
      throw new HttpError(status, `operator bench: GET ${path} answered ${status}: ${Buffer.concat(chunks).toString('utf8').slice(0, 1000)}`);
    }
    return stream;
  }

  async close(): Promise<void> {
    const session = this.session;
    if (!session || session.destroyed) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        session.destroy();
        resolve();
      }, 2000);
      session.close(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

class HttpError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.status = status;
  }
}

/** The JSON body of a request, encoded once. */
const encode = (value: unknown) => Buffer.from(JSON.stringify(value));

// ---------------------------------------------------------------------------------------------
// ConfigMap watch: the first time each (namespace, model) appears in a ConfigMap version.

/** Model names of config.yaml by yaml.load: the reference. */
function modelsByYamlLoad(text: string): string[] {
  const config = yaml.load(text) as { routes?: Array<{ models?: string[] }> } | undefined;
  return (config?.routes ?? []).flatMap((route) => route.models ?? []);
}

/** Sequence items the scan accepts: a plain YAML scalar that can only be this string (no quotes, no escapes, not a number, bool or null). */
const PLAIN_MODEL = /^[A-Za-z][A-Za-z0-9._/-]*$/;
const NOT_A_STRING = /^(?:y|n|yes|no|on|off|true|false|null)$/i;

/**
 * The models of a config.yaml the operator wrote, by a line scan: the same list, in the same order, as
 * modelsByYamlLoad, or undefined (then the caller uses yaml.load) when the text is not in the exact shape
 * relied on here. That shape is js-yaml's dump of the compiled config (dumpStampedConfig: 2-space indent,
 * block style, no anchors): top-level keys at column 0, the `routes:` sequence's items at `  - `, a
 * route's keys at column 4, and its `models:` sequence as one `      - <model>` line per model. Every
 * multi-line value js-yaml writes is a block scalar, whose lines are indented deeper than its key, so a
 * column-0 line is a top-level key, and in `routes:` a column-4 line is a route key. Any other line inside
 * a models sequence (quoted, block, flow or nested items) or any surprising `routes:` / `models:` line
 * makes the scan give up. ConvergenceWatch.verify() checks it against yaml.load on every version seen.
 */
function modelsByScan(text: string): string[] | undefined {
  const models: string[] = [];
  let inRoutes = false;
  let inModels = false;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end);
    start = end + 1;
    if (line === '') continue; // only inside block scalars in js-yaml's output
    if (line.charCodeAt(0) !== 32) {
      // A top-level key.
      inModels = false;
      inRoutes = line === 'routes:';
      if (!inRoutes && line.startsWith('routes:') && line !== 'routes: []') return undefined;
      continue;
    }
    if (!inRoutes) continue;
    if (inModels && line.startsWith('      ')) {
      if (!line.startsWith('      - ')) return undefined; // a continuation line or a nested item
      const model = line.slice(8);
      if (!PLAIN_MODEL.test(model) || NOT_A_STRING.test(model)) return undefined;
      models.push(model);
      continue;
    }
    inModels = false;
    // A route's key: `  - key...` (its first) or `    key...`; anything deeper belongs to a route's value.
    let key: string;
    if (line.startsWith('  - ')) key = line.slice(4);
    else if (line.startsWith('    ') && line.charCodeAt(4) !== 32) key = line.slice(4);
    else if (line.startsWith('     ')) continue;
    else return undefined; // not a route item: not the shape relied on
    if (key.startsWith('-')) return undefined; // a nested sequence: not the shape relied on
    if (key === 'models:') inModels = true;
    else if (key.startsWith('models:')) return undefined; // flow style or something else
  }
  return models;
}

interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: { metadata?: { name?: string; namespace?: string; resourceVersion?: string }; data?: Record<string, string>; code?: number; message?: string };
}

/**
 * A raw watch on the ConfigMaps the operator manages (by their label), on the load generator's connection:
 * a LIST, then a WATCH from its resourceVersion, reading the line-delimited JSON events as they stream;
 * it reconnects from the last resourceVersion seen when the watch ends, and lists again when that is too
 * old (410). A version's arrival time is taken when the chunk that completes its event line arrives.
 */
class ConvergenceWatch {
  private readonly firstSeen = new Map<string, number>();
  private readonly waiters = new Map<string, () => void>();
  private current: ClientHttp2Stream | undefined;
  private stopped = false;
  private resourceVersion = '';
  private running: Promise<void> | undefined;
  /** Every config.yaml seen, for verify(). */
  private readonly texts: string[] = [];
  /** ConfigMap versions (listed, ADDED or MODIFIED) seen per namespace. */
  readonly versions = new Map<string, number>();
  /** config.yaml versions the line scan declined, read with yaml.load instead. */
  fallbacks = 0;
  /** Watch connections made after the first, and lists made because the resourceVersion had expired. */
  reconnects = 0;
  relists = 0;

  private readonly api: ApiClient;

  constructor(api: ApiClient) {
    this.api = api;
  }

  async start(): Promise<void> {
    await this.list();
    this.running = this.run();
  }

  private async list(): Promise<void> {
    const list = await this.api.getJson<{ metadata?: { resourceVersion?: string }; items: WatchEvent['object'][] }>(`/api/v1/configmaps?${new URLSearchParams({ labelSelector: SELECTOR })}`);
    const at = performance.now();
    for (const cm of list.items) this.observe(cm, at);
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
  }

  private async run(): Promise<void> {
    for (let first = true; !this.stopped; first = false) {
      try {
        if (!first) this.reconnects++;
        if (this.resourceVersion === '') {
          this.relists++;
          await this.list();
        }
        await this.watchOnce();
      } catch (err) {
        if (this.stopped) break;
        if (err instanceof HttpError && err.status === 410) this.resourceVersion = '';
        else console.error(`operator bench: ConfigMap watch: ${String(err)}; reconnecting`);
      }
      // Watches end on their own (timeouts); reconnect from where we were.
      if (!this.stopped) await sleep(50);
    }
  }

  private async watchOnce(): Promise<void> {
    const query = new URLSearchParams({ watch: 'true', labelSelector: SELECTOR, resourceVersion: this.resourceVersion, allowWatchBookmarks: 'true' });
    const stream = (this.current = await this.api.stream(`/api/v1/configmaps?${query}`));
    if (this.stopped) stream.destroy();
    stream.setEncoding('utf8');
    let partial = '';
    for await (const chunk of stream as AsyncIterable<string>) {
      const at = performance.now();
      let from = 0;
      for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', from)) {
        const line = partial + chunk.slice(from, nl);
        partial = '';
        from = nl + 1;
        if (line.trim() !== '') this.event(JSON.parse(line) as WatchEvent, at);
      }
      partial += chunk.slice(from);
    }
  }

  private event(event: WatchEvent, at: number): void {
    if (event.type === 'ERROR') {
      // The apiserver ends the watch after an error; 410: our resourceVersion is too old, list again.
      if (event.object.code === 410) this.resourceVersion = '';
      else console.error(`operator bench: ConfigMap watch error event: ${event.object.message ?? JSON.stringify(event.object)}`);
      return;
    }
    const rv = event.object.metadata?.resourceVersion;
    if (rv) this.resourceVersion = rv;
    if (event.type === 'ADDED' || event.type === 'MODIFIED') this.observe(event.object, at);
  }

  private observe(cm: WatchEvent['object'], at: number): void {
    const ns = cm.metadata?.namespace;
    if (!ns || cm.metadata?.name !== CONFIGMAP) return;
    this.versions.set(ns, (this.versions.get(ns) ?? 0) + 1);
    const text = cm.data?.['config.yaml'];
    if (!text) return;
    this.texts.push(text);
    let models = modelsByScan(text);
    if (models === undefined) {
      this.fallbacks++;
      models = modelsByYamlLoad(text);
    }
    for (const model of models) {
      const key = `${ns}/${model}`;
      if (this.firstSeen.has(key)) continue;
      this.firstSeen.set(key, at);
      this.waiters.get(key)?.();
      this.waiters.delete(key);
    }
  }

  /** Checks the line scan against yaml.load on every config.yaml seen (outside the measured windows); throws on any difference. */
  verify(): number {
    const distinct = new Set(this.texts);
    for (const text of distinct) {
      const scanned = modelsByScan(text);
      if (scanned === undefined) continue; // yaml.load was used
      const loaded = modelsByYamlLoad(text);
      if (scanned.length !== loaded.length || scanned.some((m, i) => m !== loaded[i])) {
        throw new Error(`operator bench: the config.yaml line scan found [${scanned.join(', ')}], yaml.load [${loaded.join(', ')}], in:\n${text}`);
      }
    }
    return distinct.size;
  }

  seenAt(ns: string, model: string): number | undefined {
    return this.firstSeen.get(`${ns}/${model}`);
  }

  /** Resolves with the time the model first appeared in the namespace's ConfigMap. */
  waitFor(ns: string, model: string): Promise<number> {
    const key = `${ns}/${model}`;
    const seen = this.firstSeen.get(key);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve) => this.waiters.set(key, () => resolve(this.firstSeen.get(key)!)));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.current?.destroy();
    await this.running;
  }
}

// ---------------------------------------------------------------------------------------------
// The operator process, with its memory sampled.

interface MemoryReport {
  kind: 'sample' | 'gc';
  rss: number;
  heapUsed: number;
  heapTotal: number;
}

interface OperatorProcess {
  proc: ChildProcess;
  adminPort: number;
  logPath: string;
  /** Latest process.memoryUsage() reported by the operator itself (heap figures). */
  heap: MemoryReport | undefined;
  peakHeapUsed: number;
  /** Asks the operator for a full GC (it runs with --expose-gc) and returns its memory afterwards. */
  forceGc(): Promise<MemoryReport>;
  metrics(): Promise<string>;
  stop(): Promise<void>;
}

// Preloaded into the operator: reports process.memoryUsage() over the IPC channel every 250 ms,
// without keeping the process alive. Measurement only; the operator's code is unchanged.
const HEAP_REPORTER = `
if (process.send) {
  const report = (kind) => {
    const m = process.memoryUsage();
    try { process.send({ kind, rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal }); } catch {}
  };
  const t = setInterval(() => report('sample'), 250);
  t.unref();
  process.on('message', (msg) => {
    if (msg === 'gc' && typeof globalThis.gc === 'function') { globalThis.gc(); report('gc'); }
  });
  process.channel?.unref();
}
`;

/** operator.nodeOptions of charts/llmroute/values.yaml: the bench runs the operator as installed. */
function chartNodeOptions(): string {
  const values = yaml.load(readFileSync(join(root, 'charts/llmroute/values.yaml'), 'utf8')) as { operator?: { nodeOptions?: string } };
  return values.operator?.nodeOptions ?? '';
}

async function startOperator(kubeconfigPath: string, dir: string): Promise<OperatorProcess> {
  const adminPort = await freePort();
  const preload = join(dir, 'heap-reporter.mjs');
  writeFileSync(preload, HEAP_REPORTER);
  const logPath = join(dir, 'operator.log');
  const log = openSync(logPath, 'a');
  const proc = spawn(process.execPath, ['--expose-gc', '--import', preload, 'bin/llmroute.js', 'operator', '--kubeconfig', kubeconfigPath, '--admin-port', String(adminPort), '--lease-namespace', 'llmroute-system'], {
    cwd: root,
    stdio: ['ignore', log, log, 'ipc'],
    // As the chart runs it: the compiled build, with the chart's default NODE_OPTIONS.
    env: { ...process.env, LLMROUTE_LOG_LEVEL: process.env.LLMROUTE_LOG_LEVEL ?? 'info', LLMROUTE_DIST: '1', NODE_OPTIONS: chartNodeOptions() },
  });
  closeSync(log);
  children.add(proc);
  const op: OperatorProcess = {
    proc,
    adminPort,
    logPath,
    heap: undefined,
    peakHeapUsed: 0,
    async forceGc() {
      const reply = new Promise<MemoryReport>((resolve) => {
        const onMessage = (m: MemoryReport) => {
          if (m.kind !== 'gc') return;
          proc.off('message', onMessage);
          resolve(m);
        };
        proc.on('message', onMessage);
      });
      proc.send('gc');
      return withTimeout(reply, 10_000, 'a forced GC in the operator');
    },
    async metrics() {
      return (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
    },
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      proc.kill('SIGTERM');
      const exited = once(proc, 'exit');
      const killer = setTimeout(() => proc.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(killer);
    },
  };
  proc.on('message', (m: MemoryReport) => {
    op.heap = m;
    op.peakHeapUsed = Math.max(op.peakHeapUsed, m.heapUsed);
  });
  proc.once('exit', (code, signal) => {
    if (!shuttingDown) console.error(`operator exited early (code ${code}, signal ${signal}); log: ${logPath}`);
  });
  // Ready = holds the lease (leader gauge 1) and its informers have synced (/readyz 200 once leading).
  await withTimeout((async () => {
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`the operator exited with code ${proc.exitCode}; see ${logPath}:\n${readFileSync(logPath, 'utf8').slice(-2000)}`);
      try {
        const leader = /^llmroute_operator_leader 1$/m.test(await op.metrics());
        if (leader && (await fetch(`http://127.0.0.1:${adminPort}/readyz`)).ok) return;
      } catch {
        /* not listening yet */
      }
      await sleep(100);
    }
  })(), 60_000, 'the operator becoming leader and syncing its informers');
  return op;
}

/** Samples the operator's VmRSS every 50 ms; `peak()` is the highest sample since the last reset. */
function rssSampler(pid: number) {
  let peak = 0;
  const timer = setInterval(() => {
    try {
      peak = Math.max(peak, procMb(pid, 'VmRSS'));
    } catch {
      /* exited */
    }
  }, 50);
  return { peak: () => peak, reset: () => (peak = 0), stop: () => clearInterval(timer) };
}

function metricValue(text: string, name: string): number {
  const escaped = name.replace(/[{}"=]/g, (c) => `\\${c}`);
  return Number(new RegExp(`^${escaped} ([0-9.eE+-]+)$`, 'm').exec(text)?.[1] ?? NaN);
}

// ---------------------------------------------------------------------------------------------
// Cleanup: whatever happens, no apiserver, etcd or operator is left behind.

const children = new Set<ChildProcess>();
let shuttingDown = false;
let cluster: Cluster | undefined;
let benchDir: string | undefined;

/** Last resort: SIGKILL our own direct children (etcd, kube-apiserver, operator) by pid; returns their pids. */
function killChildrenSync(): number[] {
  const pids = new Set<number>();
  for (const c of children) if (c.pid && c.exitCode === null && c.signalCode === null) pids.add(c.pid);
  try {
    for (const task of readdirSync(`/proc/${process.pid}/task`)) {
      const text = readFileSync(`/proc/${process.pid}/task/${task}/children`, 'utf8').trim();
      for (const pid of text ? text.split(/\s+/) : []) pids.add(Number(pid));
    }
  } catch {
    /* no /proc */
  }
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  return [...pids];
}

/** Kills the children, waits (up to 3 s) until they are reaped, so none is left as a zombie, then exits. */
async function abort(code: number): Promise<never> {
  shuttingDown = true;
  const pids = killChildrenSync();
  const deadline = Date.now() + 3000;
  while (Date.now() < deadline && pids.some((pid) => existsSync(`/proc/${pid}`))) await sleep(50);
  for (const dir of [benchDir, cluster && dirname(cluster.kubeconfigPath)]) if (dir && !process.env.BENCH_OPERATOR_KEEP_LOG) rmSync(dir, { recursive: true, force: true });
  process.exit(code);
}

process.on('exit', () => void killChildrenSync());
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    console.error(`operator bench: ${signal}, tearing down`);
    void abort(130);
  });
}

// ---------------------------------------------------------------------------------------------
// Scenarios

const backends = (model: string) => [
  { name: 'mistral', provider: 'mistral', model: 'mistral-large-latest', region: 'eu-west', dataRetention: 'zero', credentials: { env: 'MISTRAL_API_KEY' }, timeouts: { firstToken: '2s', total: '120s' } },
  { name: 'openai', provider: 'openai', model, region: 'us-east', credentials: { secretRef: { name: 'openai-key', key: 'apiKey' } } },
];
const route = (name: string, models: string[]) => ({
  apiVersion: 'llmroute.dev/v1alpha1',
  kind: 'LLMRoute',
  metadata: { name },
  spec: { models, strategy: 'failover', backends: backends('gpt-4o'), retries: { attempts: 2, backoff: '250ms' } },
});

async function main(): Promise<void> {
  const startedAt = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'llmroute-opbench-'));
  benchDir = dir;
  console.error('operator bench: starting etcd + kube-apiserver (test/k8s/harness.ts)');
  cluster = await startCluster();
  const api = await ApiClient.connect(cluster.kubeConfig);
  let op: OperatorProcess | undefined;
  let watch: ConvergenceWatch | undefined;
  let sampler: ReturnType<typeof rssSampler> | undefined;
  try {
    const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `bench-${String(i).padStart(2, '0')}`);
    await pool(['llmroute-system', 'bench-single', ...namespaces], CLIENT_CONCURRENCY, async (name) => {
      await api.send('POST', '/api/v1/namespaces', [201], encode({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
    });

    console.error('operator bench: starting the operator process');
    op = await startOperator(cluster.kubeconfigPath, dir);
    const pid = op.proc.pid!;
    watch = new ConvergenceWatch(api);
    await watch.start();
    await sleep(2000);
    const idleRss = procMb(pid, 'VmRSS');
    const idleHeap = op.heap?.heapUsed ?? NaN;
    sampler = rssSampler(pid);

    // Scenario 1: one route in one namespace; its create, then UPDATES changes of its model list.
    console.error(`operator bench: scenario 1 (1 route, ${UPDATES} updates)`);
    const single = 'bench-single';
    let model = 'single-0';
    await api.send('POST', routesPath(single), [201], encode(route('chat', [model])));
    let t0 = performance.now();
    const singleCreate = Math.max(0, (await withTimeout(watch.waitFor(single, model), TIMEOUT_MS, `scenario 1: the ConfigMap in ${single} serving ${model}`)) - t0);
    const singleUpdates: number[] = [];
    for (let i = 1; i <= UPDATES; i++) {
      await sleep(500); // let the previous change's status write and follow-up reconcile settle
      model = `single-${i}`;
      await api.send('PATCH', `${routesPath(single)}/chat`, [200], encode({ spec: { models: [model] } }), 'application/merge-patch+json');
      t0 = performance.now();
      singleUpdates.push(Math.max(0, (await withTimeout(watch.waitFor(single, model), TIMEOUT_MS, `scenario 1: update ${i} reaching the ConfigMap`)) - t0));
    }
    await api.send('DELETE', `${routesPath(single)}/chat`, [200, 202]);
    await sleep(2000);
    const s1PeakRss = sampler.peak();
    const before2 = await op.metrics();

    // Scenario 2: NAMESPACES x ROUTES_PER_NAMESPACE routes, created at once by CLIENT_CONCURRENCY clients,
    // interleaved across namespaces.
    const total = NAMESPACES * ROUTES_PER_NAMESPACE;
    console.error(`operator bench: scenario 2 (${total} routes across ${NAMESPACES} namespaces, ${CLIENT_CONCURRENCY} concurrent creates)`);
    sampler.reset();
    op.peakHeapUsed = op.heap?.heapUsed ?? 0;
    // Each create's path and JSON body, encoded before the clock starts.
    const items = Array.from({ length: total }, (_, i) => {
      const ns = namespaces[i % NAMESPACES]!;
      const j = Math.floor(i / NAMESPACES);
      const name = `route-${j}`;
      const model = `m-${ns}-r${j}`;
      return { ns, model, key: `${ns}/${model}`, path: routesPath(ns), body: encode(route(name, [model])) };
    });
    const created = new Map<string, number>();
    const cpu0 = cpuSnapshot(pid);
    const start2 = performance.now();
    await withTimeout(pool(items, CLIENT_CONCURRENCY, async (it) => {
      await api.send('POST', it.path, [201], it.body);
      created.set(it.key, performance.now());
    }), TIMEOUT_MS, `scenario 2: creating ${total} routes`);
    const createsDone = performance.now();
    await withTimeout(Promise.all(items.map((it) => watch!.waitFor(it.ns, it.model))), TIMEOUT_MS, `scenario 2: all ${total} routes reaching their ConfigMaps`);
    const cpuConverged = cpuDelta(cpu0, cpuSnapshot(pid));
    const converged = items.map((it) => watch!.seenAt(it.ns, it.model)! - created.get(it.key)!);
    const early = converged.filter((d) => d < 0).length;
    const lastSeen = Math.max(...items.map((it) => watch!.seenAt(it.ns, it.model)!));
    // Settle: no reconcile and no status write for 3 s.
    // Not the queue-depth gauge: it is set inside the work function, while the key still counts as running.
    console.error(`operator bench: scenario 2 converged: p50 ${ms(summarize(converged).p50)} ms, p95 ${ms(summarize(converged).p95)} ms; waiting for the operator to go idle`);
    let settleMs = 0;
    const settleStart = performance.now();
    let previous = '';
    for (;;) {
      const text = await op.metrics();
      // Reconciles and status writes (written after the ConfigMaps, so they can trail the reconciles).
      const work = `${metricValue(text, 'llmroute_operator_reconciles_total{result="success"}')}/${metricValue(text, 'llmroute_operator_reconciles_total{result="error"}') || 0}/${metricValue(text, 'llmroute_operator_status_writes_total') || 0}`;
      if (work === previous) break;
      previous = work;
      if (performance.now() - settleStart > TIMEOUT_MS) throw new Error(`operator bench: the operator was still reconciling ${TIMEOUT_MS / 1000} s after scenario 2 converged`);
      await sleep(3000);
    }
    settleMs = performance.now() - settleStart;
    const cpuSettled = cpuDelta(cpu0, cpuSnapshot(pid));
    // Outside the measured windows: the watch's config.yaml line scan against yaml.load, on every version seen.
    const configsChecked = watch.verify();
    console.error(`operator bench: ConfigMap watch: ${configsChecked} distinct config.yaml versions, line scan = yaml.load on all of them; ${watch.fallbacks} read with yaml.load; ${watch.reconnects} reconnects, ${watch.relists} relists`);
    const after2 = await op.metrics();
    const peakRss2 = sampler.peak();
    const peakHeap2 = op.peakHeapUsed;
    await sleep(3000);
    const settledRss = procMb(pid, 'VmRSS');
    const settledHeap = op.heap?.heapUsed ?? NaN;
    const hwm = procMb(pid, 'VmHWM');
    sampler.stop();
    const afterGc = await op.forceGc();
    await sleep(1000);
    const afterGcRss = procMb(pid, 'VmRSS');

    const counter = (text: string, name: string) => metricValue(text, name) || 0;
    const reconciles2 = counter(after2, 'llmroute_operator_reconciles_total{result="success"}') - counter(before2, 'llmroute_operator_reconciles_total{result="success"}');
    const errors2 = counter(after2, 'llmroute_operator_reconciles_total{result="error"}') - counter(before2, 'llmroute_operator_reconciles_total{result="error"}');
    const statusWrites2 = counter(after2, 'llmroute_operator_status_writes_total') - counter(before2, 'llmroute_operator_status_writes_total');
    const reconcileSeconds2 = counter(after2, 'llmroute_operator_reconcile_duration_seconds_sum') - counter(before2, 'llmroute_operator_reconcile_duration_seconds_sum');
    const cmVersions = namespaces.reduce((n, ns) => n + (watch!.versions.get(ns) ?? 0), 0);

    const s1 = summarize(singleUpdates);
    const s2 = summarize(converged.map((d) => Math.max(0, d)));
    const report = {
      singleCreate, s1, s2, early,
      createSeconds: (createsDone - start2) / 1000,
      fullConvergenceSeconds: (lastSeen - start2) / 1000,
      settleSeconds: settleMs / 1000,
      reconciles2, errors2, statusWrites2, reconcileSeconds2, cmVersions,
      idleRss, s1PeakRss, peakRss2, settledRss, hwm,
      idleHeap, peakHeap2, settledHeap, afterGcHeap: afterGc.heapUsed, afterGcRss,
      cpuConverged, cpuSettled,
      watchStats: { configsChecked, fallbacks: watch.fallbacks, reconnects: watch.reconnects, relists: watch.relists },
      wallSeconds: (Date.now() - startedAt) / 1000,
    };
    const section = render(report);
    writeSection(section);
    process.stdout.write(`${section}\n`);
    if (process.env.BENCH_OPERATOR_KEEP_LOG) console.error(`operator bench: operator log kept at ${op.logPath}`);
  } finally {
    shuttingDown = true;
    sampler?.stop();
    await watch?.stop();
    await api.close();
    await op?.stop().catch(() => undefined);
    await cluster.stop().catch((e: unknown) => console.error(`stopping the cluster: ${String(e)}`));
    if (!process.env.BENCH_OPERATOR_KEEP_LOG) rmSync(dir, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------
// Report

type Report = {
  singleCreate: number; s1: ReturnType<typeof summarize>; s2: ReturnType<typeof summarize>; early: number;
  createSeconds: number; fullConvergenceSeconds: number; settleSeconds: number;
  reconciles2: number; errors2: number; statusWrites2: number; reconcileSeconds2: number; cmVersions: number;
  idleRss: number; s1PeakRss: number; peakRss2: number; settledRss: number; hwm: number;
  idleHeap: number; peakHeap2: number; settledHeap: number; afterGcHeap: number; afterGcRss: number;
  cpuConverged: CpuSnapshot; cpuSettled: CpuSnapshot; wallSeconds: number;
  watchStats: { configsChecked: number; fallbacks: number; reconnects: number; relists: number };
};

const ms = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : '-');
const mb = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const heapMb = (bytes: number) => mb(bytes / 1024 / 1024);
const others = (c: CpuSnapshot) => Math.max(0, c.machineBusy - c['kube-apiserver'] - c.etcd - c.operator - c.bench);
const cpu = (n: number) => (Number.isFinite(n) ? n.toFixed(1) : '-');
const verdict = (ok: boolean) => (ok ? '**met**' : '**missed**');

function render(r: Report): string {
  const total = NAMESPACES * ROUTES_PER_NAMESPACE;
  const peakRss = Math.max(r.hwm, r.peakRss2);
  return `## Operator: convergence and memory

Produced by \`npm run bench:operator\` on ${new Date().toISOString().slice(0, 10)}: Node ${process.versions.node}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown CPU'}),
shared by etcd, kube-apiserver v1.35.4 (the test/k8s harness), the operator and the load generator, all on 127.0.0.1, so
figures are noisy.
Method: the operator runs as its own process as the chart runs it (\`llmroute operator --kubeconfig\`, the compiled build,
NODE_OPTIONS=\`${chartNodeOptions() || '(none)'}\` from the chart's values, log level ${process.env.LLMROUTE_LOG_LEVEL ?? 'info'}), and a route's convergence is the time from its create or patch call returning to the first version of
its namespace's ConfigMap \`llmroute-config\`, seen through a watch, that serves the route's model. Memory is that process's
VmRSS (/proc, sampled every 50 ms, and VmHWM) and V8 heap (\`process.memoryUsage()\` from a preloaded sampler).
The load generator uses no client library: plain HTTP/2 (node:http2) on one kept-alive TLS connection, the protocol
client-node's undici dispatcher negotiates with the apiserver too. It POSTs the routes ${CLIENT_CONCURRENCY} at a time, interleaved across
namespaces, each JSON body encoded before the clock starts, and takes a create's time once its 201 response has been read
to the end. The watch is a raw LIST + WATCH of the operator's ConfigMaps on that connection (line-delimited JSON events,
resumed from the last resourceVersion, relisted on 410); a version's time is taken when the chunk completing its event
arrives, and its models are read from config.yaml by a line scan of the compiled format (js-yaml's dump), with yaml.load
for any text not in that exact shape (${r.watchStats.fallbacks} versions), and checked against yaml.load after the run on all ${r.watchStats.configsChecked} distinct versions seen.

| scenario | samples | p50 ms | p95 ms | max ms | target | result |
|---|---|---|---|---|---|---|
| 1 route, 1 namespace: create | 1 | ${ms(r.singleCreate)} | - | ${ms(r.singleCreate)} | - | - |
| 1 route, 1 namespace: update (models changed, 0.5 s apart) | ${r.s1.n} | ${ms(r.s1.p50)} | ${ms(r.s1.p95)} | ${ms(r.s1.max)} | p95 < 1 s | ${verdict(r.s1.p95 < TARGET_P95_MS)} |
| ${total} routes, ${NAMESPACES} namespaces: create, ${CLIENT_CONCURRENCY} concurrent | ${r.s2.n} | ${ms(r.s2.p50)} | ${ms(r.s2.p95)} | ${ms(r.s2.max)} | p95 < 1 s | ${verdict(r.s2.p95 < TARGET_P95_MS)} |

Scenario 2 in detail: the ${total} creates took ${r.createSeconds.toFixed(1)} s (${(total / r.createSeconds).toFixed(0)}/s); every route was
served ${r.fullConvergenceSeconds.toFixed(1)} s after the first create; the operator was idle again (no reconcile, no status write) ${r.settleSeconds.toFixed(0)} s after that (checked every 3 s).
Operator work for it: ${r.reconciles2} namespace reconciles (${r.errors2} failed), ${r.statusWrites2} route status writes,
${r.cmVersions} ConfigMap versions, ${r.reconciles2 > 0 ? ((r.reconcileSeconds2 / r.reconciles2) * 1000).toFixed(0) : '-'} ms mean reconcile.${r.early > 0 ? ` ${r.early} routes were seen in a ConfigMap before their create call returned here (counted as 0 ms).` : ''}

| operator memory | idle (synced, no routes) | scenario 1 peak | scenario 2 peak | scenario 2 settled | settled, after a forced full GC | target | result |
|---|---|---|---|---|---|---|---|
| RSS MB | ${mb(r.idleRss)} | ${mb(r.s1PeakRss)} | ${mb(peakRss)} | ${mb(r.settledRss)} | ${mb(r.afterGcRss)} | < ${TARGET_RSS_MB} MB | ${verdict(peakRss < TARGET_RSS_MB)} |
| V8 heap used MB | ${heapMb(r.idleHeap)} | - | ${heapMb(r.peakHeap2)} | ${heapMb(r.settledHeap)} | ${heapMb(r.afterGcHeap)} | - | - |

CPU seconds used during scenario 2, until full convergence / until idle (${r.cpuConverged.wall.toFixed(1)} s / ${r.cpuSettled.wall.toFixed(1)} s of wall time,
${cpus().length} CPUs): kube-apiserver ${cpu(r.cpuConverged['kube-apiserver'])} / ${cpu(r.cpuSettled['kube-apiserver'])}, etcd ${cpu(r.cpuConverged.etcd)} / ${cpu(r.cpuSettled.etcd)},
operator ${cpu(r.cpuConverged.operator)} / ${cpu(r.cpuSettled.operator)}, this load generator ${cpu(r.cpuConverged.bench)} / ${cpu(r.cpuSettled.bench)};
whole machine busy ${cpu(r.cpuConverged.machineBusy)} / ${cpu(r.cpuSettled.machineBusy)} of ${cpu(r.cpuConverged.wall * cpus().length)} / ${cpu(r.cpuSettled.wall * cpus().length)} available (of which other processes ${cpu(others(r.cpuConverged))} / ${cpu(others(r.cpuSettled))}), stolen by the hypervisor ${cpu(r.cpuConverged.machineSteal)} / ${cpu(r.cpuSettled.machineSteal)}.

Target (issue): p95 convergence under 1 s at ${total} routes; operator memory under ${TARGET_RSS_MB} MB (judged on peak RSS).
Whole run ${r.wallSeconds.toFixed(0)} s including starting etcd and the apiserver.
`;
}

const START = '<!-- operator-bench:start -->';
const END = '<!-- operator-bench:end -->';

/** Replaces the operator section of bench/RESULTS.md, or appends it; the rest of the file is untouched. */
function writeSection(section: string): void {
  const file = join(root, 'bench/RESULTS.md');
  const current = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const block = `${START}\n${section.trimEnd()}\n${END}`;
  const s = current.indexOf(START);
  const e = current.indexOf(END);
  let next: string;
  if (s !== -1 && e > s) next = current.slice(0, s) + block + current.slice(e + END.length);
  else next = `${current}${current === '' ? '' : current.endsWith('\n') ? '\n' : '\n\n'}${block}\n`;
  writeFileSync(file, next);
}

const watchdog = setTimeout(() => {
  console.error(`operator bench: the whole run took more than ${(3 * TIMEOUT_MS) / 1000} s; giving up and killing etcd, kube-apiserver and the operator`);
  void abort(1);
}, 3 * TIMEOUT_MS);
watchdog.unref();

try {
  await main();
} catch (err) {
  console.error((err as Error).stack ?? String(err));
  process.exitCode = 1;
} finally {
  if (killChildrenSync().length > 0) await abort(process.exitCode === undefined ? 1 : Number(process.exitCode));
}
