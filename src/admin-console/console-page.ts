import type { Context } from 'koa';

import { isAppError } from '../errors.ts';
import { CSRF_FIELD, issueCsrfToken, sendPage, type CsrfScope, type PageName, type RenderPage } from '../interactions/index.ts';
import { ADMIN_CONSOLE_PATH } from './console-client.ts';
import { consoleSession, type ConsoleContext } from './console-session.ts';

// How a console page is answered: the site's layout and stylesheet, the console's
// navigation, and a CSRF token bound to the console session for every form on it. The
// console speaks English only: it is an operator's tool (the pages people sign in with
// keep their languages).

export const ADMIN_CSRF: CsrfScope = { cookie: 'portcullis.csrf-admin', path: ADMIN_CONSOLE_PATH };

export type ConsoleSection = 'overview' | 'clients' | 'resources' | 'users' | 'audit' | 'keys';

export const CONSOLE_SECTIONS: readonly { readonly id: ConsoleSection; readonly label: string; readonly path: string }[] = [
  { id: 'overview', label: 'Overview', path: ADMIN_CONSOLE_PATH },
  { id: 'clients', label: 'Clients', path: `${ADMIN_CONSOLE_PATH}/clients` },
  { id: 'resources', label: 'Resource servers', path: `${ADMIN_CONSOLE_PATH}/resources` },
  { id: 'users', label: 'Users', path: `${ADMIN_CONSOLE_PATH}/users` },
  { id: 'audit', label: 'Audit trail', path: `${ADMIN_CONSOLE_PATH}/audit` },
  { id: 'keys', label: 'Keys', path: `${ADMIN_CONSOLE_PATH}/keys` },
];

export type ShowConsolePage = (ctx: ConsoleContext, view: PageName, section: ConsoleSection, model: Record<string, unknown>, status?: number) => void;

export function createConsolePages(render: RenderPage): ShowConsolePage {
  return (ctx, view, section, model, status = 200) => {
    const session = consoleSession(ctx);
    ctx.state.uiLocales = 'en';
    sendPage(
      ctx,
      render,
      view,
      {
        wide: true,
        console: { sections: CONSOLE_SECTIONS, current: section, email: session.account.email },
        csrf: issueCsrfToken(ctx, session.grantId, ADMIN_CSRF),
        csrfField: CSRF_FIELD,
        ...model,
      },
      status,
    );
  };
}

/**
 * A refusal of the services (invalid input, a conflict, a stale version, gone) is shown on
 * the form that asked, with its status; anything else is the error handler's (a 5xx page).
 */
export async function refusalOf(work: () => Promise<unknown>): Promise<{ message: string; status: number } | undefined> {
  try {
    await work();
    return undefined;
  } catch (error) {
    if (isAppError(error) && error.status < 500 && error.expose) return { message: error.message, status: error.status };
    throw error;
  }
}

/**
 * A form's fields as the browser sent them: in order, each repeated field whole. (The body
 * parser's object turns more than 20 repeats of one name into an object of indices, qs's
 * arrayLimit, which would drop ticked boxes and scope rows.) The CSRF check reads the same body.
 */
export function formOf(ctx: Context): URLSearchParams {
  const raw: unknown = (ctx.request as { rawBody?: unknown }).rawBody;
  return new URLSearchParams(typeof raw === 'string' ? raw : '');
}

/** The query string's fields, read as forms are. */
export function queryOf(ctx: Context): URLSearchParams {
  return new URLSearchParams(ctx.querystring);
}

/** A field as one string ('' when absent; the first when sent twice). */
export function field(fields: URLSearchParams, name: string): string {
  return fields.get(name) ?? '';
}

/** A field as a list: checkboxes sent once per box, or a text area of one item per line, or words. */
export function list(fields: URLSearchParams, name: string, split: 'lines' | 'repeated' | 'words' = 'lines'): string[] {
  const values = fields.getAll(name);
  if (split === 'repeated') return values;
  const separator = split === 'lines' ? /\r?\n/ : /\s+/;
  return values.flatMap((item) => item.split(separator)).map((item) => item.trim()).filter((item) => item !== '');
}

/** A checkbox: sent (with any value) or not. */
export function checked(fields: URLSearchParams, name: string): boolean {
  return field(fields, name) !== '';
}

/** The notice a redirect named (`?done=`), from the page's own list: never text from the request. */
export function noticeOf<T extends Record<string, string>>(ctx: Context, notices: T): string | undefined {
  const done = field(queryOf(ctx), 'done');
  return Object.hasOwn(notices, done) ? notices[done] : undefined;
}

/**
 * The fields of a form that differ from the record it was shown with (the record as it is
 * now, which the version check makes the same): only those are sent, so a save that changes
 * nothing writes and audits nothing, and a save never carries a field it did not change.
 */
export function changedFields<T extends Record<string, unknown>>(values: T, current: Readonly<Record<string, unknown>>): Partial<T> {
  return Object.fromEntries(Object.entries(values).filter(([name, value]) => JSON.stringify(value) !== JSON.stringify(current[name]))) as Partial<T>;
}

/** What a stale save (412) says above the saved values it shows. */
export const STALE = 'Someone saved a change after you opened this page: it shows what is saved now. Apply your change again.';

/** Where a POST lands after it worked: back to a page of the console (303, so a reload does not send it again). */
export function seeOther(ctx: Context, path: string): void {
  ctx.status = 303;
  ctx.redirect(path);
}
