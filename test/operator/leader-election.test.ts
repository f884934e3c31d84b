// Leader election against a minimal fake API server: a renewal that hangs ends leadership at the renew
// deadline (before the lease another replica may take), and a late answer does not bring it back.
import { afterEach, describe, expect, test } from '@jest/globals';
import { createServer, type Server } from 'node:http';
import { kubeConfigFor } from './fake-api-server.ts';
import { startLeaderElection, type LeaderElector } from '#operator/leader-election.ts';

let server: Server | undefined;
let elector: LeaderElector | undefined;
afterEach(async () => {
  await elector?.stop();
  server?.closeAllConnections();
  server?.close();
  server = elector = undefined;
});

/** Polls every 5 ms (leadership changes are timed to the lease), for at most 8 s. */
async function until(condition: () => boolean): Promise<void> {
  const deadline = Date.now() + 8000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('leader election', () => {
  test('renewals must come more often than the renew deadline (2/3 of the lease)', () => {
    const start = (renewMs: number) => startLeaderElection({ kubeConfig: undefined as never, namespace: 'n', name: 'l', identity: 'a', leaseMs: 3000, renewMs, onStartedLeading: () => undefined, onStoppedLeading: () => undefined });
    expect(() => start(2000)).toThrow(RangeError);
  });

  test('a renewal that hangs past the renew deadline ends leadership, and its late success does not restore it', async () => {
    let lease: Record<string, unknown> | undefined;
    let hang = false;
    const held: Array<() => void> = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        const reply = (status: number, value: unknown) => {
          res.writeHead(status, { 'content-type': 'application/json' });
          res.end(JSON.stringify(value));
        };
        if (req.method === 'GET') return lease ? reply(200, lease) : reply(404, { kind: 'Status', code: 404, reason: 'NotFound' });
        const write = () => {
          lease = { ...(JSON.parse(body) as Record<string, unknown>), apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' };
          reply(req.method === 'POST' ? 201 : 200, lease);
        };
        if (req.method === 'PUT' && hang) held.push(write); // answered only when released
        else write();
      });
    });
    const kubeConfig = await kubeConfigFor(server);
    const changes: string[] = [];
    elector = startLeaderElection({
      kubeConfig, namespace: 'llmroute-system', name: 'llmroute-operator', identity: 'a', leaseMs: 1500, renewMs: 200,
      onStartedLeading: () => changes.push('started'),
      onStoppedLeading: () => changes.push('stopped'),
    });
    await until(() => elector!.isLeader());
    hang = true;
    await until(() => !elector!.isLeader()); // within the renew deadline (1 s), not never
    expect(changes).toEqual(['started', 'stopped']);
    for (const release of held.splice(0)) release(); // the hung renewal answers late
    await new Promise((r) => setTimeout(r, 100));
    expect(changes).toEqual(['started', 'stopped']);
  });

  test('the renew deadline counts from the last renewal, not from the attempt that hangs', async () => {
    let lease: Record<string, unknown> | undefined;
    let hang = false;
    let lastRenewedAt = 0;
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c));
      req.on('end', () => {
        res.setHeader('content-type', 'application/json');
        if (req.method === 'GET') return void (lease ? res.end(JSON.stringify(lease)) : res.writeHead(404).end(JSON.stringify({ kind: 'Status', code: 404 })));
        if (hang) return; // never answered
        lease = { ...(JSON.parse(body) as Record<string, unknown>), apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' };
        lastRenewedAt = Date.now();
        res.writeHead(req.method === 'POST' ? 201 : 200).end(JSON.stringify(lease));
      });
    });
    // Renew deadline 2 s; renewals every 1.5 s. Counted from the hung attempt, leadership would end
    // about 3.5 s after the last renewal, past the 3 s after which a standby may take the lease.
    elector = startLeaderElection({ kubeConfig: await kubeConfigFor(server), namespace: 'llmroute-system', name: 'llmroute-operator', identity: 'a', leaseMs: 3000, renewMs: 1500, onStartedLeading: () => undefined, onStoppedLeading: () => undefined });
    await until(() => elector!.isLeader());
    hang = true;
    await until(() => !elector!.isLeader());
    expect(Date.now() - lastRenewedAt).toBeLessThan(2750);
  });
});
