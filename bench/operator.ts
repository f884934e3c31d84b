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
import * as k8s from '@kubernetes/client-node';
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

const GROUP = { group: 'llmroute.dev', version: 'v1alpha1', plural: 'llmroutes' } as const;
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
 * The load generator's clients share one keep-alive pool, as client-go or kubectl would within one process:
 * @kubernetes/client-node 2.0 opens a new TCP + TLS connection for every call otherwise, and 500 handshakes
 * would load the apiserver with work that is not the operator's. (Kept here, not imported from the
 * operator, so the load stays the same whatever the operator does.)
 */
function pooledKubeConfig(base: k8s.KubeConfig): { kubeConfig: k8s.KubeConfig; close(): Promise<void> } {
  type Factory = (cluster: unknown, agentOptions: unknown) => { close(): Promise<void> } | undefined;
  const create = (base as unknown as { createDispatcher?: Factory }).createDispatcher;
  if (typeof create !== 'function') return { kubeConfig: base, close: async () => undefined };
  const kubeConfig = Object.create(base) as k8s.KubeConfig;
  let shared: ReturnType<Factory>;
  (kubeConfig as unknown as { createDispatcher: Factory }).createDispatcher = (cluster, agentOptions) => (shared ??= create.call(base, cluster, agentOptions));
  return { kubeConfig, close: async () => void (await shared?.close().catch(() => undefined)) };
}

// ---------------------------------------------------------------------------------------------
// ConfigMap watch: the first time each (namespace, model) appears in a ConfigMap version.

class ConvergenceWatch {
  private readonly firstSeen = new Map<string, number>();
  private readonly waiters = new Map<string, () => void>();
  private abort: AbortController | undefined;
  private stopped = false;
  private resourceVersion = '';
  /** ConfigMap versions (ADDED/MODIFIED events) seen per namespace. */
  readonly versions = new Map<string, number>();

  private readonly kc: k8s.KubeConfig;

  constructor(kc: k8s.KubeConfig) {
    this.kc = kc;
  }

  async start(): Promise<void> {
    const core = this.kc.makeApiClient(k8s.CoreV1Api);
    const list = await core.listConfigMapForAllNamespaces({ labelSelector: SELECTOR });
    for (const cm of list.items) this.observe(cm);
    this.resourceVersion = list.metadata?.resourceVersion ?? '';
    await this.connect();
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    this.abort = await new k8s.Watch(this.kc).watch(
      '/api/v1/configmaps',
      { labelSelector: SELECTOR, resourceVersion: this.resourceVersion, allowWatchBookmarks: true },
      (type, obj: k8s.V1ConfigMap) => {
        if (obj.metadata?.resourceVersion) this.resourceVersion = obj.metadata.resourceVersion;
        if (type === 'ADDED' || type === 'MODIFIED') this.observe(obj);
      },
      (err) => {
        if (this.stopped) return;
        if ((err as { code?: number })?.code === 410) this.resourceVersion = '';
        // Watches end on their own (timeouts); reconnect from where we were.
        setTimeout(() => void this.connect().catch((e: unknown) => console.error(`ConfigMap watch failed: ${String(e)}`)), 50);
      },
    );
  }

  private observe(cm: k8s.V1ConfigMap): void {
    const at = performance.now();
    const ns = cm.metadata?.namespace;
    if (!ns || cm.metadata?.name !== CONFIGMAP) return;
    this.versions.set(ns, (this.versions.get(ns) ?? 0) + 1);
    const text = cm.data?.['config.yaml'];
    if (!text) return;
    const config = yaml.load(text) as { routes?: Array<{ models?: string[] }> } | undefined;
    for (const route of config?.routes ?? []) {
      for (const model of route.models ?? []) {
        const key = `${ns}/${model}`;
        if (this.firstSeen.has(key)) continue;
        this.firstSeen.set(key, at);
        this.waiters.get(key)?.();
        this.waiters.delete(key);
      }
    }
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

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
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
  const pooled = pooledKubeConfig(cluster.kubeConfig);
  const kc = pooled.kubeConfig;
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const custom = kc.makeApiClient(k8s.CustomObjectsApi);
  let op: OperatorProcess | undefined;
  let watch: ConvergenceWatch | undefined;
  let sampler: ReturnType<typeof rssSampler> | undefined;
  try {
    const namespaces = Array.from({ length: NAMESPACES }, (_, i) => `bench-${String(i).padStart(2, '0')}`);
    await pool(['llmroute-system', 'bench-single', ...namespaces], CLIENT_CONCURRENCY, async (name) => {
      await core.createNamespace({ body: { metadata: { name } } });
    });

    console.error('operator bench: starting the operator process');
    op = await startOperator(cluster.kubeconfigPath, dir);
    const pid = op.proc.pid!;
    watch = new ConvergenceWatch(kc);
    await watch.start();
    await sleep(2000);
    const idleRss = procMb(pid, 'VmRSS');
    const idleHeap = op.heap?.heapUsed ?? NaN;
    sampler = rssSampler(pid);

    // Scenario 1: one route in one namespace; its create, then UPDATES changes of its model list.
    console.error(`operator bench: scenario 1 (1 route, ${UPDATES} updates)`);
    const single = 'bench-single';
    let model = 'single-0';
    await custom.createNamespacedCustomObject({ ...GROUP, namespace: single, body: route('chat', [model]) });
    let t0 = performance.now();
    const singleCreate = Math.max(0, (await withTimeout(watch.waitFor(single, model), TIMEOUT_MS, `scenario 1: the ConfigMap in ${single} serving ${model}`)) - t0);
    const singleUpdates: number[] = [];
    for (let i = 1; i <= UPDATES; i++) {
      await sleep(500); // let the previous change's status write and follow-up reconcile settle
      model = `single-${i}`;
      await custom.patchNamespacedCustomObject(
        { ...GROUP, namespace: single, name: 'chat', body: { spec: { models: [model] } } },
        k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch),
      );
      t0 = performance.now();
      singleUpdates.push(Math.max(0, (await withTimeout(watch.waitFor(single, model), TIMEOUT_MS, `scenario 1: update ${i} reaching the ConfigMap`)) - t0));
    }
    await custom.deleteNamespacedCustomObject({ ...GROUP, namespace: single, name: 'chat' });
    await sleep(2000);
    const s1PeakRss = sampler.peak();
    const before2 = await op.metrics();

    // Scenario 2: NAMESPACES x ROUTES_PER_NAMESPACE routes, created at once by CLIENT_CONCURRENCY clients,
    // interleaved across namespaces.
    const total = NAMESPACES * ROUTES_PER_NAMESPACE;
    console.error(`operator bench: scenario 2 (${total} routes across ${NAMESPACES} namespaces, ${CLIENT_CONCURRENCY} concurrent creates)`);
    sampler.reset();
    op.peakHeapUsed = op.heap?.heapUsed ?? 0;
    const items = Array.from({ length: total }, (_, i) => {
      const ns = namespaces[i % NAMESPACES]!;
      const j = Math.floor(i / NAMESPACES);
      return { ns, name: `route-${j}`, model: `m-${ns}-r${j}` };
    });
    const created = new Map<string, number>();
    const cpu0 = cpuSnapshot(pid);
    const start2 = performance.now();
    await withTimeout(pool(items, CLIENT_CONCURRENCY, async (it) => {
      await custom.createNamespacedCustomObject({ ...GROUP, namespace: it.ns, body: route(it.name, [it.model]) });
      created.set(`${it.ns}/${it.model}`, performance.now());
    }), TIMEOUT_MS, `scenario 2: creating ${total} routes`);
    const createsDone = performance.now();
    await withTimeout(Promise.all(items.map((it) => watch!.waitFor(it.ns, it.model))), TIMEOUT_MS, `scenario 2: all ${total} routes reaching their ConfigMaps`);
    const cpuConverged = cpuDelta(cpu0, cpuSnapshot(pid));
    const converged = items.map((it) => watch!.seenAt(it.ns, it.model)! - created.get(`${it.ns}/${it.model}`)!);
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
      wallSeconds: (Date.now() - startedAt) / 1000,
    };
    const section = render(report);
    writeSection(section);
    process.stdout.write(`${section}\n`);
    if (process.env.BENCH_OPERATOR_KEEP_LOG) console.error(`operator bench: operator log kept at ${op.logPath}`);
  } finally {
    shuttingDown = true;
    sampler?.stop();
    watch?.stop();
    await pooled.close();
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
VmRSS (/proc, sampled every 50 ms, and VmHWM) and V8 heap (\`process.memoryUsage()\` from a preloaded sampler); the load
generator's clients share one keep-alive connection pool and create routes ${CLIENT_CONCURRENCY} at a time, interleaved across namespaces.

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
