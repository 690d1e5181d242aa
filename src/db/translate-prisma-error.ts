import { AppError, ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { isDatabaseUnavailable } from './database-unavailable.ts';
import { Prisma } from './generated/client.ts';

/** Database unreachable or overloaded: the caller may retry later. */
export class DatabaseUnavailableError extends AppError {
  constructor(cause: unknown) {
    super('database_unavailable', 503, 'the database is unavailable, try again later', { cause });
  }
}

/**
 * Turns a Prisma or pg error into our hierarchy where it enters our code. Unknown errors
 * are returned unchanged, to surface as a logged 500 with no detail to the client.
 */
export function translatePrismaError(error: unknown, subject = 'record'): unknown {
  if (error instanceof Prisma.PrismaClientKnownRequestError) {
    if (error.code === 'P2002') return new ConflictError(`${subject} already exists`, { cause: error });
    if (error.code === 'P2025') return new NotFoundError(`${subject} not found`, { cause: error });
  }
  // A NUL or an invalid byte sequence in text (SQLSTATE 22021): the input was the caller's.
  // The schemas refuse control characters first; this is the fallback for a field they miss.
  if (hasSqlState(error, '22021')) return new ValidationError('input: text must not contain NUL or invalid characters', { cause: error });
  if (error instanceof DatabaseUnavailableError) return error;
  if (isDatabaseUnavailable(error)) return new DatabaseUnavailableError(error);
  return error;
}

/** Whether a Prisma KnownRequestError (as the driver adapter reports it) or a pg error carries a SQLSTATE. */
function hasSqlState(error: unknown, state: string): boolean {
  if (typeof error !== 'object' || error === null) return false;
  if ((error as { code?: unknown }).code === state) return true; // pg
  if (!(error instanceof Prisma.PrismaClientKnownRequestError)) return false;
  const meta = error.meta as { driverAdapterError?: { cause?: { originalCode?: unknown; code?: unknown } }; code?: unknown } | undefined;
  const cause = meta?.driverAdapterError?.cause;
  return cause?.originalCode === state || cause?.code === state || meta?.code === state || error.message.includes(`Code: \`${state}\``);
}

/** Whether Prisma found no record to update or delete. */
export function isRecordNotFound(error: unknown): boolean {
  return error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2025';
}

/** Whether a row named a parent that is not there (SQLSTATE 23503; Prisma P2003). */
export function isForeignKeyViolation(error: unknown): boolean {
  return (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2003') || hasSqlState(error, '23503');
}

/** Runs `work`, translating any database error it throws. */
export async function withTranslatedErrors<T>(subject: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw translatePrismaError(error, subject);
  }
}
