// The error hierarchy every layer shares. An AppError carries a stable `code`, the HTTP
// status it maps to, and whether its message may be shown to whoever caused it. Foreign
// errors (Prisma, pg, argon2) are translated into these where they enter our code; OAuth
// protocol errors stay oidc-provider's own.

export interface AppErrorOptions {
  /** Whether `message` is safe to show to the client or CLI user. */
  expose?: boolean;
  cause?: unknown;
  /** Extra, non-secret details for logs and CLI output. */
  details?: Record<string, unknown>;
}

export class AppError extends Error {
  readonly code: string;
  readonly status: number;
  readonly expose: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: string, status: number, message: string, options: AppErrorOptions = {}) {
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

/** Start-up cannot proceed (bad config, locked data folder, wrong master secret). */
export class StartupError extends AppError {
  constructor(message: string, options: AppErrorOptions = {}) {
    super('startup_failed', 500, message, { expose: true, ...options });
  }
}

export function isAppError(error: unknown): error is AppError {
  return error instanceof AppError;
}
