import { StartupError } from '../errors.ts';

// The first connection to DATABASE_URL, failed: one line naming the variable, where it
// points (never the password) and what to check, instead of a pg stack.

const REASONS: Record<string, { reason: string; hint: string }> = {
  ECONNREFUSED: { reason: 'connection refused', hint: 'check the host and port, and that Postgres is running' },
  ENOTFOUND: { reason: 'unknown host', hint: 'check the host name' },
  EAI_AGAIN: { reason: 'the host name could not be resolved', hint: 'check the host name and DNS' },
  ETIMEDOUT: { reason: 'timed out', hint: 'check the host, port and firewall' },
  EHOSTUNREACH: { reason: 'host unreachable', hint: 'check the host and network' },
  ECONNRESET: { reason: 'the server hung up', hint: 'check the port is Postgres and the sslmode' },
  '28P01': { reason: 'wrong user name or password', hint: 'check the user and password' },
  '28000': { reason: 'the server refused this user', hint: 'check the user name and the server\'s pg_hba.conf' },
  '3D000': { reason: 'the database does not exist', hint: 'create it (createdb) or fix the database name' },
  '53300': { reason: 'the server has no free connections', hint: 'lower DATABASE_POOL_MAX or raise max_connections' },
  '57P03': { reason: 'the server is starting up or shutting down', hint: 'try again shortly' },
};

/** Host, port and database of a connection URL, for messages: no user, no password. */
export function describeDatabaseUrl(url: string): string {
  try {
    const parsed = new URL(url);
    const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost';
    return `${host}:${parsed.port || '5432'}${parsed.pathname || '/'}`;
  } catch {
    return 'an unparsable URL';
  }
}

export function databaseConnectError(url: string, error: unknown): StartupError {
  const code = (error as { code?: unknown } | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  const known = typeof code === 'string' ? REASONS[code] : undefined;
  const timedOut = /timeout/i.test(message);
  const { reason, hint } =
    known ??
    (timedOut
      ? REASONS.ETIMEDOUT!
      : /ssl/i.test(message)
        ? { reason: firstLine(message), hint: 'set sslmode in the URL to what the server supports' }
        : { reason: firstLine(message), hint: 'check the URL' });
  return new StartupError(`DATABASE_URL: cannot connect to ${describeDatabaseUrl(url)} (${reason}); ${hint}`, { cause: error });
}

function firstLine(text: string): string {
  return (text.split('\n', 1)[0] ?? '').slice(0, 160);
}
