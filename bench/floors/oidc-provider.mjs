import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { createServer } from 'node:http';
import { URLSearchParams } from 'node:url';

import { hash, verify } from '@node-rs/argon2';
import Provider, { errors } from 'oidc-provider';
import MemoryAdapter from 'oidc-provider/lib/adapters/memory_adapter.js';
import LRU from 'oidc-provider/lib/helpers/lru.js';

// Floor: the bare engine Portcullis wraps (the installed oidc-provider 9), with its own
// in-memory adapter, configured like Portcullis for the same work: ES256 JWT and opaque
// access tokens through resource indicators, client credentials, introspection by a
// resource server, PKCE, refresh tokens with rotation, RS256 ID tokens, and minimal
// login (argon2id at OWASP's parameters, as Portcullis) and consent pages.
// Plain JavaScript, run without a loader, so it carries nothing but the engine.
//
// Usage: BENCH_FLOOR='{"port":..,"issuer":"..","setup":{..}}' node bench/floors/oidc-provider.mjs
// (setup: the kit's BenchSetup, bench/lib/target.ts). POST /bench/grants?count=N adds N
// live grants (the memory scenario).

const { port, issuer, setup } = JSON.parse(process.env.BENCH_FLOOR ?? '{}');
const OWASP_ARGON2ID = { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 };
const OIDC_SCOPES = ['openid', 'email', 'profile', 'offline_access'];

// The engine's memory adapter keeps 1,000 entries by default and forgets the oldest; here
// its store is sized so that no live token or grant is forgotten (Portcullis forgets none).
const store = new LRU({ maxSize: 10_000_000 });

// One hash per distinct password, made one at a time (argon2 takes 19 MiB per hash).
const hashes = new Map();
for (const { password } of setup.users) if (!hashes.has(password)) hashes.set(password, await hash(password, OWASP_ARGON2ID));
const users = new Map(setup.users.map((user, index) => [user.email, { id: `user-${index}`, email: user.email, hash: hashes.get(user.password) }]));
const accounts = new Map([...users.values()].map((user) => [user.id, user]));

const key = (alg) => {
  const { privateKey } = alg === 'RS256' ? generateKeyPairSync('rsa', { modulusLength: 2048 }) : generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), alg, use: 'sig', kid: randomBytes(8).toString('hex') };
};

const resources = {
  [setup.resources.jwt]: { scope: setup.scope, audience: setup.resources.jwt, accessTokenTTL: 3600, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'ES256' } } },
  [setup.resources.opaque]: { scope: setup.scope, audience: setup.resources.opaque, accessTokenTTL: 3600, accessTokenFormat: 'opaque' },
};
const clientResources = {
  [setup.service.id]: [setup.resources.jwt, setup.resources.opaque],
  [setup.resourceServer.id]: [setup.resources.jwt, setup.resources.opaque],
  [setup.web.id]: [setup.resources.jwt],
};

const provider = new Provider(issuer, {
  adapter: (model) => new MemoryAdapter(model, store),
  clients: [
    { client_id: setup.service.id, client_secret: setup.service.secret, grant_types: ['client_credentials'], response_types: [], redirect_uris: [] },
    { client_id: setup.resourceServer.id, client_secret: setup.resourceServer.secret, grant_types: [], response_types: [], redirect_uris: [] },
    {
      client_id: setup.web.id,
      client_secret: setup.web.secret,
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      redirect_uris: [setup.web.redirectUri],
      scope: 'openid offline_access',
    },
  ],
  jwks: { keys: [key('RS256'), key('ES256')] },
  cookies: {
    keys: [randomBytes(32).toString('base64url')],
    long: { signed: true, httpOnly: true, sameSite: 'lax' },
    short: { signed: true, httpOnly: true, sameSite: 'lax' },
  },
  async findAccount(_ctx, sub) {
    const account = accounts.get(sub);
    return account && { accountId: account.id, claims: () => ({ sub: account.id, email: account.email, email_verified: true }) };
  },
  claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
  scopes: OIDC_SCOPES,
  responseTypes: ['code'],
  pkce: { required: () => true },
  rotateRefreshToken: true,
  clientDefaults: {
    grant_types: ['authorization_code'],
    response_types: ['code'],
    id_token_signed_response_alg: 'RS256',
    token_endpoint_auth_method: 'client_secret_basic',
  },
  clientAuthMethods: ['client_secret_basic', 'none'],
  interactions: { url: (_ctx, interaction) => `/interaction/${interaction.uid}` },
  features: {
    devInteractions: { enabled: false },
    clientCredentials: { enabled: true },
    introspection: {
      enabled: true,
      allowedPolicy: (_ctx, client, token) =>
        token.clientId === client.clientId || [token.aud].flat().some((aud) => clientResources[client.clientId]?.includes(aud)),
    },
    revocation: { enabled: true, allowedPolicy: (_ctx, client, token) => token.clientId === client.clientId },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: (_ctx, _client, oneOf) => oneOf ?? undefined,
      useGrantedResource: () => true,
      getResourceServerInfo(_ctx, indicator, client) {
        if (!clientResources[client.clientId]?.includes(indicator) || !resources[indicator]) throw new errors.InvalidTarget();
        return resources[indicator];
      },
    },
  },
  ttl: {
    AccessToken: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
    ClientCredentials: (_ctx, token) => token.resourceServer?.accessTokenTTL ?? 600,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 3600,
    RefreshToken: 14 * 24 * 3600,
    Session: 14 * 24 * 3600,
    Grant: 365 * 24 * 3600,
  },
});

// ---- the pages: as little as a login and a consent need --------------------------------

const page = (res, status, html) => {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8' });
  res.end(`<!doctype html><html><body>${html}</body></html>`);
};

async function readForm(req) {
  let body = '';
  for await (const chunk of req) body += chunk;
  return new URLSearchParams(body);
}

async function grantMissing(details) {
  const { prompt, params, session, grantId } = details;
  const grant = grantId ? await provider.Grant.find(grantId) : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
  if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
  if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
  for (const [indicator, scopes] of Object.entries(prompt.details.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
  return grant.save();
}

async function interaction(req, res, path) {
  const details = await provider.interactionDetails(req, res);
  const action = `/interaction/${details.uid}`;
  if (req.method === 'GET') {
    if (details.prompt.name === 'login') {
      page(res, 200, `<form method="post" action="${action}/login"><input name="email"><input name="password" type="password"><button>Sign in</button></form>`);
    } else {
      page(res, 200, `<form method="post" action="${action}/confirm"><button>Allow</button></form>`);
    }
    return;
  }
  const fields = await readForm(req);
  if (path.endsWith('/login')) {
    const user = users.get(fields.get('email') ?? '');
    const ok = user ? await verify(user.hash, fields.get('password') ?? '') : false;
    if (!ok) return page(res, 401, 'Email or password is incorrect.');
    return provider.interactionFinished(req, res, { login: { accountId: user.id } }, { mergeWithLastSubmission: false });
  }
  const grantId = await grantMissing(details);
  return provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
}

/** Live grants like the logins' ones, without the logins (the memory scenario). */
async function addGrants(count) {
  const [user] = accounts.values();
  for (let i = 0; i < count; i++) {
    const grant = new provider.Grant({ accountId: user.id, clientId: setup.web.id });
    grant.addOIDCScope('openid offline_access');
    grant.addResourceScope(setup.resources.jwt, setup.scope);
    await grant.save();
  }
}

const engine = provider.callback();
const server = createServer((req, res) => {
  const path = req.url.split('?')[0];
  const handle = path.startsWith('/interaction/')
    ? interaction(req, res, path)
    : path === '/bench/grants' && req.method === 'POST'
      ? addGrants(Number(new URL(req.url, issuer).searchParams.get('count'))).then(() => page(res, 200, 'ok'))
      : engine(req, res);
  Promise.resolve(handle).catch((error) => {
    console.error(error);
    if (!res.headersSent) page(res, 500, 'error');
  });
});
server.keepAliveTimeout = 65_000;
server.listen(port, '127.0.0.1', () => console.log(`listening ${port}`));
