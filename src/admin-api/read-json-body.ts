import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';

import { AppError, ValidationError } from '../errors.ts';

// The admin API's request bodies: JSON only (415 otherwise, so a browser form can never
// post here without a preflight), parsed strictly (an object or array at the top), at most
// 32 kB (413), malformed JSON a 400. Anything but an object is the schemas' to refuse.

const JSON_LIMIT = '32kb';

const parse = bodyParser({ enableTypes: ['json'], jsonLimit: JSON_LIMIT, encoding: 'utf-8', jsonStrict: true });

export function readJsonBody(): Middleware {
  return async (ctx, next) => {
    const length = ctx.get('Content-Length');
    const hasBody = ctx.get('Transfer-Encoding') !== '' || (length !== '' && Number(length) > 0);
    if (!hasBody) {
      ctx.request.body = undefined;
      await next();
      return;
    }
    if (ctx.is('application/json') === false) {
      throw new AppError('unsupported_media_type', 415, 'request bodies must be application/json');
    }
    try {
      await parse(ctx, async () => {});
    } catch (error) {
      const status = (error as { status?: unknown }).status;
      if (status === 413) throw new AppError('request_too_large', 413, `request bodies are limited to ${JSON_LIMIT}`);
      if (typeof status === 'number' && status < 500) throw new ValidationError('input: the body is not valid JSON');
      throw error;
    }
    await next();
  };
}
