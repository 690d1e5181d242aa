import Koa from 'koa';

// The floor the rate-limit bench compares against: the cheapest possible Koa response, in
// its own process, so its CPU can be read from /proc like Portcullis's.
const app = new Koa();
app.use((ctx) => {
  ctx.body = 'Hello World';
});
const server = app.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  const address = server.address();
  console.log(`listening ${typeof address === 'object' && address ? address.port : ''}`);
});
