import { InvalidArgumentError, type Command } from 'commander';

import { accountView, normalizeEmail, type AccountRecord } from '../accounts/index.ts';
import { ConflictError } from '../errors.ts';
import { collect, type Runner } from './command-context.ts';
import { currentOperator } from './operator.ts';
import { list, yesNo, type Output } from './output.ts';
import { readNewPassword } from './read-password.ts';
import { addUnblockCommand } from './unblock-command.ts';

// There is deliberately no --password option: see read-password.ts.

interface CreateOptions {
  email: string;
  name: string;
  role?: string[];
  emailVerified?: boolean;
  withoutPassword?: boolean;
}

interface InviteOptions {
  email?: string;
  role?: string[];
  expiresInDays: number;
}

const MAX_INVITATION_DAYS = 30;

function parseDays(value: string): number {
  if (!/^\d{1,2}$/.test(value) || Number(value) < 1 || Number(value) > MAX_INVITATION_DAYS) throw new InvalidArgumentError(`must be a whole number of days from 1 to ${MAX_INVITATION_DAYS}`);
  return Number(value);
}

export function addUsersCommand(program: Command, run: Runner): void {
  const users = program.command('users').description('accounts of the people who log in');

  users
    .command('create')
    .description('create an account; the password is the first line of stdin, or asked twice at a hidden prompt')
    .requiredOption('--email <email>', 'the login email address')
    .requiredOption('--name <name>', 'the display name')
    .option('--role <role>', 'a role (repeatable)', collect)
    .option('--email-verified', 'mark the email address as verified')
    .option('--without-password', 'create an account that cannot log in until `users set-password`')
    .action((options: CreateOptions, command: Command) => {
      const email = normalizeEmail(options.email);
      return run(command, async ({ services, out }) => {
        if (await services.accounts.findByIdOrEmail(email)) throw new ConflictError(`email: an account with ${email} already exists`);
        const password = options.withoutPassword ? undefined : await readNewPassword();
        const account = await services.accounts.create({
          email,
          name: options.name,
          password,
          emailVerified: options.emailVerified === true,
          roles: options.role ?? [],
        });
        out.data(accountView(account));
        out.line(`Created account ${account.email}`);
        printUser(out, account);
      });
    });

  users
    .command('invite')
    .description('mint an invitation to sign up: a link, shown once, that makes one account (REGISTRATION=invite or open)')
    .option('--email <email>', 'only this address may sign up with it')
    .option('--role <role>', 'a role the new account starts with (repeatable)', collect)
    .option('--expires-in-days <days>', `days the link works (1 to ${MAX_INVITATION_DAYS})`, parseDays, 7)
    .action((options: InviteOptions, command: Command) => {
      const email = options.email === undefined ? undefined : normalizeEmail(options.email);
      return run(command, async ({ config, services, audit, out }) => {
        const operator = currentOperator();
        const { token, invitation } = await services.signUps.invite({
          email,
          roles: options.role,
          ttlSeconds: options.expiresInDays * 86_400,
          createdBy: `cli ${operator.osUser}@${operator.host}`,
        });
        audit.record({ type: 'invitation.created', data: { email: invitation.email, roles: invitation.roles, expiresAt: invitation.expiresAt.toISOString() } });
        // Under the issuer as written, as the mailed links are.
        const link = new URL(`${config.issuer}/signup`);
        link.searchParams.set('invite', token);
        out.data({ link: link.href, email: invitation.email, roles: invitation.roles, expiresAt: invitation.expiresAt.toISOString() });
        out.line(link.href);
        out.line(`For ${invitation.email ?? 'any address'}${invitation.roles.length ? `, roles ${list(invitation.roles)}` : ''}; works once, until ${invitation.expiresAt.toISOString()}. Shown only now.`);
        if (config.registration.mode === 'off') out.line('Note: REGISTRATION is off on this configuration: the link works once the server runs with REGISTRATION=invite or open.');
      });
    });

  users
    .command('list')
    .description('list accounts')
    .action((_options: unknown, command: Command) =>
      run(command, async ({ services, out }) => {
        const accounts = await services.accounts.list();
        out.data(accounts.map(accountView));
        out.table(
          ['id', 'email', 'name', 'roles', 'verified', 'disabled'],
          accounts.map((a) => [a.id, a.email, a.name, list(a.roles), yesNo(a.emailVerified), yesNo(a.disabled)]),
        );
      }),
    );

  users
    .command('show')
    .description('show one account')
    .argument('<id-or-email>', 'the account id or email address')
    .action((idOrEmail: string, _options: unknown, command: Command) =>
      run(command, async ({ services, out }) => {
        const account = await services.accounts.get(idOrEmail);
        out.data(accountView(account));
        printUser(out, account);
      }),
    );

  for (const [name, disabled] of [['disable', true], ['enable', false]] as const) {
    users
      .command(name)
      .description(disabled ? 'stop an account from logging in or getting tokens' : 'let a disabled account log in again')
      .argument('<id-or-email>', 'the account id or email address')
      .action((idOrEmail: string, _options: unknown, command: Command) =>
        run(command, async ({ services, out }) => {
          const account = await services.accounts.setDisabled(idOrEmail, disabled);
          out.data(accountView(account));
          out.line(`${disabled ? 'Disabled' : 'Enabled'} account ${account.email}`);
        }),
      );
  }

  users
    .command('set-password')
    .description('set a new password: the first line of stdin, or asked twice at a hidden prompt')
    .argument('<id-or-email>', 'the account id or email address')
    .action((idOrEmail: string, _options: unknown, command: Command) =>
      run(command, async ({ services, out }) => {
        // Looked up first, so nobody types a password for an account that does not exist.
        const current = await services.accounts.get(idOrEmail);
        const password = await readNewPassword();
        const account = await services.accounts.setPassword(current.id, password);
        out.data(accountView(account));
        out.line(`Set a new password for ${account.email}`);
      }),
    );

  users
    .command('reset-factors')
    .description("remove an account's authenticator app and recovery codes (a lost phone) and end its sessions; audited")
    .argument('<id-or-email>', 'the account id or email address')
    .addHelpText('after', '\nThe person signs in with their password alone again; where a second factor is required of them (MFA=required, a role in MFA_REQUIRED_ROLES such as admin, or the client) they set up a new authenticator at their next sign-in, after a code mailed to them.')
    .action((idOrEmail: string, _options: unknown, command: Command) =>
      run(command, async ({ services, audit, out }) => {
        const account = await services.accounts.get(idOrEmail);
        const removed = await services.secondFactors.reset(account.id);
        audit.record({ type: 'mfa.reset', accountId: account.id, data: { removed } });
        // A lost or stolen phone: whoever signed in with it must not stay signed in. Every
        // session, grant and token of the account ends (audited as user.tokens_revoked).
        const { grants, tokens } = await services.accounts.revokeTokens(account.id);
        out.data({ id: account.id, email: account.email, removed, grants, tokens });
        out.line(removed ? `Removed the second factors of ${account.email}` : `${account.email} had no second factors`);
        out.line(`Signed out everywhere: ${grants} grants and ${tokens} tokens ended`);
      }),
    );

  addUnblockCommand(users, run);
}

function printUser(out: Output, account: AccountRecord): void {
  out.fields([
    ['id', account.id],
    ['email', account.email],
    ['email verified', yesNo(account.emailVerified)],
    ['name', account.name],
    ['roles', list(account.roles)],
    ['password', account.passwordHash === null ? 'not set' : 'set'],
    ['disabled', yesNo(account.disabled)],
    ['created', account.createdAt.toISOString()],
    ['updated', account.updatedAt.toISOString()],
  ]);
}
