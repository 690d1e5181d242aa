// The error hierarchy every layer shares. An AppError carries a stable `code`, the HTTP
// status it maps to, and whether its message may be shown to whoever caused it. Foreign
// errors (Prisma, pg, argon2) are translated into these where they enter our code; OAuth
// protocol errors stay oidc-provider's own.

/**
 * Every code our own code answers with, on a page, in JSON or at the CLI. A new code is
 * added here, and the compiler then asks for its heading below. (OAuth protocol codes such
 * as `invalid_client` stay the engine's: interactions/render-error.ts titles those.)
 */
export type ErrorCode =
  // the caller's mistake (4xx)
  | 'invalid_input'
  | 'invalid_request'
  | 'not_found'
  | 'conflict'
  | 'precondition_failed'
  | 'precondition_required'
  | 'invalid_csrf_token'
  | 'request_too_large'
  | 'unsupported_media_type'
  | 'too_many_requests'
  // ours (5xx)
  | 'server_error'
  | 'database_unavailable'
  | 'startup_failed'
  | 'migration_failed'
  | 'sealed_secret_unreadable';

/** The plain-words heading of each code's error page. */
export const ERROR_HEADINGS: Readonly<Record<ErrorCode, string>> = {
  invalid_input: 'This request is not valid',
  invalid_request: 'This request is not valid',
  not_found: 'Not found',
  conflict: 'This already exists',
  precondition_failed: 'This changed since you read it',
  precondition_required: 'This change must name the version it was made from',
  invalid_csrf_token: 'This form could not be accepted',
  request_too_large: 'That was more than this form accepts',
  unsupported_media_type: 'This form was sent in a way we do not accept',
  too_many_requests: 'Too many attempts',
  server_error: 'Something went wrong on our side',
  database_unavailable: 'Something went wrong on our side',
  startup_failed: 'Something went wrong on our side',
  migration_failed: 'Something went wrong on our side',
  sealed_secret_unreadable: 'Something went wrong on our side',
};

export interface AppErrorOptions {
  /** Whether `message` is safe to show to the client or CLI user. */
  expose?: boolean;
  cause?: unknown;
  /** Extra, non-secret details for logs and CLI output. */
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly expose: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, status: number, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = status;
    this.expose = options.expose ?? status < 500;
    this.details = options.details;
  }
}

/** Input that fails validation: the message names the field and is safe to show. */
export class ValidationError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('invalid_input', 400, message, options);
  }
}

/** A schema's refusal as one ValidationError, one line per field: `redirectUris.0: must be an absolute URL; name: ...`. */
export function toValidationError(error: { readonly issues: readonly { readonly path: readonly PropertyKey[]; readonly message: string }[] }): ValidationError {
  return new ValidationError(error.issues.map((issue) => `${issue.path.length ? issue.path.map(String).join('.') : 'input'}: ${issue.message}`).join('; '));
}

export class NotFoundError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('not_found', 404, message, options);
  }
}

export class ConflictError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('conflict', 409, message, options);
  }
}

/**
 * A change made on condition that the record is still the version the caller read
 * (the admin API's If-Match), which it no longer is: nothing was written.
 */
export class PreconditionFailedError extends AppError {
  constructor(message = 'the resource changed since it was read (If-Match does not match its ETag): GET it again and reapply the change', options: AppErrorOptions = {}) {
    super('precondition_failed', 412, message, options);
  }
}

/** Start-up cannot proceed (bad config, locked data folder, wrong master secret). */
export class StartupError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('startup_failed', 500, message, { expose: true, ...options });
  }
}

/** Whether a code (from an error, a query, the engine) is one of ours. */
export function isErrorCode(code: string): code is ErrorCode {
  return Object.hasOwn(ERROR_HEADINGS, code);
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}

/**
 * A message as one line: `invalid configuration:\n  A: x\n  B: y` becomes
 * `invalid configuration: A: x; B: y`. Start-up failures and CLI errors are one line each.
 */
export function oneLine(message: string): string {
  const [first = '', ...rest] = message.split('\n').map((line) => line.trim()).filter(Boolean);
  return rest.length === 0 ? first : `${first} ${rest.join('; ')}`;
}
