import { Command, CommanderError } from 'commander';

import { withAuditDefaults } from '../audit/index.ts';
import { openRuntime } from '../boot.ts';
import { loadRuntimeConfig } from '../config/index.ts';
import { isAppError, oneLine } from '../errors.ts';
import { createLogger, type Logger } from '../observability/logger.ts';
import { addClientsCommand } from './clients-command.ts';
import type { Runner } from './command-context.ts';
import { addDemoCommand } from './demo-command.ts';
import { addEventsCommand } from './events-command.ts';
import { addGrantsCommand } from './grants-command.ts';
import { addImportCommand } from './import-command.ts';
import { addKeysCommand } from './keys-command.ts';
import { stderrLogDestination } from './log-destination.ts';
import { addMigrateCommand } from './migrate-command.ts';
import { currentOperator } from './operator.ts';
import { createOutput } from './output.ts';
import { PromptCancelledError } from './read-password.ts';
import { addRegistrationTokensCommand } from './registration-tokens-command.ts';
import { addResourcesCommand } from './resources-command.ts';
import { addRevokeCommand } from './revoke-command.ts';
import { addUsersCommand } from './users-command.ts';

// The `portcullis` command. Exit status: 0 done; 2 bad input (nothing was changed);
// 1 anything unexpected; 130 cancelled at a prompt. Every failure is one line on stderr
// starting with "portcullis:", so scripts and people can both rely on it.

const EXIT_OK = 0;
const EXIT_UNEXPECTED = 1;
const EXIT_BAD_INPUT = 2;
const EXIT_CANCELLED = 130;

function buildProgram(run: Runner): Command {
  const program = new Command('portcullis')
    .description('Administer a Portcullis authorization server: users, clients, resource servers, grants and keys.')
    .option('--json', 'print results as JSON on stdout')
    // Settings below are inherited by every subcommand defined after them.
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void process.stdout.write(text),
      writeErr: (text) => void process.stderr.write(text),
      // Commander's own usage errors, as one line in our format.
      outputError: (text, write) => write(`portcullis: ${commanderMessage(text)}\n`),
    })
    .allowExcessArguments(false)
    .showSuggestionAfterError(true)
    .addHelpText(
      'after',
      `
Settings come from the environment and ./.env, as for the server: DATABASE_URL (or the
embedded database under DATA_DIR), MASTER_SECRET, ISSUER (or PORT), LOG_LEVEL (default warn).
A command refuses to run on a database set up with another MASTER_SECRET or served as
another ISSUER.
Exit status: 0 done, 2 bad input (nothing changed), 1 unexpected error.`,
    );
  addMigrateCommand(program, run);
  addUsersCommand(program, run);
  addClientsCommand(program, run);
  addRegistrationTokensCommand(program, run);
  addResourcesCommand(program, run);
  addGrantsCommand(program, run);
  addRevokeCommand(program, run);
  addImportCommand(program, run);
  addDemoCommand(program, run);
  addEventsCommand(program, run);
  addKeysCommand(program, run);
  return program;
}

async function runCli(argv: readonly string[]): Promise<number> {
  let logger: Logger | undefined;
  const run: Runner = async (command, action) => {
    const json = command.optsWithGlobals<{ json?: boolean }>().json === true;
    const config = loadRuntimeConfig();
    // Quiet by default: a command's output is its result, not the server's info logs.
    logger = createLogger({ level: process.env.LOG_LEVEL ? config.logLevel : 'warn', destination: stderrLogDestination() });
    // What the commands change is recorded in the audit trail with actor "cli", and the
    // operator's OS user and host in data. The CLI works on the server's database, never on
    // one it would quietly create (only `migrate` sets one up) or one served under another issuer.
    const operator = currentOperator();
    const runtime = await openRuntime(config, logger, {
      auditActor: 'cli',
      auditData: { ...operator },
      shareRunningServer: true,
      role: 'cli',
      mayCreateDatabase: command.name() === 'migrate',
    });
    try {
      const audit = withAuditDefaults(runtime.auditSink, { actor: 'cli', data: { ...operator } });
      await action({ config, runtime, services: runtime.services, audit, out: createOutput({ json }) });
    } finally {
      await runtime.close();
    }
  };

  try {
    await buildProgram(run).parseAsync([...argv]);
    return EXIT_OK;
  } catch (error) {
    return reportError(error, logger);
  }
}

function reportError(error: unknown, logger: Logger | undefined): number {
  // Commander has already printed its message (or the help it was asked for).
  if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT_OK : EXIT_BAD_INPUT;
  if (error instanceof PromptCancelledError) {
    console.error('portcullis: cancelled; nothing was changed');
    return EXIT_CANCELLED;
  }
  if (isAppError(error) && error.expose) {
    console.error(`portcullis: ${oneLine(error.message)}`);
    return error.status < 500 ? EXIT_BAD_INPUT : EXIT_UNEXPECTED;
  }
  // Not known to be safe to show in full: the first line only; details at LOG_LEVEL=debug.
  logger?.debug({ err: error }, 'unexpected error');
  const summary = isAppError(error)
    ? error.code
    : (error instanceof Error ? error.message : String(error)).split('\n', 1)[0]?.slice(0, 200);
  console.error(`portcullis: unexpected error: ${summary} (LOG_LEVEL=debug shows details)`);
  return EXIT_UNEXPECTED;
}

function commanderMessage(text: string): string {
  return text.trim().replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
}

const code = await runCli(process.argv);
// Let stdout drain (a pipe may be slow), then leave even if a stray handle lingers.
await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
process.exit(code);
