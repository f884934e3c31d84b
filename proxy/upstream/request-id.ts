// The provider's own id of an answer, for a support ticket with that provider: OpenAI-style
// `x-request-id` (OpenAI, Mistral, DeepSeek, vLLM...), Anthropic's `request-id`, Azure API
// Management's `apim-request-id`. Upstream input: kept only when short and plain, so it is safe to
// log and to send on as a header.
import type { IncomingHttpHeaders } from 'node:http';

const HEADERS = ['x-request-id', 'request-id', 'apim-request-id'] as const;
const PLAIN = /^[A-Za-z0-9._:-]{1,128}$/;

export function upstreamRequestIdOf(headers: IncomingHttpHeaders): string | undefined {
  for (const name of HEADERS) {
    const value = headers[name];
    if (typeof value === 'string' && PLAIN.test(value)) return value;
  }
  return undefined;
}
