import type { Context } from 'koa';
import { z } from 'zod';

import type { Passkeys } from '../accounts/index.ts';
import { requestFacts, type AuditSink } from '../audit/index.ts';
import { PASSKEY_SCRIPTS, pageLocale, type RenderPage, sendPage, translator } from '../interactions/index.ts';
import { passkeyAddedMessage, type Mailer } from '../mail/index.ts';
import { factorSteps } from './authenticator-setup.ts';
import { actedOnPage, backToAccountPage, pageCsrf, sendRecoveryCodes } from './page-answers.ts';
import type { PageSession } from './page-session.ts';

// Passkeys on the account page: the last step of adding one, and removing one. Rules:
// - a passkey is added only after the current password and a code mailed to the account
//   (authenticator-setup.ts keeps both proofs in this page session's step cookie), by the
//   browser's answer to the challenge made for this page session when the proofs were
//   complete (accounts/passkeys.ts). The step names that challenge, and the challenge is
//   spent by the passkey it adds: the proofs add one passkey, and a copy of the step cookie
//   kept for later adds none. A refused answer may try again with the same challenge while
//   it is open;
// - the first factor of an account that has none gets ten recovery codes, shown once, as
//   an authenticator app's setup does: a lost device must not lock the person out (stored
//   with the passkey, the account's row locked: two first passkeys at once store one set);
// - audited and mailed to the owner. (Removing one: factor-management.ts.)

const registerForm = z.object({ response: z.string().max(65_536).catch('') });

export interface PasskeySetup {
  /**
   * Once the proofs are complete: the page that asks the browser to create the passkey
   * `name`, for a challenge made now and named in the step cookie.
   */
  showCeremony(ctx: Context, session: PageSession, name: string): Promise<void>;
  /** POST /account/passkeys/register: the browser's answer; stored, mailed, audited. */
  register(ctx: Context, session: PageSession): Promise<void>;
}

export function createPasskeySetup(deps: {
  readonly passkeys: Passkeys;
  readonly mailer: Mailer;
  readonly audit: AuditSink;
  readonly render: RenderPage;
  readonly issuer: string;
  /** The account page with an error in its passkeys section. */
  readonly showPage: (ctx: Context, session: PageSession, error: string, status: number) => Promise<void>;
}): PasskeySetup {
  const issuerHost = new URL(deps.issuer).host;

  /** The ceremony's page for the step's challenge (`reuse`, a retry) or a new one, kept in the step. */
  async function sendCeremony(ctx: Context, session: PageSession, name: string, reuse?: string, error?: string, status = 200): Promise<void> {
    const t = translator(pageLocale(ctx));
    const options = await deps.passkeys.registrationOptions(session.account, session.grantId, reuse);
    factorSteps.keep(ctx, session, { factor: 'passkey', name, proven: true, challenge: options.challenge });
    sendPage(ctx, deps.render, 'account-passkey', { title: t('account.passkeys.add'), name, options: JSON.stringify(options), scripts: PASSKEY_SCRIPTS, error, ...pageCsrf(ctx, session) }, status);
  }

  return {
    showCeremony: (ctx, session, name) => sendCeremony(ctx, session, name),

    async register(ctx, session) {
      const step = factorSteps.read(ctx, session);
      if (!step?.proven || step.factor !== 'passkey' || !step.name || !step.challenge) return backToAccountPage(ctx);
      const { response } = registerForm.parse(ctx.request.body ?? {});
      const outcome = await deps.passkeys.register(session.account.id, session.grantId, step.challenge, response, step.name);
      const t = translator(pageLocale(ctx));
      if (!outcome.ok) {
        deps.audit.record({ type: 'mfa.failure', accountId: session.account.id, ...requestFacts(ctx), data: { step: 'passkey_registration', reason: outcome.reason, via: 'account_page' } });
        // Another try only while the step's challenge is open: a spent one (its passkey added) ends the step.
        if (outcome.reason === 'invalid' && (await deps.passkeys.registrationOpen(session.account.id, session.grantId, step.challenge))) {
          return sendCeremony(ctx, session, step.name, step.challenge, t('account.passkeys.failed'), 400);
        }
        factorSteps.drop(ctx);
        if (outcome.reason === 'invalid') return backToAccountPage(ctx);
        return deps.showPage(ctx, session, t(outcome.reason === 'taken' ? 'account.passkeys.taken' : 'account.passkeys.too-many'), 409);
      }
      factorSteps.drop(ctx);
      const { passkey, recoveryCodes: codes } = outcome;
      deps.audit.record({ type: 'mfa.passkey_added', ...actedOnPage(ctx, session), data: { passkey: passkey.id, name: passkey.name, synced: passkey.synced } });
      deps.mailer.send(passkeyAddedMessage({ to: session.account.email, issuerHost, name: passkey.name }));
      if (!codes) return backToAccountPage(ctx, 'passkey');
      deps.audit.record({ type: 'mfa.enrolled', ...actedOnPage(ctx, session), data: { factor: 'passkey', recoveryCodes: codes.length, via: 'account_page' } });
      sendRecoveryCodes(ctx, deps.render, session, codes);
    },
  };
}
