// The yardstick: a bare Node pass-through proxy (plain http, keep-alive, no logic).
// Usage: node bench/bare-proxy.ts <upstream port>   (prints its own port on stdout)
// node:http via getBuiltinModule, as llmroute loads it: an ESM import would also wake Node's bundled
// undici (~13 MB resident), which would inflate the yardstick's idle memory, not its latency.
const { Agent, createServer, request } = process.getBuiltinModule('node:http');

const upstreamPort = Number(process.argv[2]);
const agent = new Agent({ keepAlive: true, maxSockets: 256 });

const server = createServer((req, res) => {
  const upstream = request(
    { host: '127.0.0.1', port: upstreamPort, method: req.method, path: req.url, headers: req.headers, agent },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.on('error', () => {
    res.writeHead(502);
    res.end();
  });
  req.pipe(upstream);
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
