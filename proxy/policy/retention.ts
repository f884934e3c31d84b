// Zero data retention at request level (reliability bar B16). A backend declared `dataRetention: zero`
// still stores what a request asks it to: OpenAI's Responses API stores by default (`store` defaults to
// true; false on Chat Completions), and its stateful endpoints (files, batches, stored responses...)
// store by design. Under a policy that requires zero retention the proxy makes Responses calls
// `store: false` when they did not say, and refuses what would store anyway. Pure.

export type RetentionDecision = { allowed: true } | { allowed: false; message: string; param: string | null };

/** Endpoints (first path segment under /v1/) that exist to keep data at the provider. */
const STATEFUL_ENDPOINTS = new Set(['files', 'uploads', 'batches', 'vector_stores', 'assistants', 'threads', 'fine_tuning', 'containers', 'conversations', 'realtime']);

const denied = (message: string, param: string | null): RetentionDecision => ({ allowed: false, message: `${message}: the namespace's policy requires zero data retention`, param });

/**
 * Checks (and for the Responses API, completes) a request body bound for `endpoint` (the path under
 * /v1/, e.g. `chat/completions`, `responses`). `body` is the object that will be forwarded, so what
 * was checked is what goes out (no second parse that could read duplicate keys differently).
 */
export function enforceZeroRetention(endpoint: string, body: Record<string, unknown>): RetentionDecision {
  const root = endpoint.split('/')[0]!;
  if (STATEFUL_ENDPOINTS.has(root)) return denied(`/v1/${root} stores data at the provider by design`, null);
  if (body.store !== undefined && body.store !== false) return denied('store must be false', 'store');
  if (root === 'responses') {
    if (body.previous_response_id !== undefined && body.previous_response_id !== null) {
      return denied('previous_response_id continues a response stored at the provider', 'previous_response_id');
    }
    if (body.conversation !== undefined && body.conversation !== null) return denied('conversation refers to state stored at the provider', 'conversation');
    body.store = false; // the Responses API stores unless told not to
  }
  return { allowed: true };
}
