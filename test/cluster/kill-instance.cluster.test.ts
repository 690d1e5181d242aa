import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import type { Cluster } from './harness/cluster.ts';
import { failing, startLoad, type LoadRecord } from './harness/load.ts';
import { startMixCluster } from './harness/mix-cluster.ts';
import { introspect, refresh, type Credentials } from './harness/oauth.ts';

// `kill -9` of one instance under a steady mix through nginx (client credentials, refresh
// rotation, introspection). Requests in flight on the killed instance may fail (nginx
// answers 502 for a POST it had already sent); everything else holds: every token a
// client received stays usable, no refresh token got two successors, the other instance
// carried on, and the killed one rejoins once restarted. The figures are printed.

const CHAINS = 6;

let cluster: Cluster;
let web: Credentials;
let record: LoadRecord;
const figures: Record<string, unknown> = {};

before(async () => {
  const mix = await startMixCluster('kill', CHAINS);
  ({ cluster, web } = mix);
  const { service, introspector, chains, api: API } = mix;

  const load = startLoad(cluster, { service, resource: API, web, introspector, chains });
  const [victim, survivor] = cluster.instances as [(typeof cluster.instances)[0], (typeof cluster.instances)[0]];
  await sleep(3_000);
  const killedAt = Date.now();
  assert.equal(await victim.stop('SIGKILL'), null, 'killed by the signal');
  await sleep(4_000);
  const restartAt = Date.now();
  await victim.start();
  const readyAt = Date.now();
  await sleep(4_000);
  record = await load.stop();
  const victimAddress = `127.0.0.1:${victim.port}`;
  const survivorAddress = `127.0.0.1:${survivor.port}`;
  Object.assign(figures, {
    requests: record.requests,
    failedRequests: record.failures.length,
    failuresByKind: record.failures.reduce<Record<string, number>>((counts, failure) => ({ ...counts, [`${failure.kind} ${failure.status}`]: (counts[`${failure.kind} ${failure.status}`] ?? 0) + 1 }), {}),
    lastFailureAfterKillMs: record.failures.length > 0 ? Math.max(...record.failures.map((failure) => failure.at)) - killedAt : 0,
    restartToReadyMs: readyAt - restartAt,
    servedBySurvivorWhileDown: record.served.filter((served) => served.upstream === survivorAddress && served.at > killedAt && served.at < restartAt).length,
    servedByRestartedAfterRejoin: record.served.filter((served) => served.upstream === victimAddress && served.at > readyAt).length,
    accessTokensReceived: record.accessTokens.length,
    refreshRotations: record.successors.size,
  });
});

after(async () => {
  console.log(`kill -9 figures: ${JSON.stringify(figures)}`);
  await cluster?.close();
});

test('only requests in flight on the killed instance failed, and the other instance carried on', () => {
  // At most one request in flight per worker when the process died (3 client-credentials,
  // 6 refresh, 2 introspection workers), and a refresh retried during the rotation's lease.
  assert.ok(record.failures.length <= 2 * (3 + CHAINS + 2), JSON.stringify(figures));
  assert.ok((figures.servedBySurvivorWhileDown as number) > 20, 'the survivor served while the other was down');
  for (const failure of record.failures) assert.notEqual(failure.status, 500, 'never a 500');
});

test('the killed instance rejoins after restart and serves', async () => {
  assert.ok((figures.servedByRestartedAfterRejoin as number) > 0, 'nginx sends it traffic again');
  const first = record.accessTokens[0]!;
  const pinned = await introspect(cluster, first.introspector, first.token, 0);
  assert.equal(pinned.status, 200);
  assert.equal(pinned.body.active, true);
});

test('every access token a client received still introspects active, on either instance', async () => {
  assert.equal(new Set(record.accessTokens.map((received) => received.token)).size, record.accessTokens.length, 'no token issued twice');
  assert.deepEqual(record.inactive, [], 'no introspection during the load called a received token inactive');
  const inactive = await failing(record.accessTokens, async (received) => (await introspect(cluster, received.introspector, received.token)).body.active === true);
  figures.accessTokensChecked = record.accessTokens.length;
  assert.deepEqual(inactive, []);
});

test('every refresh chain still refreshes, and no refresh token had two successors', async () => {
  for (const [parent, successors] of record.successors) assert.equal(successors.size, 1, `${parent.slice(0, 8)}… had ${successors.size} successors`);
  const lost = await failing(record.chains, async (chain) => {
    const reply = await refresh(cluster, web, chain.at(-1)!);
    if (reply.status === 200) chain.push(reply.body.refresh_token as string);
    return reply.status === 200;
  });
  figures.refreshChainsChecked = record.chains.length;
  assert.deepEqual(lost.length, 0, 'no chain lost');
  const forked = await cluster.sql('SELECT grant_id FROM oidc_refresh_tokens WHERE consumed_at IS NULL GROUP BY grant_id HAVING count(*) > 1');
  assert.deepEqual(forked, [], 'no grant holds two live refresh tokens');
});
