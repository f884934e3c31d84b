// The Helm chart (charts/llmroute), checked with the real helm CLI (scripts/build-helm.sh, or the
// binary named by $LLMROUTE_HELM) and installed into the real kube-apiserver of the test harness:
// its RBAC is probed with SubjectAccessReviews as the operator's ServiceAccount, and the real
// operator runs as that ServiceAccount, with the rendered arguments, environment and probes.
import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import * as k8s from '@kubernetes/client-node';
import yaml from 'js-yaml';
import { Agent, fetch as undiciFetch } from 'undici';
import { eventually, freePort, startCluster, type Cluster } from './harness.ts';

const root = new URL('../..', import.meta.url).pathname;
const chartDir = join(root, 'charts/llmroute');
const NS = 'llmroute-system';
const RELEASE = 'llmroute';
const FULLNAME = 'llmroute-operator'; // <release>-operator when the release name holds the chart name
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
const chartMeta = yaml.load(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as { version: string; appVersion: string };

const work = mkdtempSync(join(tmpdir(), 'llmroute-chart-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// ---------------------------------------------------------------------------------------------
// helm

let helmPath: string | undefined;
function helmBin(): string {
  if (helmPath) return helmPath;
  if (process.env.LLMROUTE_HELM) return (helmPath = process.env.LLMROUTE_HELM);
  try {
    helmPath = execFileSync(join(root, 'scripts/build-helm.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop()!;
  } catch (err) {
    throw new Error(`helm is missing and could not be built (scripts/build-helm.sh): ${(err as Error).message}`);
  }
  return helmPath;
}

interface HelmResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs helm with its config, cache and data directories inside the test's scratch directory. */
function helm(args: string[]): HelmResult {
  const res = spawnSync(helmBin(), args, {
    encoding: 'utf8',
    env: { PATH: process.env.PATH ?? '', HOME: work, HELM_CACHE_HOME: join(work, 'helm/cache'), HELM_CONFIG_HOME: join(work, 'helm/config'), HELM_DATA_HOME: join(work, 'helm/data') },
  });
  if (res.error) throw res.error;
  return { code: res.status, stdout: res.stdout, stderr: res.stderr };
}

function helmOk(args: string[]): string {
  const res = helm(args);
  if (res.code !== 0) throw new Error(`helm ${args.join(' ')} exited ${res.code}:\n${res.stderr}${res.stdout}`);
  return res.stdout;
}

let valuesFiles = 0;
function valuesFile(values: object): string {
  const file = join(work, `values-${++valuesFiles}.yaml`);
  writeFileSync(file, yaml.dump(values));
  return file;
}

type Obj = k8s.KubernetesObject & { metadata: k8s.V1ObjectMeta };

function render(values: object = {}, extra: string[] = []): Obj[] {
  const out = helmOk(['template', RELEASE, chartDir, '--namespace', NS, '-f', valuesFile(values), ...extra]);
  return (yaml.loadAll(out) as Array<Obj | null>).filter((o): o is Obj => o !== null && typeof o === 'object');
}

function only<T = Obj>(objects: Obj[], kind: string): T {
  const found = objects.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, rendered ${found.length}`);
  return found[0] as T;
}

const operatorContainer = (d: k8s.V1Deployment) => d.spec!.template.spec!.containers.find((c) => c.name === 'operator')!;

function rbacRules(objects: Obj[]): k8s.V1PolicyRule[] {
  return objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role').flatMap((o) => (o as k8s.V1ClusterRole).rules ?? []);
}

const overrides = {
  fullnameOverride: 'gw',
  image: { repository: 'registry.example.com/platform/llmroute', tag: '1.2.3-rc.1', pullPolicy: 'Always' },
  operator: {
    replicas: 3,
    logLevel: 'debug',
    adminPort: 9090,
    secretsDir: '/etc/llm-secrets',
    resources: { limits: { cpu: '1', memory: '1Gi' } },
    nodeSelector: { 'kubernetes.io/os': 'linux' },
    tolerations: [{ key: 'dedicated', operator: 'Equal', value: 'llm', effect: 'NoSchedule' }],
    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['system'] }] }] } } },
  },
  metrics: { service: { port: 9100 } },
};

// ---------------------------------------------------------------------------------------------

describe('the chart, rendered by the real helm', () => {
  test('helm lint --strict passes with the defaults and with overrides, and fails on values the schema refuses', () => {
    expect(helmOk(['lint', '--strict', chartDir])).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(helmOk(['lint', '--strict', chartDir, '-f', valuesFile(overrides)])).toContain('0 chart(s) failed');
    const bad = helm(['lint', '--strict', chartDir, '-f', valuesFile({ operator: { replicas: 'two', logLevel: 'loud' } })]);
    expect(bad.code).not.toBe(0);
    expect(bad.stdout + bad.stderr).toMatch(/operator\/replicas/);
    expect(bad.stdout + bad.stderr).toMatch(/operator\/logLevel/);
  });

  test('values.schema.json is closed: a misspelt key fails template and lint at every level the chart defines', () => {
    // The defaults (values.yaml alone, no -f) still render and lint.
    expect(helmOk(['template', RELEASE, chartDir, '--namespace', NS])).toContain('kind: Deployment');
    const typos: Array<[string, string, string]> = [
      ['operator.replcas=3', '/operator', 'replcas'],
      ['replicas=3', '', 'replicas'],
      ['image.tags=1.2.3', '/image', 'tags'],
      ['serviceAccount.nmae=x', '/serviceAccount', 'nmae'],
      ['rbac.enabled=false', '/rbac', 'enabled'],
      ['metrics.servce.enabled=false', '/metrics', 'servce'],
      ['metrics.service.prot=9100', '/metrics/service', 'prot'],
    ];
    for (const [set, at, key] of typos) {
      for (const command of [['template', RELEASE], ['lint', '--strict']]) {
        const res = helm([...command, chartDir, '--set', set]);
        if (res.code === 0) throw new Error(`helm ${command[0]} --set ${set} passed`);
        expect(res.stdout + res.stderr).toContain(`at '${at}': additional properties '${key}' not allowed`);
      }
    }
  });

  test('objects passed through to Kubernetes stay open in the schema, and so does global', () => {
    const objects = render({
      global: { imageRegistry: 'registry.example.com' },
      operator: {
        resources: { requests: { cpu: '100m', 'ephemeral-storage': '64Mi' }, limits: { memory: '1Gi' } },
        podAnnotations: { 'prometheus.io/scrape': 'true' },
        podLabels: { team: 'platform' },
        nodeSelector: { 'kubernetes.io/os': 'linux' },
        podSecurityContext: { runAsNonRoot: true, fsGroup: 65532 },
        securityContext: { runAsNonRoot: true, readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' }, procMount: 'Default' },
        livenessProbe: { httpGet: { path: '/healthz', port: 'admin' }, initialDelaySeconds: 9, terminationGracePeriodSeconds: 5 },
        extraEnv: [{ name: 'FROM_FIELD', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } }],
      },
      serviceAccount: { annotations: { 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/x' } },
      metrics: { service: { annotations: { 'prometheus.io/port': '8081' } } },
    });
    const d = only<k8s.V1Deployment>(objects, 'Deployment');
    const c = operatorContainer(d);
    expect(c.resources?.requests).toEqual({ cpu: '100m', memory: '128Mi', 'ephemeral-storage': '64Mi' }); // merged with the defaults
    expect(d.spec!.template.metadata!.annotations).toEqual({ 'prometheus.io/scrape': 'true' });
    expect(d.spec!.template.spec!.securityContext?.fsGroup).toBe(65532);
    expect(c.securityContext?.procMount).toBe('Default');
    expect(c.livenessProbe?.terminationGracePeriodSeconds).toBe(5);
    expect(c.env).toContainEqual({ name: 'FROM_FIELD', valueFrom: { fieldRef: { fieldPath: 'spec.nodeName' } } });
    expect(only(objects, 'ServiceAccount').metadata.annotations).toEqual({ 'eks.amazonaws.com/role-arn': 'arn:aws:iam::1:role/x' });
  });

  test('the chart CRDs are byte-identical copies of crds/ (scripts/sync-chart-crds.sh)', () => {
    const top = readdirSync(join(root, 'crds')).filter((f) => f.endsWith('.yaml')).sort();
    const inChart = readdirSync(join(chartDir, 'crds')).sort();
    expect(top.length).toBeGreaterThan(0);
    expect(inChart).toEqual(top);
    for (const f of top) {
      const same = readFileSync(join(root, 'crds', f)).equals(readFileSync(join(chartDir, 'crds', f)));
      if (!same) throw new Error(`charts/llmroute/crds/${f} differs from crds/${f}: run scripts/sync-chart-crds.sh`);
    }
    // helm ships them as CRDs, verbatim (installed before the templates, never templated).
    const crds = render({}, ['--include-crds']).filter((o) => o.kind === 'CustomResourceDefinition');
    expect(crds.map((o) => o.metadata.name).sort()).toEqual(['llmpolicies.llmroute.dev', 'llmroutes.llmroute.dev']);
    for (const f of top) expect(crds).toContainEqual(yaml.load(readFileSync(join(root, 'crds', f), 'utf8')));
    expect(render().filter((o) => o.kind === 'CustomResourceDefinition')).toEqual([]);
  });

  test('appVersion is the package version and the default image tag', () => {
    expect(chartMeta.appVersion).toBe(pkg.version);
    const deployment = only<k8s.V1Deployment>(render(), 'Deployment');
    expect(operatorContainer(deployment).image).toBe(`ghcr.io/llmroute/llmroute:${pkg.version}`);
  });

  test('defaults render the operator Deployment, its RBAC and a metrics Service, labelled, and no webhook', () => {
    const objects = render();
    expect(objects.map((o) => o.kind).sort()).toEqual(['ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Role', 'RoleBinding', 'Service', 'ServiceAccount']);
    for (const o of objects) {
      expect(o.metadata.labels).toMatchObject({
        'app.kubernetes.io/name': 'llmroute',
        'app.kubernetes.io/instance': RELEASE,
        'app.kubernetes.io/version': pkg.version,
        'app.kubernetes.io/managed-by': 'Helm',
        'app.kubernetes.io/part-of': 'llmroute',
        'app.kubernetes.io/component': 'operator',
        'helm.sh/chart': `llmroute-${chartMeta.version}`,
      });
      if (!o.kind!.startsWith('Cluster')) expect(o.metadata.namespace).toBe(NS);
    }
  });

  test('injection: the webhook configuration, its Service and certificate, and the operator serving it', () => {
    const objects = render({ injection: { enabled: true, excludedNamespaces: ['batch'] } });
    expect(objects.map((o) => o.kind).sort()).toEqual([
      'Certificate', 'Certificate', 'ClusterRole', 'ClusterRoleBinding', 'Deployment', 'Issuer', 'Issuer', 'MutatingWebhookConfiguration', 'Role', 'RoleBinding', 'Service', 'Service', 'ServiceAccount',
      'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding', 'ValidatingWebhookConfiguration',
    ]);
    const config = only<k8s.V1MutatingWebhookConfiguration & Obj>(objects, 'MutatingWebhookConfiguration');
    expect(config.metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': `${NS}/${FULLNAME}-webhook` });
    expect(config.webhooks!.map((w) => w.name)).toEqual(['namespace.inject.llmroute.io', 'pod.inject.llmroute.io']);
    for (const w of config.webhooks!) {
      expect(w).toMatchObject({ failurePolicy: 'Fail', sideEffects: 'None', timeoutSeconds: 10, admissionReviewVersions: ['v1'], clientConfig: { service: { name: `${FULLNAME}-webhook`, namespace: NS, path: '/mutate-pods', port: 443 } } });
      expect(w.clientConfig.caBundle).toBeUndefined(); // cert-manager writes it; a rendered one would fight it
      expect(w.namespaceSelector!.matchExpressions).toContainEqual({ key: 'kubernetes.io/metadata.name', operator: 'NotIn', values: ['kube-system', 'kube-node-lease', NS, 'batch'] });
    }
    expect(config.webhooks![0]!.namespaceSelector!.matchExpressions![0]).toEqual({ key: 'llmroute.io/inject', operator: 'In', values: ['enabled'] });
    expect(config.webhooks![0]!.objectSelector!.matchExpressions).toEqual([{ key: 'llmroute.io/inject', operator: 'NotIn', values: ['false'] }]);
    expect(config.webhooks![1]!.objectSelector!.matchExpressions).toEqual([{ key: 'llmroute.io/inject', operator: 'In', values: ['true'] }]);
    type Cert = Obj & { spec: { secretName: string; dnsNames?: string[]; isCA?: boolean; issuerRef: unknown } };
    const certificate = objects.find((o) => o.kind === 'Certificate' && o.metadata.name === `${FULLNAME}-webhook`) as Cert;
    expect(certificate.spec).toEqual({ secretName: `${FULLNAME}-webhook-tls`, dnsNames: [`${FULLNAME}-webhook.${NS}.svc`, `${FULLNAME}-webhook.${NS}.svc.cluster.local`], issuerRef: { name: `${FULLNAME}-webhook`, kind: 'Issuer' } });
    // The serving certificate's issuer is a CA of the chart's own (bootstrapped self-signed), so the
    // caBundle stays put when the serving certificate is renewed.
    const ca = objects.find((o) => o.kind === 'Certificate' && o.metadata.name === `${FULLNAME}-webhook-ca`) as Cert;
    expect(ca.spec).toMatchObject({ isCA: true, secretName: `${FULLNAME}-webhook-ca`, issuerRef: { name: `${FULLNAME}-webhook-bootstrap`, kind: 'Issuer' } });
    const issuers = objects.filter((o) => o.kind === 'Issuer') as Array<Obj & { spec: unknown }>;
    expect(issuers.map((i) => [i.metadata.name, i.spec])).toEqual([[`${FULLNAME}-webhook-bootstrap`, { selfSigned: {} }], [`${FULLNAME}-webhook`, { ca: { secretName: `${FULLNAME}-webhook-ca` } }]]);
    const deployment = only<k8s.V1Deployment>(objects, 'Deployment');
    const operator = operatorContainer(deployment);
    expect(operator.args).toEqual(expect.arrayContaining(['--webhook-cert-dir=/etc/llmroute/webhook-certs', '--webhook-port=9443', `--sidecar-image=ghcr.io/llmroute/llmroute:${chartMeta.appVersion}`]));
    expect(operator.args).toEqual(expect.arrayContaining(['--sidecar-cpu=50m', '--sidecar-cpu-limit=', '--sidecar-memory=96Mi', '--sidecar-memory-limit=256Mi']));
    expect(operator.ports).toContainEqual({ name: 'webhook', containerPort: 9443, protocol: 'TCP' });
    expect(deployment.spec!.template.spec!.volumes).toContainEqual({ name: 'webhook-certs', secret: { secretName: `${FULLNAME}-webhook-tls` } });
    const service = objects.find((o) => o.kind === 'Service' && o.metadata.name === `${FULLNAME}-webhook`) as k8s.V1Service & Obj;
    expect(service.spec!.ports).toEqual([{ name: 'webhook', port: 443, targetPort: 'webhook', protocol: 'TCP' }]);
    // LLMRoute and LLMPolicy validation at kubectl apply, by the same server: Ignore, since the compiler and the sidecar enforce anyway.
    const validation = only<k8s.V1ValidatingWebhookConfiguration & Obj>(objects, 'ValidatingWebhookConfiguration');
    expect(validation.metadata.annotations).toEqual({ 'cert-manager.io/inject-ca-from': `${NS}/${FULLNAME}-webhook` });
    expect(validation.webhooks).toEqual([['route', 'llmroutes'], ['policy', 'llmpolicies']].map(([name, resource]) => expect.objectContaining({
      name: `${name}.validate.llmroute.io`, failurePolicy: 'Ignore', sideEffects: 'None',
      clientConfig: { service: { name: `${FULLNAME}-webhook`, namespace: NS, path: `/validate-${resource}`, port: 443 } },
      rules: [{ operations: ['CREATE', 'UPDATE'], apiGroups: ['llmroute.dev'], apiVersions: ['v1alpha1'], resources: [resource], scope: 'Namespaced' }],
    })));
    expect(render({ injection: { enabled: true }, validation: { enabled: false } }).some((o) => o.kind === 'ValidatingWebhookConfiguration')).toBe(false);
    expect(render({ validation: { enabled: true } }).some((o) => o.kind === 'ValidatingWebhookConfiguration')).toBe(false); // needs the webhook server
    // Another issuer: the chart's self-signed one is not rendered.
    const withIssuer = render({ injection: { enabled: true, certManager: { issuerRef: { name: 'corp-ca', kind: 'ClusterIssuer' } } } });
    expect(withIssuer.some((o) => o.kind === 'Issuer')).toBe(false);
    expect(only<Obj & { spec: { issuerRef: unknown } }>(withIssuer, 'Certificate').spec.issuerRef).toEqual({ name: 'corp-ca', kind: 'ClusterIssuer' }); // the serving one only
  });

  test('injection.sidecarResources: each entry becomes the operator\'s flag, a null one no value (none), a malformed one fails the install', () => {
    const args = (sidecarResources: object) => operatorContainer(only<k8s.V1Deployment>(render({ injection: { enabled: true, sidecarResources } }), 'Deployment')).args!.filter((a) => a.startsWith('--sidecar-') && a !== `--sidecar-image=ghcr.io/llmroute/llmroute:${chartMeta.appVersion}`);
    expect(args({ requests: { cpu: '200m' }, limits: { cpu: 1, memory: null } })).toEqual(['--sidecar-cpu=200m', '--sidecar-cpu-limit=1', '--sidecar-memory=96Mi', '--sidecar-memory-limit=']);
    // Numbers from a values file are floats to Helm, which would print 2.68435456e+08.
    expect(args({ requests: { memory: 100000000, cpu: 0.7 }, limits: { memory: 268435456, cpu: 0.7 } })).toEqual(['--sidecar-cpu=0.7', '--sidecar-cpu-limit=0.7', '--sidecar-memory=100000000', '--sidecar-memory-limit=268435456']);
    // What the operator would refuse at start (every replica down) fails the install instead, saying why.
    const refused = (sidecarResources: object) => {
      const res = helm(['template', RELEASE, chartDir, '-f', valuesFile({ injection: { enabled: true, sidecarResources } })]);
      expect(res.code).not.toBe(0);
      return res.stderr;
    };
    expect(refused({ limits: { memory: '1 GB' } })).toContain('/injection/sidecarResources/limits/memory');
    expect(refused({ requests: { memory: '128m' } })).toContain('/injection/sidecarResources/requests/memory');
    expect(refused({ requests: { memory: '512Mi' } })).toContain('injection.sidecarResources.requests.memory (512Mi) is above limits.memory (256Mi)');
    expect(refused({ requests: { memory: '32Mi' }, limits: { memory: '64Mi' } })).toContain("injection.sidecarResources.limits.memory (64Mi) is below the sidecar's minimum of 96Mi");
    expect(refused({ requests: { cpu: '0' } })).toContain('injection.sidecarResources.requests.cpu must be above zero');
    expect(refused({ limits: { cpu: '10m' } })).toContain('injection.sidecarResources.requests.cpu (50m) is above limits.cpu (10m)');
    // Equal values written differently are equal.
    expect(args({ requests: { cpu: '700m' }, limits: { cpu: '0.7' } })).toContain('--sidecar-cpu-limit=0.7');
  });

  test('injection refuses a cluster older than 1.30 (native sidecars, ValidatingAdmissionPolicy v1), saying so; without injection the chart installs there', () => {
    const old = helm(['template', RELEASE, chartDir, '--kube-version', '1.29.4', '-f', valuesFile({ injection: { enabled: true } })]);
    expect(old.code).not.toBe(0);
    expect(old.stderr).toContain('injection.enabled needs Kubernetes 1.30 or later (native sidecars, ValidatingAdmissionPolicy v1); this cluster is v1.29.4');
    expect(render({}, ['--kube-version', '1.29.4']).some((o) => o.kind === 'Deployment')).toBe(true);
    expect(render({ injection: { enabled: true } }, ['--kube-version', '1.30.0']).some((o) => o.kind === 'MutatingWebhookConfiguration')).toBe(true);
  });

  test('the Deployment: replicas, command, probes on the admin port, downward-API namespace, hardened security context', () => {
    const objects = render();
    const d = only<k8s.V1Deployment>(objects, 'Deployment');
    const pod = d.spec!.template.spec!;
    const c = operatorContainer(d);
    expect(d.spec!.replicas).toBe(2);
    expect(d.spec!.template.metadata!.labels).toMatchObject(d.spec!.selector.matchLabels!);
    expect(c.command).toEqual(['llmroute']);
    expect(c.args).toEqual(['operator', '--admin-port=8081']);
    expect(c.imagePullPolicy).toBe('IfNotPresent');
    expect(c.ports).toEqual([{ name: 'admin', containerPort: 8081, protocol: 'TCP' }]);
    expect(c.livenessProbe?.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    expect(c.readinessProbe?.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(c.env).toEqual([
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'LLMROUTE_LOG_LEVEL', value: 'info' },
      { name: 'NODE_OPTIONS', value: '--max-semi-space-size=1 --max-old-space-size=256' },
    ]);
    expect(c.resources?.requests).toEqual({ cpu: '50m', memory: '128Mi' });
    expect(c.resources?.limits?.memory).toBeDefined();

    expect(pod.serviceAccountName).toBe(only(objects, 'ServiceAccount').metadata.name);
    expect(pod.automountServiceAccountToken).toBe(true);
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.securityContext!.runAsUser).toBeGreaterThan(0);
    expect(c.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      privileged: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(c.securityContext!.capabilities!.add).toBeUndefined();
    // A read-only root filesystem, but a writable /tmp.
    expect(c.volumeMounts).toEqual([{ name: 'tmp', mountPath: '/tmp' }]);
    // Replicas are spread over nodes unless the user sets an affinity.
    const spread = pod.affinity?.podAntiAffinity?.preferredDuringSchedulingIgnoredDuringExecution?.[0]?.podAffinityTerm;
    expect(spread?.labelSelector?.matchLabels).toEqual(d.spec!.selector.matchLabels);

    const svc = only<k8s.V1Service>(objects, 'Service');
    expect(d.spec!.template.metadata!.labels).toMatchObject(svc.spec!.selector!);
    expect(svc.spec!.ports).toEqual([{ name: 'metrics', port: 8081, targetPort: 'admin', protocol: 'TCP' }]);
  });

  test('overrides reach the Deployment and the Service', () => {
    const objects = render(overrides);
    const d = only<k8s.V1Deployment>(objects, 'Deployment');
    const c = operatorContainer(d);
    expect(d.metadata!.name).toBe('gw-operator');
    expect(d.spec!.replicas).toBe(3);
    expect(c.image).toBe('registry.example.com/platform/llmroute:1.2.3-rc.1');
    expect(c.imagePullPolicy).toBe('Always');
    expect(c.args).toEqual(['operator', '--admin-port=9090', '--secrets-dir=/etc/llm-secrets']);
    expect(c.ports).toEqual([{ name: 'admin', containerPort: 9090, protocol: 'TCP' }]);
    expect(c.readinessProbe?.httpGet?.port).toBe('admin');
    expect(c.env).toContainEqual({ name: 'LLMROUTE_LOG_LEVEL', value: 'debug' });
    expect(c.resources).toEqual({ requests: { cpu: '50m', memory: '128Mi' }, limits: { cpu: '1', memory: '1Gi' } });
    expect(d.spec!.template.spec!.nodeSelector).toEqual(overrides.operator.nodeSelector);
    expect(d.spec!.template.spec!.tolerations).toEqual(overrides.operator.tolerations);
    expect(d.spec!.template.spec!.affinity).toEqual(overrides.operator.affinity);
    const svc = only<k8s.V1Service>(objects, 'Service');
    expect(svc.metadata!.name).toBe('gw-operator-metrics');
    expect(svc.spec!.ports![0]).toMatchObject({ port: 9100, targetPort: 'admin' });
    for (const binding of objects.filter((o) => o.kind!.endsWith('Binding')) as k8s.V1RoleBinding[]) {
      expect(binding.subjects).toEqual([{ kind: 'ServiceAccount', name: 'gw-operator', namespace: NS }]);
      expect(binding.roleRef.name).toBe('gw-operator');
    }
    // A numeric tag from --set is still a tag.
    expect(operatorContainer(only(render({}, ['--set', 'image.tag=2']), 'Deployment')).image).toBe('ghcr.io/llmroute/llmroute:2');
  });

  test('an existing ServiceAccount, no RBAC, no metrics Service', () => {
    const existing = render({ serviceAccount: { create: false, name: 'platform-llmroute' } });
    expect(existing.filter((o) => o.kind === 'ServiceAccount')).toEqual([]);
    expect(only<k8s.V1Deployment>(existing, 'Deployment').spec!.template.spec!.serviceAccountName).toBe('platform-llmroute');
    for (const binding of existing.filter((o) => o.kind!.endsWith('Binding')) as k8s.V1RoleBinding[]) {
      expect(binding.subjects![0]!.name).toBe('platform-llmroute');
    }
    const nameless = helm(['template', RELEASE, chartDir, '-f', valuesFile({ serviceAccount: { create: false } })]);
    expect(nameless.code).not.toBe(0);
    expect(nameless.stderr).toContain('serviceAccount.name is required');

    const bare = render({ rbac: { create: false }, metrics: { service: { enabled: false } } });
    expect(bare.map((o) => o.kind).sort()).toEqual(['Deployment', 'ServiceAccount']);
  });

  test('RBAC is exactly what the operator uses, and never touches Secrets', () => {
    for (const values of [{}, overrides, { serviceAccount: { create: false, name: 'x' } }]) {
      const objects = render(values);
      expect(objects.filter((o) => o.kind === 'Secret')).toEqual([]);
      const rules = rbacRules(objects);
      expect(rules.length).toBeGreaterThan(0);
      for (const rule of rules) {
        expect(rule.resources ?? []).not.toContain('secrets');
        expect(rule.resources ?? []).not.toContain('*');
        expect(rule.apiGroups ?? []).not.toContain('*');
        expect(rule.nonResourceURLs).toBeUndefined();
        for (const verb of ['*', 'escalate', 'bind', 'impersonate', 'deletecollection']) expect(rule.verbs).not.toContain(verb);
      }
    }
    const objects = render();
    expect(only<k8s.V1ClusterRole>(objects, 'ClusterRole').rules).toEqual([
      { apiGroups: ['llmroute.dev'], resources: ['llmroutes', 'llmpolicies'], verbs: ['list', 'watch'] },
      { apiGroups: ['llmroute.dev'], resources: ['llmroutes/status', 'llmpolicies/status'], verbs: ['patch'] },
      { apiGroups: [''], resources: ['configmaps'], verbs: ['list', 'watch'] },
      { apiGroups: [''], resources: ['configmaps'], resourceNames: ['llmroute-config'], verbs: ['create', 'patch'] },
      { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: ['create'] },
    ]);
    expect(only<k8s.V1Role>(objects, 'Role').rules).toEqual([
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create'] },
      { apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['llmroute-operator'], verbs: ['get', 'update'] },
    ]);
  });
});

// ---------------------------------------------------------------------------------------------



const SA_USER = `system:serviceaccount:${NS}:${FULLNAME}`;
const SA_GROUPS = ['system:serviceaccounts', `system:serviceaccounts:${NS}`, 'system:authenticated'];
const GROUP = { group: 'llmroute.dev', version: 'v1alpha1' };

describe('the chart in a real kube-apiserver', () => {
  let cluster: Cluster;
  let core: k8s.CoreV1Api;
  let authz: k8s.AuthorizationV1Api;
  let objects: k8s.KubernetesObjectApi;
  let adminPort: number;
  let installValues: string;
  let rendered: Obj[];
  const insecure = new Agent({ connect: { rejectUnauthorized: false } });
  const children = new Set<ChildProcess>();

  beforeAll(async () => {
    helmBin();
    cluster = await startCluster();
    core = cluster.kubeConfig.makeApiClient(k8s.CoreV1Api);
    authz = cluster.kubeConfig.makeApiClient(k8s.AuthorizationV1Api);
    objects = k8s.KubernetesObjectApi.makeApiClient(cluster.kubeConfig);
    adminPort = await freePort();
    installValues = valuesFile({ operator: { adminPort } });
    rendered = render({ operator: { adminPort } });
    const out = helmOk(['install', RELEASE, chartDir, '--namespace', NS, '--create-namespace', '--kubeconfig', cluster.kubeconfigPath, '-f', installValues]);
    expect(out).toContain('STATUS: deployed');
  }, 180_000);

  afterAll(async () => {
    for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
    await cluster?.stop();
    await insecure.close();
  }, 60_000);

  test('helm install created every rendered object, as rendered', async () => {
    expect(rendered.length).toBe(7);
    for (const want of rendered) {
      const got = (await objects.read({ apiVersion: want.apiVersion!, kind: want.kind!, metadata: { name: want.metadata.name!, namespace: want.metadata.namespace! } })) as Obj;
      expect(got.metadata.labels).toMatchObject(want.metadata.labels!);
      expect(got.metadata.annotations?.['meta.helm.sh/release-name']).toBe(RELEASE);
    }
    const d = (await objects.read({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: FULLNAME, namespace: NS } })) as k8s.V1Deployment;
    expect(d.spec!.replicas).toBe(2);
    expect(operatorContainer(d).securityContext).toEqual(operatorContainer(only(rendered, 'Deployment')).securityContext);
  });

  const plurals: Record<string, string> = {
    ServiceAccount: 'serviceaccounts', Service: 'services', Deployment: 'deployments',
    ClusterRole: 'clusterroles', ClusterRoleBinding: 'clusterrolebindings', Role: 'roles', RoleBinding: 'rolebindings',
    MutatingWebhookConfiguration: 'mutatingwebhookconfigurations', ValidatingWebhookConfiguration: 'validatingwebhookconfigurations',
    ValidatingAdmissionPolicy: 'validatingadmissionpolicies', ValidatingAdmissionPolicyBinding: 'validatingadmissionpolicybindings',
  };

  /** Server-side apply, dry run, with unknown or duplicate fields refused. */
  async function strictApply(obj: Obj): Promise<{ ok: boolean; status: number; text: string }> {
    const plural = plurals[obj.kind!];
    if (!plural) throw new Error(`no plural known for ${obj.kind}: extend the table`);
    const base = obj.apiVersion === 'v1' ? '/api/v1' : `/apis/${obj.apiVersion}`;
    const ns = obj.metadata.namespace ? `/namespaces/${obj.metadata.namespace}` : '';
    const url = `${cluster.server}${base}${ns}/${plural}/${obj.metadata.name}?fieldManager=chart-test&force=true&dryRun=All&fieldValidation=Strict`;
    const res = await undiciFetch(url, {
      method: 'PATCH',
      headers: { authorization: `Bearer ${cluster.kubeConfig.getCurrentUser()!.token}`, 'content-type': 'application/apply-patch+yaml' },
      body: JSON.stringify(obj),
      dispatcher: insecure,
    });
    return { ok: res.ok, status: res.status, text: await res.text() };
  }

  test('every rendered object passes strict server-side validation (and a typo would not)', async () => {
    for (const obj of rendered) {
      const res = await strictApply(obj);
      if (!res.ok) throw new Error(`${obj.kind} ${obj.metadata.name}: ${res.status} ${res.text}`);
    }
    // With injection on: all but cert-manager's kinds, whose CRDs this apiserver does not have (the same
    // admin port as the release installed above, which the dry-run applies merge into).
    for (const obj of render({ operator: { adminPort }, injection: { enabled: true } }).filter((o) => !o.apiVersion!.startsWith('cert-manager.io/'))) {
      const res = await strictApply(obj);
      if (!res.ok) throw new Error(`${obj.kind} ${obj.metadata.name} (injection on): ${res.status} ${res.text}`);
    }
    const typo = JSON.parse(JSON.stringify(only(rendered, 'Deployment'))) as k8s.V1Deployment & Obj;
    (operatorContainer(typo) as unknown as Record<string, unknown>).securityContxt = {};
    const res = await strictApply(typo);
    expect(res.ok).toBe(false);
    expect(res.text).toMatch(/securityContxt: field not declared in schema|unknown field "securityContxt"/);
  });

  test('the chart\'s ValidatingAdmissionPolicy: an enforced namespace admits only pods with the sidecar, and keeps the keys from the app', async () => {
    const policies = render({ injection: { enabled: true } }).filter((o) => o.kind!.startsWith('ValidatingAdmissionPolicy'));
    expect(policies).toHaveLength(2);
    for (const obj of policies) await objects.create(obj);
    await core.createNamespace({ body: { metadata: { name: 'enforced', labels: { 'llmroute.io/enforce': 'true' } } } });
    await core.createNamespace({ body: { metadata: { name: 'free' } } });
    const app = { name: 'app', image: 'registry.example.com/shop/app:1' };
    const sidecar = { name: 'llmroute', image: 'registry.example.com/llmroute:1', restartPolicy: 'Always', volumeMounts: [{ name: 'llmroute-secrets', mountPath: '/var/run/llmroute/secrets', readOnly: true }] };
    const secrets = { name: 'llmroute-secrets', projected: { sources: [{ secret: { name: 'mistral-key' } }] } };
    const create = (namespace: string, name: string, spec: k8s.V1PodSpec) =>
      core.createNamespacedPod({ namespace, body: { metadata: { name }, spec } }).then(() => 'created', (e: { code?: number; body?: unknown }) => `${e.code}: ${String(e.body)}`);
    // The policy takes effect once the apiserver has compiled it.
    const bare = await eventually(async () => {
      const outcome = await create('enforced', `bare-${Date.now()}`, { containers: [app] });
      return outcome === 'created' ? undefined : outcome;
    }, 'the policy in force');
    expect(bare).toMatch(/^403: .*must run the llmroute sidecar/);
    expect(await create('enforced', 'with-sidecar', { initContainers: [sidecar], containers: [app], volumes: [secrets] })).toBe('created');
    expect(await create('enforced', 'app-reads-keys', { initContainers: [sidecar], containers: [{ ...app, volumeMounts: [{ name: 'llmroute-secrets', mountPath: '/keys' }] }], volumes: [secrets] }))
      .toMatch(/^403: .*only the llmroute sidecar may mount the provider keys/);
    expect(await create('free', 'bare', { containers: [app] })).toBe('created'); // not enforced there
    // A debug container (kubectl debug) added later may not mount the keys either.
    const debugged = await core.readNamespacedPod({ name: 'with-sidecar', namespace: 'enforced' });
    debugged.spec!.ephemeralContainers = [{ name: 'debug', image: 'busybox', volumeMounts: [{ name: 'llmroute-secrets', mountPath: '/keys' }] }];
    const debug = await core.replaceNamespacedPodEphemeralcontainers({ name: 'with-sidecar', namespace: 'enforced', body: debugged }).then(() => 'added', (e: { code?: number; body?: unknown }) => `${e.code}: ${String(e.body)}`);
    expect(debug).toMatch(/^403: .*only the llmroute sidecar may mount the provider keys/);
    debugged.spec!.ephemeralContainers = [{ name: 'debug', image: 'busybox' }];
    expect(await core.replaceNamespacedPodEphemeralcontainers({ name: 'with-sidecar', namespace: 'enforced', body: debugged }).then(() => 'added')).toBe('added');
  }, 60_000);

  async function review(attrs: k8s.V1ResourceAttributes): Promise<k8s.V1SubjectAccessReviewStatus> {
    const res = await authz.createSubjectAccessReview({
      body: { apiVersion: 'authorization.k8s.io/v1', kind: 'SubjectAccessReview', spec: { user: SA_USER, groups: SA_GROUPS, resourceAttributes: attrs } },
    });
    return res.status!;
  }

  const route = { group: 'llmroute.dev', resource: 'llmroutes' };
  const lease = { group: 'coordination.k8s.io', resource: 'leases' };
  const allowed: Array<[string, k8s.V1ResourceAttributes]> = [
    ['list llmroutes in every namespace', { ...route, verb: 'list' }],
    ['watch llmroutes in every namespace', { ...route, verb: 'watch' }],
    ['list llmpolicies in every namespace', { group: 'llmroute.dev', resource: 'llmpolicies', verb: 'list' }],
    ['watch llmpolicies in every namespace', { group: 'llmroute.dev', resource: 'llmpolicies', verb: 'watch' }],
    ['patch llmroutes/status', { ...route, subresource: 'status', verb: 'patch', namespace: 'shop', name: 'chat' }],
    ['patch llmpolicies/status', { group: 'llmroute.dev', resource: 'llmpolicies', subresource: 'status', verb: 'patch', namespace: 'shop', name: 'residency' }],
    ['list configmaps in every namespace', { resource: 'configmaps', verb: 'list' }],
    ['watch configmaps in every namespace', { resource: 'configmaps', verb: 'watch' }],
    ['patch (server-side apply) llmroute-config', { resource: 'configmaps', verb: 'patch', namespace: 'shop', name: 'llmroute-config' }],
    ['create llmroute-config (as an apply names it)', { resource: 'configmaps', verb: 'create', namespace: 'shop', name: 'llmroute-config' }],
    ['create leases in the release namespace', { ...lease, verb: 'create', namespace: NS }],
    ['get the llmroute-operator lease', { ...lease, verb: 'get', namespace: NS, name: 'llmroute-operator' }],
    ['update the llmroute-operator lease', { ...lease, verb: 'update', namespace: NS, name: 'llmroute-operator' }],
    ['create events.k8s.io events', { group: 'events.k8s.io', resource: 'events', verb: 'create', namespace: 'shop' }],
  ];
  const denied: Array<[string, k8s.V1ResourceAttributes]> = [
    ['get a secret', { resource: 'secrets', verb: 'get', namespace: 'shop', name: 'openai-key' }],
    ['list secrets in a namespace', { resource: 'secrets', verb: 'list', namespace: 'shop' }],
    ['list secrets in every namespace', { resource: 'secrets', verb: 'list' }],
    ['watch secrets', { resource: 'secrets', verb: 'watch' }],
    ['get secrets in its own namespace (helm release records live there)', { resource: 'secrets', verb: 'get', namespace: NS, name: `sh.helm.release.v1.${RELEASE}.v1` }],
    ['delete an llmroute', { ...route, verb: 'delete', namespace: 'shop', name: 'chat' }],
    ['delete every llmroute', { ...route, verb: 'deletecollection', namespace: 'shop' }],
    ['create an llmroute', { ...route, verb: 'create', namespace: 'shop' }],
    ['update an llmroute spec', { ...route, verb: 'update', namespace: 'shop', name: 'chat' }],
    ['patch an llmroute spec', { ...route, verb: 'patch', namespace: 'shop', name: 'chat' }],
    ['delete an llmpolicy', { group: 'llmroute.dev', resource: 'llmpolicies', verb: 'delete', namespace: 'shop', name: 'residency' }],
    // The informers list and watch; nothing reads one object.
    ['get an llmroute', { ...route, verb: 'get', namespace: 'shop', name: 'chat' }],
    ['get an llmpolicy', { group: 'llmroute.dev', resource: 'llmpolicies', verb: 'get', namespace: 'shop', name: 'residency' }],
    // Its own ConfigMap is only server-side applied (patch, create): drift shows in the informer,
    // the garbage collector removes it.
    ['get llmroute-config', { resource: 'configmaps', verb: 'get', namespace: 'shop', name: 'llmroute-config' }],
    ['update llmroute-config', { resource: 'configmaps', verb: 'update', namespace: 'shop', name: 'llmroute-config' }],
    ['delete llmroute-config', { resource: 'configmaps', verb: 'delete', namespace: 'shop', name: 'llmroute-config' }],
    ['patch another ConfigMap', { resource: 'configmaps', verb: 'patch', namespace: 'kube-system', name: 'coredns' }],
    ['create another ConfigMap', { resource: 'configmaps', verb: 'create', namespace: 'shop', name: 'app-settings' }],
    ['delete another ConfigMap', { resource: 'configmaps', verb: 'delete', namespace: 'shop', name: 'app-settings' }],
    ['create leases outside the release namespace', { ...lease, verb: 'create', namespace: 'kube-system' }],
    ['update another lease', { ...lease, verb: 'update', namespace: NS, name: 'someone-else' }],
    ['create pods', { resource: 'pods', verb: 'create', namespace: 'shop' }],
    ['create service-account tokens', { resource: 'serviceaccounts', subresource: 'token', verb: 'create', namespace: NS, name: FULLNAME }],
    ['create rolebindings', { group: 'rbac.authorization.k8s.io', resource: 'rolebindings', verb: 'create', namespace: 'shop' }],
    ['escalate clusterroles', { group: 'rbac.authorization.k8s.io', resource: 'clusterroles', verb: 'escalate' }],
    ['impersonate users', { resource: 'users', verb: 'impersonate' }],
    // Only what the operator uses: it JSON-patches status and creates events.k8s.io/v1 events.
    ['update llmroutes/status', { ...route, subresource: 'status', verb: 'update', namespace: 'shop', name: 'chat' }],
    ['patch events.k8s.io events', { group: 'events.k8s.io', resource: 'events', verb: 'patch', namespace: 'shop', name: 'chat.1' }],
    ['create core/v1 events', { resource: 'events', verb: 'create', namespace: 'shop' }],
    ['delete events', { group: 'events.k8s.io', resource: 'events', verb: 'delete', namespace: 'shop', name: 'chat.1' }],
  ];

  test.each(allowed)('the operator ServiceAccount may %s', async (_what, attrs) => {
    const status = await review(attrs);
    if (!status.allowed) throw new Error(`denied: ${status.reason ?? ''} ${status.evaluationError ?? ''}`);
  });

  test.each(denied)('the operator ServiceAccount may not %s', async (_what, attrs) => {
    const status = await review(attrs);
    if (status.allowed) throw new Error(`allowed: ${status.reason ?? ''}`);
  });

  test('the real operator, as the chart ServiceAccount with the rendered command, env and probes, reconciles and leads', async () => {
    // A token for the ServiceAccount, as the kubelet would mount it.
    const token = await core.createNamespacedServiceAccountToken({ name: FULLNAME, namespace: NS, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    const kubeconfig = join(work, 'operator-kubeconfig');
    writeFileSync(kubeconfig, yaml.dump({
      apiVersion: 'v1', kind: 'Config', 'current-context': 'sa',
      clusters: [{ name: 'harness', cluster: { server: cluster.server, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'sa', user: { token: token.status!.token } }],
      contexts: [{ name: 'sa', context: { cluster: 'harness', user: 'sa' } }],
    }));

    const c = operatorContainer(only(rendered, 'Deployment'));
    expect(c.command).toEqual(['llmroute']);
    const env: Record<string, string> = { PATH: process.env.PATH ?? '' };
    for (const e of c.env ?? []) {
      if (e.value !== undefined) env[e.name] = e.value;
      else if (e.valueFrom?.fieldRef?.fieldPath === 'metadata.namespace') env[e.name] = NS;
      else throw new Error(`env ${e.name}: no stand-in for ${JSON.stringify(e.valueFrom)}`);
    }
    let logs = '';
    const child = spawn(process.execPath, [join(root, 'bin/llmroute.js'), ...c.args!, `--kubeconfig=${kubeconfig}`], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.add(child);
    child.stdout!.on('data', (d: Buffer) => (logs += d));
    child.stderr!.on('data', (d: Buffer) => (logs += d));
    const withLogs = (what: string) => () => `${what} (operator exit ${child.exitCode}; logs:\n${logs})`;

    const port = (name: string | number) => (typeof name === 'number' ? name : c.ports!.find((p) => p.name === name)!.containerPort);
    const probe = async (p: k8s.V1Probe | undefined) => {
      const res = await fetch(`http://127.0.0.1:${port(p!.httpGet!.port as string)}${p!.httpGet!.path}`);
      return res.ok ? true : undefined;
    };
    await eventually(() => probe(c.livenessProbe), withLogs('liveness probe'));
    await eventually(() => probe(c.readinessProbe), withLogs('readiness probe'));

    const coordination = cluster.kubeConfig.makeApiClient(k8s.CoordinationV1Api);
    const held = await eventually(async () => {
      const l = await coordination.readNamespacedLease({ name: 'llmroute-operator', namespace: NS });
      return l.spec?.holderIdentity ? l : undefined;
    }, withLogs('leader lease'));
    expect(held.spec!.holderIdentity).toBe(`${hostname()}-${child.pid}`);

    // A route naming a Secret it may not read: the operator only compiles the mount path.
    const custom = cluster.kubeConfig.makeApiClient(k8s.CustomObjectsApi);
    await core.createNamespace({ body: { metadata: { name: 'shop' } } });
    await custom.createNamespacedCustomObject({
      ...GROUP, namespace: 'shop', plural: 'llmroutes',
      body: { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMRoute', metadata: { name: 'chat' }, spec: { models: ['chat'], backends: [{ name: 'openai', provider: 'openai', model: 'gpt-4o', region: 'us-east', credentials: { secretRef: { name: 'openai-key', key: 'apiKey' } } }] } },
    });
    const cm = await eventually(async () => core.readNamespacedConfigMap({ name: 'llmroute-config', namespace: 'shop' }), withLogs('ConfigMap llmroute-config'));
    expect(cm.data?.['config.yaml']).toContain('/var/run/llmroute/secrets/openai-key/apiKey');
    expect(cm.metadata?.managedFields?.map((f) => f.manager)).toContain('llmroute-operator');
    // Drift, repaired with the chart's rights: seen through the ConfigMap informer (no get) and
    // re-applied over the existing object (a patch, no update).
    await core.replaceNamespacedConfigMap({ name: 'llmroute-config', namespace: 'shop', body: { ...cm, metadata: { ...cm.metadata, managedFields: undefined, resourceVersion: undefined }, data: { ...cm.data, 'config.yaml': 'tampered: true\n' } } });
    await eventually(async () => {
      const now = await core.readNamespacedConfigMap({ name: 'llmroute-config', namespace: 'shop' });
      return now.data?.['config.yaml']?.includes('/var/run/llmroute/secrets/openai-key/apiKey') ? true : undefined;
    }, withLogs('ConfigMap drift repaired'));
    await eventually(async () => {
      const obj = (await custom.getNamespacedCustomObject({ ...GROUP, namespace: 'shop', plural: 'llmroutes', name: 'chat' })) as { status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string }> } };
      return obj.status?.observedGeneration === 1 && obj.status.conditions?.find((x) => x.type === 'Ready')?.status === 'True' ? true : undefined;
    }, withLogs('route status Ready'));

    // A policy that denies the route's backend: the operator writes the policy's status and records
    // an event on the route, both with only the rights the chart grants.
    await custom.createNamespacedCustomObject({
      ...GROUP, namespace: 'shop', plural: 'llmpolicies',
      body: { apiVersion: 'llmroute.dev/v1alpha1', kind: 'LLMPolicy', metadata: { name: 'residency' }, spec: { allowedRegions: ['eu-west'] } },
    });
    await eventually(async () => {
      const obj = (await custom.getNamespacedCustomObject({ ...GROUP, namespace: 'shop', plural: 'llmpolicies', name: 'residency' })) as { status?: { observedGeneration?: number; conditions?: Array<{ type: string; status: string }> } };
      const is = (type: string) => obj.status?.conditions?.find((x) => x.type === type)?.status;
      return obj.status?.observedGeneration === 1 && is('Accepted') === 'True' && is('Ready') === 'True' ? true : undefined;
    }, withLogs('policy status Ready and Accepted'));
    const eventsApi = cluster.kubeConfig.makeApiClient(k8s.EventsV1Api);
    const denial = await eventually(async () => {
      const list = await eventsApi.listNamespacedEvent({ namespace: 'shop' });
      return list.items.find((e) => e.regarding?.name === 'chat' && e.reason === 'DeniedByPolicy');
    }, withLogs('DeniedByPolicy event'));
    expect(denial.reportingController).toBe('llmroute.dev/operator');
    expect(denial.reportingInstance).toBe(`${hostname()}-${child.pid}`);

    // Scraped through the metrics Service's target port.
    const svc = only<k8s.V1Service>(rendered, 'Service');
    const metrics = await (await fetch(`http://127.0.0.1:${port(svc.spec!.ports![0]!.targetPort as string)}/metrics`)).text();
    expect(metrics).toMatch(/^llmroute_operator_leader 1$/m);
    expect(metrics).toMatch(/^llmroute_operator_reconciles_total\{result="success"\} [1-9]/m);
    expect(metrics).not.toMatch(/^llmroute_operator_reconciles_total\{result="error"\} [1-9]/m);
    expect(logs).not.toMatch(/forbidden/i);

    // SIGTERM (what the kubelet sends): the leader releases the Lease and exits cleanly.
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    const released = await coordination.readNamespacedLease({ name: 'llmroute-operator', namespace: NS });
    expect(released.spec?.holderIdentity).toBeUndefined();
  }, 90_000);

  test('helm upgrade changes the Deployment; helm uninstall removes the RBAC and keeps the CRDs', async () => {
    helmOk(['upgrade', RELEASE, chartDir, '--namespace', NS, '--kubeconfig', cluster.kubeconfigPath, '-f', installValues, '--set', 'operator.replicas=1']);
    const apps = cluster.kubeConfig.makeApiClient(k8s.AppsV1Api);
    expect((await apps.readNamespacedDeployment({ name: FULLNAME, namespace: NS })).spec!.replicas).toBe(1);

    helmOk(['uninstall', RELEASE, '--namespace', NS, '--kubeconfig', cluster.kubeconfigPath]);
    await expect(apps.readNamespacedDeployment({ name: FULLNAME, namespace: NS })).rejects.toMatchObject({ code: 404 });
    const rbac = cluster.kubeConfig.makeApiClient(k8s.RbacAuthorizationV1Api);
    await expect(rbac.readClusterRole({ name: FULLNAME })).rejects.toMatchObject({ code: 404 });
    // Without the bindings the ServiceAccount may do nothing the operator needs.
    expect((await review({ ...route, verb: 'list' })).allowed).toBe(false);
    const ext = cluster.kubeConfig.makeApiClient(k8s.ApiextensionsV1Api);
    expect((await ext.readCustomResourceDefinition({ name: 'llmroutes.llmroute.dev' })).metadata?.name).toBe('llmroutes.llmroute.dev');
  }, 60_000);
});
