import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';

import { createRemoteJWKSet, decodeJwt, jwtVerify } from 'jose';
import * as oauth from 'oauth4webapi';
import * as oidc from 'openid-client';

import { authorizationRequest, runBrowser } from '../helpers/browserless-login.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

// The README's "For MCP servers and clients" walk, end to end: an MCP server of the test's
// own (another host, as MCP servers are) answers 401 pointing at its RFC 9728 metadata,
// which names Portcullis; the client reads Portcullis' RFC 8414 metadata, gets itself a
// client (by its Client ID Metadata Document, or by dynamic registration), runs the
// authorization code with PKCE and the resource indicator as a person signs in, and calls
// the MCP server, which checks the JWT access token against Portcullis' keys. Real HTTP,
// openid-client and oauth4webapi on the client's side, jose on the server's.

const REDIRECT = 'http://127.0.0.1:8719/callback';
const PASSWORD = 'a long enough password for the agent walk';
const person = { email: 'mcp-user@example.com', name: 'MCP User', password: PASSWORD };
const insecure = { execute: [oidc.allowInsecureRequests] };
const insecureOauth = { [oauth.allowInsecureRequests]: true };
const TOOLS_SCOPE = 'tools:call';
const OTHER_RESOURCE = 'https://other.example.com/api';
const OTHER_SCOPE = 'other:read';

interface Listening {
  readonly server: Server;
  readonly origin: string;
}

async function listen(server: Server): Promise<Listening> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function close({ server }: Listening): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * An MCP server as its specification has it: a protected resource that publishes RFC 9728
 * metadata naming its authorization server, answers 401 with `resource_metadata`, and
 * takes only JWT access tokens that Portcullis issued for it, with the scope it needs.
 */
async function startMcpServer(issuer: () => string): Promise<Listening & { resource: string; calls: string[] }> {
  const calls: string[] = [];
  let origin = '';
  const resource = () => `${origin}/mcp`;
  const metadataUrl = () => `${origin}/.well-known/oauth-protected-resource/mcp`;
  let jwks: ReturnType<typeof createRemoteJWKSet> | undefined;
  const server = createServer((request, response) => {
    void (async () => {
      if (request.url === '/.well-known/oauth-protected-resource/mcp') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(JSON.stringify({ resource: resource(), authorization_servers: [issuer()], scopes_supported: [TOOLS_SCOPE], bearer_methods_supported: ['header'] }));
        return;
      }
      const challenge = `Bearer resource_metadata="${metadataUrl()}", scope="${TOOLS_SCOPE}"`;
      const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (request.url !== '/mcp' || token === undefined) {
        response.writeHead(401, { 'www-authenticate': challenge }).end();
        return;
      }
      try {
        jwks ??= createRemoteJWKSet(new URL(`${issuer()}/jwks`));
        const { payload } = await jwtVerify(token, jwks, { issuer: issuer(), audience: resource(), typ: 'at+jwt' });
        if (typeof payload.scope !== 'string' || !payload.scope.split(' ').includes(TOOLS_SCOPE)) throw new Error('scope');
        calls.push(String(payload.client_id));
        response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ tools: ['echo'], sub: payload.sub }));
      } catch {
        response.writeHead(401, { 'www-authenticate': `${challenge}, error="invalid_token"` }).end();
      }
    })();
  });
  const listening = await listen(server);
  origin = listening.origin;
  return { ...listening, resource: resource(), calls };
}

describe('an MCP client that knows only the MCP server’s URL', () => {
  let portcullis: TestServer;
  let mcp: Awaited<ReturnType<typeof startMcpServer>>;
  let documents: Listening;
  let clientDocument: Record<string, unknown>;

  before(async () => {
    mcp = await startMcpServer(() => portcullis.issuer);
    // The client's own host, serving its metadata document (loopback: hence the
    // development setting that lets documents come from private addresses).
    documents = await listen(
      createServer((request, response) => {
        if (request.url !== '/agent.json') return void response.writeHead(404).end();
        response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'max-age=300' }).end(JSON.stringify(clientDocument));
      }),
    );
    clientDocument = {
      client_id: `${documents.origin}/agent.json`,
      client_name: 'Walkthrough Agent',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'none',
      scope: `${TOOLS_SCOPE} ${OTHER_SCOPE}`,
    };
    portcullis = await startTestServer(
      {
        LOG_LEVEL: 'warn',
        CLIENT_ID_METADATA_DOCUMENTS: 'on',
        CLIENT_ID_METADATA_ALLOW_PRIVATE_HOSTS: 'true',
        // The README's settings as written (the redirect host is the README's; loopback
        // redirect URIs, which native agents use, are always allowed); one more resource
        // server, for the audience test at the end.
        CLIENT_REGISTRATION: 'open',
        CLIENT_REGISTRATION_AUTH_METHODS: 'none',
        CLIENT_REGISTRATION_REDIRECT_HOSTS: 'agent.example.com',
        CLIENT_REGISTRATION_SCOPES: `openid,${TOOLS_SCOPE},${OTHER_SCOPE}`,
        CLIENT_REGISTRATION_RESOURCES: `${mcp.resource},${OTHER_RESOURCE}`,
      },
      {
        declare: {
          // The operator registers the MCP server as a resource server, once.
          resources: [
            { indicator: mcp.resource, name: 'MCP tools', scopes: [{ name: TOOLS_SCOPE, description: 'Use your tools' }], accessTokenFormat: 'jwt' },
            { indicator: OTHER_RESOURCE, name: 'Other API', scopes: [{ name: OTHER_SCOPE, description: 'Read the other API' }], accessTokenFormat: 'jwt' },
          ],
          users: [person],
        },
      },
    );
  });

  after(async () => {
    await portcullis?.close();
    if (mcp) await close(mcp);
    if (documents) await close(documents);
  });

  /** Steps 1-3: from the MCP server's 401 to the authorization server's metadata. */
  async function discover(clientId: string): Promise<{ config: oidc.Configuration; resource: string }> {
    const refused = await fetch(mcp.resource);
    assert.equal(refused.status, 401);
    const metadataUrl = /resource_metadata="([^"]+)"/.exec(refused.headers.get('www-authenticate') ?? '')?.[1];
    assert.ok(metadataUrl, 'the 401 names the resource metadata');

    const resourceResponse = await oauth.resourceDiscoveryRequest(new URL(mcp.resource), insecureOauth);
    assert.equal(resourceResponse.url, metadataUrl);
    const resourceMetadata = await oauth.processResourceDiscoveryResponse(new URL(mcp.resource), resourceResponse);
    const [authorizationServer] = resourceMetadata.authorization_servers ?? [];
    assert.equal(authorizationServer, portcullis.issuer);

    // RFC 8414 metadata, as MCP clients ask for it (not the OpenID document).
    const config = await oidc.discovery(new URL(authorizationServer), clientId, undefined, oidc.None(), { ...insecure, algorithm: 'oauth2' });
    const metadata = config.serverMetadata();
    assert.equal(metadata.issuer, portcullis.issuer);
    assert.ok(metadata.code_challenge_methods_supported?.includes('S256'));
    return { config, resource: resourceMetadata.resource };
  }

  /** Steps 5-6: a person signs in, the code becomes a token for the MCP server, the call succeeds. */
  async function authorizeAndCall(config: oidc.Configuration, clientId: string, resource: string): Promise<void> {
    const request = authorizationRequest(portcullis.issuer, { client_id: clientId, redirect_uri: REDIRECT, scope: TOOLS_SCOPE, resource });
    const signedIn = await runBrowser(request.url, { email: person.email, password: PASSWORD });
    assert.ok(signedIn.pages.includes('consent'), 'an agent is a third party: the person is asked');
    const tokens = await oidc.authorizationCodeGrant(config, signedIn.url, { pkceCodeVerifier: request.verifier, expectedState: request.state }, { resource });
    assert.equal(tokens.scope, TOOLS_SCOPE);

    const called = await fetch(mcp.resource, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(called.status, 200, await called.clone().text());
    assert.deepEqual(await called.json(), { tools: ['echo'], sub: portcullis.declared.accountId(person.email) });
    assert.equal(mcp.calls.at(-1), clientId);
  }

  test('with its Client ID Metadata Document: no registration at all', async () => {
    const clientId = String(clientDocument.client_id);
    const { config, resource } = await discover(clientId);
    assert.equal(config.serverMetadata().client_id_metadata_document_supported, true);
    await authorizeAndCall(config, clientId, resource);
    // Nothing was written to the registry: the document is the client.
    assert.equal(await portcullis.services.clients.find(clientId), undefined);
  });

  test('with dynamic client registration (RFC 7591), open within the policy', async () => {
    const { config: unregistered, resource } = await discover('not-yet-registered');
    const endpoint = unregistered.serverMetadata().registration_endpoint;
    assert.equal(endpoint, `${portcullis.issuer}/reg`);
    const registered = await oidc.dynamicClientRegistration(
      new URL(portcullis.issuer),
      { client_name: 'Registered Agent', redirect_uris: [REDIRECT], grant_types: ['authorization_code'], token_endpoint_auth_method: 'none', scope: TOOLS_SCOPE },
      oidc.None(),
      { ...insecure, algorithm: 'oauth2' },
    );
    const clientId = registered.clientMetadata().client_id;
    assert.equal((await portcullis.services.clients.get(clientId)).origin, 'registration');
    await authorizeAndCall(registered, clientId, resource);
  });

  test('a JWT Portcullis issued for another resource is refused by the MCP server', async () => {
    // The audience is what keeps a token for one API from being replayed at another.
    const clientId = String(clientDocument.client_id);
    const { config } = await discover(clientId);
    const request = authorizationRequest(portcullis.issuer, { client_id: clientId, redirect_uri: REDIRECT, scope: OTHER_SCOPE, resource: OTHER_RESOURCE });
    const signedIn = await runBrowser(request.url, { email: person.email, password: PASSWORD });
    const tokens = await oidc.authorizationCodeGrant(config, signedIn.url, { pkceCodeVerifier: request.verifier, expectedState: request.state }, { resource: OTHER_RESOURCE });
    // A JWT of the same issuer and keys, for another audience: only the audience tells them apart.
    assert.equal(decodeJwt(tokens.access_token).aud, OTHER_RESOURCE);
    const called = await fetch(mcp.resource, { headers: { authorization: `Bearer ${tokens.access_token}` } });
    assert.equal(called.status, 401);
    assert.match(called.headers.get('www-authenticate') ?? '', /error="invalid_token"/);
  });
});
