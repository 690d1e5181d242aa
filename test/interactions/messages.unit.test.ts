import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { ERROR_HEADINGS } from '../../src/errors.ts';
import { CATALOGUES, fromUiLocales, LOCALES, pickLocale } from '../../src/interactions/messages/index.ts';
import { createPageRenderer, languageModel } from '../../src/interactions/render-page.ts';
import { errorPage } from '../../src/interactions/render-error.ts';

// The pages' one message catalogue: every language complete, the same placeholders in
// every translation, the language picked from ui_locales then Accept-Language, and a page
// rendered in the other language from the same template.

const placeholders = (text: string) => [...text.matchAll(/\{([a-z]+)\}/gi)].map((match) => match[1]).sort();

describe('the message catalogue', () => {
  test('every key of the English catalogue exists in every language, with text and the same placeholders', () => {
    const reference = CATALOGUES.en;
    assert.ok(LOCALES.length >= 2, 'English and at least one other language');
    for (const locale of LOCALES) {
      const catalogue: Record<string, string> = CATALOGUES[locale];
      assert.deepEqual(Object.keys(catalogue).sort(), Object.keys(reference).sort(), `${locale} has exactly the English keys`);
      for (const [key, english] of Object.entries(reference)) {
        assert.ok(catalogue[key]?.trim(), `${locale}: ${key} is empty`);
        assert.deepEqual(placeholders(catalogue[key]!), placeholders(english), `${locale}: ${key} fills the same values`);
      }
    }
  });

  test('the German catalogue is a translation, not a copy: most texts differ from English', () => {
    const same = Object.entries(CATALOGUES.en).filter(([key, text]) => CATALOGUES.de[key as keyof typeof CATALOGUES.de] === text);
    assert.deepEqual(same.map(([key]) => key).sort(), ['account.passkeys', 'landing.status', 'page.suffix'], 'only names and loanwords (Passkeys) stay the same');
  });

  test('every error heading of our vocabulary is in the catalogue, as errors.ts words it', () => {
    for (const [code, heading] of Object.entries(ERROR_HEADINGS)) {
      assert.equal(CATALOGUES.en[`error.heading.${code}` as keyof typeof CATALOGUES.en], heading, code);
    }
  });
});

describe('the page language', () => {
  const accepting = (header: string | undefined) => ({
    acceptsLanguages: (...tags: string[]) => {
      if (!header) return tags[0]!;
      const wanted = header.split(',').map((part) => part.split(';')[0]!.trim().toLowerCase().split('-')[0]);
      return wanted.find((tag) => tags.includes(tag!)) ?? false;
    },
  });

  test('ui_locales wins, first language we speak; then Accept-Language; else English', () => {
    assert.equal(fromUiLocales('fr-CA de-AT en'), 'de');
    assert.equal(fromUiLocales('fr'), undefined);
    assert.equal(fromUiLocales(42), undefined);
    assert.equal(pickLocale(accepting('en'), 'de'), 'de');
    assert.equal(pickLocale(accepting('de-DE,de;q=0.9'), undefined), 'de');
    assert.equal(pickLocale(accepting('fr,en;q=0.5'), 'es'), 'en');
    assert.equal(pickLocale(accepting('fr'), undefined), 'en');
  });

  test('a page renders in German from the same template, the client name still escaped', () => {
    const render = createPageRenderer({ cache: false });
    const html = render('login', {
      ...languageModel('de'),
      title: CATALOGUES.de['login.title'],
      uid: 'u1',
      csrfField: 'csrf',
      csrf: 'c',
      client: { name: '<Evil & Co>', initial: 'E' },
      email: '',
    });
    assert.match(html, /<html lang="de">/);
    assert.match(html, /<title>Anmelden · Portcullis<\/title>/);
    assert.match(html, /um mit <strong>&lt;Evil &amp; Co&gt;<\/strong> fortzufahren/);
    assert.match(html, /<label for="password">Passwort<\/label>/);
    assert.match(html, /Abbrechen und zurück zu &lt;Evil &amp; Co&gt;/);
    assert.match(html, /Geschützt durch Portcullis/);
    assert.doesNotMatch(html, /Sign in|Password|Secured by/);
  });

  test('an error page in German uses its own words for the code, never the English message', () => {
    const page = errorPage({ status: 403, error: 'invalid_csrf_token', message: 'English text', requestId: 'r' }, 'de');
    assert.equal(page.heading, 'Dieses Formular konnte nicht angenommen werden');
    assert.match(String(page.message), /^Dieses Formular wurde nicht von der Anmeldeseite gesendet/);
    const generic = errorPage({ status: 400, error: 'invalid_scope', message: 'requested scope is not allowed.', requestId: 'r' }, 'de');
    assert.equal(generic.message, CATALOGUES.de['error.generic']);
  });
});
