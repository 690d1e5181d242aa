import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { freePort } from '../../helpers/run-entry.ts';

// Debian's nginx on loopback in front of the instances, as a deployment runs it (the
// proxy of deploy/nginx/, minus TLS): one upstream with every instance, round robin,
// keep-alive to the upstreams, and the X-Forwarded-* headers Portcullis trusts with
// TRUST_PROXY. The config and every file nginx writes live in the cluster's temp folder.
//
// A test that must choose the instance (log in on one, consent on the other) sends
// `X-Cluster-Instance: <index>`; nginx then proxies to that instance alone. The request
// still goes through the same issuer address, cookies and headers as any other: the
// instances cannot tell it from a load-balanced request, which is what the test is about.
// Every response says which instance served it in `X-Upstream` (host:port).

export const INSTANCE_HEADER = 'x-cluster-instance';

export interface Nginx {
  readonly url: string;
  close(): Promise<void>;
}

export function nginxConfig(options: { dir: string; port: number; upstreams: readonly number[]; runsAsRoot: boolean }): string {
  const { dir, port, upstreams } = options;
  const servers = upstreams.map((upstream) => `    server 127.0.0.1:${upstream} max_fails=1 fail_timeout=2s;`).join('\n');
  const pinned = upstreams.map((upstream, index) => `    ${index} 127.0.0.1:${upstream};`).join('\n');
  return `# Written by test/cluster/harness/nginx.ts
${options.runsAsRoot ? 'user root root;\n' : ''}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/client_body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream portcullis {
${servers}
    keepalive 32;
  }
  map $http_${INSTANCE_HEADER.replaceAll('-', '_')} $portcullis_backend {
    default portcullis;
${pinned}
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://$portcullis_backend;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $http_host;
      add_header X-Upstream $upstream_addr always;
    }
  }
}
`;
}

/** The port nginx will listen on, known before the instances start (their ISSUER names it). */
export async function reserveNginxPort(): Promise<number> {
  return freePort();
}

export async function startNginx(options: { dir: string; port: number; upstreams: readonly number[] }): Promise<Nginx> {
  const dir = path.join(options.dir, 'nginx');
  await mkdir(dir, { recursive: true });
  const conf = path.join(dir, 'nginx.conf');
  await writeFile(conf, nginxConfig({ dir, port: options.port, upstreams: options.upstreams, runsAsRoot: process.getuid?.() === 0 }));
  const child: ChildProcess = spawn('nginx', ['-p', dir, '-c', conf, '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}: ${stderr}`);
    const listening = await new Promise<boolean>((resolve) => {
      const socket = connect(options.port, '127.0.0.1', () => {
        socket.destroy();
        resolve(true);
      });
      socket.on('error', () => resolve(false));
    });
    if (listening) break;
    if (i > 200) throw new Error(`nginx did not listen on ${options.port}: ${stderr}`);
    await sleep(25);
  }
  return {
    url: `http://127.0.0.1:${options.port}`,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGQUIT'); // graceful stop of master and worker
      await exited;
    },
  };
}
