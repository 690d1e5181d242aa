import assert from 'node:assert/strict';
import { test } from 'node:test';

import { routedPath } from '../../src/http/index.ts';

test('a path as the routers match it: ASCII case folded, one trailing slash dropped', () => {
  assert.equal(routedPath('/TOKEN'), '/token');
  assert.equal(routedPath('/token/'), '/token');
  assert.equal(routedPath('/Token//'), '/token/', 'only one slash, as the routers drop');
  assert.equal(routedPath('/'), '/');
  assert.equal(routedPath('/interaction/AbC/LOGIN'), '/interaction/abc/login');
});

test('no other letter becomes ASCII: the routers fold ASCII only', () => {
  assert.equal(routedPath('/to\u212Aen'), '/to\u212Aen', 'the Kelvin sign is not k');
  assert.equal(routedPath('/\u0130ntrospection'), '/\u0130ntrospection');
});
