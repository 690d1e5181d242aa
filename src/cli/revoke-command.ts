import type { Command } from 'commander';

import { NotFoundError, ValidationError } from '../errors.ts';
import type { GrantService } from '../oidc/index.ts';
import type { Services } from '../services.ts';
import type { Runner } from './command-context.ts';

// `portcullis revoke`: take back what was granted, for one person, one client or one
// grant. Revoked grants and tokens are deleted, so every instance stops honouring them
// at once (JWT access tokens name their grant and stop verifying with it).

interface RevokeFlags {
  user?: string;
  client?: string;
  grant?: string;
}

type RevocationCount = Awaited<ReturnType<GrantService['revokeGrant']>>;
type Target = { kind: 'user'; value: string } | { kind: 'client'; value: string } | { kind: 'grant'; value: string };

export function addRevokeCommand(program: Command, run: Runner): void {
  program
    .command('revoke')
    .description('revoke the grants and tokens of a user, a client or a single grant')
    .option('--user <id-or-email>', 'every grant, token and browser session of this account')
    .option('--client <client-id>', 'every grant and token of this client, client-credentials tokens included')
    .option('--grant <grant-id>', 'one grant and the tokens issued under it (see `grants list --user`)')
    .addHelpText('after', '\nGive exactly one of --user, --client, --grant. The client or account itself is kept.')
    .action((options: RevokeFlags, command: Command) => {
      const target = chooseTarget(options);
      return run(command, async ({ services, out }) => {
        const { subject, view, count } = await revoke(services, target);
        out.data({ ...view, grants: count.grants, tokens: count.tokens });
        out.line(
          target.kind === 'grant'
            ? `Revoked ${subject} and the ${plural(count.tokens, 'token')} issued under it`
            : `Revoked ${plural(count.grants, 'grant')} and ${plural(count.tokens, 'token')} of ${subject}`,
        );
      });
    });
}

function chooseTarget(options: RevokeFlags): Target {
  const given = (['user', 'client', 'grant'] as const).filter((kind) => options[kind] !== undefined);
  const [kind] = given;
  if (given.length !== 1 || kind === undefined) {
    const found = given.length === 0 ? 'none was given' : `got ${given.map((name) => `--${name}`).join(' and ')}`;
    throw new ValidationError(`give exactly one of --user, --client, --grant (${found})`);
  }
  return { kind, value: options[kind] ?? '' };
}

async function revoke(
  services: Services,
  target: Target,
): Promise<{ subject: string; view: Record<string, unknown>; count: RevocationCount }> {
  switch (target.kind) {
    case 'user': {
      // By id or email; an unknown one is refused rather than reported as nothing revoked.
      const { account, grants, tokens } = await services.accounts.revokeTokens(target.value);
      return { subject: account.email, view: { user: { id: account.id, email: account.email } }, count: { grants, tokens } };
    }
    case 'client': {
      const count = await services.clients.revokeTokens(target.value);
      return { subject: `client ${target.value}`, view: { client: target.value }, count };
    }
    case 'grant': {
      // Looked up by deleting: an expired grant that is still stored is revoked too.
      const count = await services.grants.revokeGrant(target.value, 'operator');
      if (count.grants === 0 && count.tokens === 0) throw new NotFoundError(`no grant ${target.value}`);
      return { subject: `grant ${target.value}`, view: { grant: target.value }, count };
    }
  }
}

export function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}
