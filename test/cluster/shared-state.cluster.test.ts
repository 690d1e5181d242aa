import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { openLoginForm, type LoginForm } from '../helpers/abuse.ts';
import { eventually } from '../helpers/eventually.ts';
import { startCluster, type Cluster } from './harness/cluster.ts';
import { clientCredentials, introspect, refresh, revoke, signIn, type Credentials } from './harness/oauth.ts';

// Two Portcullis processes, one Postgres, one Redis, behind nginx (test/cluster/harness):
// whatever one instance starts, issues or counts, the other continues, honours or counts
// on. Where a test must choose the instance it pins the request through nginx
// (`X-Cluster-Instance`), so the issuer, cookies and forwarded headers stay those of the
// deployment; `X-Upstream` shows which instance answered, and the tests assert it.

const API = 'https://api.cluster.example';
const REDIRECT = 'http://localhost:8080/callback';
const ANN = { email: 'ann@example.com', password: 'ann has a long password' };
const VICTIM = { email: 'victim@example.com', password: 'victim has a long password' };

let cluster: Cluster;
let web: Credentials;
let service: Credentials;
let introspector: Credentials;
let upstreams: string[];

before(async () => {
  cluster = await startCluster({
    env: {
      // One budget small enough to spend in a test: the account API's, per address.
      RATE_LIMIT_API: '10/1m',
      // Waits of at most 1 s between guesses, so the block comes within seconds.
      AUTH_THROTTLE_MAX_DELAY: '1',
      REFRESH_GRACE_SECONDS: '10',
    },
    declare: {
      users: [
        { email: ANN.email, name: 'Ann', password: ANN.password },
        { email: VICTIM.email, name: 'Victim', password: VICTIM.password },
      ],
      resources: [{ indicator: API, name: 'Cluster API', scopes: [{ name: 'read' }], accessTokenFormat: 'opaque' }],
      clients: [
        { clientId: 'cluster-web', type: 'web', name: 'Web', redirectUris: [REDIRECT], scopes: ['openid', 'offline_access'] },
        { clientId: 'cluster-batch', type: 'service', name: 'Batch', resources: [API], scopes: ['read'] },
        { clientId: 'cluster-rs', type: 'resource-server', name: 'API server', resources: [API] },
      ],
    },
  });
  const credentials = (id: string) => ({ id, secret: cluster.declared.clientSecret(id) });
  web = credentials('cluster-web');
  service = credentials('cluster-batch');
  introspector = credentials('cluster-rs');
  upstreams = cluster.instances.map((instance) => `127.0.0.1:${instance.port}`);
});

after(async () => {
  await cluster?.close();
});

const signInAnn = (loginOn?: number, consentOn?: number) =>
  signIn(cluster, { client: web, redirectUri: REDIRECT, ...ANN, ...(loginOn !== undefined && { loginOn }), ...(consentOn !== undefined && { consentOn }) });

describe('two instances behind nginx', () => {
  test('a person logs in through one instance and consents through the other, and gets tokens', async () => {
    const first = await signInAnn(0, 1);
    assert.equal(first.loginUpstream, upstreams[0]);
    assert.equal(first.consentUpstream, upstreams[1]);
    assert.equal(typeof first.tokens.access_token, 'string');
    assert.equal(typeof first.tokens.refresh_token, 'string');
    // And the other way round.
    const second = await signInAnn(1, 0);
    assert.equal(second.loginUpstream, upstreams[1]);
    assert.equal(second.consentUpstream, upstreams[0]);
    assert.equal((await refresh(cluster, web, second.tokens.refresh_token as string)).status, 200);
  });

  test('discovery and the JWKS are the same on both, and name nginx as the issuer', async () => {
    const read = async (path: string, instance: number) => {
      const response = await cluster.fetch(path, { instance });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('x-upstream'), upstreams[instance]);
      return (await response.json()) as Record<string, unknown>;
    };
    const [discovery0, discovery1] = [await read('/.well-known/openid-configuration', 0), await read('/.well-known/openid-configuration', 1)];
    assert.deepEqual(discovery0, discovery1);
    assert.equal(discovery0.issuer, cluster.url);
    assert.equal(discovery0.token_endpoint, `${cluster.url}/token`);
    const [jwks0, jwks1] = [await read('/jwks', 0), await read('/jwks', 1)];
    assert.deepEqual(jwks0, jwks1);
    assert.ok((jwks0.keys as unknown[]).length > 0);
  });

  test('a token issued by one instance introspects on the other, and revoked there is inactive on both', async () => {
    const issued = await clientCredentials(cluster, service, API, 0);
    assert.equal(issued.status, 200);
    assert.equal(issued.upstream, upstreams[0]);
    const token = issued.body.access_token as string;
    const seen = await introspect(cluster, introspector, token, 1);
    assert.equal(seen.upstream, upstreams[1]);
    assert.equal(seen.body.active, true);
    assert.equal(seen.body.client_id, service.id);

    const revoked = await revoke(cluster, service, token, 1);
    assert.equal(revoked.status, 200);
    for (const instance of [0, 1]) {
      await eventually(async () => (await introspect(cluster, introspector, token, instance)).body.active === false, `inactive on instance ${instance}`);
    }
  });

  test('a refresh token revoked on one instance no longer refreshes on the other', async () => {
    const { tokens } = await signInAnn();
    const refreshToken = tokens.refresh_token as string;
    assert.equal((await revoke(cluster, web, refreshToken, 0)).status, 200);
    const after = await refresh(cluster, web, refreshToken, 1);
    assert.equal(after.status, 400);
    assert.equal(after.body.error, 'invalid_grant');
  });

  test('100 parallel refreshes of one token split across both instances end with one live successor', async () => {
    const { tokens } = await signInAnn();
    const parent = tokens.refresh_token as string;
    const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => refresh(cluster, web, parent, i % 2)));
    const byStatus = new Map<number, number>();
    for (const reply of replies) byStatus.set(reply.status, (byStatus.get(reply.status) ?? 0) + 1);
    console.log(`refresh race: ${JSON.stringify(Object.fromEntries(byStatus))} (status: count)`);
    assert.deepEqual(new Set(replies.map((reply) => reply.upstream)), new Set(upstreams), 'both instances answered');
    const ok = replies.filter((reply) => reply.status === 200);
    assert.ok(ok.length >= 1, 'one refresh succeeded');
    // The others are the same client repeating the same request inside the grace window:
    // the protocol's answer is the first one's response again (one successor), or
    // invalid_grant, never a second successor and never a 5xx.
    for (const reply of replies) {
      if (reply.status !== 200) {
        assert.equal(reply.status, 400, JSON.stringify(reply));
        assert.equal(reply.body.error, 'invalid_grant');
      }
    }
    const successors = new Set(ok.map((reply) => reply.body.refresh_token as string));
    assert.equal(successors.size, 1, 'one successor refresh token');
    assert.equal(new Set(ok.map((reply) => reply.body.access_token as string)).size, 1, 'one access token');
    const [successor] = successors;
    // The successor is live (not revoked as reuse) and itself rotates, on either instance.
    const next = await refresh(cluster, web, successor!, 1);
    assert.equal(next.status, 200, JSON.stringify(next.body));
    // No grant anywhere holds two unconsumed refresh tokens.
    const forked = await cluster.sql(
      'SELECT grant_id, count(*) AS live FROM oidc_refresh_tokens WHERE consumed_at IS NULL GROUP BY grant_id HAVING count(*) > 1',
    );
    assert.deepEqual(forked, []);
  });

  test('one address has one request budget, whichever instance it reaches', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) {
      const response = await cluster.fetch('/api/me', { instance: i % 2 });
      statuses.push(response.status);
      await response.body?.cancel();
    }
    assert.deepEqual(statuses, [...Array<number>(10).fill(401), 429, 429], 'ten calls (five on each), then the shared budget is spent on both');
    for (const instance of [0, 1]) {
      const refused = await cluster.fetch('/api/me', { instance });
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
      await refused.body?.cancel();
    }
  });

  test('password guesses alternating between the instances block the account for the address on both', async () => {
    const form = await openLoginForm(cluster.url, { clientId: web.id, redirectUri: REDIRECT }, '');
    const post = (password: string, instance: number) => postLogin(form, VICTIM.email, password, instance);
    let failures = 0;
    let blocked: Response | undefined;
    for (let i = 0; i < 60; i++) {
      const response = await post(`guess ${i}`, i % 2);
      await response.body?.cancel();
      const wait = Number(response.headers.get('retry-after') ?? 0);
      if (response.status === 401) failures++;
      else if (response.status === 429 && wait > 60) {
        blocked = response;
        break;
      } else await sleep(wait * 1000 + 50);
    }
    assert.ok(blocked, 'the guesses were blocked');
    assert.equal(failures, 10, 'AUTH_THROTTLE_BLOCK_AFTER checked failures in all, not per instance');
    for (const instance of [0, 1]) {
      const response = await post(VICTIM.password, instance);
      await response.body?.cancel();
      assert.equal(response.status, 429, `blocked on instance ${instance}, even with the right password`);
    }
  });
});

function postLogin(form: LoginForm, email: string, password: string, instance: number): Promise<Response> {
  return cluster
    .fetch(form.action.href, {
      method: 'POST',
      redirect: 'manual',
      instance,
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'text/html', cookie: form.jar.header() },
      body: new URLSearchParams({ csrf: form.csrf, email, password }).toString(),
    })
    .then((response) => {
      form.jar.store(response);
      return response;
    });
}
