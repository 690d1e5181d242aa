import { InvalidArgumentError, Option, type Command } from 'commander';

import { parseResourceInput, resourceServerView, SIGNING_ALGS, type ResourceServerRecord } from '../clients/index.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { definedOnly, type Runner } from './command-context.ts';
import { list, type Output } from './output.ts';

interface ResourceFlags {
  name?: string;
  scope?: ScopeFlag[];
  scopeRoles?: ScopeRoles[];
  format?: 'jwt' | 'opaque';
  ttl?: number;
  alg?: (typeof SIGNING_ALGS)[number];
}

export function addResourcesCommand(program: Command, run: Runner): void {
  const resources = program.command('resources').description('resource servers (APIs) that accept Portcullis access tokens');

  const create = resources
    .command('create')
    .description('register a resource server')
    .requiredOption('--indicator <url>', 'its RFC 8707 resource indicator, also the tokens\' audience')
    .requiredOption('--name <name>', 'a name for people');
  addResourceFlags(create).action((options: ResourceFlags & { indicator: string }, command: Command) => {
    // Every field is known here, so all of it is checked before the database is opened.
    const input = parseResourceInput({ indicator: options.indicator, ...toInput(options) });
    return run(command, async ({ services, out }) => {
      const resource = await services.resources.create(input);
      out.data(resourceServerView(resource));
      out.line(`Registered resource server ${resource.indicator}`);
      printResource(out, resource);
    });
  });

  resources
    .command('list')
    .description('list resource servers')
    .action((_options: unknown, command: Command) =>
      run(command, async ({ services, out }) => {
        const all = await services.resources.list();
        out.data(all.map(resourceServerView));
        out.table(
          ['indicator', 'name', 'format', 'ttl', 'alg', 'scopes'],
          all.map((r) => [r.indicator, r.name, r.accessTokenFormat, String(r.accessTokenTtl), r.signingAlg, list(r.scopes.map((s) => s.name))]),
        );
      }),
    );

  resources
    .command('show')
    .description('show one resource server')
    .argument('<indicator>')
    .action((indicator: string, _options: unknown, command: Command) =>
      run(command, async ({ services, out }) => {
        const resource = await services.resources.get(indicator);
        out.data(resourceServerView(resource));
        printResource(out, resource);
      }),
    );

  const update = resources
    .command('update')
    .description('change a resource server; --scope flags, when given, replace the whole scope list')
    .argument('<indicator>')
    .option('--name <name>', 'a name for people');
  addResourceFlags(update).action((indicator: string, options: ResourceFlags, command: Command) => {
    const input = toInput(options);
    return run(command, async ({ services, out }) => {
      const resource = await services.resources.update(indicator, input);
      out.data(resourceServerView(resource));
      out.line(`Updated resource server ${resource.indicator}`);
      printResource(out, resource);
    });
  });

  resources
    .command('delete')
    .description('delete a resource server and its scopes; refused while a client is registered for it')
    .argument('<indicator>')
    .action((indicator: string, _options: unknown, command: Command) =>
      run(command, async ({ services, out }) => {
        if (!(await services.resources.delete(indicator))) throw new NotFoundError(`no resource server ${indicator}`);
        out.data({ deleted: indicator });
        out.line(`Deleted resource server ${indicator}`);
      }),
    );
}

function addResourceFlags(command: Command): Command {
  return command
    .option(
      '--scope <name[=description]>',
      "a scope it offers, like photos:read or 'photos:read=Read your photos' (repeatable; the name ends at the first =)",
      collectScope,
    )
    .option(
      '--scope-roles <scope=role,...>',
      'only accounts with one of these roles may be granted the scope, which must be one of the --scope names (repeatable)',
      collectScopeRoles,
    )
    .addOption(new Option('--format <format>', 'access token format').choices(['jwt', 'opaque']))
    .option('--ttl <seconds>', 'access token lifetime in seconds', parseSeconds)
    .addOption(new Option('--alg <alg>', 'JWT access token signing algorithm').choices(SIGNING_ALGS));
}

function parseSeconds(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError('must be a whole number of seconds');
  return Number(value);
}

interface ScopeRoles {
  readonly scope: string;
  readonly roles: readonly string[];
}

/** `write=admin,editor`: split at the last `=`, since a role never contains one (a scope name may). */
function collectScopeRoles(value: string, previous: ScopeRoles[] | undefined): ScopeRoles[] {
  const equals = value.lastIndexOf('=');
  const scope = value.slice(0, Math.max(equals, 0)).trim();
  const roles = value.slice(equals + 1).split(',').map((role) => role.trim()).filter(Boolean);
  if (equals === -1 || !scope || roles.length === 0) {
    throw new InvalidArgumentError('expected a scope, = and a comma-separated list of roles, like write=admin,editor');
  }
  return [...(previous ?? []), { scope, roles }];
}

/** Flags as the resource service's input: only what was given, so updates keep the rest. */
function toInput(flags: ResourceFlags) {
  if (flags.scopeRoles && !flags.scope) {
    throw new ValidationError('--scope-roles: give the --scope flags it refers to (the scope list is replaced whole)');
  }
  return definedOnly({
    name: flags.name,
    scopes: flags.scope && withRoles(flags.scope, flags.scopeRoles ?? []),
    accessTokenFormat: flags.format,
    accessTokenTtl: flags.ttl,
    signingAlg: flags.alg,
  });
}

interface ScopeFlag {
  readonly name: string;
  readonly description: string;
}

/**
 * `photos:read` or `photos:read=Read your photos`. The name ends at the first `=`: scope
 * names are namespaced with colons and dots (`photos:read`, `api.example.com/read`), but
 * hardly ever hold an `=`; one that does is declared in an import file. A name never holds
 * a space, so `read:Read your data` (the old form) is refused with the new one shown.
 */
export function parseScopeFlag(value: string): ScopeFlag {
  const equals = value.indexOf('=');
  const name = (equals === -1 ? value : value.slice(0, equals)).trim();
  const description = equals === -1 ? '' : value.slice(equals + 1).trim();
  if (!name) throw new InvalidArgumentError(`expected a scope name, like photos:read or 'photos:read=Read your photos'`);
  if (/\s/.test(name)) {
    throw new InvalidArgumentError(`a scope name has no spaces; give its description after =, like 'photos:read=Read your photos'`);
  }
  return { name, description };
}

function collectScope(value: string, previous: ScopeFlag[] | undefined): ScopeFlag[] {
  return [...(previous ?? []), parseScopeFlag(value)];
}

/**
 * Puts each --scope-roles on its scope; repeating a scope adds roles. Roles go only on
 * scopes named by --scope in the same command: the list is replaced whole, so a scope
 * left out of it would be dropped, its roles with it.
 */
function withRoles(scopes: { name: string; description: string }[], bindings: readonly ScopeRoles[]) {
  const roles = new Map<string, string[]>(scopes.map((scope) => [scope.name, []]));
  for (const { scope, roles: more } of bindings) {
    const current = roles.get(scope);
    if (!current) throw new ValidationError(`--scope-roles: ${scope} is not one of the --scope names`);
    for (const role of more) if (!current.includes(role)) current.push(role);
  }
  return scopes.map((scope) => ({ ...scope, roles: roles.get(scope.name) ?? [] }));
}

function describeScope(scope: ResourceServerRecord['scopes'][number]): string {
  const details = [scope.description, scope.roles.length > 0 ? `roles: ${scope.roles.join(' ')}` : ''].filter(Boolean);
  return details.length > 0 ? `${scope.name} (${details.join('; ')})` : scope.name;
}

function printResource(out: Output, resource: ResourceServerRecord): void {
  out.fields([
    ['indicator', resource.indicator],
    ['name', resource.name],
    ['token format', resource.accessTokenFormat],
    ['token ttl', `${resource.accessTokenTtl}s`],
    ['signing alg', resource.signingAlg],
    ['scopes', list(resource.scopes.map(describeScope))],
  ]);
}
