import type { Middleware } from 'koa';
import type { KoaContextWithOIDC } from 'oidc-provider';

import { DEVICE_CODE_GRANT } from '../clients/index.ts';
import { translatePrismaError, type Sql } from '../db/index.ts';
import { storedId } from './token-id.ts';

// RFC 8628 3.5: a device that polls faster than the interval is told slow_down. The engine
// answers authorization_pending for every early poll but never slow_down, so here a pending
// answer is turned into slow_down when the same device code was answered pending less than
// the interval before. The time of the last pending answer is kept on the device code's
// row (polled_at), set in one conditional update: shared by every instance, and of two
// concurrent polls only one is pending. Only pending answers are paced: a device polling
// for an answer the person already gave gets it (tokens, access_denied, expired_token).
//
// The device authorization response names no interval, so clients poll every 5 seconds
// (the RFC's default); a poll that arrives up to a second early (a timer, the network) is
// still in time.

/** The interval every client uses (RFC 8628 3.2 default), less a second of slack. */
export const MIN_POLL_INTERVAL_SECONDS = 4;

const PACE = `UPDATE oidc_device_codes SET polled_at = now()
  WHERE id = $1 AND (polled_at IS NULL OR polled_at <= now() - make_interval(secs => $2))`;

export function paceDevicePolling(sql: Sql, minIntervalSeconds = MIN_POLL_INTERVAL_SECONDS): Middleware {
  return async (koaCtx, next) => {
    await next();
    const ctx = koaCtx as unknown as KoaContextWithOIDC;
    if (ctx.oidc?.route !== 'token' || ctx.status !== 400) return;
    const params = ctx.oidc.params as { grant_type?: unknown; device_code?: unknown } | undefined;
    if (params?.grant_type !== DEVICE_CODE_GRANT || typeof params.device_code !== 'string') return;
    if ((ctx.body as { error?: unknown } | undefined)?.error !== 'authorization_pending') return;
    const { rowCount } = await sql.query(PACE, [storedId('DeviceCode', params.device_code), minIntervalSeconds]).catch((error: unknown) => {
      throw translatePrismaError(error, 'device code');
    });
    if (rowCount === 0) {
      ctx.body = { error: 'slow_down', error_description: 'you are polling too quickly and should back off at a reasonable rate' };
    }
  };
}
