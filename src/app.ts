import Koa from 'koa';
import mount from 'koa-mount';
import type Provider from 'oidc-provider';

import type { AccountService } from './accounts/index.ts';
import type { ClientService, ResourceService } from './clients/index.ts';
import type { Config } from './config/index.ts';
import { errorHandler } from './http/error-handler.ts';
import { requestId } from './http/request-id.ts';
import { createInteractionRouter, serveAssets, type RenderPage } from './interactions/index.ts';
import type { Logger } from './observability/logger.ts';

export interface AppDeps {
  readonly config: Config;
  readonly logger: Logger;
  readonly provider: Provider;
  readonly cookieKeys: readonly string[];
  readonly accounts: AccountService;
  readonly clients: ClientService;
  readonly resources: ResourceService;
  readonly render: RenderPage;
}

/**
 * The whole request path, top to bottom. Pure: no I/O, no process.env; main.ts and the
 * tests pass the deps in.
 */
export function createApp(deps: AppDeps): Koa {
  const { config, logger, provider } = deps;
  const app = new Koa({
    proxy: config.trustProxy,
    // Must equal the engine's cookie keys, or interactions end in SessionNotFound.
    keys: [...deps.cookieKeys],
  });
  app.silent = true; // errors are logged once, by errorHandler or the provider listener

  // 1. Every request gets an id first, so every later log line and error page carries it.
  app.use(requestId({ trustProxy: config.trustProxy }));
  // 2. Our own routes' errors become safe responses (the engine handles its own).
  app.use(
    errorHandler({
      logger,
      renderPage: ({ error, message, requestId: id }) =>
        deps.render('error', { heading: 'Something went wrong', message, error, requestId: id }),
    }),
  );
  // 3. The stylesheet of the pages.
  app.use(serveAssets());
  // 4. Login and consent pages; they end in provider.interactionFinished.
  const interactions = createInteractionRouter(deps);
  app.use(interactions.routes());
  app.use(interactions.allowedMethods());
  // 5. Everything else is the protocol: discovery, authorize, token, userinfo, ...
  //    No body parser in front of it: the engine parses its own bodies.
  app.use(mount(provider));
  return app;
}
