import { readFile } from 'node:fs/promises';

import { Option, type Command } from 'commander';

import { AUTH_METHODS, CLIENT_TYPES, toClientInput, type AuthMethodName, type ClientRecord, type ClientTypeName } from '../clients/index.ts';
import { ValidationError } from '../errors.ts';
import { collect, definedOnly, type Runner } from './command-context.ts';
import { list, yesNo, type Output } from './output.ts';

interface ClientFlags {
  name?: string;
  redirectUri?: string[];
  postLogoutRedirectUri?: string[];
  corsOrigin?: string[];
  grantType?: string[];
  scope?: string[];
  resource?: string[];
  firstParty?: boolean;
  requireMfa?: boolean;
  backchannelLogoutUri?: string;
  logoUri?: string;
  clientUri?: string;
  policyUri?: string;
  tosUri?: string;
  authMethod?: AuthMethodName;
  jwksFile?: string;
  jwksUri?: string;
  requirePar?: boolean;
  requireSignedRequests?: boolean;
  exchangeAudience?: string[];
  exchangeAct?: boolean;
}

interface CreateFlags extends ClientFlags {
  type: ClientTypeName;
  id?: string;
}

export function addClientsCommand(program: Command, run: Runner): void {
  const clients = program.command('clients').description('OAuth clients: applications and resource servers that call Portcullis');

  const create = clients
    .command('create')
    .description('register a client; a confidential client\'s secret is printed once')
    .addOption(new Option('--type <type>', 'the kind of client').choices(CLIENT_TYPES).makeOptionMandatory())
    .requiredOption('--name <name>', 'the name shown on the consent page')
    .option('--id <client-id>', 'the client_id (default: generated)');
  addListFlags(create)
    .option('--first-party', 'a client of this deployment itself: consent is not asked')
    .option('--require-mfa', 'every sign-in to this client uses a second factor (authenticator app)');
  create.action((options: CreateFlags, command: Command) =>
    run(command, async ({ services, out }) => {
      const created = await services.clients.create({ type: options.type, clientId: options.id, ...(await toInput(options)) });
      printCredentials(out, `Created ${created.client.type} client "${created.client.name}"`, created.client, created.clientSecret);
    }),
  );

  clients
    .command('list')
    .description('list clients')
    .action((_options: unknown, command: Command) =>
      run(command, async ({ services, out }) => {
        const all = await services.clients.list();
        out.data(all.map(clientView));
        out.table(
          ['client_id', 'type', 'name', 'origin', 'grants', 'resources'],
          all.map((c) => [c.clientId, c.type, c.name, c.origin, list(c.grantTypes), list(c.resources)]),
        );
      }),
    );

  clients
    .command('show')
    .description('show one client (never its secret)')
    .argument('<client-id>')
    .action((clientId: string, _options: unknown, command: Command) =>
      run(command, async ({ services, out }) => {
        const client = await services.clients.get(clientId);
        out.data(clientView(client));
        printClient(out, client);
      }),
    );

  const update = clients
    .command('update')
    .description('change a client; each list flag given replaces that whole list')
    .argument('<client-id>')
    .option('--name <name>', 'the name shown on the consent page');
  addListFlags(update)
    .option('--first-party', 'a client of this deployment itself: consent is not asked')
    .option('--no-first-party', 'a third-party client: consent is asked')
    .option('--require-mfa', 'every sign-in to this client uses a second factor (authenticator app)')
    .option('--no-require-mfa', 'a second factor only as MFA and the person decide');
  update.action((clientId: string, options: ClientFlags, command: Command) =>
    run(command, async ({ services, out }) => {
      const client = await services.clients.update(clientId, await toInput(options));
      out.data(clientView(client));
      out.line(`Updated client ${client.clientId}`);
      printClient(out, client);
    }),
  );

  clients
    .command('rotate-secret')
    .description('replace a confidential client\'s secret (the old one stops working at once); prints the new one once')
    .argument('<client-id>')
    .addOption(
      new Option('--auth-method <method>', 'also switch the client to this secret method (a private_key_jwt client must say which; its keys are removed)').choices([
        'client_secret_basic',
        'client_secret_post',
      ]),
    )
    .action((clientId: string, options: { authMethod?: AuthMethodName }, command: Command) =>
      run(command, async ({ services, out }) => {
        const rotated = await services.clients.rotateSecret(clientId, definedOnly({ authMethod: options.authMethod }));
        printCredentials(out, `Rotated the secret of client "${rotated.client.name}"`, rotated.client, rotated.clientSecret);
      }),
    );

  clients
    .command('delete')
    .description('delete a client; its tokens stop working')
    .argument('<client-id>')
    .action((clientId: string, _options: unknown, command: Command) =>
      run(command, async ({ services, out }) => {
        await services.clients.delete(clientId);
        out.data({ deleted: clientId });
        out.line(`Deleted client ${clientId}`);
      }),
    );
}

function addListFlags(command: Command): Command {
  return command
    .option('--redirect-uri <uri>', 'an exact redirect URI (repeatable)', collect)
    .option('--post-logout-redirect-uri <uri>', 'a post-logout redirect URI (repeatable)', collect)
    .option('--cors-origin <origin>', 'a browser origin allowed to call the token endpoints (repeatable)', collect)
    .option('--grant-type <grant>', 'authorization_code, refresh_token, client_credentials, urn:ietf:params:oauth:grant-type:device_code or urn:ietf:params:oauth:grant-type:token-exchange (repeatable)', collect)
    .option('--scope <scope>', 'a scope the client may ask for (repeatable, or space separated)', collect)
    .option('--resource <indicator>', 'a registered resource server the client may get tokens for (repeatable)', collect)
    .option('--backchannel-logout-uri <uri>', 'told server to server when a user signs out (web clients; "" clears)')
    .option('--logo-uri <uri>', 'https logo shown on the consent page ("" clears)')
    .option('--client-uri <uri>', 'home page shown on the consent page ("" clears)')
    .option('--policy-uri <uri>', 'privacy policy shown on the consent page ("" clears)')
    .option('--tos-uri <uri>', 'terms of service shown on the consent page ("" clears)')
    .addOption(
      new Option('--auth-method <method>', 'how a confidential client authenticates (default client_secret_basic; spa and native: none)').choices(AUTH_METHODS),
    )
    .option('--jwks-file <path>', 'private_key_jwt: a JSON file with the client\'s public JWK Set (or one public JWK)')
    .option('--jwks-uri <url>', 'private_key_jwt: where the client publishes its public JWK Set ("" clears)')
    .option('--require-par', 'authorization requests only when pushed first (PAR, RFC 9126)')
    .option('--no-require-par', 'plain authorization requests allowed again')
    .option('--require-signed-requests', 'authorization requests only as request objects signed with the client\'s keys (JAR; private_key_jwt clients)')
    .option('--no-require-signed-requests', 'unsigned authorization requests allowed again')
    .option('--exchange-audience <indicator>', 'token exchange: a registered resource server a token the client holds may be exchanged for (repeatable)', collect)
    .option('--exchange-act', 'token exchange: the new token names the client as the actor (act), the default')
    .option('--no-exchange-act', 'token exchange: the new token impersonates the person (no act claim naming the client)');
}

/**
 * The keys of a --jwks-file: a JWK Set, or one JWK made a set of one. Its text never
 * reaches a message (it may be a private key given by mistake).
 */
async function readJwksFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    throw new ValidationError(`--jwks-file ${path}: ${code === 'ENOENT' ? 'no such file' : 'cannot be read'}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new ValidationError(`--jwks-file ${path}: not valid JSON`);
  }
  return parsed !== null && typeof parsed === 'object' && 'kty' in parsed ? { keys: [parsed] } : parsed;
}

/** An optional URI flag: absent keeps the value, "" clears it. */
const uriFlag = (value: string | undefined) => (value === undefined ? undefined : value === '' ? null : value);

/** Flags as the client service's input: only what was given, so updates keep the rest. */
async function toInput(flags: ClientFlags) {
  const jwks = flags.jwksFile === undefined ? undefined : await readJwksFile(flags.jwksFile);
  const jwksUri = uriFlag(flags.jwksUri);
  return definedOnly({
    name: flags.name,
    redirectUris: flags.redirectUri,
    postLogoutRedirectUris: flags.postLogoutRedirectUri,
    corsOrigins: flags.corsOrigin,
    grantTypes: flags.grantType,
    scopes: flags.scope?.flatMap((scope) => scope.split(/\s+/).filter(Boolean)),
    resources: flags.resource,
    firstParty: flags.firstParty,
    requireMfa: flags.requireMfa,
    backchannelLogoutUri: uriFlag(flags.backchannelLogoutUri),
    logoUri: uriFlag(flags.logoUri),
    clientUri: uriFlag(flags.clientUri),
    policyUri: uriFlag(flags.policyUri),
    tosUri: uriFlag(flags.tosUri),
    authMethod: flags.authMethod,
    // Keys come inline or from a URL: giving one replaces the other.
    jwks: jwks ?? (typeof jwksUri === 'string' ? null : undefined),
    jwksUri: jwksUri !== undefined ? jwksUri : jwks !== undefined ? null : undefined,
    requirePushedRequests: flags.requirePar,
    requireSignedRequests: flags.requireSignedRequests,
    exchangeAudiences: flags.exchangeAudience,
    exchangeAct: flags.exchangeAct,
  });
}

/** What may be shown of a client: everything but its (sealed) secret. Field names match import files. */
export function clientView(client: ClientRecord) {
  return {
    ...toClientInput(client),
    confidential: client.authMethod !== 'none',
    origin: client.origin,
    registrationTokenId: client.registrationTokenId,
    createdAt: client.createdAt.toISOString(),
    updatedAt: client.updatedAt.toISOString(),
  };
}

function printClient(out: Output, client: ClientRecord): void {
  out.fields([
    ['client_id', client.clientId],
    ['type', client.type],
    ['name', client.name],
    ['origin', originText(client)],
    ['authentication', client.authMethod],
    ['secret', client.secretCiphertext !== null ? 'set (shown only at creation or rotation)' : client.authMethod === 'none' ? 'none (public client)' : 'none (signs with its own key)'],
    ['keys', client.jwksUri ?? (client.jwks ? client.jwks.keys.map((key) => `${key.kty}${key.kid ? ` ${key.kid}` : ''}`).join(', ') : '-')],
    ['redirect URIs', list(client.redirectUris)],
    ['post-logout URIs', list(client.postLogoutRedirectUris)],
    ['CORS origins', list(client.corsOrigins)],
    ['grant types', list(client.grantTypes)],
    ['scopes', list(client.scopes)],
    ['resources', list(client.resources)],
    ['first party', yesNo(client.firstParty)],
    ['requires MFA', yesNo(client.requireMfa)],
    ['requests', [client.requirePushedRequests && 'pushed only (PAR)', client.requireSignedRequests && 'signed only (JAR)'].filter(Boolean).join(', ') || 'plain, pushed or signed'],
    ['token exchange', client.exchangeAudiences.length > 0 ? `to ${client.exchangeAudiences.join(', ')} (${client.exchangeAct ? 'act names the client' : 'impersonating'})` : 'none'],
    ['back-channel logout', client.backchannelLogoutUri ?? 'none'],
    ['logo / home page', list([client.logoUri, client.clientUri].filter((uri): uri is string => uri !== null))],
    ['created', client.createdAt.toISOString()],
    ['updated', client.updatedAt.toISOString()],
  ]);
}

/** Who made the client: an operator, or the client itself at the registration endpoint (with which initial access token). */
function originText(client: ClientRecord): string {
  if (client.origin === 'operator') return 'operator';
  return client.registrationTokenId ? `registered itself (initial access token ${client.registrationTokenId})` : 'registered itself (open registration)';
}

/** The one place a client secret is printed: right after creation or rotation. */
export function printCredentials(out: Output, heading: string, client: ClientRecord, secret: string | undefined): void {
  out.data({ client_id: client.clientId, ...(secret !== undefined && { client_secret: secret }), client: clientView(client) });
  out.line(heading);
  out.fields([['client_id', client.clientId], ...(secret !== undefined ? [['client_secret', secret] as const] : [])], '  ');
  if (secret !== undefined) out.note(secretNote(client.clientId));
  else if (client.authMethod === 'private_key_jwt') out.note('This client has no secret: it authenticates with JWTs signed by its own private key (private_key_jwt).');
  else out.note('This is a public client: it has no secret and must use PKCE.');
}

export function secretNote(clientId: string): string {
  return `The client secret is shown only this once and cannot be shown again: store it now. If it is lost, run \`portcullis clients rotate-secret ${clientId}\`.`;
}
