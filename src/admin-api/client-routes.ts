import type Router from '@koa/router';

import type { AccessTokenState } from '../account-api/index.ts';
import { ADMIN_API_PATH } from './admin-resource.ts';
import { actedBy, bodyObject, type AdminApiDeps, type AdminContext, type Guards } from './admin-context.ts';
import { etagOf, requireIfMatch } from './etag.ts';
import { clientView, rotateSecretSchema } from './views.ts';
import { NotFoundError, toValidationError } from '../errors.ts';

// /clients: the registry of OAuth clients through clients/client-service.ts, the service and
// schema (client-input.ts) `portcullis clients` uses. A secret is answered once, by the
// request that made it (create, rotate), and never audited.

export function addClientRoutes(router: Router<AccessTokenState>, guards: Guards, deps: Pick<AdminApiDeps, 'clients'>): void {
  const { clients } = deps;

  /** A client, or 404 (an id no client could have is simply not found). */
  async function current(clientId: string) {
    const client = await clients.find(clientId);
    if (!client) throw new NotFoundError(`no client ${clientId.slice(0, 100)}`);
    return client;
  }

  function answer(ctx: AdminContext, view: ReturnType<typeof clientView>, status = 200) {
    ctx.status = status;
    ctx.set('ETag', etagOf(view));
    return view;
  }

  router.get('/clients', guards.read, async (ctx) => {
    ctx.body = { clients: (await clients.list()).map(clientView) };
  });

  router.post('/clients', guards.write, async (ctx) => {
    const { client, clientSecret } = await clients.create(bodyObject(ctx), actedBy(ctx));
    const view = answer(ctx, clientView(client), 201);
    ctx.set('Location', `${ADMIN_API_PATH}/clients/${encodeURIComponent(client.clientId)}`);
    ctx.body = { client: view, clientSecret: clientSecret ?? null };
  });

  router.get('/clients/:clientId', guards.read, async (ctx) => {
    ctx.body = answer(ctx, clientView(await current(ctx.params.clientId!)));
  });

  // A partial change, the whole resulting registration validated again before anything is
  // written; only from the representation the caller read (If-Match).
  router.patch('/clients/:clientId', guards.write, async (ctx) => {
    const before = await current(ctx.params.clientId!);
    const matched = requireIfMatch(ctx, etagOf(clientView(before)));
    // Written only if still the version the ETag named: a concurrent change makes this a 412.
    const client = await clients.update(before.clientId, bodyObject(ctx), actedBy(ctx), { ifUpdatedAt: matched === 'version' ? before.updatedAt : undefined });
    ctx.body = answer(ctx, clientView(client));
  });

  // A new secret replaces the old at once; the answer is the only place it is ever shown.
  router.post('/clients/:clientId/secret', guards.write, async (ctx) => {
    const before = await current(ctx.params.clientId!);
    const parsed = rotateSecretSchema.safeParse(bodyObject(ctx, true));
    if (!parsed.success) {
      throw toValidationError(parsed.error);
    }
    const { client, clientSecret } = await clients.rotateSecret(before.clientId, parsed.data, actedBy(ctx));
    ctx.body = { client: answer(ctx, clientView(client)), clientSecret: clientSecret ?? null };
  });

  // Idempotent (RFC 9110 section 9.2.2): a client already gone is the outcome asked for.
  router.delete('/clients/:clientId', guards.write, async (ctx) => {
    const client = await clients.find(ctx.params.clientId!);
    if (client) {
      try {
        await clients.delete(client.clientId, actedBy(ctx));
      } catch (error) {
        // Deleted by another request in between: the same outcome.
        if (!(error instanceof NotFoundError)) throw error;
      }
    }
    ctx.status = 204;
  });
}
