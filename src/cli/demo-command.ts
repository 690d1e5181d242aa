import { createHash, randomBytes } from 'node:crypto';

import type { Command } from 'commander';

import { applyPlan, planDeclaration, type AppliedItem } from './apply-declaration.ts';
import type { Runner } from './command-context.ts';
import { importFileSchema } from './read-import-file.ts';

// `portcullis demo` sets up something to log in to, idempotently, through the same path
// as `portcullis import`. A demo user, client or resource server that already exists is
// brought back to the demo's settings but keeps its password or secret: those are shown
// only when created, and never again (the CLI cannot show a stored secret). Lost ones are
// replaced with `users set-password` and `clients rotate-secret`.

const ISSUER_ROUTES = { authorization: '/auth', token: '/token' }; // oidc-provider's default routes
const API = 'https://api.example.com';
const USER_EMAIL = 'demo@example.com';
const WEB_CLIENT = 'demo-web';
const SERVICE_CLIENT = 'demo-service';
const REDIRECT_URI = 'http://localhost:8080/callback';
const PASSWORD_VARIABLE = 'DEMO_PASSWORD';
const LOGIN_SCOPE = 'openid email profile offline_access';

const demo = importFileSchema.parse({
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
      redirectUris: [REDIRECT_URI],
      postLogoutRedirectUris: ['http://localhost:8080/'],
      scopes: ['openid', 'email', 'profile', 'offline_access', 'read', 'write'],
      resources: [API],
    },
    { clientId: SERVICE_CLIENT, type: 'service', name: 'Demo service', scopes: ['read', 'write'], resources: [API] },
  ],
  users: [{ email: USER_EMAIL, name: 'Demo User', emailVerified: true, passwordEnv: PASSWORD_VARIABLE }],
});

const random = (bytes: number) => randomBytes(bytes).toString('base64url');

export function addDemoCommand(program: Command, run: Runner): void {
  program
    .command('demo')
    .description('set up a demo user, resource server and clients, and print a ready authorization URL')
    .action((_options: unknown, command: Command) =>
      run(command, async ({ config, services, out }) => {
        const password = random(12);
        const plan = await planDeclaration(
          { services, env: { [PASSWORD_VARIABLE]: password } },
          demo,
        );
        const items = await applyPlan(plan);
        const find = (kind: AppliedItem['kind'], id: string) => items.find((item) => item.kind === kind && item.id === id);
        const userCreated = find('user', USER_EMAIL)?.status === 'created';
        const webSecret = find('client', WEB_CLIENT)?.clientSecret;
        const serviceSecret = find('client', SERVICE_CLIENT)?.clientSecret;

        const verifier = random(32);
        const challenge = createHash('sha256').update(verifier).digest('base64url');
        const state = random(16);
        const url = new URL(`${config.issuer}${ISSUER_ROUTES.authorization}`);
        url.search = new URLSearchParams({
          client_id: WEB_CLIENT,
          response_type: 'code',
          redirect_uri: REDIRECT_URI,
          scope: LOGIN_SCOPE,
          state,
          code_challenge: challenge,
          code_challenge_method: 'S256',
          prompt: 'consent',
        }).toString();
        const tokenEndpoint = `${config.issuer}${ISSUER_ROUTES.token}`;

        out.data({
          issuer: config.issuer,
          user: { email: USER_EMAIL, created: userCreated, ...(userCreated && { password }) },
          resource: { indicator: API, scopes: ['read', 'write'] },
          clients: {
            web: { client_id: WEB_CLIENT, ...(webSecret && { client_secret: webSecret }), redirect_uri: REDIRECT_URI },
            service: { client_id: SERVICE_CLIENT, ...(serviceSecret && { client_secret: serviceSecret }) },
          },
          authorization: { url: url.toString(), state, code_verifier: verifier, code_challenge: challenge },
          items: items.map(({ kind, id, status }) => ({ kind, id, status })),
        });

        const kept = '(exists; not shown again)';
        out.line(`Demo set up for the issuer ${config.issuer}`);
        out.line();
        out.line('Demo user');
        out.fields([['email', USER_EMAIL], ['password', userCreated ? password : kept]], '  ');
        out.line();
        out.line('Resource server');
        out.fields([['indicator', API], ['scopes', 'read, write']], '  ');
        out.line();
        out.line('Web client (authorization code with PKCE)');
        out.fields([['client_id', WEB_CLIENT], ['client_secret', webSecret ?? kept], ['redirect_uri', REDIRECT_URI]], '  ');
        out.line();
        out.line('Service client (client credentials)');
        out.fields([['client_id', SERVICE_CLIENT], ['client_secret', serviceSecret ?? kept]], '  ');
        out.line();
        out.line('Log in: with the server running (npm start), open');
        out.line(`  ${url.toString()}`);
        out.fields([['state', state], ['code_verifier', verifier]], '  ');
        out.line();
        out.line('Then exchange the code that arrives at the redirect URI:');
        out.line(`  curl -u '${WEB_CLIENT}:<client_secret>' -d grant_type=authorization_code -d code=<code> \\`);
        out.line(`    --data-urlencode redirect_uri=${REDIRECT_URI} -d code_verifier=${verifier} ${tokenEndpoint}`);
        out.line('A token for the API, as the service:');
        out.line(`  curl -u '${SERVICE_CLIENT}:<client_secret>' -d grant_type=client_credentials -d resource=${API} -d 'scope=read write' ${tokenEndpoint}`);
        out.line();
        const shown = userCreated || webSecret !== undefined || serviceSecret !== undefined;
        out.note(
          (shown
            ? 'The password and secrets above are shown only this once and cannot be shown again: store them now. Running demo again keeps them. '
            : 'The existing password and secrets are kept and cannot be shown again. ') +
            `\`portcullis users set-password ${USER_EMAIL}\` and \`portcullis clients rotate-secret <client_id>\` replace lost ones.`,
        );
      }),
    );
}
