// Zero data retention at request level (reliability bar B16). A backend declared `dataRetention: zero`
// still stores what a request asks it to: OpenAI's Responses API stores by default (`store` defaults to
// true; false on Chat Completions), and its stateful endpoints (files, batches, stored responses...)
// store by design. Under a policy that requires zero retention the proxy makes Responses calls
// `store: false` when they did not say, and refuses what would store anyway. Pure.

export type RetentionDecision = { allowed: true } | { allowed: false; message: string; param: string | null };

/**
 * Endpoints (path under /v1/) known to answer without keeping the request, given the checks below.
 * An allowlist: providers add stateful endpoints under new names (Mistral's `batch/jobs`, `agents`;
 * OpenAI's `videos`, `evals`), and a blocklist would forward each new one until someone listed it.
 */
const STATELESS_ENDPOINTS = new Set(['chat/completions', 'completions', 'embeddings', 'responses', 'moderations', 'audio/speech', 'images/generations']);

const denied = (message: string, param: string | null): RetentionDecision => ({ allowed: false, message: `${message}: the namespace's policy requires zero data retention`, param });

/**
 * Checks (and for the Responses API, completes) a request body bound for `endpoint` (the path under
 * /v1/, e.g. `chat/completions`, `responses`). `body` is the object that will be forwarded, so what
 * was checked is what goes out (no second parse that could read duplicate keys differently).
 */
export function enforceZeroRetention(endpoint: string, body: Record<string, unknown>): RetentionDecision {
  const root = endpoint.split('/')[0]!;
  if (!STATELESS_ENDPOINTS.has(endpoint)) return denied(`/v1/${endpoint.slice(0, 100)} is not an endpoint known to keep no data (forwarded under zero retention: ${[...STATELESS_ENDPOINTS].join(', ')})`, null);
  if (body.store !== undefined && body.store !== false) return denied('store must be false', 'store');
  if (root === 'responses') {
    if (body.previous_response_id !== undefined && body.previous_response_id !== null) {
      return denied('previous_response_id continues a response stored at the provider', 'previous_response_id');
    }
    if (body.conversation !== undefined && body.conversation !== null) return denied('conversation refers to state stored at the provider', 'conversation');
    // Background mode keeps the response at the provider for polling, whatever `store` says.
    if (body.background !== undefined && body.background !== null && body.background !== false) return denied('background mode keeps the response at the provider', 'background');
    body.store = false; // the Responses API stores unless told not to
  }
  return { allowed: true };
}
