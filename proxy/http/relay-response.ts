// The answer of a forwarded (pass-through) request, relayed to the client. A success goes out byte for
// byte, streamed; an error answer is rebuilt from what it says, like every other upstream error: its
// text sanitized and the backend's own key removed, since providers echo keys and signed URLs in error
// messages (reliability bar B31), and a forwarded body is otherwise copied untouched. A redirect is
// never relayed: the client's SDK would follow its Location with the request body, to a host that is
// not in the config (reliability bar B12).
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream';
import { classifyOpenAIStyleError, redactSecretInError } from '../providers/openai-errors.ts';
import { readText } from '../upstream/pools.ts';
import { ProxyError, sendError } from './errors.ts';

/** Why a relayed answer is not the upstream's whole answer: its body broke off or went silent, or it was a redirect (502). */
export type RelayFailure = 'upstream_stream_error' | 'upstream_timeout' | 'upstream_redirect';

/** Headers about one connection, not the message (RFC 9110 7.6.1): never copied from hop to hop. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

/**
 * `idleMs`: the longest silence of the upstream once its answer has started, if any (a stalled stream
 * is cut; a client reading slowly is not the upstream's silence). `onFailure`: told when the client did not
 * get the upstream's answer whole (see RelayFailure).
 */
export function relayResponse(upstream: IncomingMessage, res: ServerResponse, apiKey: string | undefined, backendName: string, idleMs: number | undefined, onFailure?: (failure: RelayFailure) => void): void {
  // An answer already went out (a timeout's 504, a client that left): this one has nowhere to go.
  if (res.headersSent || res.destroyed) return void upstream.destroy();
  const status = upstream.statusCode ?? 502;
  if (status >= 300 && status < 400) {
    upstream.destroy();
    onFailure?.('upstream_redirect');
    const error = new ProxyError(502, 'upstream_redirect', `backend ${backendName} answered with a redirect, which is never followed`, { type: 'upstream_error' });
    return sendError(res, 502, error.toBody());
  }
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  // The client's x-request-id (set by the handler) stays; the provider's own id is kept under another name.
  if (headers['x-request-id'] !== undefined) {
    headers['x-llmroute-upstream-request-id'] = headers['x-request-id'];
    delete headers['x-request-id'];
  }
  if (status < 300) {
    res.writeHead(status, headers);
    // pipeline, not pipe: an upstream that dies mid-body must end the client's answer too (cut, as its
    // head is gone: a truncated body must not look complete), where pipe() left the client waiting
    // forever; a client that leaves destroys the upstream body. Whichever side closed first is the cause.
    let cause: 'upstream' | 'idle' | 'client' | undefined;
    upstream.once('aborted', () => (cause ??= 'upstream'));
    upstream.once('error', () => (cause ??= 'upstream'));
    res.once('close', () => {
      if (!res.writableFinished) cause ??= 'client';
    });
    const idle = idleMs === undefined ? undefined : setTimeout(function silent() {
      if (res.writableNeedDrain) return void idle!.refresh(); // the client's slowness, not the upstream's
      cause ??= 'idle';
      upstream.destroy();
    }, idleMs);
    if (idle) upstream.on('data', () => idle.refresh());
    pipeline(upstream, res, (err) => {
      clearTimeout(idle);
      if (err && cause === 'upstream') onFailure?.('upstream_stream_error');
      if (err && cause === 'idle') onFailure?.('upstream_timeout');
    });
    return;
  }
  readText(upstream).then(
    (text) => {
      // A compressed error body does not parse: the generic message for its status is sent instead.
      const error = redactSecretInError(classifyOpenAIStyleError(status, upstream.headers, upstream.headers['content-encoding'] ? '' : text), apiKey);
      const body = JSON.stringify(error.body);
      delete headers['content-encoding'];
      headers['content-type'] = 'application/json';
      headers['content-length'] = Buffer.byteLength(body);
      res.writeHead(status, headers);
      res.end(body);
    },
    () => res.destroy(),
  );
}
