import { createServer } from 'node:http';

// Floor: the cheapest node:http response. Usage: node bench/floors/hello-http.mjs <port>
const server = createServer((req, res) => {
  // Drain the body (POST floods) before answering, as any server must.
  req.resume();
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'content-length': '11' });
    res.end('Hello World');
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
