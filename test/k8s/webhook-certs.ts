// A throwaway CA and a serving certificate for 127.0.0.1, made with the openssl command line: the
// apiserver calls webhooks over TLS only and checks the certificate against the caBundle it is given
// (by its subjectAltName: Go ignores the common name).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface WebhookCerts {
  dir: string;
  caPem: string;
}

export function makeWebhookCerts(): WebhookCerts {
  const dir = mkdtempSync(join(tmpdir(), 'llmroute-webhook-'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=llmroute-test-ca');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'tls.key', '-out', 'tls.csr', '-subj', '/CN=llmroute-webhook');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  openssl('x509', '-req', '-in', 'tls.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'tls.crt', '-days', '1', '-extfile', 'ext.cnf');
  return { dir, caPem: readFileSync(join(dir, 'ca.crt'), 'utf8') };
}
