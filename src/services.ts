import {
  createAccountService,
  createAccountStore,
  createArgon2Hasher,
  type AccountService,
  type PasswordHasher,
} from './accounts/index.ts';
import {
  createClientService,
  createClientStore,
  createResourceService,
  createResourceStore,
  type ClientService,
  type ResourceService,
} from './clients/index.ts';
import type { Sealer } from './crypto/index.ts';
import type { PrismaClient } from './db/index.ts';

/** The core services, shared by the HTTP app and the CLI so both apply the same rules. */
export interface Services {
  readonly accounts: AccountService;
  readonly clients: ClientService;
  readonly resources: ResourceService;
}

export function createServices(deps: { prisma: PrismaClient; sealer: Sealer; hasher?: PasswordHasher }): Services {
  const resourceStore = createResourceStore(deps.prisma);
  return Object.freeze({
    accounts: createAccountService({ store: createAccountStore(deps.prisma), hasher: deps.hasher ?? createArgon2Hasher() }),
    clients: createClientService({ store: createClientStore(deps.prisma), resources: resourceStore, sealer: deps.sealer }),
    resources: createResourceService({ store: resourceStore }),
  });
}
