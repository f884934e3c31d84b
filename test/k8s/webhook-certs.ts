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

const openssl = (dir: string, ...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });

/** A new CA in a new directory, with a leaf (`tls.crt`, `tls.key`) it signed. */
export function makeWebhookCerts(): WebhookCerts {
  const dir = mkdtempSync(join(tmpdir(), 'llmroute-webhook-'));
  openssl(dir, 'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '1', '-subj', '/CN=llmroute-test-ca');
  issueLeaf(dir, 'tls');
  return { dir, caPem: readFileSync(join(dir, 'ca.crt'), 'utf8') };
}

/** Another leaf from the directory's CA, as cert-manager renews one: `<name>.crt`, `<name>.key`. */
export function issueLeaf(dir: string, name: string): void {
  openssl(dir, 'req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', '/CN=llmroute-webhook');
  writeFileSync(join(dir, 'ext.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  openssl(dir, 'x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', 'ext.cnf');
}
