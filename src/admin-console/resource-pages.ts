import type { ResourceService } from '../clients/index.ts';
import { NotFoundError, ValidationError } from '../errors.ts';
import { resourceServerView } from '../admin-api/index.ts';
import { actedBy, shownVersion } from './acted-by.ts';
import { changedFields, field, formOf, noticeOf, refusalOf, seeOther, type ShowConsolePage, STALE } from './console-page.ts';
import { ADMIN_CONSOLE_PATH } from './console-client.ts';
import type { ConsoleContext } from './console-session.ts';

// Resource servers at the console: the APIs that accept Portcullis' tokens, their scopes
// and the roles each scope is bound to, through the registry's service and schema (the
// admin API's and the CLI's). Each scope is a row of its own fields (name, description,
// roles), never one line of delimited text: a description may hold any character, and read
// back from text a `|` or a line break in it would rebind or add scopes at the next save.
// Empty rows are for new scopes; a row left empty is no scope. The admin API's own resource
// server stays pinned by the service: its scopes keep a role, and it is never deleted.

const RESOURCES_PATH = `${ADMIN_CONSOLE_PATH}/resources`;
export const resourcePath = (indicator: string) => `${RESOURCES_PATH}/${encodeURIComponent(indicator)}`;

const NOTICES = { created: 'The resource server was registered.', saved: 'The resource server was saved.', unchanged: 'Nothing was changed.', deleted: 'The resource server was deleted.' } as const;
const notice = (ctx: ConsoleContext) => noticeOf(ctx, NOTICES);

/** Rows for new scopes under the existing ones. */
export const NEW_SCOPE_ROWS = 3;

export interface ScopeRow {
  readonly name: string;
  readonly description: string;
  readonly roles: string;
}

/**
 * The form's scope rows (scopeName, scopeDescription, scopeRoles: one of each per row, in
 * order), in the service's input shape; rows left wholly empty are dropped, any other is
 * the service's to validate. Rows whose fields do not line up (a forged form) are refused.
 */
export function scopesFromForm(fields: URLSearchParams): { name: string; description: string; roles: string[] }[] {
  const names = fields.getAll('scopeName');
  const descriptions = fields.getAll('scopeDescription');
  const roles = fields.getAll('scopeRoles');
  if (descriptions.length !== names.length || roles.length !== names.length) throw new ValidationError('scopes: each scope row needs a name, a description and roles field');
  return names
    .map((name, i) => ({ name: name.trim(), description: descriptions[i]!.trim(), roles: roles[i]!.split(/\s+/).filter((role) => role !== '') }))
    .filter((scope) => scope.name !== '' || scope.description !== '' || scope.roles.length > 0);
}

/** A refused form shown again as it was typed: each row sent, then empty rows for new ones. */
function typedAgain(body: URLSearchParams) {
  const names = body.getAll('scopeName');
  const descriptions = body.getAll('scopeDescription');
  const roles = body.getAll('scopeRoles');
  const typed = names.map((name, i) => ({ name, description: descriptions[i] ?? '', roles: roles[i] ?? '' })).filter((row) => row.name !== '' || row.description !== '' || row.roles !== '');
  const blank = { name: '', description: '', roles: '' };
  return {
    indicator: field(body, 'indicator'),
    name: field(body, 'name'),
    accessTokenFormat: field(body, 'accessTokenFormat'),
    accessTokenTtl: field(body, 'accessTokenTtl'),
    scopes: [...typed, ...Array.from({ length: NEW_SCOPE_ROWS }, () => blank)],
  };
}

/** The rows a form shows: each scope, then empty rows for new ones. */
export function scopeRows(scopes: readonly { name: string; description: string; roles: readonly string[] }[]): ScopeRow[] {
  const blank = { name: '', description: '', roles: '' };
  return [...scopes.map((scope) => ({ name: scope.name, description: scope.description, roles: scope.roles.join(' ') })), ...Array.from({ length: NEW_SCOPE_ROWS }, () => blank)];
}

/** The form's fields in the service's input shape (ValidationError for scope rows that do not line up). */
function fromForm(body: URLSearchParams) {
  const ttl = field(body, 'accessTokenTtl');
  return {
    name: field(body, 'name'),
    accessTokenFormat: field(body, 'accessTokenFormat'),
    // A number, or the text itself for the schema to refuse by name.
    accessTokenTtl: /^\d{1,9}$/.test(ttl) ? Number(ttl) : ttl,
    scopes: scopesFromForm(body),
  };
}

export function createResourcePages(deps: { resources: ResourceService; show: ShowConsolePage }) {
  const { resources, show } = deps;

  async function current(indicator: string) {
    const resource = await resources.find(indicator);
    if (!resource) throw new NotFoundError(`no resource server ${indicator.slice(0, 200)}`);
    return resource;
  }

  async function showList(ctx: ConsoleContext, form: { values?: Record<string, unknown>; error?: string } = {}, status = 200) {
    const list = (await resources.list()).map(resourceServerView);
    show(ctx, 'admin-resources', 'resources', { title: 'Resource servers', resources: list, notice: notice(ctx), form: form.values ?? { accessTokenFormat: 'jwt', accessTokenTtl: 3600, scopes: scopeRows([]) }, error: form.error }, status);
  }

  async function showResource(ctx: ConsoleContext, indicator: string, form: { values?: Record<string, unknown>; error?: string; errorOf?: string } = {}, status = 200) {
    const resource = resourceServerView(await current(indicator));
    const values = form.values ?? { ...resource, scopes: scopeRows(resource.scopes) };
    show(ctx, 'admin-resource', 'resources', { title: resource.name, resource, form: values, notice: notice(ctx), error: form.error, errorOf: form.errorOf ?? 'edit' }, status);
  }

  return {
    list: (ctx: ConsoleContext) => showList(ctx),

    async create(ctx: ConsoleContext) {
      const body = formOf(ctx);
      let indicator: string | undefined;
      const refused = await refusalOf(async () => {
        indicator = (await resources.create({ indicator: field(body, 'indicator'), ...fromForm(body) }, actedBy(ctx))).indicator;
      });
      if (refused || !indicator) return showList(ctx, { values: typedAgain(body), error: refused?.message }, refused?.status ?? 400);
      seeOther(ctx, `${resourcePath(indicator)}?done=created`);
    },

    show: (ctx: ConsoleContext) => showResource(ctx, ctx.params.indicator!),

    async update(ctx: ConsoleContext) {
      const before = await current(ctx.params.indicator!);
      const body = formOf(ctx);
      const view = resourceServerView(before);
      let changes: Partial<ReturnType<typeof fromForm>> = {};
      const refused = await refusalOf(async () => {
        changes = changedFields(fromForm(body), view);
        if (Object.keys(changes).length > 0) await resources.update(before.indicator, changes, actedBy(ctx), { ifUpdatedAt: shownVersion(field(body, 'version')) });
      });
      if (refused?.status === 412) return showResource(ctx, before.indicator, { error: STALE }, 412);
      if (refused) return showResource(ctx, before.indicator, { values: typedAgain(body), error: refused.message }, refused.status);
      seeOther(ctx, `${resourcePath(before.indicator)}?done=${Object.keys(changes).length > 0 ? 'saved' : 'unchanged'}`);
    },

    async remove(ctx: ConsoleContext) {
      const indicator = ctx.params.indicator!;
      if (field(formOf(ctx), 'confirm') !== 'yes') return showResource(ctx, indicator, { error: 'Tick the box to confirm the deletion.', errorOf: 'delete' }, 400);
      // Refused (409) while a client is registered for it, and for the admin API's own.
      const refused = await refusalOf(() => resources.delete(indicator, actedBy(ctx)));
      if (refused && refused.status !== 404) return showResource(ctx, indicator, { error: refused.message, errorOf: 'delete' }, refused.status);
      seeOther(ctx, `${RESOURCES_PATH}?done=deleted`);
    },
  };
}

export type ResourcePages = ReturnType<typeof createResourcePages>;
