import type { Command } from 'commander';

import { ValidationError } from '../errors.ts';
import { applyPlan, planDeclaration, type AppliedItem, type ItemStatus } from './apply-declaration.ts';
import type { Runner } from './command-context.ts';
import type { Output } from './output.ts';
import { readImportFile } from './read-import-file.ts';

export function addImportCommand(program: Command, run: Runner): void {
  program
    .command('import')
    .description('apply a JSON or YAML file of resources, clients and users; applying it again changes nothing')
    .argument('<file>', 'a file of the form { resources: [...], clients: [...], users: [...] }')
    .option('--dry-run', 'check the file and report what would change, without writing')
    .addHelpText(
      'after',
      `
Resources are created or replaced; clients (each needs a clientId) are created or updated
to match; users are created when missing (initial password from the environment variable
named by passwordEnv, or none) and otherwise get the file's name and roles. Secrets never
belong in the file: a created confidential client's secret is printed once.`,
    )
    .action(async (file: string, options: { dryRun?: boolean }, command: Command) => {
      // The whole file is checked before the database is even opened.
      const declaration = await readImportFile(file);
      await run(command, async ({ services, out }) => {
        const deps = { services, env: process.env };
        const plan = await planDeclaration(deps, declaration).catch((error: unknown) => {
          throw error instanceof ValidationError ? new ValidationError(`${file}: ${error.message}`) : error;
        });
        const items = options.dryRun ? plan.map(({ kind, id, status }) => ({ kind, id, status })) : await applyPlan(plan);
        printReport(out, items, options.dryRun === true);
      });
    });
}

function printReport(out: Output, items: readonly AppliedItem[], dryRun: boolean): void {
  const count = (status: ItemStatus) => items.filter((item) => item.status === status).length;
  const totals = { created: count('created'), updated: count('updated'), unchanged: count('unchanged') };
  out.data({
    dryRun,
    changed: totals.created + totals.updated > 0,
    ...totals,
    items: items.map(({ kind, id, status, clientSecret }) => ({ kind, id, status, ...(clientSecret && { client_secret: clientSecret }) })),
  });

  const verb = (status: ItemStatus) => (dryRun && status !== 'unchanged' ? `would be ${status}` : status);
  out.table(['kind', 'id', 'status'], items.map((item) => [item.kind, item.id, verb(item.status)]));
  if (totals.created + totals.updated === 0) {
    out.line(`Nothing to change: ${items.length} item${items.length === 1 ? '' : 's'} unchanged.`);
  } else {
    out.line(`${dryRun ? 'Would change' : 'Changed'}: ${totals.created} created, ${totals.updated} updated, ${totals.unchanged} unchanged.`);
  }

  const secrets = items.filter((item) => item.clientSecret !== undefined);
  if (secrets.length > 0) {
    out.line();
    out.line('New client secrets:');
    out.fields(secrets.map((item) => [item.id, item.clientSecret ?? ''] as const), '  ');
    out.note('These secrets are shown only this once and cannot be shown again: store them now (or run `portcullis clients rotate-secret <client-id>`).');
  }
}
