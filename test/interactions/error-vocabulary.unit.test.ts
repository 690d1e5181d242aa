import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { SealedSecretError } from '../../src/crypto/index.ts';
import { DatabaseUnavailableError, MigrationError } from '../../src/db/index.ts';
import { ConflictError, ERROR_HEADINGS, isErrorCode, NotFoundError, StartupError, ValidationError, type AppError } from '../../src/errors.ts';
import { CsrfError } from '../../src/interactions/csrf.ts';
import { errorPage } from '../../src/interactions/render-error.ts';

const page = (error: string, status = 400) => errorPage({ status, error, message: 'm', requestId: 'r' });

describe('the error vocabulary', () => {
  test('every error our code raises carries a code of the vocabulary, and its page has that code\'s heading', () => {
    const raised: AppError[] = [
      new ValidationError('v'),
      new NotFoundError('n'),
      new ConflictError('c'),
      new StartupError('s'),
      new CsrfError(),
      new DatabaseUnavailableError(new Error('down')),
      new MigrationError('m'),
      new SealedSecretError(),
    ];
    for (const error of raised) {
      assert.ok(isErrorCode(error.code), `${error.name}: ${error.code} is not in ERROR_HEADINGS`);
      assert.equal(page(error.code, error.status).heading, ERROR_HEADINGS[error.code]);
    }
  });

  test('the pages keep their headings: ours from errors.ts, the engine\'s protocol codes from render-error.ts', () => {
    assert.equal(page('too_many_requests', 429).heading, 'Too many attempts');
    assert.equal(page('invalid_csrf_token', 403).title, 'This form could not be accepted');
    assert.equal(page('invalid_request').heading, 'This request is not valid');
    assert.equal(page('server_error', 500).heading, 'Something went wrong on our side');
    assert.equal(page('invalid_client').heading, 'This application is not known');
    assert.equal(page('access_denied').heading, 'Access denied');
  });

  test('a code in neither vocabulary, an inherited property name included, gets the generic heading', () => {
    for (const code of ['no_such_code', 'constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      assert.equal(isErrorCode(code), false, code);
      assert.equal(page(code).heading, 'Something went wrong', code);
      assert.equal(page(code).title, 'Something went wrong', code);
    }
  });
});
