import { fileURLToPath } from 'node:url';

import { Eta } from 'eta';
import type { Context } from 'koa';

import { markPageError } from '../http/index.ts';
import { pickLocale, translator, type Locale, type MessageKey, type Translate, type Vars } from './messages/index.ts';

export const VIEWS_DIR = fileURLToPath(new URL('../../views/', import.meta.url));

export type PageName = 'login' | 'consent' | 'device' | 'device-confirm' | 'device-done' | 'error' | 'logout' | 'logged-out' | 'landing' | 'not-found' | 'forgot-password' | 'reset-password' | 'reset-outcome' | 'sign-up' | 'sign-up-complete' | 'second-factor' | 'mailbox-code' | 'enrol-totp' | 'recovery-codes' | 'account' | 'email-change' | 'account-authenticator' | 'account-code' | 'account-passkey' | 'admin-overview' | 'admin-clients' | 'admin-client' | 'admin-client-secret' | 'admin-resources' | 'admin-resource' | 'admin-users' | 'admin-user' | 'admin-audit' | 'admin-keys';

export type RenderPage = (view: PageName, model: Record<string, unknown>) => string;

const ESCAPES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (char) => ESCAPES[char]!);

/**
 * What every page gets to speak its language: `lang` for <html lang>, `t` for text
 * (escaped by `<%= %>` like any value), `tm` for a sentence whose values are emphasised:
 * the sentence and every value are escaped here, then each value wrapped in <strong>.
 */
export function languageModel(locale: Locale): { lang: Locale; t: Translate; tm: (key: MessageKey, vars: Vars) => string } {
  const t = translator(locale);
  // Each value is put in as a marker no catalogue text contains, then the escaped sentence
  // has each marker replaced by the escaped value in <strong>.
  const marker = (name: string) => `{{${name}}}`;
  const tm = (key: MessageKey, vars: Vars) =>
    escapeHtml(t(key, Object.fromEntries(Object.keys(vars).map((name) => [name, marker(name)])))).replace(/\{\{([a-z]+)\}\}/gi, (whole, name: string) =>
      Object.hasOwn(vars, name) ? `<strong>${escapeHtml(String(vars[name]))}</strong>` : whole,
    );
  return { lang: locale, t, tm };
}

/** The language of this response's page: the interaction's ui_locales, else Accept-Language. */
export function pageLocale(ctx: Context): Locale {
  const oidc = (ctx as { oidc?: { params?: Record<string, unknown> } }).oidc;
  return pickLocale(ctx, ctx.state.uiLocales ?? oidc?.params?.ui_locales);
}

/**
 * Templates escape every `<%= %>` by default; `<%~ %>` (raw) is used only for markup we
 * produced ourselves (the layout body, the engine's logout form, `tm` sentences).
 */
export function createPageRenderer(options: { cache: boolean }): RenderPage {
  const eta = new Eta({ views: VIEWS_DIR, cache: options.cache, autoEscape: true, autoTrim: false });
  return (view, model) => eta.render(`./${view}`, { ...languageModel('en'), ...model });
}

/**
 * Answers with a page in the person's language. The page gets this response's CSP nonce
 * (set by the security headers middleware) for the few tags that need one; headers are
 * that middleware's job.
 */
export function sendPage(ctx: Context, render: RenderPage, view: PageName, model: Record<string, unknown>, status = 200): void {
  // The access log and the error metric read the code of an error page from here.
  if (view === 'error' && typeof model.error === 'string') markPageError(ctx, model.error);
  ctx.status = status;
  ctx.type = 'html';
  ctx.vary('Accept-Language');
  ctx.body = render(view, { ...languageModel(pageLocale(ctx)), ...model, nonce: typeof ctx.state.cspNonce === 'string' ? ctx.state.cspNonce : '' });
}
