import Koa from 'koa';

// Floor: the cheapest Koa response, in its own process so its CPU can be read from /proc.
// Plain JavaScript, run without a loader, so it carries nothing but Koa.
// Usage: node bench/floors/hello-koa.mjs <port>
const app = new Koa();
app.use((ctx) => {
  ctx.body = 'Hello World';
});
const server = app.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  console.log(`listening ${server.address().port}`);
});
server.keepAliveTimeout = 65_000;
