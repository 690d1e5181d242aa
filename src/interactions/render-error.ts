import type { Context } from 'koa';
import type { Configuration } from 'oidc-provider';
import { errors } from '../oidc/index.ts';

import { ERROR_HEADINGS, isErrorCode } from '../errors.ts';
import { restartUrl } from './restart-link.ts';
import { sendPage, type RenderPage } from './render-page.ts';

type RenderError = NonNullable<Configuration['renderError']>;

// One error page for the engine's protocol errors and our own: a plain-words heading, a
// message that is safe to show, the OAuth error code and the request id (what support
// asks for). Never internals, never a stack.

/** The engine's protocol codes a browser can be shown; our own codes are titled in errors.ts. */
const PROTOCOL_HEADINGS: Readonly<Record<string, string>> = {
  invalid_client: 'This application is not known',
  invalid_client_metadata: 'This application is not set up correctly',
  invalid_redirect_uri: 'This application is not allowed to redirect here',
  unauthorized_client: 'This application may not do that',
  unsupported_response_type: 'This application asked for something we do not offer',
  invalid_scope: 'This application asked for access it may not have',
  invalid_target: 'This application asked for an API it may not use',
  access_denied: 'Access denied',
  login_required: 'You need to sign in',
  consent_required: 'Your permission is needed',
  temporarily_unavailable: 'Something went wrong on our side',
};

function headingOf(code: string): string {
  if (isErrorCode(code)) return ERROR_HEADINGS[code];
  return Object.hasOwn(PROTOCOL_HEADINGS, code) ? PROTOCOL_HEADINGS[code]! : 'Something went wrong';
}

const GENERIC_MESSAGE = 'The request could not be completed. Go back to the application and try again.';

export interface ErrorPageModel {
  readonly status: number;
  readonly error: string;
  readonly message: string;
  readonly requestId: string | undefined;
}

/** The model of the error page for a code and a message already judged safe to show. */
export function errorPage(model: ErrorPageModel): Record<string, unknown> {
  return {
    title: headingOf(model.error),
    heading: headingOf(model.error),
    message: model.status >= 500 ? 'Please try again in a moment. If it keeps happening, contact support with the details below.' : model.message,
    error: model.error,
    requestId: model.requestId,
    restartUrl: undefined,
  };
}

/** The error page for our own errors (see http/error-handler.ts), as one HTML string. */
export function createErrorPage(render: RenderPage): (model: ErrorPageModel) => string {
  return (model) => render('error', { ...errorPage(model), nonce: '' });
}

/**
 * An interaction that expired, was already finished, or never existed. Said in plain
 * words with a way back in: the request the browser started from, when it is known.
 */
export function sendExpiredPage(ctx: Context, render: RenderPage, authorizationPath: string | undefined): void {
  const restart = authorizationPath ? restartUrl(ctx, authorizationPath) : undefined;
  sendPage(
    ctx,
    render,
    'error',
    {
      title: 'This sign-in has expired',
      heading: 'This sign-in has expired',
      message: restart
        ? 'The page you used is out of date: it was open too long or was already used. Start again to continue.'
        : 'The page you used is out of date: it was open too long or was already used. Go back to the application you came from and sign in again.',
      error: 'invalid_request',
      requestId: ctx.state.requestId as string | undefined,
      restartUrl: restart,
    },
    400,
  );
}

/** The engine's error page (`renderError`): called for every protocol error shown to a browser. */
export function createRenderError(render: RenderPage): RenderError {
  return (ctx, out, error) => {
    if (error instanceof errors.SessionNotFound) {
      sendExpiredPage(ctx, render, ctx.oidc?.provider.pathFor('authorization'));
      return Promise.resolve();
    }
    const code = typeof out.error === 'string' ? out.error : 'server_error';
    const status = ctx.status >= 400 ? ctx.status : 400;
    // The engine marks the descriptions written for the end-user (4xx) as exposable.
    const exposed = (error as { expose?: unknown }).expose === true && typeof out.error_description === 'string';
    sendPage(
      ctx,
      render,
      'error',
      errorPage({
        status,
        error: code,
        message: exposed ? sentence(out.error_description as string) : GENERIC_MESSAGE,
        requestId: ctx.state.requestId as string | undefined,
      }),
      status,
    );
    return Promise.resolve();
  };
}

/**
 * The engine writes descriptions in lower case without a full stop; pages use sentences.
 * A leading parameter name (`redirect_uri ...`) keeps its spelling.
 */
function sentence(text: string): string {
  const trimmed = text.trim();
  if (!trimmed) return GENERIC_MESSAGE;
  const capitalised = /^[a-z]+\b(?!_)/.test(trimmed) ? trimmed[0]!.toUpperCase() + trimmed.slice(1) : trimmed;
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}
