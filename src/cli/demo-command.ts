import { createHash, randomBytes } from 'node:crypto';

import { InvalidArgumentError, type Command } from 'commander';

import { applyPlan, planDeclaration, type AppliedItem } from './apply-declaration.ts';
import type { CommandContext, Runner } from './command-context.ts';
import { listenForCallback } from './demo-callback.ts';
import { clientCredentials, DemoStepError, discover, exchangeCode, verifyIdToken, type Endpoints, type TokenResponse } from './demo-tokens.ts';
import { createOutput, type Output } from './output.ts';
import { importFileSchema } from './read-import-file.ts';

// `portcullis demo` sets up something to log in to, idempotently, through the same path
// as `portcullis import`, and (at a terminal, or with --serve) takes the first sign-in to
// its end: it serves the redirect URI it registers on localhost, exchanges the code with
// PKCE at the running server, checks the ID token, fetches a token for the demo API, and
// prints what it got with curl commands that work as printed. Secrets go to this terminal
// only; the browser is told to look here.
//
// A demo user or client that already exists keeps its password or secret (the CLI cannot
// show a stored one), except when serving: the demo then needs them, so it sets a new
// password for the demo user and new secrets for the two demo clients (they are the
// demo's own), and says so.

const ISSUER_ROUTES = { authorization: '/auth', token: '/token' }; // oidc-provider's default routes
const API = 'https://api.example.com';
const USER_EMAIL = 'demo@example.com';
const WEB_CLIENT = 'demo-web';
const SERVICE_CLIENT = 'demo-service';
const DEFAULT_CALLBACK_PORT = 8080;
const PASSWORD_VARIABLE = 'DEMO_PASSWORD';
const LOGIN_SCOPE = 'openid email profile offline_access';
const API_SCOPE = 'read write';

function declaration(port: number) {
  return importFileSchema.parse({
    resources: [
      {
        indicator: API,
        name: 'Demo API',
        scopes: [
          { name: 'read', description: 'Read your demo data' },
          { name: 'write', description: 'Change your demo data' },
        ],
      },
    ],
    clients: [
      {
        clientId: WEB_CLIENT,
        type: 'web',
        name: 'Demo web app',
        redirectUris: [redirectUriOf(port)],
        postLogoutRedirectUris: [`http://localhost:${port}/`],
        scopes: ['openid', 'email', 'profile', 'offline_access', 'read', 'write'],
        resources: [API],
      },
      { clientId: SERVICE_CLIENT, type: 'service', name: 'Demo service', scopes: ['read', 'write'], resources: [API] },
    ],
    users: [{ email: USER_EMAIL, name: 'Demo User', emailVerified: true, passwordEnv: PASSWORD_VARIABLE }],
  });
}

const redirectUriOf = (port: number) => `http://localhost:${port}/callback`;
const random = (bytes: number) => randomBytes(bytes).toString('base64url');

interface DemoFlags {
  serve?: boolean;
  callbackPort: number;
}

/** What the set-up hands to the serving part, once the database is closed again. */
interface Prepared {
  readonly issuer: string;
  /** The running server's endpoints, when serving. */
  readonly endpoints: Endpoints | undefined;
  readonly redirectUri: string;
  readonly authorizationUrl: URL;
  readonly state: string;
  readonly verifier: string;
  readonly webSecret: string | undefined;
  readonly serviceSecret: string | undefined;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!/^\d{1,5}$/.test(value) || port < 1 || port > 65_535) throw new InvalidArgumentError('expected a port number from 1 to 65535');
  return port;
}

export function addDemoCommand(program: Command, run: Runner): void {
  program
    .command('demo')
    .description('set up a demo user, API and clients; at a terminal (or with --serve) also serve the redirect URI and print the tokens a sign-in gets')
    .option('--serve', 'serve the redirect URI and exchange the code, even when not at a terminal')
    .option('--no-serve', 'only set up, and print the authorization URL')
    .option('--callback-port <port>', 'port of the demo redirect URI http://localhost:PORT/callback', parsePort, DEFAULT_CALLBACK_PORT)
    .action(async (options: DemoFlags, command: Command) => {
      const json = command.optsWithGlobals<{ json?: boolean }>().json === true;
      const serve = options.serve ?? (!json && process.stdin.isTTY && process.stdout.isTTY);
      let prepared: Prepared | undefined;
      // The database is needed only to set up: it is closed again before waiting for the browser.
      await run(command, async (context) => {
        prepared = await setUp(context, options.callbackPort, serve);
      });
      if (serve && prepared) await serveSignIn(prepared, createOutput({ json }));
    });
}

async function setUp({ config, services, out }: CommandContext, port: number, serve: boolean): Promise<Prepared> {
  // Serving needs the running server: ask it first, so nothing is renewed for a sign-in that cannot happen.
  const endpoints = serve ? await discover(config.issuer) : undefined;
  const password = random(12);
  const plan = await planDeclaration({ services, env: { [PASSWORD_VARIABLE]: password } }, declaration(port));
  const items = await applyPlan(plan);
  const find = (kind: AppliedItem['kind'], id: string) => items.find((item) => item.kind === kind && item.id === id);
  const userCreated = find('user', USER_EMAIL)?.status === 'created';
  let webSecret = find('client', WEB_CLIENT)?.clientSecret;
  let serviceSecret = find('client', SERVICE_CLIENT)?.clientSecret;
  // Serving needs what is stored only as hashes: renew the demo's own password and secrets.
  const renewed = serve && (!userCreated || webSecret === undefined || serviceSecret === undefined);
  if (serve) {
    if (!userCreated) await services.accounts.setPassword(USER_EMAIL, password);
    webSecret ??= (await services.clients.rotateSecret(WEB_CLIENT)).clientSecret;
    serviceSecret ??= (await services.clients.rotateSecret(SERVICE_CLIENT)).clientSecret;
  }
  const passwordShown = userCreated || serve;

  const redirectUri = redirectUriOf(port);
  const verifier = random(32);
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = random(16);
  const url = new URL(`${config.issuer}${ISSUER_ROUTES.authorization}`);
  url.search = new URLSearchParams({
    client_id: WEB_CLIENT,
    response_type: 'code',
    redirect_uri: redirectUri,
    scope: LOGIN_SCOPE,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
    prompt: 'consent',
  }).toString();
  const tokenEndpoint = `${config.issuer}${ISSUER_ROUTES.token}`;

  out.data({
    issuer: config.issuer,
    user: { email: USER_EMAIL, created: userCreated, ...(passwordShown && { password }) },
    resource: { indicator: API, scopes: ['read', 'write'] },
    clients: {
      web: { client_id: WEB_CLIENT, ...(webSecret && { client_secret: webSecret }), redirect_uri: redirectUri },
      service: { client_id: SERVICE_CLIENT, ...(serviceSecret && { client_secret: serviceSecret }) },
    },
    authorization: { url: url.toString(), state, code_verifier: verifier, code_challenge: challenge },
    items: items.map(({ kind, id, status }) => ({ kind, id, status })),
  });

  const kept = '(exists; not shown again)';
  out.line(`Demo set up for the issuer ${config.issuer}`);
  out.line();
  out.line('Demo user');
  out.fields([['email', USER_EMAIL], ['password', passwordShown ? password : kept]], '  ');
  out.line();
  out.line('Resource server');
  out.fields([['indicator', API], ['scopes', 'read, write']], '  ');
  out.line();
  out.line('Web client (authorization code with PKCE)');
  out.fields([['client_id', WEB_CLIENT], ['client_secret', webSecret ?? kept], ['redirect_uri', redirectUri]], '  ');
  out.line();
  out.line('Service client (client credentials)');
  out.fields([['client_id', SERVICE_CLIENT], ['client_secret', serviceSecret ?? kept]], '  ');
  out.line();
  if (renewed) out.note('To finish the sign-in here, the demo set a new password for the demo user and new secrets for its two clients; the old ones no longer work.');
  if (serve) {
    out.line(`Sign in: open this URL in a browser and sign in as ${USER_EMAIL} with the password above`);
    out.line(`  ${url.toString()}`);
  } else {
    out.line(`Sign in: with the server running (npm start), open this URL; the browser then goes to ${redirectUri}`);
    out.line(`  ${url.toString()}`);
    out.fields([['state', state], ['code_verifier', verifier]], '  ');
    out.line();
    out.line(`Nothing listens at ${redirectUri} unless you run \`portcullis demo --serve\` (the default at a terminal), which serves it and exchanges the code. Or exchange the code that arrives there yourself:`);
    out.line(`  curl -u '${WEB_CLIENT}:${webSecret ?? '<the demo-web client_secret>'}' -d grant_type=authorization_code -d code=<the code parameter> \\`);
    out.line(`    --data-urlencode redirect_uri=${redirectUri} -d code_verifier=${verifier} ${tokenEndpoint}`);
    out.line('A token for the API, as the service:');
    out.line(`  curl -u '${SERVICE_CLIENT}:${serviceSecret ?? '<the demo-service client_secret>'}' -d grant_type=client_credentials -d resource=${API} -d 'scope=${API_SCOPE}' ${tokenEndpoint}`);
    out.line();
    const shown = userCreated || webSecret !== undefined || serviceSecret !== undefined;
    out.note(
      (shown
        ? 'The password and secrets above are shown only this once and cannot be shown again: store them now. Running demo again keeps them. '
        : 'The existing password and secrets are kept and cannot be shown again. ') +
        `\`portcullis users set-password ${USER_EMAIL}\` and \`portcullis clients rotate-secret <client_id>\` replace lost ones; \`portcullis demo --serve\` renews all three.`,
    );
  }
  return { issuer: config.issuer, endpoints, redirectUri, authorizationUrl: url, state, verifier, webSecret, serviceSecret };
}

/** Serves the callback, waits for the sign-in, exchanges the code, and prints the tokens. */
async function serveSignIn(prepared: Prepared, out: Output): Promise<void> {
  const { webSecret, serviceSecret, endpoints } = prepared;
  if (webSecret === undefined || serviceSecret === undefined || !endpoints) throw new DemoStepError('the demo clients have no secret to use');
  const listener = await listenForCallback(new URL(prepared.redirectUri), prepared.state).catch((error: unknown) => {
    throw new DemoStepError((error as Error).message);
  });
  const stop = () => void listener.close();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  let callback;
  try {
    out.line();
    // On stderr in JSON mode (a note), so stdout stays JSON.
    out.note(`Waiting for the sign-in to come back to ${prepared.redirectUri} (Ctrl-C to stop) ...`);
    callback = await listener.received.catch((error: unknown) => {
      throw new DemoStepError((error as Error).message);
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    await listener.close();
  }
  if ('error' in callback) throw new DemoStepError(`the sign-in ended with ${callback.error}${callback.description ? `: ${callback.description}` : ''}`);

  const web = { id: WEB_CLIENT, secret: webSecret };
  const tokens = await exchangeCode(endpoints, web, { code: callback.code, redirectUri: prepared.redirectUri, verifier: prepared.verifier });
  const claims = tokens.id_token ? await verifyIdToken(endpoints, tokens.id_token, WEB_CLIENT) : undefined;
  const api = await clientCredentials(endpoints, { id: SERVICE_CLIENT, secret: serviceSecret }, API, API_SCOPE);

  out.data({ tokens, idTokenClaims: claims, apiToken: api });
  out.line();
  const email = typeof claims?.email === 'string' ? claims.email : USER_EMAIL;
  out.line(`Signed in as ${email} (sub ${claims?.sub ?? '?'}); the ID token's signature, issuer and audience check out.`);
  out.line('Tokens from the code exchange (shown here only):');
  out.fields(tokenFields(tokens), '  ');
  out.line();
  out.line(`A token for the demo API (${API}), as ${SERVICE_CLIENT}:`);
  out.fields(tokenFields(api), '  ');
  out.line();
  out.line('Try them:');
  out.line(`  curl -H 'Authorization: Bearer ${tokens.access_token}' ${endpoints.userinfo}`);
  if (tokens.refresh_token) {
    out.line(`  curl -u '${WEB_CLIENT}:${webSecret}' -d grant_type=refresh_token -d refresh_token=${tokens.refresh_token} ${endpoints.token}`);
  }
  out.line(`  curl -u '${SERVICE_CLIENT}:${serviceSecret}' -d grant_type=client_credentials -d resource=${API} -d 'scope=${API_SCOPE}' ${endpoints.token}`);
  out.note('A refresh token is used once: the refresh answer carries the next one.');
}

function tokenFields(tokens: TokenResponse): [string, string][] {
  const fields: [string, string][] = [['access_token', tokens.access_token], ['token_type', tokens.token_type]];
  if (tokens.expires_in !== undefined) fields.push(['expires_in', `${tokens.expires_in} s`]);
  if (tokens.scope) fields.push(['scope', tokens.scope]);
  if (tokens.refresh_token) fields.push(['refresh_token', tokens.refresh_token]);
  if (tokens.id_token) fields.push(['id_token', tokens.id_token]);
  return fields;
}
