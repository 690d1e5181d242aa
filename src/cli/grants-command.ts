import type { Command } from 'commander';

import { grantView, type GrantSummary } from '../oidc/index.ts';
import type { Runner } from './command-context.ts';
import { list } from './output.ts';

// `portcullis grants`: what a person has granted to apps, as the consent pages record it.
// Taking a grant back is `portcullis revoke --grant <id>`.

export function addGrantsCommand(program: Command, run: Runner): void {
  const grants = program.command('grants').description('what people have granted to clients (revoke with `portcullis revoke`)');

  grants
    .command('list')
    .description('list the live grants of an account, newest first')
    .requiredOption('--user <id-or-email>', 'the account id or email address')
    .action((options: { user: string }, command: Command) =>
      run(command, async ({ services, out }) => {
        const account = await services.accounts.get(options.user);
        const all = await services.grants.listForAccount(account.id);
        out.data(all.map(grantView));
        out.table(
          ['id', 'client', 'scopes', 'created', 'expires'],
          all.map((grant) => [
            grant.id,
            grant.clientId,
            list(allScopes(grant)),
            grant.createdAt.toISOString(),
            grant.expiresAt?.toISOString() ?? 'never',
          ]),
        );
      }),
    );
}

/** The OIDC scopes, then `indicator: scope scope` for each resource, in one list. */
function allScopes(grant: GrantSummary): string[] {
  return [...grant.scopes, ...Object.entries(grant.resources).map(([indicator, scopes]) => `${indicator}: ${scopes.join(' ')}`)];
}
