// A local OTLP/HTTP collector stand-in for the tracing-on benchmark: accepts every export, counts
// the bytes, answers 200 at once. Usage: node bench/otlp-sink.ts (prints its port on stdout).
import { createServer } from 'node:http';

let exports = 0;
let bytes = 0;
const server = createServer((req, res) => {
  req.on('data', (chunk: Buffer) => (bytes += chunk.length));
  req.on('end', () => {
    exports += 1;
    res.writeHead(200, { 'content-type': String(req.headers['content-type'] ?? 'application/x-protobuf') }).end();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => {
  process.stderr.write(`otlp-sink: ${exports} exports, ${(bytes / 1024).toFixed(0)} KiB\n`);
  process.exit(0);
});
