import { authorizationRequest, csrfToken, CookieJar } from '../../helpers/browserless-login.ts';
import { basicAuth } from '../../helpers/token-endpoint.ts';
import type { Cluster } from './cluster.ts';

// The OAuth calls of the cluster tests, through nginx, as raw HTTP (the tests look at
// exact statuses and bodies, and at which instance answered: `X-Upstream`).

export interface Credentials {
  readonly id: string;
  readonly secret: string;
}

export interface TokenReply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  /** host:port of the instance that answered (nginx's X-Upstream). */
  readonly upstream: string;
}

async function reply(response: Response): Promise<TokenReply> {
  const text = await response.text();
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { unparsed: text.slice(0, 200) };
  }
  return { status: response.status, body, upstream: response.headers.get('x-upstream') ?? '' };
}

export async function postForm(cluster: Cluster, path: string, client: Credentials, fields: Record<string, string>, instance?: number): Promise<TokenReply> {
  const response = await cluster.fetch(path, {
    method: 'POST',
    headers: { authorization: basicAuth(client.id, client.secret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(fields),
    ...(instance !== undefined && { instance }),
  });
  return reply(response);
}

export const clientCredentials = (cluster: Cluster, client: Credentials, resource: string, instance?: number) =>
  postForm(cluster, '/token', client, { grant_type: 'client_credentials', resource }, instance);

export const refresh = (cluster: Cluster, client: Credentials, refreshToken: string, instance?: number) =>
  postForm(cluster, '/token', client, { grant_type: 'refresh_token', refresh_token: refreshToken }, instance);

export const introspect = (cluster: Cluster, resourceServer: Credentials, token: string, instance?: number) =>
  postForm(cluster, '/token/introspection', resourceServer, { token }, instance);

export const revoke = (cluster: Cluster, client: Credentials, token: string, instance?: number) =>
  postForm(cluster, '/token/revocation', client, { token }, instance);

export interface SignIn {
  readonly tokens: Record<string, unknown>;
  /** The instance (host:port) that answered the password post and the consent post. */
  readonly loginUpstream: string;
  readonly consentUpstream: string;
}

/**
 * A person signs in to a web client with offline_access, as a browser would (cookies,
 * redirects, forms), every request through nginx. `loginOn` pins every request up to and
 * including the password post to one instance, `consentOn` every request after it (the
 * consent page and its post, the end of the authorization); undefined leaves it to the
 * round robin. The code is then exchanged through nginx.
 */
export async function signIn(
  cluster: Cluster,
  options: { client: Credentials; redirectUri: string; email: string; password: string; scope?: string; loginOn?: number; consentOn?: number },
): Promise<SignIn> {
  const jar = new CookieJar();
  const request = authorizationRequest(cluster.url, {
    client_id: options.client.id,
    redirect_uri: options.redirectUri,
    scope: options.scope ?? 'openid offline_access',
    prompt: 'consent',
  });
  let loggedIn = false;
  let loginUpstream = '';
  let consentUpstream = '';
  const send = async (url: URL, init: RequestInit = {}) => {
    const instance = loggedIn ? options.consentOn : options.loginOn;
    const response = await cluster.fetch(url.href, {
      ...init,
      redirect: 'manual',
      headers: { ...(init.headers as Record<string, string>), cookie: jar.header() },
      ...(instance !== undefined && { instance }),
    });
    jar.store(response);
    return response;
  };
  const post = (url: URL, fields: Record<string, string>) =>
    send(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(fields).toString() });

  let current = request.url;
  let response = await send(current);
  for (let step = 0; step < 20; step++) {
    if (response.status >= 300 && response.status < 400) {
      const next = new URL(response.headers.get('location') ?? '', current);
      await response.body?.cancel();
      if (next.origin !== new URL(cluster.url).origin) {
        const code = next.searchParams.get('code');
        if (!code) throw new Error(`the authorization ended without a code: ${next.href}`);
        const exchange = await postForm(cluster, '/token', options.client, {
          grant_type: 'authorization_code',
          code,
          redirect_uri: options.redirectUri,
          code_verifier: request.verifier,
        });
        if (exchange.status !== 200) throw new Error(`code exchange: ${exchange.status} ${JSON.stringify(exchange.body)}`);
        return { tokens: exchange.body, loginUpstream, consentUpstream };
      }
      current = next;
      response = await send(current);
      continue;
    }
    const html = await response.text();
    const login = /action="(\/interaction\/[^"]+\/login)"/.exec(html)?.[1];
    const confirm = /action="(\/interaction\/[^"]+\/confirm)"/.exec(html)?.[1];
    if (login && !loggedIn) {
      response = await post(new URL(login, current), { csrf: csrfToken(html), email: options.email, password: options.password });
      if (response.status !== 303 && response.status !== 302) throw new Error(`login refused: ${response.status}`);
      loginUpstream = response.headers.get('x-upstream') ?? '';
      loggedIn = true;
    } else if (confirm && loggedIn) {
      response = await post(new URL(confirm, current), { csrf: csrfToken(html) });
      consentUpstream = response.headers.get('x-upstream') ?? '';
    } else {
      throw new Error(`unexpected page ${response.status} at ${current.href}: ${html.slice(0, 300)}`);
    }
  }
  throw new Error('too many steps');
}
