import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { PROJECT_ROOT } from '../helpers/run-cli.ts';
import { freePort, temporaryFolder } from '../helpers/run-entry.ts';

// deploy/nginx as docker-compose.yml runs it, on Debian's nginx here (no container
// engine): the certificate from the documented script, the config itself with only what
// the containers supply swapped for loopback (the instances' names, the ports, the
// certificate folder), checked by `nginx -t` and then served. Two stand-in upstreams echo
// what reached them, so the test sees the forwarded headers Portcullis trusts.

let dir: string;
let nginx: ChildProcess;
const upstreams: Server[] = [];
const seen: { upstream: number; headers: IncomingHttpHeaders }[] = [];
let httpsPort: number;
let httpPort: number;
let ca: string;

before(async () => {
  dir = await temporaryFolder('deploy-nginx');
  execFileSync(path.join(PROJECT_ROOT, 'deploy/nginx/make-cert.sh'), ['localhost', path.join(dir, 'certs')]);
  ca = readFileSync(path.join(dir, 'certs/cert.pem'), 'utf8');
  for (const index of [0, 1]) {
    const server = createServer((req, res) => {
      seen.push({ upstream: index, headers: req.headers });
      res.setHeader('content-type', 'text/plain');
      res.end(`upstream ${index}`);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    upstreams.push(server);
  }
  [httpsPort, httpPort] = [await freePort(), await freePort()];
  const ports = upstreams.map((server) => (server.address() as AddressInfo).port);
  const site = readFileSync(path.join(PROJECT_ROOT, 'deploy/nginx/portcullis.conf'), 'utf8')
    .replace('server portcullis:3000', `server 127.0.0.1:${ports[0]}`)
    .replace('server portcullis-2:3000', `server 127.0.0.1:${ports[1]}`)
    .replace(/^\s*listen \[::\]:\d+.*$/gm, '') // loopback IPv4 only here
    .replace('listen 80;', `listen 127.0.0.1:${httpPort};`)
    .replace('listen 443 ssl;', `listen 127.0.0.1:${httpsPort} ssl;`)
    .replaceAll('/etc/nginx/certs/', `${dir}/certs/`);
  assert.ok(site.includes(`127.0.0.1:${ports[1]}`) && site.includes(`${httpsPort} ssl`), 'every container-specific line was found');
  writeFileSync(path.join(dir, 'site.conf'), site);
  // What the nginx image's own nginx.conf supplies around conf.d/default.conf.
  const runsAsRoot = process.getuid?.() === 0;
  for (const temp of ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(path.join(dir, temp));
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `${runsAsRoot ? 'user root root;\n' : ''}pid ${dir}/nginx.pid;\nerror_log ${dir}/error.log warn;\nevents {}\nhttp {\n  access_log off;\n` +
      ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((temp) => `  ${temp}_temp_path ${dir}/${temp};\n`).join('') +
      `  include ${dir}/site.conf;\n}\n`,
  );
  execFileSync('nginx', ['-t', '-p', dir, '-c', path.join(dir, 'nginx.conf')], { stdio: 'pipe' });
  nginx = spawn('nginx', ['-p', dir, '-c', path.join(dir, 'nginx.conf'), '-g', 'daemon off;'], { stdio: 'ignore' });
  for (let i = 0; i < 200 && (await get(`http://127.0.0.1:${httpPort}/`).catch(() => undefined)) === undefined; i++) await sleep(25);
});

after(async () => {
  if (nginx && nginx.exitCode === null) {
    const exited = new Promise((resolve) => nginx.once('exit', resolve));
    nginx.kill('SIGQUIT');
    await exited;
  }
  for (const server of upstreams) server.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function get(url: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return fetch(url, { redirect: 'manual' }).then(async (response) => ({
    status: response.status,
    headers: Object.fromEntries(response.headers),
    body: await response.text(),
  }));
}

function getHttps(pathname: string): Promise<{ status: number; headers: IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', servername: 'localhost', port: httpsPort, path: pathname, ca, headers: { host: 'localhost' } }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the documented script makes a certificate for the host, valid for localhost and 127.0.0.1', () => {
  const certificate = new X509Certificate(ca);
  assert.equal(certificate.subject, 'CN=localhost');
  assert.match(certificate.subjectAltName ?? '', /DNS:localhost/);
  assert.match(certificate.subjectAltName ?? '', /IP Address:127\.0\.0\.1/);
  assert.ok(new Date(certificate.validTo) > new Date(Date.now() + 300 * 86_400_000), 'valid for months');
});

test('https reaches the instances in turn, with the forwarded headers Portcullis trusts', async () => {
  const replies = [await getHttps('/.well-known/openid-configuration'), await getHttps('/jwks')];
  for (const reply of replies) {
    assert.equal(reply.status, 200);
    assert.match(String(reply.headers['strict-transport-security']), /max-age=\d+/);
  }
  assert.deepEqual(new Set(replies.map((reply) => reply.body)), new Set(['upstream 0', 'upstream 1']), 'both instances');
  for (const { headers } of seen) {
    assert.equal(headers['x-forwarded-proto'], 'https');
    assert.equal(headers.host, 'localhost');
    assert.equal(headers['x-forwarded-for'], '127.0.0.1', 'exactly one entry: TRUST_PROXY_HOPS=1');
  }
});

test('plain http answers only with a redirect to https', async () => {
  const reply = await get(`http://127.0.0.1:${httpPort}/token?x=1`);
  assert.equal(reply.status, 301);
  assert.equal(reply.headers.location, `https://127.0.0.1/token?x=1`);
});
