import { readFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';

import { StartupError } from '../errors.ts';

// The public listener: plain http behind a TLS-terminating proxy (TRUST_PROXY), or https
// itself with TLS_CERT_FILE and TLS_KEY_FILE. Over https Koa sees `ctx.secure`, so the
// engine's cookies get Secure and the security headers send HSTS (the issuer is https).

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export interface TlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
}

function read(file: string, variable: string): Buffer {
  try {
    return readFileSync(file);
  } catch (error) {
    throw new StartupError(`${variable}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`, { cause: error });
  }
}

/** Reads the certificate and key once, at start; a bad file stops the start with its name. */
export function createPublicServer(tls: TlsFiles | undefined, handler?: Handler): Server {
  if (!tls) return handler ? createHttpServer(handler) : createHttpServer();
  const options = { cert: read(tls.certFile, 'TLS_CERT_FILE'), key: read(tls.keyFile, 'TLS_KEY_FILE'), minVersion: 'TLSv1.2' as const };
  try {
    return handler ? createHttpsServer(options, handler) : createHttpsServer(options);
  } catch (error) {
    throw new StartupError(`TLS_CERT_FILE, TLS_KEY_FILE: not a usable certificate and key (${(error as Error).message})`, { cause: error });
  }
}
