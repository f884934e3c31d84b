// When a forwarded (pass-through) request may go on to the next backend. Those endpoints need not be
// idempotent (a batch, a background response, an image billed per call), so only a failure that
// shows the backend never processed the request fails over: the connection never came up, or the
// backend refused before doing anything (429, or its own 503). And a request that refers to state
// stored with one provider account (`previous_response_id`, a file id...) stays with that backend:
// another one would not know it, and its 404 would hide the real failure. Pure.

/** Errors before the request could reach the upstream (no connection, no name, connect timeout). */
const UNDELIVERED_ERROR_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'connect_timeout']);

/** Fields naming objects stored with a provider account, at any depth (a tool's vector_store_ids, a prompt's id). */
const STORED_STATE_FIELD = /^(previous_response_id|conversation|training_file|validation_file|((file|thread|assistant|vector_store|batch|response|conversation|container|input_file)_ids?))$/;
/** How deep a body is searched for them: request bodies nest a few levels (input items, tools, content parts). */
const MAX_DEPTH = 6;

/**
 * Whether the request never reached the upstream, judged by the error that ended the attempt and by
 * whether its connection ever came up (an unreachable host on a connection that was up may have had
 * the request already).
 */
export function neverDelivered(errorCode: string | undefined, connected = false): boolean {
  return errorCode !== undefined && UNDELIVERED_ERROR_CODES.has(errorCode) && (!connected || errorCode === 'connect_timeout');
}

/**
 * Whether an answer says the upstream did not process the request and another may: a 429 (nothing is
 * processed over a rate limit), or a 503 from the provider itself (its JSON error, or a Retry-After).
 * A bare 503 is often a mesh or egress proxy's "reset before headers", after the request was delivered.
 */
export function refusedUnprocessed(status: number, headers: Readonly<Record<string, string | string[] | undefined>> = {}): boolean {
  if (status === 429) return true;
  if (status !== 503) return false;
  return headers['retry-after'] !== undefined || headers['retry-after-ms'] !== undefined || String(headers['content-type'] ?? '').startsWith('application/json');
}

/** The first field (a dotted path) that refers to state stored with one provider account, if any. */
export function storedStateReference(body: unknown, path = '', depth = 0): string | undefined {
  if (depth > MAX_DEPTH || typeof body !== 'object' || body === null) return undefined;
  for (const [key, value] of Array.isArray(body) ? body.entries() : Object.entries(body)) {
    const at = Array.isArray(body) ? `${path}[${key}]` : path === '' ? String(key) : `${path}.${key}`;
    if (value === null || value === undefined) continue;
    if (!Array.isArray(body) && (STORED_STATE_FIELD.test(String(key)) || (key === 'id' && path.endsWith('prompt')))) return at;
    const nested = storedStateReference(value, at, depth + 1);
    if (nested !== undefined) return nested;
  }
  return undefined;
}
