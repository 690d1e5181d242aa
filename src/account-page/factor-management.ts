import type { Context } from 'koa';
import type { Passkeys, SecondFactors } from '../accounts/index.ts';
import type { AuditSink } from '../audit/index.ts';
import type { RenderPage } from '../interactions/index.ts';
import { authenticatorRemovedMessage, passkeyRemovedMessage, recoveryCodesRenewedMessage, type Mailer } from '../mail/index.ts';
import { actedOnPage, backToAccountPage, sendRecoveryCodes } from './page-answers.ts';
import type { PageSession } from './page-session.ts';

// Removing a second factor or making new recovery codes on the account page, once the
// person gave the current password and typed back a code mailed to the account
// (authenticator-setup.ts keeps those proofs, as for adding a factor). Rules:
// - the same proofs as adding one: new recovery codes are a factor in themselves, and a
//   removal can leave the account to the password alone, so neither a stolen page session
//   with the password nor the password alone may make them;
// - removing the app or the last passkey takes the recovery codes with it (they recover a
//   factor, and there would be none); new codes replace every old one at once (the
//   account's row locked), shown once, only for an account that has a factor;
// - each is audited and mailed to the owner.

export type FactorChange = 'remove-app' | 'renew-codes' | 'remove-passkey';

export interface FactorManagement {
  /** The change the proofs were for, made now; `target` the passkey to remove. */
  finish(ctx: Context, session: PageSession, change: FactorChange, target: string | undefined): Promise<void>;
}

export function createFactorManagement(deps: {
  readonly secondFactors: Pick<SecondFactors, 'removeAuthenticator' | 'renewRecoveryCodes'>;
  readonly passkeys: Pick<Passkeys, 'list' | 'remove'>;
  readonly mailer: Mailer;
  readonly audit: AuditSink;
  readonly render: RenderPage;
  readonly issuer: string;
}): FactorManagement {
  const issuerHost = new URL(deps.issuer).host;

  async function removeAuthenticator(ctx: Context, session: PageSession) {
    if (!(await deps.secondFactors.removeAuthenticator(session.account.id))) return backToAccountPage(ctx); // removed meanwhile
    deps.audit.record({ type: 'mfa.authenticator_removed', ...actedOnPage(ctx, session) });
    deps.mailer.send(authenticatorRemovedMessage({ to: session.account.email, issuerHost }));
    backToAccountPage(ctx, 'authenticator-removed');
  }

  async function renewRecoveryCodes(ctx: Context, session: PageSession) {
    const codes = await deps.secondFactors.renewRecoveryCodes(session.account.id);
    if (!codes) return backToAccountPage(ctx); // no factor (removed meanwhile): nothing to recover
    deps.audit.record({ type: 'mfa.recovery_codes_renewed', ...actedOnPage(ctx, session), data: { recoveryCodes: codes.length } });
    deps.mailer.send(recoveryCodesRenewedMessage({ to: session.account.email, issuerHost }));
    sendRecoveryCodes(ctx, deps.render, session, codes);
  }

  async function removePasskey(ctx: Context, session: PageSession, id: string | undefined) {
    const own = (await deps.passkeys.list(session.account.id)).find((passkey) => passkey.id === id);
    if (!own || !(await deps.passkeys.remove(session.account.id, own.id))) return backToAccountPage(ctx); // removed meanwhile
    deps.audit.record({ type: 'mfa.passkey_removed', ...actedOnPage(ctx, session), data: { passkey: own.id, name: own.name } });
    deps.mailer.send(passkeyRemovedMessage({ to: session.account.email, issuerHost, name: own.name }));
    backToAccountPage(ctx, 'passkey-removed');
  }

  return {
    finish(ctx, session, change, target) {
      if (change === 'remove-app') return removeAuthenticator(ctx, session);
      if (change === 'renew-codes') return renewRecoveryCodes(ctx, session);
      return removePasskey(ctx, session, target);
    },
  };
}
