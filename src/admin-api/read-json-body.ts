import { bodyParser } from '@koa/bodyparser';
import type { Middleware } from 'koa';

import { AppError, ValidationError } from '../errors.ts';

// The admin API's request bodies: JSON only, uncompressed (415 otherwise, so a browser form
// can never post here without a preflight), parsed strictly (an object or array at the top), at most
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
    // Uncompressed only: a compressed body would be inflated past the size limit's check of
    // what was sent, and one that is not what it claims fails in zlib (a 500).
    const encodings = ctx.get('Content-Encoding').split(',').map((coding) => coding.trim().toLowerCase()).filter(Boolean);
    if (encodings.some((coding) => coding !== 'identity')) {
      throw new AppError('unsupported_media_type', 415, 'request bodies must not be compressed (Content-Encoding: identity only)');
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
