import { InvalidArgumentError, type Command } from 'commander';

import { createKeyPolicy, createKeyRotation, createPrismaKeyStore, keyView, REQUIRED_ALGS, type KeyRotation, type KeyView, type RequiredAlg, type AppliedKeys } from '../oidc/index.ts';

import type { CommandContext, Runner } from './command-context.ts';
import type { Output } from './output.ts';

// `portcullis keys`: announced rotation of the signing and cookie keys (oidc/key-rotation.ts).
// Every change is recorded (key.created, key.retired) with actor cli and the operator; the
// running servers pick it up by themselves (README "Key rotation").

const STATE_LABEL: Record<KeyView['state'], string> = {
  announced: 'announced (next)',
  signing: 'active (signing)',
  retiring: 'retiring (published only)',
  retired: 'retired',
};

function rotationOf({ config, runtime, services, audit }: CommandContext): KeyRotation {
  return createKeyRotation({ store: createPrismaKeyStore(runtime.database.prisma), sealer: runtime.sealer, policy: createKeyPolicy(config, services.resources), audit });
}

const iso = (date: Date | undefined | null) => (date ? date.toISOString() : '-');

function printApplied(out: Output, applied: AppliedKeys) {
  out.data(applied);
  for (const key of applied.signing) out.line(`Announced ${key.alg} key ${key.kid}: published now, signs from ${key.activatesAt.toISOString()}`);
  for (const key of applied.cookies) out.line(`Announced cookie key cookie-${key.id}: verifies now, signs from ${key.activatesAt.toISOString()}`);
  for (const kid of applied.retiredSigning) out.line(`Retired signing key ${kid}: no longer published`);
  for (const id of applied.retiredCookies) out.line(`Retired cookie key cookie-${id}: no longer verifies`);
}

/** A repeatable --alg, each one of the algorithms Portcullis signs with (commander's choices() cannot repeat). */
function collectAlg(value: string, previous: RequiredAlg[] | undefined): RequiredAlg[] {
  const alg = REQUIRED_ALGS.find((candidate) => candidate === value);
  if (!alg) throw new InvalidArgumentError(`must be one of ${REQUIRED_ALGS.join(', ')}`);
  return [...(previous ?? []), alg];
}

export function addKeysCommand(program: Command, run: Runner): void {
  const keys = program.command('keys').description('signing and cookie keys: list, announce a successor, retire');

  keys
    .command('list')
    .description('every key with its status, when it signs from, and when it may be retired')
    .option('--all', 'include retired keys')
    .action((options: { all?: boolean }, command: Command) =>
      run(command, async (context) => {
        const listed = (await rotationOf(context).list()).filter((key) => options.all || key.state !== 'retired');
        context.out.data(listed.map(keyView));
        context.out.table(
          ['kid', 'alg', 'use', 'status', 'created', 'signs from', 'retirable at'],
          listed.map((key) => [key.kid, key.alg ?? '-', key.use, STATE_LABEL[key.state], iso(key.createdAt), iso(key.signsFrom), key.state === 'retired' ? `retired ${iso(key.retiredAt)}` : iso(key.retirableAt)]),
        );
      }),
    );

  keys
    .command('rotate')
    .description('announce new keys: published at once, signing after KEY_ANNOUNCE_DELAY (default: every signing algorithm)')
    .option('--alg <alg>', `only this signing algorithm, repeatable (${REQUIRED_ALGS.join(', ')})`, collectAlg)
    .option('--cookie', 'the cookie key (with --alg: both; alone: only the cookie key)')
    .action((options: { alg?: RequiredAlg[]; cookie?: boolean }, command: Command) =>
      run(command, async (context) => {
        const applied = await rotationOf(context).rotate({ ...(options.alg && { algs: options.alg }), cookie: options.cookie === true });
        printApplied(context.out, applied);
      }),
    );

  keys
    .command('retire')
    .description('withdraw a key from the JWKS (a cookie key: from verification); refused while what it signed may be valid')
    .argument('<kid>', 'a signing key\'s kid, or cookie-<id> (see keys list)')
    .option('--force', 'retire before its tokens (cookies) expired: they stop verifying (resource servers reject them; sessions end)')
    .action((kid: string, options: { force?: boolean }, command: Command) =>
      run(command, async (context) => {
        const applied = await rotationOf(context).retire(kid, { force: options.force === true });
        printApplied(context.out, applied);
      }),
    );
}
