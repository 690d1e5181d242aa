import type { Command } from 'commander';

import type { Runner } from './command-context.ts';

export function addMigrateCommand(program: Command, run: Runner): void {
  program
    .command('migrate')
    .description('apply pending database migrations (every command does this first) and report them')
    .action((_options: unknown, command: Command) =>
      // Opening the runtime is what migrates; this reports what that start applied.
      run(command, ({ runtime, out }) => {
        const { applied, alreadyApplied } = runtime.migrations;
        const total = applied.length + alreadyApplied;
        out.data({ applied: [...applied], total });
        if (applied.length === 0) {
          out.line(`The database is up to date (${total} migration${total === 1 ? '' : 's'}).`);
        } else {
          out.line(`Applied ${applied.length} migration${applied.length === 1 ? '' : 's'}:`);
          for (const name of applied) out.line(`  ${name}`);
        }
        return Promise.resolve();
      }),
    );
}
