// Logs, metrics, redaction and error reporting: the leaf every feature reports through.
// It imports nothing from src/ but config/, so anything may depend on it.
export { createLogger, createPrettyDestination, type ErrorSink, type Logger } from './logger.ts';
export { createMetrics, type Metrics, type StateSources } from './metrics.ts';
export { readBuildInfo, type BuildInfo } from './build-info.ts';
export { instrumentPool } from './instrument-pool.ts';
export { scrubText, scrubValue, stripQuery } from './redact.ts';
export { createErrorReporter, noErrorReporter, scrubSentryEvent, type ErrorReporter } from './error-reporter.ts';
