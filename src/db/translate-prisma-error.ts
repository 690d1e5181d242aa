import { AppError, ConflictError, NotFoundError } from '../errors.ts';
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
  if (error instanceof DatabaseUnavailableError) return error;
  if (isDatabaseUnavailable(error)) return new DatabaseUnavailableError(error);
  return error;
}

/** Runs `work`, translating any database error it throws. */
export async function withTranslatedErrors<T>(subject: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    throw translatePrismaError(error, subject);
  }
}
