import type { ClientService, ResourceService } from '../clients/index.ts';
import { AUTH_METHODS, CLIENT_TYPES, GRANT_TYPES } from '../clients/index.ts';
import { NotFoundError } from '../errors.ts';
import { clientView } from '../admin-api/index.ts';
import { actedBy, shownVersion } from './acted-by.ts';
import { changedFields, checked, field, formOf, list, noticeOf, refusalOf, seeOther, STALE, type ShowConsolePage } from './console-page.ts';
import { ACCOUNT_PAGE_CLIENT_ID } from '../account-page/index.ts';
import { ADMIN_CONSOLE_CLIENT_ID, ADMIN_CONSOLE_PATH } from './console-client.ts';
import type { ConsoleContext } from './console-session.ts';

// Clients at the console: listed, registered, changed, their secret rotated, deleted. Each
// goes through the registry's service with the CLI's and the admin API's schema
// (clients/client-input.ts), so the console accepts exactly what they accept. A new or
// rotated secret is on the one page that answers the form (no-store, like every page), and
// nowhere after: not in a redirect, not in the audit trail. The form holds the fields an
// operator sets by hand; the rest (keys, token exchange, pushed and signed requests) stay as
// they are, changed through the CLI or the API.

const CLIENTS_PATH = `${ADMIN_CONSOLE_PATH}/clients`;
export const clientPath = (clientId: string) => `${CLIENTS_PATH}/${encodeURIComponent(clientId)}`;

const OWN_CLIENTS = new Set([ACCOUNT_PAGE_CLIENT_ID, ADMIN_CONSOLE_CLIENT_ID]);

/** Notices a redirect may name (never text from the request). */
const NOTICES = { created: 'The client was registered.', saved: 'The client was saved.', unchanged: 'Nothing was changed.', deleted: 'The client was deleted, with every grant and token it held.' } as const;
const notice = (ctx: ConsoleContext) => noticeOf(ctx, NOTICES);

/** What the form's fields say, in the service's input shape. */
function fromForm(body: URLSearchParams) {
  return {
    name: field(body, 'name'),
    redirectUris: list(body, 'redirectUris'),
    postLogoutRedirectUris: list(body, 'postLogoutRedirectUris'),
    corsOrigins: list(body, 'corsOrigins'),
    grantTypes: list(body, 'grantTypes', 'repeated'),
    scopes: list(body, 'scopes', 'words'),
    resources: list(body, 'resources', 'repeated'),
    firstParty: checked(body, 'firstParty'),
    requireMfa: checked(body, 'requireMfa'),
  };
}

export function createClientPages(deps: { clients: ClientService; resources: Pick<ResourceService, 'list'>; show: ShowConsolePage }) {
  const { clients, show } = deps;
  const choices = async () => ({ types: CLIENT_TYPES, authMethods: AUTH_METHODS, grantTypes: GRANT_TYPES, resourceServers: (await deps.resources.list()).map((resource) => resource.indicator) });

  async function current(clientId: string) {
    const client = await clients.find(clientId);
    if (!client) throw new NotFoundError(`no client ${clientId.slice(0, 100)}`);
    return client;
  }

  async function showList(ctx: ConsoleContext, form: { values?: unknown; error?: string } = {}, status = 200) {
    const list = (await clients.list()).map(clientView);
    show(ctx, 'admin-clients', 'clients', { title: 'Clients', clients: list, notice: notice(ctx), form: form.values ?? {}, error: form.error, ...(await choices()) }, status);
  }

  async function showClient(ctx: ConsoleContext, clientId: string, form: { values?: unknown; error?: string; errorOf?: string } = {}, status = 200) {
    const client = clientView(await current(clientId));
    show(ctx, 'admin-client', 'clients', { title: client.name, client, own: OWN_CLIENTS.has(client.clientId), notice: notice(ctx), form: form.values ?? client, error: form.error, errorOf: form.errorOf ?? 'edit', ...(await choices()) }, status);
  }

  function showSecret(ctx: ConsoleContext, client: ReturnType<typeof clientView>, secret: string, rotated: boolean) {
    show(ctx, 'admin-client-secret', 'clients', { title: rotated ? 'New client secret' : 'Client registered', client, secret, rotated });
  }

  return {
    list: (ctx: ConsoleContext) => showList(ctx),

    async create(ctx: ConsoleContext) {
      const body = formOf(ctx);
      const values = fromForm(body);
      const authMethod = field(body, 'authMethod');
      const input = {
        ...values,
        type: field(body, 'type'),
        ...(field(body, 'clientId') && { clientId: field(body, 'clientId') }),
        ...(authMethod && { authMethod }),
        // Left empty, the type's defaults (as the CLI's).
        grantTypes: values.grantTypes.length > 0 ? values.grantTypes : undefined,
        scopes: values.scopes.length > 0 ? values.scopes : undefined,
      };
      let made: Awaited<ReturnType<ClientService['create']>> | undefined;
      const refused = await refusalOf(async () => {
        made = await clients.create(input, actedBy(ctx));
      });
      if (refused || !made) return showList(ctx, { values: { ...values, type: input.type, clientId: field(body, 'clientId'), authMethod }, error: refused?.message }, refused?.status ?? 400);
      if (made.clientSecret) return showSecret(ctx, clientView(made.client), made.clientSecret, false);
      seeOther(ctx, `${clientPath(made.client.clientId)}?done=created`);
    },

    show: (ctx: ConsoleContext) => showClient(ctx, ctx.params.clientId!),

    async update(ctx: ConsoleContext) {
      const before = await current(ctx.params.clientId!);
      const form = formOf(ctx);
      const all = fromForm(form);
      // Portcullis' own pages' clients: the registry lets only their name and require-MFA
      // flag change (pinned); their form has only those, and only those are sent. No grant
      // type ticked on the edit form keeps the client's (it would have no flow left).
      const values = OWN_CLIENTS.has(before.clientId) ? { name: all.name, requireMfa: all.requireMfa } : { ...all, ...(all.grantTypes.length === 0 && { grantTypes: before.grantTypes }) };
      const changes = changedFields(values, clientView(before));
      if (Object.keys(changes).length === 0) return seeOther(ctx, `${clientPath(before.clientId)}?done=unchanged`);
      const refused = await refusalOf(() => clients.update(before.clientId, changes, actedBy(ctx), { ifUpdatedAt: shownVersion(field(form, 'version')) }));
      // Stale (someone saved first): the page shows what is saved now, with its version, to
      // apply the change to again; anything else shows the form as it was typed.
      if (refused?.status === 412) return showClient(ctx, before.clientId, { error: STALE }, 412);
      if (refused) return showClient(ctx, before.clientId, { values: { ...clientView(before), ...values }, error: refused.message }, refused.status);
      seeOther(ctx, `${clientPath(before.clientId)}?done=saved`);
    },

    async rotateSecret(ctx: ConsoleContext) {
      const before = await current(ctx.params.clientId!);
      let rotated: Awaited<ReturnType<ClientService['rotateSecret']>> | undefined;
      const refused = await refusalOf(async () => {
        rotated = await clients.rotateSecret(before.clientId, {}, actedBy(ctx));
      });
      if (refused || !rotated?.clientSecret) return showClient(ctx, before.clientId, { error: refused?.message ?? 'This client has no secret to rotate.', errorOf: 'secret' }, refused?.status ?? 409);
      showSecret(ctx, clientView(rotated.client), rotated.clientSecret, true);
    },

    // Idempotent, as the API's DELETE: a client already gone is the outcome asked for. Only
    // with the box ticked; the pages' own clients are refused by the registry (pinned).
    async remove(ctx: ConsoleContext) {
      const client = await clients.find(ctx.params.clientId!);
      if (client && field(formOf(ctx), 'confirm') !== 'yes') return showClient(ctx, client.clientId, { error: 'Tick the box to confirm the deletion.', errorOf: 'delete' }, 400);
      if (client) {
        const refused = await refusalOf(() => clients.delete(client.clientId, actedBy(ctx)));
        if (refused && refused.status !== 404) return showClient(ctx, client.clientId, { error: refused.message, errorOf: 'delete' }, refused.status);
      }
      seeOther(ctx, `${CLIENTS_PATH}?done=deleted`);
    },
  };
}

export type ClientPages = ReturnType<typeof createClientPages>;
