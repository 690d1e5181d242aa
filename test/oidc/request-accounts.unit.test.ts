import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { test } from 'node:test';

import type { AccountRecord } from '../../src/accounts/index.ts';
import { createRequestAccounts } from '../../src/oidc/request-accounts.ts';

// The engine's hooks read a person once per request, and never reuse that read for
// another request: a person disabled between two requests is refused at the second.

function countingAccounts() {
  const state = { reads: 0, disabled: false };
  return {
    state,
    accounts: {
      findById(id: string) {
        state.reads++;
        return Promise.resolve({ id, disabled: state.disabled } as unknown as AccountRecord);
      },
    },
  };
}

test('one request reads its person once, however often the engine asks', async () => {
  const { state, accounts } = countingAccounts();
  const requestAccounts = createRequestAccounts(accounts);
  const req = {} as IncomingMessage;
  for (let i = 0; i < 3; i++) assert.equal((await requestAccounts.find({ req }, 'a-1'))?.id, 'a-1');
  await requestAccounts.find({ req }, 'a-2');
  assert.equal(state.reads, 2, 'one read per person of the request');
});

test('the next request reads again: a person disabled in between is seen disabled', async () => {
  const { state, accounts } = countingAccounts();
  const requestAccounts = createRequestAccounts(accounts);
  assert.equal((await requestAccounts.find({ req: {} as IncomingMessage }, 'a-1'))?.disabled, false);
  state.disabled = true;
  assert.equal((await requestAccounts.find({ req: {} as IncomingMessage }, 'a-1'))?.disabled, true);
  // Without a request (the engine's background work), every call reads.
  await requestAccounts.find(undefined, 'a-1');
  await requestAccounts.find(undefined, 'a-1');
  assert.equal(state.reads, 4);
});

test('a person read along with the refresh token answers without a read; one found missing is no one; another id still reads', async () => {
  const { state, accounts } = countingAccounts();
  const kept = new Map<string, AccountRecord | null>([
    ['a-kept', { id: 'a-kept', disabled: false } as unknown as AccountRecord],
    ['a-gone', null],
  ]);
  const requestAccounts = createRequestAccounts(accounts, (id) => kept.get(id));
  const req = {} as IncomingMessage;
  assert.equal((await requestAccounts.find({ req }, 'a-kept'))?.id, 'a-kept');
  assert.equal(await requestAccounts.find({ req }, 'a-gone'), undefined);
  assert.equal(state.reads, 0, 'neither was read again');
  assert.equal((await requestAccounts.find({ req }, 'a-other'))?.id, 'a-other');
  assert.equal(state.reads, 1);
});
