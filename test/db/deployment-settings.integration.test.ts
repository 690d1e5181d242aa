import assert from 'node:assert/strict';
import { after, before, beforeEach, test } from 'node:test';

import { createSealer, masterSecretCheck } from '../../src/crypto/index.ts';
import { MASTER_SECRET_CHECK, readDeploymentSetting, verifyMasterSecretCheck, type PrismaClient } from '../../src/db/index.ts';
import { createMigratedDatabase } from '../helpers/test-database.ts';

// One deployment, one master secret: the first process stores a check value, and a
// database from before the check accepts only the secret its sealed keys open with.

const A = 'first-master-secret-of-at-least-32-characters';
const B = 'other-master-secret-of-at-least-32-characters';
const opensWith = (secret: string) => {
  const sealer = createSealer(secret);
  return (sealed: string) => {
    try {
      sealer.open(sealed);
      return true;
    } catch {
      return false;
    }
  };
};

let database: Awaited<ReturnType<typeof createMigratedDatabase>>;
let prisma: PrismaClient;
before(async () => {
  database = await createMigratedDatabase();
  prisma = database.prisma;
});
after(() => database.destroy());
beforeEach(async () => {
  await prisma.deploymentSetting.deleteMany();
  await prisma.signingKey.deleteMany();
});

test('the check value tells secrets apart and reveals neither', () => {
  assert.equal(masterSecretCheck(A), masterSecretCheck(A));
  assert.notEqual(masterSecretCheck(A), masterSecretCheck(B));
  assert.doesNotMatch(masterSecretCheck(A), /first-master/);
});

test('the first secret is claimed; the same one passes again, another is refused', async () => {
  assert.equal(await verifyMasterSecretCheck(prisma, masterSecretCheck(A), opensWith(A)), true);
  assert.equal(await readDeploymentSetting(prisma, MASTER_SECRET_CHECK), masterSecretCheck(A));
  assert.equal(await verifyMasterSecretCheck(prisma, masterSecretCheck(A), opensWith(A)), true);
  assert.equal(await verifyMasterSecretCheck(prisma, masterSecretCheck(B), opensWith(B)), false);
});

test('two processes with different secrets starting together on a new database: exactly one wins', async () => {
  const results = await Promise.all([
    verifyMasterSecretCheck(prisma, masterSecretCheck(A), opensWith(A)),
    verifyMasterSecretCheck(prisma, masterSecretCheck(B), opensWith(B)),
  ]);
  assert.deepEqual([...results].sort(), [false, true]);
});

test('a database from before the check accepts only the secret its sealed keys open with', async () => {
  await prisma.signingKey.create({ data: { kid: 'old', alg: 'ES256', privateJwkCiphertext: createSealer(A).seal('{"kty":"EC"}') } });
  assert.equal(await verifyMasterSecretCheck(prisma, masterSecretCheck(B), opensWith(B)), false);
  assert.equal(await readDeploymentSetting(prisma, MASTER_SECRET_CHECK), undefined, 'a wrong secret stores nothing');
  assert.equal(await verifyMasterSecretCheck(prisma, masterSecretCheck(A), opensWith(A)), true);
  assert.equal(await readDeploymentSetting(prisma, MASTER_SECRET_CHECK), masterSecretCheck(A));
});
