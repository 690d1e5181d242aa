import { rotateKeysSchema } from '../admin-api/index.ts';
import { toValidationError } from '../errors.ts';
import { keyView, REQUIRED_ALGS, type KeyRotation } from '../oidc/index.ts';
import { actedBy } from './acted-by.ts';
import { field, formOf, list, queryOf, refusalOf, seeOther, type ShowConsolePage } from './console-page.ts';
import { ADMIN_CONSOLE_PATH } from './console-client.ts';
import type { ConsoleContext } from './console-session.ts';

// The keys at the console: each signing and cookie key's standing (never its material), and
// an announced rotation, as the admin API's /keys and `portcullis keys rotate`: new keys are
// published at once and sign only after KEY_ANNOUNCE_DELAY, so no token breaks. Retiring
// stays with the CLI (a forced retire ends live tokens and sessions).

const KEYS_PATH = `${ADMIN_CONSOLE_PATH}/keys`;
const ALGS: readonly string[] = REQUIRED_ALGS;

export function createKeyPages(deps: { keyRotation: Pick<KeyRotation, 'list' | 'rotate'>; show: ShowConsolePage }) {
  async function showKeys(ctx: ConsoleContext, refused?: { message: string; status: number }) {
    const all = field(queryOf(ctx), 'all') === 'true';
    const keys = (await deps.keyRotation.list()).filter((key) => all || key.state !== 'retired').map(keyView);
    const notice = field(queryOf(ctx), 'done') === 'rotated' ? 'New keys were announced: they are published now and sign from the time shown.' : undefined;
    deps.show(ctx, 'admin-keys', 'keys', { title: 'Keys', keys, all, algs: ALGS, notice, error: refused?.message }, refused?.status ?? 200);
  }

  return {
    list: (ctx: ConsoleContext) => showKeys(ctx),

    async rotate(ctx: ConsoleContext) {
      const body = formOf(ctx);
      const algs = list(body, 'algs', 'repeated');
      // The admin API's schema: known algorithms, each once.
      const parsed = rotateKeysSchema.safeParse({ ...(algs.length > 0 && { algs }), cookie: field(body, 'cookie') === 'true' });
      if (!parsed.success) return showKeys(ctx, { message: toValidationError(parsed.error).message, status: 400 });
      const { algs: chosen, cookie } = parsed.data;
      // Refused (409) while a kind already has an announced key.
      const refused = await refusalOf(() => deps.keyRotation.rotate({ ...(chosen && { algs: chosen }), cookie }, actedBy(ctx)));
      if (refused) return showKeys(ctx, refused);
      seeOther(ctx, `${KEYS_PATH}?done=rotated`);
    },
  };
}

export type KeyPages = ReturnType<typeof createKeyPages>;
