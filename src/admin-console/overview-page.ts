import type { AccountService } from '../accounts/index.ts';
import type { AuditTrail } from '../audit/index.ts';
import type { ClientService, ResourceService } from '../clients/index.ts';
import type { KeyRotation } from '../oidc/index.ts';
import { eventRow } from './audit-pages.ts';
import type { ShowConsolePage } from './console-page.ts';
import type { ConsoleContext } from './console-session.ts';

// The console's first page: how much there is (clients, resource servers, people, keys in
// use), the latest events, and the latest refusals and failures worth an operator's eye.

const RECENT = 10;

/** The events that mean something was refused or went wrong (audit/event-types.ts). */
export const ATTENTION_TYPES = [
  'login.failure',
  'login.blocked',
  'mfa.failure',
  'mfa.locked',
  'rate_limit.blocked',
  'token.refresh_reuse_detected',
  'admin.refused',
  'password_reset.failed',
  'signup.failed',
  'device.code_wrong',
  'client.metadata_document_refused',
  'user.email_change_failed',
] as const;

export function createOverviewPage(deps: {
  clients: Pick<ClientService, 'list'>;
  resources: Pick<ResourceService, 'list'>;
  accounts: Pick<AccountService, 'count'>;
  keyRotation: Pick<KeyRotation, 'list'>;
  auditTrail: AuditTrail;
  show: ShowConsolePage;
}) {
  return async (ctx: ConsoleContext) => {
    const [clients, resources, people, keys, recent, attention] = await Promise.all([
      deps.clients.list(),
      deps.resources.list(),
      deps.accounts.count(),
      deps.keyRotation.list(),
      deps.auditTrail.page({}, { limit: RECENT }),
      deps.auditTrail.page({ types: ATTENTION_TYPES }, { limit: RECENT }),
    ]);
    const counts = [
      { label: 'Clients', value: String(clients.length), path: '/admin/clients' },
      { label: 'Resource servers', value: String(resources.length), path: '/admin/resources' },
      { label: 'Users', value: String(people), path: '/admin/users' },
      { label: 'Keys in use', value: String(keys.filter((key) => key.state !== 'retired').length), path: '/admin/keys' },
    ];
    deps.show(ctx, 'admin-overview', 'overview', { title: 'Overview', counts, recent: recent.map(eventRow), attention: attention.map(eventRow) });
  };
}
