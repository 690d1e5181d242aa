import { de } from './de.ts';
import { en, type Catalogue, type MessageKey } from './en.ts';

// The one message catalogue of the pages, and how a page picks its language: the
// `ui_locales` the client passed (the engine hands them on), else the browser's
// Accept-Language, else English.

export type { Catalogue, MessageKey };

export const CATALOGUES = { en, de } as const satisfies Record<string, Catalogue>;
export type Locale = keyof typeof CATALOGUES;
export const LOCALES = Object.keys(CATALOGUES) as Locale[];
export const DEFAULT_LOCALE: Locale = 'en';

export type Vars = Readonly<Record<string, string | number>>;
export type Translate = (key: MessageKey, vars?: Vars) => string;

function isLocale(tag: string): tag is Locale {
  return Object.hasOwn(CATALOGUES, tag);
}

/** The first of the client's `ui_locales` (space-separated BCP 47 tags) we speak. */
export function fromUiLocales(uiLocales: unknown): Locale | undefined {
  if (typeof uiLocales !== 'string') return undefined;
  for (const tag of uiLocales.split(' ')) {
    const language = tag.trim().toLowerCase().split('-')[0] ?? '';
    if (isLocale(language)) return language;
  }
  return undefined;
}

/** The page language: `ui_locales` first, then the browser's preference (Koa's acceptsLanguages), else English. */
export function pickLocale(ctx: { acceptsLanguages(...languages: string[]): string | false }, uiLocales?: unknown): Locale {
  const asked = fromUiLocales(uiLocales);
  if (asked) return asked;
  const accepted = ctx.acceptsLanguages(...LOCALES);
  return typeof accepted === 'string' && isLocale(accepted) ? accepted : DEFAULT_LOCALE;
}

/** Fills `{name}` placeholders; an unknown placeholder stays as written. */
function fill(text: string, vars: Vars | undefined): string {
  if (!vars) return text;
  return text.replace(/\{([a-z]+)\}/gi, (whole, name: string) => (Object.hasOwn(vars, name) ? String(vars[name]) : whole));
}

export function translator(locale: Locale): Translate {
  const catalogue = CATALOGUES[locale];
  return (key, vars) => fill(catalogue[key] ?? en[key], vars);
}

/** Whether a key is in the catalogue (for keys built from codes, such as error headings). */
export function isMessageKey(key: string): key is MessageKey {
  return Object.hasOwn(en, key);
}

/** "42 seconds", "1 second"; from 90 s on, in minutes ("15 minutes"). */
export function formatWait(t: Translate, seconds: number): string {
  if (seconds < 90) return seconds === 1 ? t('wait.second') : t('wait.seconds', { count: seconds });
  return t('wait.minutes', { count: Math.ceil(seconds / 60) });
}

/** A clock time a person can act on: hours and minutes in UTC, named as such. */
export function formatClock(locale: Locale, at: Date): string {
  return new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit', hourCycle: 'h23', timeZone: 'UTC', timeZoneName: 'short' }).format(at);
}
