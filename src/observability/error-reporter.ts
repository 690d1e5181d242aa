import type * as Sentry from '@sentry/node';
import type { Breadcrumb, ErrorEvent } from '@sentry/node';

import type { ErrorSink } from './logger.ts';
import { scrubText, scrubValue, stripQuery } from './redact.ts';

// Unexpected errors to Sentry, when SENTRY_DSN is set. Errors reach it through the logger
// (every error logged at level error with an `err`, see logger.ts), so "logged once"
// and "reported once" are the same call. Without a DSN the SDK is never imported.
// What is sent is scrubbed like the logs: no request bodies, cookies, headers or query
// strings are collected, and beforeSend scrubs what remains (messages, extra data).

export interface ErrorReporter {
  readonly enabled: boolean;
  readonly report: ErrorSink;
  /** Sends what is queued (at shutdown). */
  flush(timeoutMs?: number): Promise<void>;
}

export const noErrorReporter: ErrorReporter = Object.freeze({
  enabled: false,
  report() {},
  flush: () => Promise.resolve(),
});

type SentryModule = typeof Sentry;

export interface ErrorReporterOptions {
  readonly dsn: string | undefined;
  readonly environment: string;
  readonly release?: string;
  /** For tests: how the SDK is loaded. */
  readonly load?: () => Promise<SentryModule>;
}

/** The last line of defence before an event leaves the process. Exported for tests. */
export function scrubSentryEvent<T extends ErrorEvent>(event: T): T {
  if (event.request) {
    const { method, url } = event.request;
    event.request = { ...(method && { method }), ...(url && { url: stripQuery(url) }) };
  }
  if (event.message) event.message = scrubText(event.message);
  for (const exception of event.exception?.values ?? []) {
    if (exception.value) exception.value = scrubText(exception.value);
  }
  if (event.extra) event.extra = scrubValue(event.extra) as typeof event.extra;
  if (event.contexts) event.contexts = scrubValue(event.contexts) as typeof event.contexts;
  if (event.tags) event.tags = scrubValue(event.tags) as typeof event.tags;
  if (event.user) event.user = event.user.id === undefined ? {} : { id: event.user.id };
  if (event.breadcrumbs) event.breadcrumbs = event.breadcrumbs.map(scrubBreadcrumb);
  return event;
}

function scrubBreadcrumb(breadcrumb: Breadcrumb): Breadcrumb {
  return {
    ...breadcrumb,
    ...(breadcrumb.message && { message: scrubText(breadcrumb.message) }),
    ...(breadcrumb.data && { data: scrubValue(breadcrumb.data) as Record<string, unknown> }),
  };
}

export async function createErrorReporter(options: ErrorReporterOptions): Promise<ErrorReporter> {
  if (!options.dsn) return noErrorReporter;
  const sdk = await (options.load ?? (() => import('@sentry/node')))();
  sdk.init({
    dsn: options.dsn,
    environment: options.environment,
    ...(options.release && { release: options.release }),
    // Errors only: no tracing, no automatic HTTP instrumentation (it would see URLs with
    // codes and headers with tokens), no collected request data.
    defaultIntegrations: false,
    enableRuntimeChannelInjection: false,
    integrations: [
      sdk.linkedErrorsIntegration(),
      sdk.dedupeIntegration(),
      sdk.onUncaughtExceptionIntegration(),
      sdk.onUnhandledRejectionIntegration(),
      sdk.nodeContextIntegration(),
    ],
    dataCollection: { userInfo: false, cookies: false, httpHeaders: false, httpBodies: [], urlQueryParams: false },
    beforeSend: (event) => scrubSentryEvent(event),
    beforeBreadcrumb: (breadcrumb) => scrubBreadcrumb(breadcrumb),
  });
  return {
    enabled: true,
    report(error, context) {
      sdk.withScope((scope) => {
        if (context.requestId) scope.setTag('request_id', context.requestId);
        if (context.route) scope.setTag('route', context.route);
        if (context.message) scope.setExtra('log_message', scrubText(context.message));
        sdk.captureException(error);
      });
    },
    async flush(timeoutMs = 2_000) {
      await sdk.flush(timeoutMs);
    },
  };
}
