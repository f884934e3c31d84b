// The answer of a forwarded (pass-through) request, relayed to the client. A success goes out byte for
// byte, streamed; an error answer is rebuilt from what it says, like every other upstream error: its
// text sanitized and the backend's own key removed, since providers echo keys and signed URLs in error
// messages (reliability bar B31), and a forwarded body is otherwise copied untouched.
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { classifyOpenAIStyleError, redactSecretInError } from '../providers/openai-errors.ts';
import { readText } from '../upstream/pools.ts';

/** Headers about one connection, not the message (RFC 9110 7.6.1): never copied from hop to hop. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

export function relayResponse(upstream: IncomingMessage, res: ServerResponse, apiKey: string | undefined): void {
  const status = upstream.statusCode ?? 502;
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(upstream.headers)) if (value !== undefined && !HOP_BY_HOP.has(name)) headers[name] = value;
  if (status < 400) {
    res.writeHead(status, headers);
    upstream.pipe(res);
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
