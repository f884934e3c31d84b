// Reads and checks a JSON request body: size limit (413), JSON syntax (400), the minimal shape (400).
import type { IncomingMessage } from 'node:http';
import type { ChatCompletionRequest, EmbeddingsRequest } from '../openai/types.ts';
import { ProxyError } from './errors.ts';
import { ClosedEarlyError, readUtf8, TooLargeError } from '../io/read-utf8.ts';

export async function readJsonBody(req: IncomingMessage, limitBytes: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limitBytes) throw tooLarge(limitBytes);
  let text: string;
  try {
    // The handler runs from the parser's callback for the head, before a body that came in the same
    // packet is buffered; a microtask later it is, and readUtf8 takes it at once.
    if (!req.complete && req.readableLength === 0) await Promise.resolve();
    text = await readUtf8(req, limitBytes);
  } catch (err) {
    if (err instanceof TooLargeError) throw tooLarge(limitBytes);
    if (err instanceof ClosedEarlyError) throw new ProxyError(400, 'client_closed_request', 'the client closed the connection before sending the whole body');
    throw err;
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ProxyError(400, 'invalid_json', 'the request body is not valid JSON');
  }
  checkParsedBody(text, body);
  return body;
}

/**
 * Deepest nesting of arrays and objects accepted (serde_json's default, so what Rust-based upstreams
 * such as TGI accept). JSON.parse itself is iterative, but JSON.stringify and every recursive walk
 * after it overflow the stack a few thousand levels down: a 200 kB body nested 100,000 deep was a 500.
 */
export const MAX_JSON_DEPTH = 128;

/**
 * Top-level fields that name an upstream host, a provider or a credential. Upstreams come only from
 * the compiled config; a field like LiteLLM's `api_base` (CVE-2024-6587) would let a caller move the
 * request, and the key sent with it, elsewhere when the backend is itself such a gateway. Compared
 * without case, `-` or `_`, so `apiBase`, `API-BASE` and `api_base` are one name.
 */
const FORBIDDEN_FIELDS = new Set([
  'apibase', 'baseurl', 'apiurl', 'apihost', 'customhost', 'azureendpoint', 'customllmprovider', 'extraheaders',
  'apikey', 'azureadtoken', 'awsaccesskeyid', 'awssecretaccesskey', 'awssessiontoken', 'vertexcredentials',
]);

/**
 * Fields the proxy routes and checks policy by. OpenAI's request fields are all lower case, so `Model`
 * or `STORE` is a second spelling of one of them: Go's encoding/json (Ollama, for one) matches keys
 * case-insensitively, and could serve another model than the one the policy admitted
 * (GHSA-4gph-2hhr-5mwg; reliability bar B8).
 */
const ROUTED_FIELDS = new Set(['model', 'messages', 'input', 'store', 'stream', 'stream_options', 'previous_response_id', 'conversation', 'tools', 'tool_choice']);
/** Routed fields are `[a-z_]`: a key with anything else may be another spelling of one. */
const NOT_PLAIN = /[^a-z_]/;
/**
 * A key as a case-insensitive decoder may read it. Upper-casing first also folds the two non-ASCII
 * letters Go's EqualFold matches to ASCII ones: `ſ` (U+017F) is `s`, the Kelvin sign `K` is `k`.
 */
const caseFolded = (key: string): string => key.toUpperCase().toLowerCase();

/** Checks what JSON.parse accepts but the proxy must not forward: too deep, host/credential fields, lone surrogates. */
function checkParsedBody(text: string, body: unknown): void {
  if (typeof body !== 'object' || body === null) return;
  // Every level opens with a `[` or `{`: a body with few of them cannot be deep, and counting them
  // (indexOf, memchr speed) is cheaper than walking the parsed tree, which only the rest need.
  if (openersExceed(text, MAX_JSON_DEPTH) && deeperThan(body, MAX_JSON_DEPTH)) {
    throw new ProxyError(400, 'invalid_json', `the request body nests arrays and objects deeper than ${MAX_JSON_DEPTH} levels`);
  }
  if (!Array.isArray(body)) {
    for (const key in body) {
      if (mayBeForbidden(key) && FORBIDDEN_FIELDS.has(caseFolded(key).replace(/[-_]/g, ''))) {
        throw new ProxyError(400, 'unsupported_field', `${key.slice(0, 64)} is not accepted: upstream hosts and credentials come only from the proxy's configuration`, { param: key.slice(0, 64) });
      }
      if (NOT_PLAIN.test(key) && ROUTED_FIELDS.has(caseFolded(key))) {
        throw new ProxyError(400, 'invalid_request', `${key.slice(0, 64)} is ${caseFolded(key)} in another case: an upstream that decodes JSON case-insensitively could read it instead of the value the proxy routed and checked`, { param: key.slice(0, 64) });
      }
    }
  }
  // RFC 8259 allows escapes of lone UTF-16 surrogates; they are not Unicode (I-JSON, RFC 7493, forbids
  // them) and upstreams answer them with anything from a 400 to U+FFFD. Only a body with such an escape
  // is walked; a false alarm (an escaped backslash before `u`) costs one walk and passes.
  if (hasSurrogateEscape(text)) {
    const at = illFormedString(body);
    if (at !== undefined) {
      throw new ProxyError(400, 'invalid_json', `the request body has a string with a lone UTF-16 surrogate (not valid Unicode) at ${at}`, { param: at });
    }
  }
}

/** Whether a key can normalize to a FORBIDDEN_FIELDS name: they all start with a, b, c, e or v, after any `-`/`_`. */
function mayBeForbidden(key: string): boolean {
  const c = key.charCodeAt(0);
  if (c === 0x2d || c === 0x5f) return true;
  const lower = c | 0x20;
  return key.length >= 6 && (lower === 0x61 || lower === 0x62 || lower === 0x63 || lower === 0x65 || lower === 0x76);
}

/** Whether the text has more than `max` `[` and `{` in all (strings included: an upper bound of the depth). */
function openersExceed(text: string, max: number): boolean {
  if (text.length <= 2 * max) return false; // each level takes an opener and a closer
  let count = 0;
  for (let i = text.indexOf('{'); i !== -1; i = text.indexOf('{', i + 1)) if (++count > max) return true;
  for (let i = text.indexOf('['); i !== -1; i = text.indexOf('[', i + 1)) if (++count > max) return true;
  return false;
}

/** Whether the raw text has a `\uD800`-`\uDFFF` escape: the only way a lone surrogate gets into a parsed string. */
function hasSurrogateEscape(text: string): boolean {
  for (let i = text.indexOf('\\u'); i !== -1; i = text.indexOf('\\u', i + 2)) {
    if ((text.charCodeAt(i + 2) | 0x20) !== 0x64) continue; // d or D
    const next = text.charCodeAt(i + 3) | 0x20; // 8, 9, a-f or A-F
    if (next === 0x38 || next === 0x39 || (next >= 0x61 && next <= 0x66)) return true;
  }
  return false;
}

/** Whether arrays/objects nest more than `max` levels (the root is level 1). Iterative: no stack to overflow. */
function deeperThan(root: object, max: number): boolean {
  const nodes: object[] = [root];
  const depths: number[] = [1];
  while (nodes.length > 0) {
    const node = nodes.pop() as Record<string, unknown> | unknown[];
    const depth = depths.pop()!;
    if (depth > max) return true;
    if (Array.isArray(node)) {
      for (let i = 0; i < node.length; i++) {
        const v = node[i];
        if (typeof v === 'object' && v !== null) {
          nodes.push(v);
          depths.push(depth + 1);
        }
      }
    } else {
      for (const key in node) {
        const v = node[key];
        if (typeof v === 'object' && v !== null) {
          nodes.push(v);
          depths.push(depth + 1);
        }
      }
    }
  }
  return false;
}

/** String.prototype.isWellFormed (Node 20+, ES2024: newer than the lib this project compiles against). */
const wellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

/** Path (`messages[0].content`) of the first string or key that is not well-formed UTF-16, if any. */
function illFormedString(root: object): string | undefined {
  type Entry = { value: unknown; key: string | number | undefined; parent: Entry | undefined };
  const pathOf = (entry: Entry): string => {
    let path = '';
    for (let e: Entry | undefined = entry; e !== undefined && e.key !== undefined; e = e.parent) {
      path = typeof e.key === 'number' ? `[${e.key}]${path}` : `${e.parent?.key === undefined ? '' : '.'}${wellFormed(e.key) ? e.key : '(key)'}${path}`;
    }
    return path === '' ? '(body)' : path;
  };
  const stack: Entry[] = [{ value: root, key: undefined, parent: undefined }];
  while (stack.length > 0) {
    const entry = stack.pop()!;
    const value = entry.value;
    if (typeof value === 'string') {
      if (!wellFormed(value)) return pathOf(entry);
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], key: i, parent: entry });
    } else if (typeof value === 'object' && value !== null) {
      const keys = Object.keys(value);
      for (let i = keys.length - 1; i >= 0; i--) {
        const key = keys[i]!;
        if (!wellFormed(key)) return pathOf({ value: key, key, parent: entry });
        stack.push({ value: (value as Record<string, unknown>)[key], key, parent: entry });
      }
    }
  }
  return undefined;
}

function tooLarge(limit: number): ProxyError {
  return new ProxyError(413, 'request_too_large', `the request body is larger than the limit of ${limit} bytes`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const ROLES = new Set(['system', 'developer', 'user', 'assistant', 'tool']);

export function checkChatRequest(body: unknown): ChatCompletionRequest {
  if (!isObject(body)) throw new ProxyError(400, 'invalid_request', 'the request body must be a JSON object');
  if (typeof body.model !== 'string' || body.model === '') throw new ProxyError(400, 'invalid_request', 'model is required and must be a string', { param: 'model' });
  if (!Array.isArray(body.messages) || body.messages.length === 0) throw new ProxyError(400, 'invalid_request', 'messages must be a non-empty array', { param: 'messages' });
  body.messages.forEach((m, i) => {
    if (!isObject(m) || typeof m.role !== 'string' || !ROLES.has(m.role)) {
      throw new ProxyError(400, 'invalid_request', `messages[${i}].role must be one of system, developer, user, assistant, tool`, { param: `messages[${i}].role` });
    }
  });
  if (body.stream !== undefined && body.stream !== null && typeof body.stream !== 'boolean') throw new ProxyError(400, 'invalid_request', 'stream must be a boolean', { param: 'stream' });
  return body as ChatCompletionRequest;
}

export function checkEmbeddingsRequest(body: unknown): EmbeddingsRequest {
  if (!isObject(body)) throw new ProxyError(400, 'invalid_request', 'the request body must be a JSON object');
  if (typeof body.model !== 'string' || body.model === '') throw new ProxyError(400, 'invalid_request', 'model is required and must be a string', { param: 'model' });
  const input = body.input;
  const ok = typeof input === 'string' || (Array.isArray(input) && input.length > 0);
  if (!ok) throw new ProxyError(400, 'invalid_request', 'input must be a string or a non-empty array', { param: 'input' });
  return body as EmbeddingsRequest;
}
