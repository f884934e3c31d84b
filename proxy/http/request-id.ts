// x-request-id: honoured when short and plain (so it is safe to log and echo), generated otherwise.
import { nodeCrypto } from '../io/builtins.ts';

const SAFE = /^[A-Za-z0-9-]{1,128}$/;

export function requestIdFrom(header: string | string[] | undefined): string {
  const value = Array.isArray(header) ? header[0] : header;
  return value !== undefined && SAFE.test(value) ? value : nodeCrypto().randomUUID();
}
