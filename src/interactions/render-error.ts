import type { Configuration, errors } from 'oidc-provider';

import type { RenderPage } from './render-page.ts';

type RenderError = NonNullable<Configuration['renderError']>;

const HEADINGS: Record<string, string> = {
  invalid_request: 'This request is not valid',
  invalid_client: 'This application is not known',
  invalid_redirect_uri: 'This application is not allowed to redirect here',
  unauthorized_client: 'This application may not do that',
  access_denied: 'Access denied',
  session_not_found: 'Your sign-in took too long or was already finished',
};

/**
 * The engine's error page (and ours): the OAuth error code and the request id, never
 * internals. Only error descriptions the engine marks as safe for the user are shown.
 */
export function createRenderError(render: RenderPage): RenderError {
  return (ctx, out, error) => {
    const code = typeof out.error === 'string' ? out.error : 'server_error';
    const oidcError = error as Partial<errors.OIDCProviderError>;
    const safeDescription = oidcError.expose && typeof out.error_description === 'string' ? out.error_description : undefined;
    ctx.type = 'html';
    ctx.set('Cache-Control', 'no-store');
    ctx.body = render('error', {
      heading: HEADINGS[code] ?? 'Something went wrong',
      message: safeDescription ?? 'The request could not be completed. Go back to the application and try again.',
      error: code,
      requestId: ctx.state.requestId as string | undefined,
      restartUrl: undefined,
    });
  };
}

type LogoutSource = (ctx: Parameters<RenderError>[0], form: string) => Promise<void>;

export function createLogoutSource(render: RenderPage): LogoutSource {
  return (ctx, form) => {
    const client = ctx.oidc.client;
    ctx.type = 'html';
    ctx.body = render('logout', { host: ctx.host, clientName: client?.clientName ?? client?.clientId, form });
    return Promise.resolve();
  };
}
