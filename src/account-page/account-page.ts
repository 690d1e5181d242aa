import type { Context } from 'koa';
import { z } from 'zod';

import { newPasswordProblem, type AccountService, type Passkeys, type SecondFactors } from '../accounts/index.ts';
import { requestFacts, type AuditSink, type AuditTrail } from '../audit/index.ts';
import type { ClientService } from '../clients/index.ts';
import { ValidationError } from '../errors.ts';
import { passwordChangedMessage, type Mailer } from '../mail/index.ts';
import { MAX_CLIENT_ID_URL_LENGTH, type GrantService } from '../oidc/index.ts';
import type { Logger } from '../observability/index.ts';
import { CSRF_FIELD, type CsrfScope, issueCsrfToken, pageLocale, passwordProblemText, type RenderPage, sendPage, translator } from '../interactions/index.ts';
import type { CurrentPasswordCheck } from './current-password.ts';
import type { PageSession } from './page-session.ts';

// What a signed-in person can see and do about their own account (routes.ts lists the
// paths). Rules:
// - every change acts on the session's account only: ids in a form (a session, an app) are
//   looked up among that account's own, never trusted;
// - a password change needs the current password (current-password.ts), the new one is
//   checked by the sign-up and reset policy; the owner is mailed, then every other browser
//   session of the account and every app's grant end (this browser and page stay);
// - every change is audited with the person as the actor;
// - after a change, a redirect (303) to the page with what was done: a reload never
//   repeats it.

export const ACCOUNT_CSRF: CsrfScope = { cookie: 'portcullis.csrf-account', path: '/account' };

const RECENT_SIGN_INS = 10;

/** What the page says after a change (`?done=`). */
const NOTICES = ['profile', 'password', 'session', 'app', 'email', 'passkey', 'passkey-removed', 'authenticator-removed'] as const;
type Notice = (typeof NOTICES)[number];

export interface AccountPageDeps {
  readonly accounts: AccountService;
  readonly clients: Pick<ClientService, 'find'>;
  readonly grants: GrantService;
  readonly secondFactors: Pick<SecondFactors, 'factors'>;
  readonly passkeys: Pick<Passkeys, 'list' | 'available'>;
  readonly auditTrail: Pick<AuditTrail, 'list'>;
  readonly audit: AuditSink;
  readonly render: RenderPage;
  /** Where a change that half-failed is reported for the operator. */
  readonly logger: Pick<Logger, 'error'>;
  /** The current password, asked again (current-password.ts). */
  readonly checkCurrentPassword: CurrentPasswordCheck;
  readonly mailer: Mailer;
  readonly issuer: string;
  /** The page's own client: its grant is this page's session, not an app the person authorized. */
  readonly clientId: string;
  /** Mail reaches people (SMTP_URL, or development's log): the address can be changed and an authenticator set up here. */
  readonly mailReachesPeople: boolean;
}

/** Where an error is shown: a form's own section (the second factors' changes by their name in authenticator-setup.ts). */
type Section = 'email' | 'app' | 'passkey' | 'remove-app' | 'renew-codes' | 'remove-passkey';
type FormErrors = Partial<Record<'profile' | 'password' | Section, string>>;

const nameForm = z.object({ name: z.string().max(1000).catch('') });
const passwordForm = z.object({ current: z.string().max(4096).catch(''), password: z.string().max(4096).catch('') });
const idForm = z.object({ id: z.string().max(256).catch('') });
// An app's id may be its metadata document's URL (README "Client ID Metadata Documents"):
// longer than any other id, and a person must be able to revoke it all the same.
const appForm = z.object({ id: z.string().max(MAX_CLIENT_ID_URL_LENGTH).catch('') });

export interface AccountPage {
  show(ctx: Context, session: PageSession): Promise<void>;
  /** The page with an error in one of its sections (the address: email-change.ts; the second factor: authenticator-setup.ts). */
  readonly showError: (ctx: Context, session: PageSession, section: Section, error: string, status: number, target?: string) => Promise<void>;
  updateProfile(ctx: Context, session: PageSession): Promise<void>;
  changePassword(ctx: Context, session: PageSession): Promise<void>;
  endSession(ctx: Context, session: PageSession): Promise<void>;
  /** Every browser session and every app's grant of the account, this one included (the caller drops the page's cookie). */
  endAllSessions(ctx: Context, session: PageSession): Promise<void>;
  revokeApp(ctx: Context, session: PageSession): Promise<void>;
}

export function createAccountPage(deps: AccountPageDeps): AccountPage {
  const issuerHost = new URL(deps.issuer).host;
  const actedBy = (ctx: Context, session: PageSession) => ({ actor: session.account.id, ...requestFacts(ctx) });
  const done = (ctx: Context, notice: Notice) => {
    ctx.status = 303;
    ctx.redirect(`/account?done=${notice}`);
  };

  /** The page; `errorTarget` the passkey whose removal an error is about (its form is shown open). */
  async function render(ctx: Context, session: PageSession, errors: FormErrors = {}, status = 200, errorTarget?: string): Promise<void> {
    const { account } = session;
    const [sessions, grants, factors, passkeys, signIns] = await Promise.all([
      deps.grants.listSessions(account.id),
      deps.grants.listForAccount(account.id),
      deps.secondFactors.factors(account.id),
      deps.passkeys.list(account.id),
      deps.auditTrail.list({ types: ['login.success'], accountId: account.id }, RECENT_SIGN_INS),
    ]);
    const clientNames = new Map<string, string>();
    const nameOf = async (clientId: string) => {
      if (!clientNames.has(clientId)) clientNames.set(clientId, (await deps.clients.find(clientId))?.name ?? clientId);
      return clientNames.get(clientId)!;
    };
    const apps = new Map<string, { clientId: string; name: string; scopes: Set<string>; since: Date }>();
    for (const grant of grants) {
      if (grant.clientId === deps.clientId) continue;
      const app = apps.get(grant.clientId) ?? { clientId: grant.clientId, name: await nameOf(grant.clientId), scopes: new Set<string>(), since: grant.createdAt };
      for (const scope of [...grant.scopes, ...Object.values(grant.resources).flat()]) app.scopes.add(scope);
      if (grant.createdAt < app.since) app.since = grant.createdAt;
      apps.set(grant.clientId, app);
    }
    const done = typeof ctx.query.done === 'string' && (NOTICES as readonly string[]).includes(ctx.query.done) ? ctx.query.done : undefined;
    sendPage(
      ctx,
      deps.render,
      'account',
      {
        title: translator(pageLocale(ctx))('account.title'),
        wide: true,
        account: { name: account.name, email: account.email, emailVerified: account.emailVerified },
        sessions: await Promise.all(
          sessions.map(async (one) => ({
            id: one.id,
            signedInAt: one.signedInAt,
            current: one.clients.some((client) => client.grantId === session.grantId),
            apps: await Promise.all(one.clients.filter((client) => client.clientId !== deps.clientId).map((client) => nameOf(client.clientId))),
          })),
        ),
        apps: [...apps.values()].map((app) => ({ ...app, scopes: [...app.scopes].sort() })),
        authenticator: factors.totp,
        recoveryCodesLeft: factors.totp || passkeys.length > 0 ? factors.recoveryCodes : undefined,
        passkeys,
        passkeysAvailable: deps.passkeys.available,
        mailReachesPeople: deps.mailReachesPeople,
        signIns: signIns.reverse().map((event) => ({ time: event.time, ip: event.ip ?? '', userAgent: event.userAgent ?? '' })),
        csrf: issueCsrfToken(ctx, session.grantId, ACCOUNT_CSRF),
        csrfField: CSRF_FIELD,
        notice: done,
        errors,
        errorTarget,
      },
      status,
    );
  }


  /**
   * Every browser session of the account and every grant (each app's tokens, whether or not
   * its session still exists), audited one by one; with keepThisBrowser, the session this
   * page was signed in with, and its grant, stay.
   */
  async function endEverything(ctx: Context, session: PageSession, options: { keepThisBrowser: boolean; reason: 'password_changed' | 'signed_out_everywhere' }): Promise<void> {
    const { account } = session;
    const by = actedBy(ctx, session);
    for (const one of await deps.grants.listSessions(account.id)) {
      if (options.keepThisBrowser && one.clients.some((client) => client.grantId === session.grantId)) continue;
      await deps.grants.endSession(account.id, one.id, by);
    }
    for (const grant of await deps.grants.listForAccount(account.id)) {
      if (options.keepThisBrowser && grant.id === session.grantId) continue;
      await deps.grants.revokeGrant(grant.id, options.reason, by);
    }
  }

  return {
    show: (ctx, session) => render(ctx, session),
    showError: (ctx, session, section, error, status, target) => render(ctx, session, { [section]: error }, status, target),

    async updateProfile(ctx, session) {
      const { name } = nameForm.parse(ctx.request.body ?? {});
      try {
        await deps.accounts.update(session.account.id, { name: name.trim() }, actedBy(ctx, session));
      } catch (error) {
        if (!(error instanceof ValidationError)) throw error;
        const t = translator(pageLocale(ctx));
        return render(ctx, session, { profile: t('account.profile.invalid') }, 400);
      }
      done(ctx, 'profile');
    },

    async changePassword(ctx, session) {
      const t = translator(pageLocale(ctx));
      const { current, password } = passwordForm.parse(ctx.request.body ?? {});
      const { account } = session;
      const refused = await deps.checkCurrentPassword(ctx, session, current);
      if (refused) return render(ctx, session, { password: refused.text }, refused.status);
      const problem = await newPasswordProblem(password, [account.email, account.name]);
      if (problem) return render(ctx, session, { password: passwordProblemText(t, problem) }, 400);
      await deps.accounts.setPassword(account.id, password, actedBy(ctx, session));
      // Whoever else is signed in (perhaps the one who knew the old password) is signed out,
      // and every app's access ends: a grant outlives its browser session (offline access),
      // so ending sessions alone would leave an intruder's refresh token working. This
      // browser and this page stay.
      // Told first: should ending everything fail half-way, the owner still knows.
      deps.mailer.send(passwordChangedMessage({ to: account.email, issuerHost, endedSessions: true, via: 'account' }));
      try {
        await endEverything(ctx, session, { keepThisBrowser: true, reason: 'password_changed' });
      } catch (error) {
        // The new password holds (a retry with the old one would be refused as a wrong
        // guess): say so, and what is left to do, instead of an error page.
        deps.logger.error({ err: error, accountId: account.id }, 'password changed on the account page, but ending its other sessions and grants failed');
        return render(ctx, session, { password: t('account.password.end-failed') }, 503);
      }
      done(ctx, 'password');
    },

    async endSession(ctx, session) {
      const { id } = idForm.parse(ctx.request.body ?? {});
      // endSession acts only on a session of this account (false for another's or none).
      await deps.grants.endSession(session.account.id, id, actedBy(ctx, session));
      done(ctx, 'session');
    },

    endAllSessions: (ctx, session) => endEverything(ctx, session, { keepThisBrowser: false, reason: 'signed_out_everywhere' }),

    async revokeApp(ctx, session) {
      const { id } = appForm.parse(ctx.request.body ?? {});
      if (id === deps.clientId || !(await deps.grants.listForAccount(session.account.id)).some((grant) => grant.clientId === id)) {
        return done(ctx, 'app');
      }
      const count = await deps.grants.revokeClientForAccount(session.account.id, id);
      deps.audit.record({ type: 'consent.revoked', accountId: session.account.id, clientId: id, data: { all: true, grants: count.grants, via: 'account_page' }, ...actedBy(ctx, session) });
      done(ctx, 'app');
    },
  };
}
