import { startCluster, type Cluster } from './cluster.ts';
import { signIn, type Credentials } from './oauth.ts';

// The cluster the fault tests put a steady mix on (load.ts): a person, a web app with
// refresh tokens, a service with client credentials for an opaque-token API, and that API's
// resource server, plus `chains` refresh tokens, each from its own sign-in.

const REDIRECT = 'http://localhost:8080/callback';
const USER = { email: 'mix@example.com', password: 'mix has a long password' };

export interface MixCluster {
  readonly cluster: Cluster;
  readonly api: string;
  readonly web: Credentials;
  readonly service: Credentials;
  readonly introspector: Credentials;
  readonly chains: string[];
}

/** `name` keeps the ids of one test's clients apart from another's in logs. */
export async function startMixCluster(name: string, chainCount: number): Promise<MixCluster> {
  const api = `https://api.${name}.example`;
  const cluster = await startCluster({
    declare: {
      users: [{ email: USER.email, name: 'Mix', password: USER.password }],
      resources: [{ indicator: api, name: 'Cluster API', scopes: [{ name: 'read' }], accessTokenFormat: 'opaque' }],
      clients: [
        { clientId: `${name}-web`, type: 'web', name: 'Web', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access'] },
        { clientId: `${name}-batch`, type: 'service', name: 'Batch', resources: [api], scopes: ['read'] },
        { clientId: `${name}-rs`, type: 'resource-server', name: 'API server', resources: [api] },
      ],
    },
  });
  const credentials = (id: string) => ({ id, secret: cluster.declared.clientSecret(id) });
  const web = credentials(`${name}-web`);
  const chains: string[] = [];
  for (let i = 0; i < chainCount; i++) chains.push((await signIn(cluster, { client: web, redirectUri: REDIRECT, ...USER })).tokens.refresh_token as string);
  return { cluster, api, web, service: credentials(`${name}-batch`), introspector: credentials(`${name}-rs`), chains };
}
