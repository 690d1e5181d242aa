import type { Context } from 'koa';
import { z } from 'zod';

import type { Passkeys, SecondFactors } from '../accounts/index.ts';
import { requestFacts, type AuditSink } from '../audit/index.ts';
import { CSRF_FIELD, issueCsrfToken, PASSKEY_SCRIPTS, pageLocale, type RenderPage, sendPage, translator } from '../interactions/index.ts';
import { passkeyAddedMessage, passkeyRemovedMessage, type Mailer } from '../mail/index.ts';
import { ACCOUNT_CSRF } from './account-page.ts';
import { factorSteps } from './authenticator-setup.ts';
import type { CurrentPasswordCheck } from './current-password.ts';
import type { PageSession } from './page-session.ts';

// Passkeys on the account page: the last step of adding one, and removing one. Rules:
// - a passkey is added only after the current password and a code mailed to the account
//   (authenticator-setup.ts keeps both proofs in this page session's step cookie), by the
//   browser's answer to a challenge made for this page session (accounts/passkeys.ts);
// - the first factor of an account that has none gets ten recovery codes, shown once, as
//   an authenticator app's setup does: a lost device must not lock the person out;
// - removing one needs the current password: a stolen page session alone must not strip
//   the account of its factors; an id that is not one of the account's own does nothing;
// - both are audited and mailed to the owner.

const registerForm = z.object({ response: z.string().max(65_536).catch('') });
const removeForm = z.object({ id: z.string().max(1024).catch(''), current: z.string().max(4096).catch('') });

export interface PasskeySetup {
  /** The page that asks the browser to create the passkey `name` (the proofs are in the step cookie). */
  showCeremony(ctx: Context, session: PageSession, name: string, error?: string, status?: number): Promise<void>;
  /** POST /account/passkeys/register: the browser's answer; stored, mailed, audited. */
  register(ctx: Context, session: PageSession): Promise<void>;
  /** POST /account/passkeys/remove: one of the account's passkeys, with the current password. */
  remove(ctx: Context, session: PageSession): Promise<void>;
}

export function createPasskeySetup(deps: {
  readonly passkeys: Passkeys;
  readonly secondFactors: Pick<SecondFactors, 'firstRecoveryCodes'>;
  readonly checkCurrentPassword: CurrentPasswordCheck;
  readonly mailer: Mailer;
  readonly audit: AuditSink;
  readonly render: RenderPage;
  readonly issuer: string;
  /** The account page with an error in its second-factor section. */
  readonly showPage: (ctx: Context, session: PageSession, error: string, status: number) => Promise<void>;
}): PasskeySetup {
  const issuerHost = new URL(deps.issuer).host;
  const facts = (ctx: Context, session: PageSession) => ({ actor: session.account.id, accountId: session.account.id, ...requestFacts(ctx) });
  const backToPage = (ctx: Context, done?: string) => {
    ctx.status = 303;
    ctx.redirect(done ? `/account?done=${done}` : '/account');
  };
  const csrf = (ctx: Context, session: PageSession) => ({ csrf: issueCsrfToken(ctx, session.grantId, ACCOUNT_CSRF), csrfField: CSRF_FIELD });

  async function showCeremony(ctx: Context, session: PageSession, name: string, error?: string, status = 200): Promise<void> {
    const t = translator(pageLocale(ctx));
    const options = await deps.passkeys.registrationOptions(session.account, session.grantId);
    sendPage(ctx, deps.render, 'account-passkey', { title: t('account.passkeys.add'), name, options: JSON.stringify(options), scripts: PASSKEY_SCRIPTS, error, ...csrf(ctx, session) }, status);
  }

  return {
    showCeremony,

    async register(ctx, session) {
      const step = factorSteps.read(ctx, session);
      if (!step?.proven || step.factor !== 'passkey' || !step.name) return backToPage(ctx);
      const { response } = registerForm.parse(ctx.request.body ?? {});
      const outcome = await deps.passkeys.register(session.account.id, session.grantId, response, step.name);
      const t = translator(pageLocale(ctx));
      if (!outcome.ok) {
        deps.audit.record({ type: 'mfa.failure', accountId: session.account.id, ...requestFacts(ctx), data: { step: 'passkey_registration', reason: outcome.reason, via: 'account_page' } });
        if (outcome.reason === 'too_many') {
          factorSteps.drop(ctx);
          return deps.showPage(ctx, session, t('account.passkeys.too-many'), 409);
        }
        return showCeremony(ctx, session, step.name, t(outcome.reason === 'taken' ? 'account.passkeys.taken' : 'account.passkeys.failed'), 400);
      }
      factorSteps.drop(ctx);
      const { passkey } = outcome;
      deps.audit.record({ type: 'mfa.passkey_added', ...facts(ctx, session), data: { passkey: passkey.id, name: passkey.name, synced: passkey.synced } });
      deps.mailer.send(passkeyAddedMessage({ to: session.account.email, issuerHost, name: passkey.name }));
      const codes = await deps.secondFactors.firstRecoveryCodes(session.account.id);
      if (!codes) return backToPage(ctx, 'passkey');
      deps.audit.record({ type: 'mfa.enrolled', ...facts(ctx, session), data: { factor: 'passkey', recoveryCodes: codes.length, via: 'account_page' } });
      sendPage(ctx, deps.render, 'account-authenticator', { title: t('mfa.codes.title'), step: 'codes', codes, ...csrf(ctx, session) });
    },

    async remove(ctx, session) {
      const { id, current } = removeForm.parse(ctx.request.body ?? {});
      const own = (await deps.passkeys.list(session.account.id)).find((passkey) => passkey.id === id);
      if (!own) return backToPage(ctx); // not one of this account's: nothing to do, nothing said
      const refused = await deps.checkCurrentPassword(ctx, session, current);
      if (refused) return deps.showPage(ctx, session, refused.text, refused.status);
      if (!(await deps.passkeys.remove(session.account.id, own.id))) return backToPage(ctx); // removed meanwhile
      deps.audit.record({ type: 'mfa.passkey_removed', ...facts(ctx, session), data: { passkey: own.id, name: own.name } });
      deps.mailer.send(passkeyRemovedMessage({ to: session.account.email, issuerHost, name: own.name }));
      backToPage(ctx, 'passkey-removed');
    },
  };
}
