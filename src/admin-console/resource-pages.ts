import type { ResourceService } from '../clients/index.ts';
import { NotFoundError } from '../errors.ts';
import { resourceServerView } from '../admin-api/index.ts';
import { actedBy, shownVersion } from './acted-by.ts';
import { field, refusalOf, seeOther, type ShowConsolePage } from './console-page.ts';
import { ADMIN_CONSOLE_PATH } from './console-client.ts';
import type { ConsoleContext } from './console-session.ts';

// Resource servers at the console: the APIs that accept Portcullis' tokens, their scopes
// and the roles each scope is bound to, through the registry's service and schema (the
// admin API's and the CLI's). Scopes are edited as text, one per line:
//   name | description | role role
// (roles empty: any account may be granted it). The admin API's own resource server stays
// pinned by the service: its scopes keep a role, and it is never deleted.

const RESOURCES_PATH = `${ADMIN_CONSOLE_PATH}/resources`;
export const resourcePath = (indicator: string) => `${RESOURCES_PATH}/${encodeURIComponent(indicator)}`;

const NOTICES = { created: 'The resource server was registered.', saved: 'The resource server was saved.', deleted: 'The resource server was deleted.' } as const;
const notice = (ctx: ConsoleContext) => NOTICES[field(ctx.query, 'done') as keyof typeof NOTICES];

/** The scope lines of the form, in the service's input shape (the service validates each part). */
export function scopesFromText(text: string) {
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .map((line) => {
      const [name = '', description = '', roles = ''] = line.split('|').map((part) => part.trim());
      return { name, description, roles: roles.split(/\s+/).filter((role) => role !== '') };
    });
}

export function scopesAsText(scopes: readonly { name: string; description: string; roles: readonly string[] }[]): string {
  return scopes.map((scope) => `${scope.name} | ${scope.description} | ${scope.roles.join(' ')}`).join('\n');
}

function fromForm(body: unknown) {
  const ttl = field(body, 'accessTokenTtl');
  return {
    name: field(body, 'name'),
    accessTokenFormat: field(body, 'accessTokenFormat'),
    // A number, or the text itself for the schema to refuse by name.
    accessTokenTtl: /^\d{1,9}$/.test(ttl) ? Number(ttl) : ttl,
    scopes: scopesFromText(field(body, 'scopes')),
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
    show(ctx, 'admin-resources', 'resources', { title: 'Resource servers', resources: list, notice: notice(ctx), form: form.values ?? { accessTokenFormat: 'jwt', accessTokenTtl: 3600, scopes: '' }, error: form.error }, status);
  }

  async function showResource(ctx: ConsoleContext, indicator: string, form: { values?: Record<string, unknown>; error?: string; errorOf?: string } = {}, status = 200) {
    const resource = resourceServerView(await current(indicator));
    const values = form.values ?? { ...resource, scopes: scopesAsText(resource.scopes) };
    show(ctx, 'admin-resource', 'resources', { title: resource.name, resource, form: values, notice: notice(ctx), error: form.error, errorOf: form.errorOf ?? 'edit' }, status);
  }

  return {
    list: (ctx: ConsoleContext) => showList(ctx),

    async create(ctx: ConsoleContext) {
      const body = ctx.request.body;
      const input = { indicator: field(body, 'indicator'), ...fromForm(body) };
      let indicator: string | undefined;
      const refused = await refusalOf(async () => {
        indicator = (await resources.create(input, actedBy(ctx))).indicator;
      });
      if (refused || !indicator) return showList(ctx, { values: { ...input, scopes: field(body, 'scopes') }, error: refused?.message }, refused?.status ?? 400);
      seeOther(ctx, `${resourcePath(indicator)}?done=created`);
    },

    show: (ctx: ConsoleContext) => showResource(ctx, ctx.params.indicator!),

    async update(ctx: ConsoleContext) {
      const before = await current(ctx.params.indicator!);
      const body = ctx.request.body;
      const refused = await refusalOf(() => resources.update(before.indicator, fromForm(body), actedBy(ctx), { ifUpdatedAt: shownVersion(field(body, 'version')) }));
      if (refused) return showResource(ctx, before.indicator, { values: { ...fromForm(body), scopes: field(body, 'scopes') }, error: refused.message }, refused.status);
      seeOther(ctx, `${resourcePath(before.indicator)}?done=saved`);
    },

    async remove(ctx: ConsoleContext) {
      const indicator = ctx.params.indicator!;
      if (field(ctx.request.body, 'confirm') !== 'yes') return showResource(ctx, indicator, { error: 'Tick the box to confirm the deletion.', errorOf: 'delete' }, 400);
      // Refused (409) while a client is registered for it, and for the admin API's own.
      const refused = await refusalOf(() => resources.delete(indicator, actedBy(ctx)));
      if (refused && refused.status !== 404) return showResource(ctx, indicator, { error: refused.message, errorOf: 'delete' }, refused.status);
      seeOther(ctx, `${RESOURCES_PATH}?done=deleted`);
    },
  };
}

export type ResourcePages = ReturnType<typeof createResourcePages>;
