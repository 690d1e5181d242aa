import { pino, type Logger, type DestinationStream, type LoggerOptions } from 'pino';

import { redactLogFields, scrubText, stripQuery } from './redact.ts';

export type { Logger };

// Redaction is central: whatever a caller logs, the values of sensitive properties
// (Authorization and Cookie headers, passwords, secrets, tokens, codes, the master
// secret: see redact.ts, and why `code` is special) never reach the output, at any depth;
// errors, requests and responses go through serializers that scrub them the same way.

/** Receives every error logged at level error or fatal, before redaction (see error-reporter.ts). */
export type ErrorSink = (error: Error, context: { message?: string; requestId?: string; route?: string }) => void;

export interface LoggerSetup {
  level: string;
  /** Where lines go; stdout (JSON) when absent. See createPrettyDestination for development. */
  destination?: DestinationStream;
  /** Sends logged errors on, e.g. to Sentry. */
  reportError?: ErrorSink;
}

// pino's error serializer, with free text scrubbed: a message or stack may quote a URL
// with a code in its query or an Authorization header.
function serializeError(error: unknown): unknown {
  const serialized = pino.stdSerializers.err(error as Error) as unknown as Record<string, unknown>;
  if (serialized === null || typeof serialized !== 'object') return serialized;
  for (const [key, value] of Object.entries(serialized)) {
    if (typeof value === 'string') serialized[key] = scrubText(value);
  }
  return serialized;
}

// Should a request or response object be logged, only its safe parts are.
function serializeRequest(req: unknown): unknown {
  const serialized = pino.stdSerializers.req(req as never) as unknown as { url?: string; headers?: Record<string, unknown> };
  return redactLogFields({ ...serialized, ...(serialized.url && { url: stripQuery(serialized.url) }) });
}

function serializeResponse(res: unknown): unknown {
  return redactLogFields(pino.stdSerializers.res(res as never) as unknown as Record<string, unknown>);
}

function errorOf(args: unknown[]): { error: Error; fields: Record<string, unknown> } | undefined {
  const [first] = args;
  if (first instanceof Error) return { error: first, fields: {} };
  if (first !== null && typeof first === 'object') {
    const fields = first as Record<string, unknown>;
    if (fields.err instanceof Error) return { error: fields.err, fields };
  }
  return undefined;
}

export function createLogger(options: LoggerSetup): Logger {
  const { reportError } = options;
  const settings: LoggerOptions = {
    level: options.level,
    base: { service: 'portcullis' },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { log: redactLogFields },
    serializers: { err: serializeError, req: serializeRequest, res: serializeResponse },
  };
  if (reportError) {
    settings.hooks = {
      logMethod(args, method, level) {
        if (level >= 50) {
          const found = errorOf(args);
          if (found) {
            const message = args.find((arg, index) => index > 0 && typeof arg === 'string') as string | undefined;
            const { requestId, route } = found.fields;
            try {
              reportError(found.error, {
                message,
                requestId: typeof requestId === 'string' ? requestId : undefined,
                route: typeof route === 'string' ? route : undefined,
              });
            } catch {
              // Reporting is best effort; the log line below still happens.
            }
          }
        }
        method.apply(this, args);
      },
    };
  }
  return pino(settings, options.destination);
}

/**
 * Human-readable lines for development (`LOG_FORMAT=pretty`). pino-pretty is loaded only
 * when asked for, so production processes never load it.
 */
export async function createPrettyDestination(): Promise<DestinationStream> {
  const { default: pretty } = await import('pino-pretty');
  return pretty({ colorize: process.stdout.isTTY, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', singleLine: true });
}
