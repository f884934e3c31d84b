// Starts the proxy in-process on ephemeral ports with a config built from routes, plus an openai client.
import OpenAI from 'openai';
import { serializeConfig } from '#proxy/config/parse.ts';
import { CONFIG_API_VERSION, CONFIG_KIND, type ConfigInput } from '#proxy/config/schema.ts';
import { startProxy, type ProxyOptions, type RunningProxy } from '#proxy/server.ts';

export type RouteInput = ConfigInput['routes'][number];

export function configText(routes: RouteInput[], extra: Partial<ConfigInput> = {}): string {
  return serializeConfig({ apiVersion: CONFIG_API_VERSION, kind: CONFIG_KIND, routes, ...extra });
}

export interface Started {
  proxy: RunningProxy;
  client: OpenAI;
  close(): Promise<void>;
}

export async function startWith(routes: RouteInput[], options: Partial<ProxyOptions> & { extra?: Partial<ConfigInput> } = {}): Promise<Started> {
  const { extra, ...rest } = options;
  const proxy = await startProxy({ configText: configText(routes, extra), port: 0, adminPort: 0, ...rest });
  // maxRetries 0: the proxy's own retries are under test, not the SDK's.
  const client = new OpenAI({ baseURL: `${proxy.llmUrl}/v1`, apiKey: 'sk-app-placeholder', maxRetries: 0 });
  return { proxy, client, close: () => proxy.close() };
}

export function backend(name: string, baseURL: string, extra: Record<string, unknown> = {}) {
  return { name, provider: 'openai-compatible' as const, model: `${name}-model`, baseURL, credentials: { kind: 'none' as const }, ...extra };
}

/** Polls until the condition holds (an upstream saw a request, a connection closed...). */
export async function waitFor(condition: () => boolean, timeoutMs = 4000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
