// Whether an error means the database could not be reached or dropped the connection (as
// opposed to a query it refused): the caller may retry later, and the answer is 503. Looked
// for along the error's causes, since drivers and Prisma wrap each other's errors:
// - pg / net: connection refused, reset, timed out, the pool's connect timeout, a
//   connection that ended under a query;
// - Postgres: the server shutting down or starting (57P01-57P03), connection failures
//   (class 08), no free connections (53300);
// - Prisma: its connection codes (P1001 unreachable, P1002 timed out, P1008 operation timed
//   out, P1017 server closed the connection, P2024 pool timeout, P2037 too many
//   connections), and the driver adapter's kinds for the same.

const CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  '57P01',
  '57P02',
  '57P03',
  '53300',
  '08000',
  '08001',
  '08003',
  '08004',
  '08006',
  'P1001',
  'P1002',
  'P1008',
  'P1017',
  'P2024',
  'P2037',
]);

const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections']);

/** pg's own errors for a lost or never-made connection carry no code, only these messages. */
const MESSAGES = [
  /^Connection terminated/,
  /^timeout exceeded when trying to connect/,
  /^Client has encountered a connection error and is not queryable/,
  /^Connection ended unexpectedly/,
  /^Query read timeout/,
];

const NAMES = new Set(['PrismaClientInitializationError', 'DatabaseUnavailableError']);

/**
 * An error about the HTTP request itself (a client that dropped its body mid-way, raw-body's
 * `request.aborted` with ECONNABORTED/ECONNRESET, a 4xx): the client's doing, never an
 * outage. Otherwise anyone could make an instance answer 503 and log a false outage.
 */
function isRequestError(candidate: { status?: unknown; statusCode?: unknown; type?: unknown; expose?: unknown }): boolean {
  const status = candidate.status ?? candidate.statusCode;
  if (typeof status === 'number' && status < 500) return true;
  return typeof candidate.type === 'string' && candidate.type.startsWith('request.');
}

export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current && typeof current === 'object'; depth++) {
    const candidate = current as { code?: unknown; name?: unknown; message?: unknown; kind?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown }; status?: unknown; statusCode?: unknown; type?: unknown };
    if (isRequestError(candidate)) return false;
    if (typeof candidate.code === 'string' && CODES.has(candidate.code)) return true;
    if (typeof candidate.name === 'string' && NAMES.has(candidate.name)) return true;
    if (typeof candidate.kind === 'string' && ADAPTER_KINDS.has(candidate.kind)) return true;
    if (typeof candidate.message === 'string' && MESSAGES.some((pattern) => pattern.test(candidate.message as string))) return true;
    current = candidate.meta?.driverAdapterError ?? candidate.cause;
  }
  return false;
}
