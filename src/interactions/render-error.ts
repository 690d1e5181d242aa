import type { Context } from 'koa';
import type { Client, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import { errors } from '../oidc/index.ts';

import { clientDisplay } from './client-display.ts';
import { DEFAULT_LOCALE, isMessageKey, pickLocale, translator, type Locale, type Translate } from './messages/index.ts';
import { restartUrl } from './restart-link.ts';
import { languageModel, pageLocale, sendPage, type RenderPage } from './render-page.ts';
import { enginePath } from '../http/index.ts';

type RenderError = NonNullable<Configuration['renderError']>;

// One error page for the engine's protocol errors and our own: a plain-words heading, a
// message that is safe to show, the OAuth error code and the request id (what support
// asks for). Never internals, never a stack. When the client is known, a way back to it:
// only to an address it registered (its client_uri, or the redirect URI of this request
// when the engine found it registered), never to a URL from the request alone.

function headingOf(t: Translate, code: string): string {
  const key = `error.heading.${code}`;
  return isMessageKey(key) ? t(key) : t('error.heading.default');
}

export interface ErrorPageModel {
  readonly status: number;
  readonly error: string;
  readonly message: string;
  readonly requestId: string | undefined;
  /** The browser's language preference (Koa's acceptsLanguages); without it, English. */
  readonly languages?: ((...tags: string[]) => string | false) | undefined;
}

/** A link back to the application: its registered home page, or the registered redirect URI of this request. */
export interface WayBack {
  readonly name: string;
  readonly url: string;
}

/**
 * The message in the page's language: ours and the engine's are written in English; another
 * language shows its own words for the code, or the generic sentence.
 */
function messageOf(t: Translate, locale: Locale, model: Pick<ErrorPageModel, 'status' | 'error' | 'message'>): string {
  if (model.status >= 500) return t('error.server');
  if (locale === DEFAULT_LOCALE) return model.message;
  const key = `error.message.${model.error}`;
  return isMessageKey(key) ? t(key) : t('error.generic');
}

/** The model of the error page for a code and a message already judged safe to show. */
export function errorPage(model: ErrorPageModel, locale: Locale = DEFAULT_LOCALE, back?: WayBack): Record<string, unknown> {
  const t = translator(locale);
  return {
    title: headingOf(t, model.error),
    heading: headingOf(t, model.error),
    message: messageOf(t, locale, model),
    error: model.error,
    requestId: model.requestId,
    restartUrl: undefined,
    back,
  };
}

/** The error page for our own errors (see http/error-handler.ts), as one HTML string. */
export function createErrorPage(render: RenderPage): (model: ErrorPageModel) => string {
  return (model) => {
    const locale = model.languages ? pickLocale({ acceptsLanguages: model.languages }) : DEFAULT_LOCALE;
    return render('error', { ...languageModel(locale), ...errorPage(model, locale), nonce: '' });
  };
}

/**
 * The way back to a client, only ever to what it registered: its client_uri (its home
 * page), else the redirect URI of this request if the client registered it (a bare
 * return to its callback, which the client answers as it answers any stray visit).
 */
export function wayBack(client: Client | undefined, redirectUri: unknown, t: Translate): WayBack | undefined {
  if (!client) return undefined;
  const display = clientDisplay(client, t);
  if (display.clientUri) return { name: display.name, url: display.clientUri };
  if (typeof redirectUri === 'string' && client.redirectUris?.includes(redirectUri)) return { name: display.name, url: redirectUri };
  return undefined;
}

/**
 * An interaction that expired, was already finished, or never existed. Said in plain
 * words with a way back in: the request the browser started from, when it is known.
 */
export function sendExpiredPage(ctx: Context, render: RenderPage, authorizationPath: string | undefined): void {
  const restart = authorizationPath ? restartUrl(ctx, authorizationPath) : undefined;
  const t = translator(pageLocale(ctx));
  sendPage(
    ctx,
    render,
    'error',
    {
      title: t('error.expired.heading'),
      heading: t('error.expired.heading'),
      message: restart ? t('error.expired.restart') : t('error.expired.go-back'),
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
      sendExpiredPage(ctx, render, ctx.oidc && enginePath(ctx.oidc.provider, 'authorization'));
      return Promise.resolve();
    }
    const code = typeof out.error === 'string' ? out.error : 'server_error';
    const status = ctx.status >= 400 ? ctx.status : 400;
    const locale = pageLocale(ctx);
    // The engine marks the descriptions written for the end-user (4xx) as exposable.
    const exposed = (error as { expose?: unknown }).expose === true && typeof out.error_description === 'string';
    const oidc = (ctx as Partial<KoaContextWithOIDC>).oidc;
    const back = wayBack(oidc?.client, oidc?.params?.redirect_uri, translator(locale));
    sendPage(
      ctx,
      render,
      'error',
      errorPage(
        {
          status,
          error: code,
          message: exposed ? sentence(out.error_description as string) : translator(locale)('error.generic'),
          requestId: ctx.state.requestId as string | undefined,
        },
        locale,
        back,
      ),
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
  if (!trimmed) return translator(DEFAULT_LOCALE)('error.generic');
  const capitalised = /^[a-z]+\b(?!_)/.test(trimmed) ? trimmed[0]!.toUpperCase() + trimmed.slice(1) : trimmed;
  return /[.!?]$/.test(capitalised) ? capitalised : `${capitalised}.`;
}
