import { hash, verify, type Algorithm } from '@node-rs/argon2';

// The cost of the one thing a password login cannot avoid: verifying an argon2id hash at
// OWASP's parameters (Portcullis's, src/accounts/password-hasher.ts). Measured in this
// process before any server starts, as CPU (all threads) per verification.

const OWASP_ARGON2ID = { algorithm: 2 as Algorithm, memoryCost: 19456, timeCost: 2, parallelism: 1 };

export async function argon2VerifyMicros(times = 20): Promise<number> {
  const password = 'correct horse battery staple, benched';
  const stored = await hash(password, OWASP_ARGON2ID);
  await verify(stored, password);
  const before = process.cpuUsage();
  for (let i = 0; i < times; i++) await verify(stored, password);
  const used = process.cpuUsage(before);
  return (used.user + used.system) / times;
}
