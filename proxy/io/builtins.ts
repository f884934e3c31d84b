// Node built-ins the sidecar loads without an ESM namespace. An ESM `import ... from 'node:http'`
// (named or not) builds the module's namespace, which reads every export, lazy getters included:
// node:http's `WebSocket`/`CloseEvent`/`MessageEvent` load Node's bundled undici (~13 MB resident),
// node:crypto's `webcrypto`/`subtle` set up WebCrypto. process.getBuiltinModule returns the CommonJS
// exports object and reads nothing. Type-only imports of these modules cost nothing and stay as they are.
import type * as Crypto from 'node:crypto';
import type * as Http from 'node:http';

let http: typeof Http | undefined;
let crypto: typeof Crypto | undefined;

export function nodeHttp(): typeof Http {
  http ??= process.getBuiltinModule('node:http');
  return http;
}

export function nodeCrypto(): typeof Crypto {
  crypto ??= process.getBuiltinModule('node:crypto');
  return crypto;
}
