// Node built-ins the sidecar loads without an ESM namespace. An ESM `import ... from 'node:http'`
// (named or not) builds the module's namespace, which reads every export, lazy getters included:
// node:http's `WebSocket`/`CloseEvent`/`MessageEvent` load Node's bundled undici (~13 MB resident),
// node:crypto's `webcrypto`/`subtle` set up WebCrypto. process.getBuiltinModule returns the CommonJS
// exports object and reads nothing. Type-only imports of these modules cost nothing and stay as they are.
// node:https (OpenSSL's TLS stack, ~9 MB resident) loads only when a backend is https.
import type * as Crypto from 'node:crypto';
import type * as Http from 'node:http';
import type * as Https from 'node:https';

let http: typeof Http | undefined;
let https: typeof Https | undefined;
let crypto: typeof Crypto | undefined;

export function nodeHttp(): typeof Http {
  http ??= process.getBuiltinModule('node:http');
  return http;
}

export function nodeHttps(): typeof Https {
  https ??= process.getBuiltinModule('node:https');
  return https;
}

export function nodeCrypto(): typeof Crypto {
  crypto ??= process.getBuiltinModule('node:crypto');
  return crypto;
}
