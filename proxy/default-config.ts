// The embedded default config: what `llmroute proxy` serves without --config and what the quick
// start shows. Model `demo` is answered by the offline echo provider: no key, no network.
import { CONFIG_API_VERSION, CONFIG_KIND } from './config/schema.ts';
import { serializeConfig } from './config/parse.ts';

export const DEFAULT_CONFIG_TEXT = serializeConfig({
  apiVersion: CONFIG_API_VERSION,
  kind: CONFIG_KIND,
  routes: [
    {
      name: 'default/demo',
      models: ['demo'],
      strategy: 'failover',
      backends: [{ name: 'echo', provider: 'echo', model: 'echo-1', credentials: { kind: 'none' }, options: { prefix: 'llmroute echo: ' } }],
    },
  ],
});
