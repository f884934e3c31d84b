// POST /v1/chat/completions and POST /v1/embeddings: read, route, dispatch, answer.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ChatCompletion, ChatCompletionRequest, EmbeddingsRequest } from '../openai/types.ts';
import { UnsupportedRequestError, type StreamOutput } from '../providers/adapter.ts';
import { enforceZeroRetention } from '../policy/retention.ts';
import { dispatch, type DispatchDeps, type DispatchResult } from '../routing/dispatch.ts';
import { targetOf, type Runtime } from '../runtime/runtime.ts';
import type { HeapWatermark } from '../runtime/heap-watermark.ts';
import type { RequestTelemetry, Telemetry } from '../telemetry/hooks.ts';
import { checkChatRequest, checkEmbeddingsRequest, readJsonBody } from './body.ts';
import { modelNotFound, ProxyError, sendError } from './errors.ts';
import { SHUTTING_DOWN, type InFlightRequests } from './in-flight.ts';
import { requestIdFrom } from './request-id.ts';

export interface HandlerContext {
  runtime(): Runtime | undefined;
  telemetry: Telemetry;
  deps: DispatchDeps;
  /** Tracks requests for a graceful shutdown (which may cut them with SHUTTING_DOWN). */
  inFlight?: InFlightRequests;
  /** How long a stream may wait for its client to take more bytes before both sides are cut (default 30 s). */
  writeStallMs?: number;
  /** Requests served at once (counted by inFlight); past it, 503 `overloaded` at once. */
  maxInFlight?: number;
  /** Memory pressure: while the heap is over its watermark, 503 `overloaded` at once. */
  heap?: Pick<HeapWatermark, 'overloaded' | 'usedPercent' | 'maxPercent'>;
}

/**
 * Turns a new request away (503 `overloaded`, Retry-After 1 s) when maxInFlight are being served or
 * the heap is over its watermark: answering at once beats queueing into an out-of-memory. True when it did.
 */
export function refusedAsOverloaded(ctx: HandlerContext, res: ServerResponse, telemetry: RequestTelemetry): boolean {
  const why = overloadOf(ctx);
  if (why === undefined) return false;
  telemetry.end({ status: 503, attempts: 0, errorCode: 'overloaded' });
  const error = new ProxyError(503, 'overloaded', `the llmroute sidecar is ${why}; retry shortly`);
  sendError(res, 503, error.toBody(), 1000, error.retryAdvised);
  return true;
}

function overloadOf(ctx: HandlerContext): string | undefined {
  if (ctx.inFlight !== undefined && ctx.maxInFlight !== undefined && ctx.inFlight.size >= ctx.maxInFlight) return `serving its maximum of ${ctx.maxInFlight} requests at once`;
  if (ctx.heap?.overloaded) return `short of memory (heap at ${Math.round(ctx.heap.usedPercent)}% of its limit, over the ${ctx.heap.maxPercent}% watermark)`;
  return undefined;
}

export const DEFAULT_WRITE_STALL_MS = 30_000;

const shutdownError = new ProxyError(503, 'proxy_shutting_down', 'the llmroute sidecar is shutting down; retry the request');

/** Whether the request was cut because its client left (not by the sidecar's shutdown). */
const clientLeft = (signal: AbortSignal): boolean => signal.aborted && signal.reason !== SHUTTING_DOWN;

type Operation = 'chat' | 'embeddings';

export function llmHandler(operation: Operation, ctx: HandlerContext) {
  const httpRoute = operation === 'chat' ? '/v1/chat/completions' : '/v1/embeddings';
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = requestIdFrom(req.headers['x-request-id']);
    res.setHeader('x-request-id', requestId);
    const telemetry = ctx.telemetry.startRequest({ requestId, operation, httpRoute, headers: req.headers });
    if (refusedAsOverloaded(ctx, res, telemetry)) return;
    const client = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) client.abort();
    });
    ctx.inFlight?.add(client);
    let attempts = 0;
    let errorCode: string | undefined;
    try {
      const runtime = ctx.runtime();
      if (!runtime) throw new ProxyError(503, 'config_not_loaded', 'the proxy has no valid configuration yet');
      const body = await readJsonBody(req, runtime.config.server.maxBodyBytes);
      const request = operation === 'chat' ? checkChatRequest(body) : checkEmbeddingsRequest(body);
      const route = runtime.routeFor(request.model);
      if (!route) {
        throw modelNotFound(request.model, runtime.models);
      }
      if (operation === 'chat' && runtime.config.policy.requireZeroDataRetention) {
        const decision = enforceZeroRetention('chat/completions', request as unknown as Record<string, unknown>);
        if (!decision.allowed) throw new ProxyError(403, 'denied_by_policy', decision.message, { type: 'permission_error', param: decision.param });
      }
      const stream = operation === 'chat' && (request as ChatCompletionRequest).stream === true;
      const clientWantsUsage = stream && (request as ChatCompletionRequest).stream_options?.include_usage === true;
      telemetry.routeResolved({
        route: route.config.name,
        clientModel: request.model,
        stream,
        logPrompts: runtime.config.policy.logPrompts,
        deniedBackends: route.deniedNames,
        ...(operation === 'chat' ? { messages: (request as ChatCompletionRequest).messages, request: request as ChatCompletionRequest } : {}),
      });
      const maxResponseBytes = runtime.config.server.maxResponseBytes;
      const result = await dispatch({ route, operation, request, stream, clientWantsUsage, clientModel: request.model, clientSignal: client.signal, telemetry, ...(maxResponseBytes !== undefined ? { maxResponseBytes } : {}) }, ctx.deps);
      attempts = result.attempts;
      res.setHeader('x-llmroute-attempts', String(result.attempts));
      if (client.signal.reason === SHUTTING_DOWN && result.kind === 'error') throw shutdownError;
      if (result.kind === 'error') {
        errorCode = result.body.error.code ?? undefined;
        if (result.upstreamRequestId !== undefined) res.setHeader('x-llmroute-upstream-request-id', result.upstreamRequestId);
        sendError(res, result.status, result.body, result.retryAfterMs);
      } else if (result.kind === 'json') {
        sendJson(res, operation, request, result);
        await flushedOrCut(res, ctx.writeStallMs ?? DEFAULT_WRITE_STALL_MS);
      } else {
        await pumpStream(res, result, client.signal, ctx.writeStallMs ?? DEFAULT_WRITE_STALL_MS);
      }
    } catch (err) {
      const error = asProxyError(err);
      errorCode = error.code;
      sendError(res, error.status, error.toBody(), undefined, error.retryAdvised);
    } finally {
      // Out of the in-flight set first: a throw from telemetry must not hold a slot for good.
      ctx.inFlight?.delete(client);
      telemetry.end({ status: clientLeft(client.signal) ? 499 : res.statusCode, attempts, ...(errorCode ? { errorCode } : {}) });
    }
  };
}

/** The provider's id of the answer, as the attempt's telemetry takes it (left out when there is none). */
const upstreamIdOf = (result: { upstreamRequestId?: string }): { upstreamRequestId?: string } =>
  result.upstreamRequestId !== undefined ? { upstreamRequestId: result.upstreamRequestId } : {};

function asProxyError(err: unknown): ProxyError {
  if (err instanceof ProxyError) return err;
  if (err instanceof UnsupportedRequestError) return new ProxyError(400, err.code, err.message, { param: err.param });
  return new ProxyError(500, 'internal_error', 'the proxy failed to handle the request');
}

function sendJson(res: ServerResponse, operation: Operation, request: ChatCompletionRequest | EmbeddingsRequest, result: Extract<DispatchResult, { kind: 'json' }>): void {
  const target = targetOf(result.backend);
  const adapter = result.backend.adapter;
  let payload: unknown;
  let end: { costUsd?: number };
  try {
    if (operation === 'chat') {
      const completion: ChatCompletion = adapter.parseChatResponse(result.body, target, request.model);
      payload = completion;
      end = result.attempt.end({
        outcome: 'success',
        status: 200,
        ...(completion.usage ? { usage: completion.usage } : {}),
        ...(typeof completion.model === 'string' ? { responseModel: completion.model } : {}),
        ...(typeof completion.id === 'string' ? { responseId: completion.id } : {}),
        ...upstreamIdOf(result),
        finishReasons: (completion.choices ?? []).map((c) => c.finish_reason ?? 'unknown'),
        choices: completion.choices ?? [],
      });
    } else {
      if (!adapter.parseEmbeddingsResponse) throw new ProxyError(400, 'unsupported_operation', `provider ${result.backend.config.provider} has no embeddings API`);
      const embeddings = adapter.parseEmbeddingsResponse(result.body, target, request.model);
      payload = embeddings;
      const usage = embeddings.usage ? { prompt_tokens: embeddings.usage.prompt_tokens, completion_tokens: 0, total_tokens: embeddings.usage.total_tokens } : undefined;
      end = result.attempt.end({ outcome: 'success', status: 200, ...(usage ? { usage } : {}), ...upstreamIdOf(result) });
    }
  } catch (err) {
    result.attempt.end({ outcome: 'http_error', status: 502, errorType: 'invalid_response', ...upstreamIdOf(result) });
    if (err instanceof ProxyError) throw err;
    throw new ProxyError(502, 'upstream_invalid_response', `backend ${result.backend.config.name} returned a response that could not be translated`);
  }
  // A pass-through adapter returns the upstream's object itself: its bytes go out as received
  // (re-encoding a large embeddings answer costs milliseconds).
  const text = payload === result.body && result.text !== undefined ? result.text : JSON.stringify(payload);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-llmroute-backend': result.backend.config.name,
  };
  if (end.costUsd !== undefined) headers['x-llmroute-cost-usd'] = end.costUsd.toFixed(8);
  if (result.upstreamRequestId !== undefined) headers['x-llmroute-upstream-request-id'] = result.upstreamRequestId;
  res.writeHead(200, headers);
  res.end(text);
}

/**
 * Resolves once a whole answer written with res.end() has left (or the connection closed). A client
 * that stops reading would otherwise pin the answer (up to the response cap, 64 MiB) and its
 * connection forever: while the answer waits, the request stays in flight, and once no byte of it has
 * gone out for `stallMs` the connection is destroyed (reliability bar B29, as for streams).
 */
function flushedOrCut(res: ServerResponse, stallMs: number): Promise<void> | undefined {
  // Nothing left in the buffers: the answer is with the OS (the usual case; 'finish' comes a tick later).
  if (res.writableFinished || res.destroyed || res.writableLength === 0) return undefined;
  return new Promise<void>((resolve) => {
    let waiting = res.writableLength;
    const check = setInterval(() => {
      const now = res.writableLength;
      if (now >= waiting) res.destroy();
      waiting = now;
    }, stallMs);
    const done = () => {
      clearInterval(check);
      resolve();
    };
    res.once('finish', done);
    res.once('close', done);
  });
}

/** Writes each translated event as it arrives; waits for the socket to drain (bounded memory). */
async function pumpStream(res: ServerResponse, result: Extract<DispatchResult, { kind: 'stream' }>, clientSignal: AbortSignal, writeStallMs: number): Promise<void> {
  let abandon = true; // until the relay says the stream ended well
  try {
    abandon = (await relayStream(res, result, clientSignal, writeStallMs)) !== 'success';
  } finally {
    // After the last write: releasing the attempt's timers and draining the upstream's last bytes
    // are not what the client waits for. A stream that did not end well (or threw) cuts its upstream now.
    result.close(abandon);
  }
}

/** The relay itself; resolves with how the stream ended. */
async function relayStream(res: ServerResponse, result: Extract<DispatchResult, { kind: 'stream' }>, clientSignal: AbortSignal, writeStallMs: number): Promise<'success' | 'stream_error' | 'aborted'> {
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-llmroute-backend': result.backend.config.name,
    'x-accel-buffering': 'no',
    trailer: 'x-llmroute-cost-usd',
    ...(result.upstreamRequestId !== undefined ? { 'x-llmroute-upstream-request-id': result.upstreamRequestId } : {}),
  });
  let outcome: 'success' | 'stream_error' | 'aborted' = 'success';
  /** The last frames ([DONE] or the error event), sent with the end of the response and its trailer. */
  let tail = '';
  // Every event of one upstream read goes out in one write (one syscall, not one per event); the
  // headers go with the first events, which are already there (dispatch returns after them).
  const write = async (outputs: StreamOutput[]): Promise<boolean> => {
    let frames = '';
    for (const output of outputs) {
      if (output.kind === 'chunk') frames += `data: ${output.json}\n\n`;
      else {
        if (output.kind === 'done') frames += 'data: [DONE]\n\n';
        else {
          outcome = 'stream_error';
          frames += `data: ${JSON.stringify(output.error.body)}\n\n`;
        }
        tail = frames;
        return false;
      }
    }
    if (frames !== '' && !res.write(frames)) await new Promise<void>((resolve) => {
      // A client that stops reading would hold this stream and its upstream call forever: past the
      // stall limit the connection is destroyed, whose 'close' aborts the upstream (reliability bar B29).
      const stalled = setTimeout(() => res.destroy(), writeStallMs);
      const done = () => { clearTimeout(stalled); res.off('drain', done); res.off('close', done); resolve(); };
      res.on('drain', done);
      res.on('close', done);
    });
    return true;
  };
  try {
    let open = await write(result.first);
    while (open && !clientSignal.aborted) {
      const next = await result.rest.next();
      if (next === undefined) break;
      open = await write(next);
    }
  } catch {
    outcome = 'stream_error';
  } finally {
    if (clientLeft(clientSignal)) outcome = 'aborted';
    else if (clientSignal.aborted) {
      // Cut by the shutdown deadline: the client is still there and gets a terminal error event.
      outcome = 'stream_error';
      if (tail === '') tail = `data: ${JSON.stringify(shutdownError.toBody())}\n\n`;
    }
  }
  const usage = result.translator.usage();
  const { finishReasons, responseModel } = result.translator.summary();
  const end = result.attempt.end({ outcome, status: 200, ...(usage ? { usage } : {}), finishReasons, ...(responseModel ? { responseModel } : {}), partial: outcome !== 'success', ...upstreamIdOf(result) });
  if (!res.writableEnded && !clientLeft(clientSignal)) {
    if (end.costUsd !== undefined) res.addTrailers({ 'x-llmroute-cost-usd': end.costUsd.toFixed(8) });
    res.end(tail);
  }
  return outcome;
}

