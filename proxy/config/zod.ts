// The schema library of the config contract: zod's functional "mini" build, with its English
// messages. Not zod's classic build: bundled, it held ~12 MB of resident memory in every sidecar (its
// method-chaining classes load whole), against under 1 MB for this one. Everything that declares a
// schema (the contract, the provider options, the operator's CRD inputs) imports it as
// `import * as z from '.../config/zod.ts'`, so the messages are English wherever they are read.
// Keep it a namespace import used as `z.name`: the bundler then keeps only the functions used.
import { config } from 'zod/mini';
import en from 'zod/v4/locales/en.js';

config(en());

export * from 'zod/mini';
