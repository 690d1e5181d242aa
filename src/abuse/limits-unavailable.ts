import type { Context } from 'koa';

import { refusalHeaders, wantsPage, type RefusalOptions } from './too-many-requests.ts';

// REDIS_UNAVAILABLE=closed: while Redis is away no budget can be read, and the operator
// chose refusing over counting per instance. The answer is an outage, not a verdict on the
// client: 503 `temporarily_unavailable` with Retry-After, in the endpoint's shape.

export async function sendLimitsUnavailable(ctx: Context, options: RefusalOptions, retryAfterSeconds: number): Promise<void> {
  const message = 'The service is temporarily unavailable; try again shortly.';
  ctx.status = 503;
  await refusalHeaders(ctx, options, retryAfterSeconds);
  if (wantsPage(ctx)) {
    ctx.type = 'html';
    ctx.body = options.renderPage({
      status: 503,
      error: 'temporarily_unavailable',
      message,
      requestId: String(ctx.state.requestId ?? ''),
      languages: (...tags) => ctx.acceptsLanguages(...tags),
    });
  } else {
    ctx.body = { error: 'temporarily_unavailable', error_description: message };
  }
}
