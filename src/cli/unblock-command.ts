import { isIP } from 'node:net';

import type { Command } from 'commander';

import { ValidationError } from '../errors.ts';
import type { Runner } from './command-context.ts';

// `portcullis users unblock`: lift the password-guessing throttle's blocks and waits for an
// account (every address), or for an address (every account, and client authentication
// from it). One command with --address rather than a second command: both answer "this
// person cannot sign in", and operators look for it under users.
//
// The throttle's counts live in each server's memory (one instance) or in Redis (many),
// out of this process' reach; the release goes to the database, and each server applies it
// the next time its throttle would refuse someone (abuse/throttle-releases.ts), so the
// next try after the release goes through. Known devices and addresses stay trusted.

interface UnblockFlags {
  address?: string;
}

export function addUnblockCommand(users: Command, run: Runner): void {
  users
    .command('unblock')
    .description('lift the login blocks and waits of an account (on every address), or of an address with --address')
    .argument('[id-or-email]', 'the account id or email address')
    .option('--address <ip>', 'an IP address instead: its blocks for every account, and for client authentication (IPv6: its /64)')
    .addHelpText('after', '\nGive an account or --address, not both. Running servers apply it at the next sign-in attempt; audited.')
    .action((idOrEmail: string | undefined, options: UnblockFlags, command: Command) => {
      if ((idOrEmail === undefined) === (options.address === undefined)) {
        throw new ValidationError(`give an account (id or email) or --address, not ${idOrEmail === undefined ? 'neither' : 'both'}`);
      }
      const address = options.address?.trim();
      if (address !== undefined && isIP(address) === 0) throw new ValidationError(`--address: ${address} is not an IP address`);
      return run(command, async ({ services, audit, out }) => {
        if (address !== undefined) {
          await services.throttleReleases.add({ address });
          audit.record({ type: 'login.unblocked', ip: address, data: { scope: 'address' } });
          out.data({ address, released: true });
          out.line(`Lifted the sign-in blocks of the address ${address}; running servers apply it at its next attempt.`);
          return;
        }
        // An unknown account is refused (exit 2) rather than "released" to no effect.
        const account = await services.accounts.get(idOrEmail ?? '');
        await services.throttleReleases.add({ subject: account.email });
        audit.record({ type: 'login.unblocked', accountId: account.id, data: { scope: 'account' } });
        out.data({ user: { id: account.id, email: account.email }, released: true });
        out.line(`Lifted the sign-in blocks of ${account.email} on every address; running servers apply it at the next attempt.`);
      });
    });
}
