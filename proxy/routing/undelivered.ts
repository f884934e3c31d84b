// When a forwarded (pass-through) request may go on to the next backend. Those endpoints need not be
// idempotent (a batch, a background response, an image billed per call), so only a failure that
// shows the backend never processed the request fails over: the connection never came up, or the
// backend refused before doing anything (429, 503). And a request that refers to state stored with
// one provider account (`previous_response_id`, a file id...) stays with that backend: another one
// would not know it, and its 404 would hide the real failure. Pure.

/** Errors before the request could reach the upstream (no connection, no name, connect timeout). */
const UNDELIVERED_ERROR_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'connect_timeout']);

/** Answers by which an upstream says it did not process the request and another may. */
const UNPROCESSED_STATUSES = new Set([429, 503]);

/** Top-level fields naming objects stored with a provider account. */
const STORED_STATE_FIELD = /^(previous_response_id|conversation|((file|thread|assistant|vector_store|batch|response|conversation|container)_ids?))$/;

/** Whether the request never reached the upstream, judged by the error that ended the attempt. */
export function neverDelivered(errorCode: string | undefined): boolean {
  return errorCode !== undefined && UNDELIVERED_ERROR_CODES.has(errorCode);
}

/** Whether an upstream answer with this status says the request was not processed. */
export function refusedUnprocessed(status: number): boolean {
  return UNPROCESSED_STATUSES.has(status);
}

/** The first top-level field that refers to state stored with one provider account, if any. */
export function storedStateReference(body: Readonly<Record<string, unknown>>): string | undefined {
  return Object.keys(body).find((key) => STORED_STATE_FIELD.test(key) && body[key] !== null && body[key] !== undefined);
}
