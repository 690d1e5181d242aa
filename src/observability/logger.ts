import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

// Redaction is central: whatever a caller logs, these paths never reach the output.
// Issue-level rule: Authorization and Cookie headers, passwords, secrets, tokens, codes.
export const REDACT_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.client_secret',
  '*.clientSecret',
  '*.secret',
  '*.masterSecret',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  '*.id_token',
  '*.code',
  '*.code_verifier',
];

export function createLogger(options: { level: string; pretty?: boolean; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      base: { service: 'portcullis' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    options.destination,
  );
}
