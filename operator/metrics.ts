// The operator's Prometheus metrics (own registry; base units; bounded labels).
import { Counter, Gauge, Histogram, Registry } from '../proxy/telemetry/prom-client-core.ts';

export interface OperatorMetrics {
  registry: Registry;
  reconciles: Counter<'result'>;
  reconcileSeconds: Histogram;
  queueDepth: Gauge;
  statusWrites: Counter;
  isLeader: Gauge;
}

export function createOperatorMetrics(): OperatorMetrics {
  const registry = new Registry();
  return {
    registry,
    reconciles: new Counter({ name: 'llmroute_operator_reconciles_total', help: 'Namespace reconciles by result (success, error).', labelNames: ['result'], registers: [registry] }),
    reconcileSeconds: new Histogram({ name: 'llmroute_operator_reconcile_duration_seconds', help: 'Time to reconcile one namespace.', buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry] }),
    queueDepth: new Gauge({ name: 'llmroute_operator_queue_depth', help: 'Namespaces waiting or being reconciled.', registers: [registry] }),
    statusWrites: new Counter({ name: 'llmroute_operator_status_writes_total', help: 'LLMRoute and LLMPolicy status updates written.', registers: [registry] }),
    isLeader: new Gauge({ name: 'llmroute_operator_leader', help: '1 when this replica holds the leader lease.', registers: [registry] }),
  };
}
