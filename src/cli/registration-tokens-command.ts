import type { Command } from 'commander';

import type { RegistrationTokenRecord } from '../clients/index.ts';
import { ValidationError } from '../errors.ts';
import type { Runner } from './command-context.ts';
import type { Output } from './output.ts';

// `portcullis registration-tokens`: initial access tokens for dynamic client registration
// (CLIENT_REGISTRATION=initial-access-token, README "Dynamic client registration"). A
// token's value is printed once, when minted; list and revoke name it by its id.

const UNITS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `30m`, `12h`, `1d`, `7d` (or plain seconds) as seconds. */
export function parseExpiresIn(value: string): number {
  const match = /^(\d{1,7})([smhd]?)$/.exec(value.trim());
  if (!match) throw new ValidationError(`--expires-in ${value.slice(0, 40)}: write a duration like 30m, 12h, 1d or 7d`);
  return Number(match[1]) * UNITS[match[2] || 's']!;
}

function parseUses(value: string): number {
  if (!/^\d{1,6}$/.test(value.trim())) throw new ValidationError(`--uses ${value.slice(0, 40)}: a whole number of registrations, 1 or more`);
  return Number(value);
}

function state(token: RegistrationTokenRecord, now = Date.now()): string {
  if (token.revokedAt) return 'revoked';
  if (token.expiresAt.getTime() <= now) return 'expired';
  return token.usesLeft > 0 ? 'active' : 'spent';
}

function view(token: RegistrationTokenRecord) {
  return {
    id: token.id,
    label: token.label,
    uses: token.uses,
    usesLeft: token.usesLeft,
    state: state(token),
    expiresAt: token.expiresAt.toISOString(),
    revokedAt: token.revokedAt?.toISOString() ?? null,
    createdAt: token.createdAt.toISOString(),
  };
}

function modeNote(out: Output, mode: string): void {
  if (mode !== 'initial-access-token') out.note(`CLIENT_REGISTRATION is ${mode} on this configuration: the token works once the server runs with CLIENT_REGISTRATION=initial-access-token.`);
}

export function addRegistrationTokensCommand(program: Command, run: Runner): void {
  const tokens = program.command('registration-tokens').description('initial access tokens that let an app register itself as a client (dynamic client registration)');

  tokens
    .command('create')
    .description('mint an initial access token; its value is printed once')
    .option('--expires-in <duration>', 'how long it works: 30m, 12h, 1d, 7d (at most a year)', '1d')
    .option('--uses <count>', 'how many clients it may register', '1')
    .option('--label <text>', 'a note for `list` (who it was made for)')
    .action((options: { expiresIn: string; uses: string; label?: string }, command: Command) => {
      // Flags are checked before the database is opened: bad input never waits for it.
      const expiresInSeconds = parseExpiresIn(options.expiresIn);
      const uses = parseUses(options.uses);
      return run(command, async ({ config, services, out }) => {
        const { token, record } = await services.registrationTokens.mint({ expiresInSeconds, uses, label: options.label ?? null });
        out.data({ token, ...view(record) });
        out.line(token);
        out.line(`Token ${record.id}: registers ${uses === 1 ? 'one client' : `up to ${uses} clients`}, until ${record.expiresAt.toISOString()}.`);
        out.note('The token is shown only this once and cannot be shown again. Send it as "Authorization: Bearer <token>" to the registration endpoint.');
        modeNote(out, config.clientRegistration.mode);
      });
    });

  tokens
    .command('list')
    .description('list initial access tokens (never their values)')
    .action((_options: unknown, command: Command) =>
      run(command, async ({ services, out }) => {
        const all = await services.registrationTokens.list();
        out.data(all.map(view));
        out.table(
          ['id', 'state', 'uses left', 'expires', 'label'],
          all.map((token) => [token.id, state(token), `${token.usesLeft}/${token.uses}`, token.expiresAt.toISOString(), token.label ?? '-']),
        );
      }),
    );

  tokens
    .command('revoke')
    .description('revoke an initial access token: it registers no more clients (those it registered stay)')
    .argument('<id>')
    .action((id: string, _options: unknown, command: Command) =>
      run(command, async ({ services, out }) => {
        const token = await services.registrationTokens.revoke(id);
        out.data(view(token));
        out.line(`Revoked registration token ${token.id}`);
      }),
    );
}
