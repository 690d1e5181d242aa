import type { Middleware, ParameterizedContext } from 'koa';

import { isAppError } from '../errors.ts';

// Errors of the admin API as RFC 9457 problem details (application/problem+json): the
// status, a title, a detail safe to show, our stable code, and for invalid input one entry
// per field with a JSON pointer into the request body (the RFC's own `errors` example).
// Anything that is not the caller's mistake is left to the app's error handler, which logs
// it once and answers without a stack.

export const PROBLEM_TYPE = 'application/problem+json';

export interface FieldProblem {
  readonly pointer: string;
  readonly detail: string;
}

export interface Problem {
  readonly type: 'about:blank';
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  readonly code: string;
  readonly errors?: readonly FieldProblem[];
}

const TITLES: Readonly<Record<number, string>> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  412: 'Precondition Failed',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  428: 'Precondition Required',
  429: 'Too Many Requests',
};

/** A path as the services write it (`redirectUris.0`) as a JSON pointer (`#/redirectUris/0`). */
export function pointerOf(path: readonly PropertyKey[]): string {
  return `#${path.map((part) => `/${String(part).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('')}`;
}

/**
 * The field entries of a service's ValidationError, whose message is one `path: message`
 * per field joined by `; ` (client-input.ts, account-input.ts); `input` is the whole body.
 */
function fieldsOf(message: string): FieldProblem[] {
  return message.split('; ').flatMap((line) => {
    const match = /^([A-Za-z0-9_.]+): (.+)$/s.exec(line);
    if (!match?.[1] || !match[2]) return [];
    return [{ pointer: match[1] === 'input' ? '#' : pointerOf(match[1].split('.')), detail: match[2] }];
  });
}

export function answerProblem(ctx: ParameterizedContext, problem: Omit<Problem, 'type' | 'title'>): void {
  ctx.status = problem.status;
  ctx.set('Cache-Control', 'no-store');
  ctx.body = { type: 'about:blank', title: TITLES[problem.status] ?? 'Error', ...problem } satisfies Problem;
  ctx.type = PROBLEM_TYPE;
}

/** Every refusal under the API becomes a problem: thrown errors, and the token check's own answers. */
export function problemDetails(): Middleware {
  return async (ctx, next) => {
    try {
      await next();
    } catch (caught) {
      if (isAppError(caught) && caught.status < 500) {
        const fields = caught.code === 'invalid_input' ? fieldsOf(caught.message) : [];
        answerProblem(ctx, { status: caught.status, code: caught.code, detail: caught.message, ...(fields.length > 0 && { errors: fields }) });
        return;
      }
      const httpError = caught as { status?: unknown; expose?: unknown; message?: unknown };
      if (typeof httpError.status === 'number' && httpError.status >= 400 && httpError.status < 500) {
        // The body reader's refusals (malformed JSON, too large): meant for the caller.
        const detail = httpError.expose === true && typeof httpError.message === 'string' ? httpError.message : 'the request is not valid';
        answerProblem(ctx, { status: httpError.status, code: codeOfStatus(httpError.status), detail });
        return;
      }
      throw caught;
    }
    // The token check answers 401/403 in OAuth's shape (RFC 6750) with its challenge in
    // WWW-Authenticate, and the subject's budget 429 with Retry-After; the headers stay, the
    // body becomes a problem carrying the same error.
    const body = ctx.body as { error?: unknown; error_description?: unknown } | undefined;
    if ((ctx.status === 401 || ctx.status === 403 || ctx.status === 429) && typeof body?.error === 'string') {
      answerProblem(ctx, { status: ctx.status, code: body.error, detail: typeof body.error_description === 'string' ? body.error_description : body.error });
    }
  };
}

/**
 * The router's answer to a known path with a method it does not serve (405, with Allow) as a
 * problem too, as every other refusal of the API. Wraps the router's own allowedMethods(),
 * which writes no body of its own. (Methods no route knows at all are refused before, by the
 * request limits.)
 */
export function methodProblems<State, Context>(allowedMethods: Middleware<State, Context>, prefix: string): Middleware<State, Context> {
  const ownPrefix = prefix.toLowerCase();
  return async (ctx, next) => {
    await allowedMethods(ctx, next);
    // Only the API's own paths (matched as the router matches them, in any case): what
    // follows it in the app answers in its own shapes.
    const path = ctx.path.toLowerCase();
    const own = path === ownPrefix || path.startsWith(`${ownPrefix}/`);
    if (own && ctx.status === 405 && ctx.body == null) {
      answerProblem(ctx, { status: 405, code: 'method_not_allowed', detail: `${ctx.method} is not served at this path` });
    }
  };
}

function codeOfStatus(status: number): string {
  if (status === 413) return 'request_too_large';
  if (status === 415) return 'unsupported_media_type';
  return 'invalid_request';
}
