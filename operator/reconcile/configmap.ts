// The ConfigMap the sidecars of a namespace read. Pure: built from the compile result.
import type { CompileResult } from '../compile/compile.ts';
import { dumpStampedConfig } from '../../proxy/config/parse.ts';
import { GROUP_VERSION } from '../api/llmroute.ts';

export const CONFIGMAP_NAME = 'llmroute-config';
export const CONFIG_KEY = 'config.yaml';
export const FIELD_MANAGER = 'llmroute-operator';
export const MANAGED_BY_LABEL = 'app.kubernetes.io/managed-by';
export const GENERATION_ANNOTATION = 'llmroute.dev/config-generation';

export interface RouteRef {
  name: string;
  uid: string;
}

export function configMapFor(namespace: string, result: CompileResult, owners: readonly RouteRef[]) {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: CONFIGMAP_NAME,
      namespace,
      labels: { [MANAGED_BY_LABEL]: FIELD_MANAGER, 'app.kubernetes.io/part-of': 'llmroute' },
      annotations: { [GENERATION_ANNOTATION]: result.config.generation },
      // Not controller references: several routes share the ConfigMap; it goes when the last one does.
      ownerReferences: owners.map((o) => ({ apiVersion: GROUP_VERSION, kind: 'LLMRoute', name: o.name, uid: o.uid, controller: false, blockOwnerDeletion: false })),
    },
    data: { [CONFIG_KEY]: dumpStampedConfig(result.config) },
  };
}
