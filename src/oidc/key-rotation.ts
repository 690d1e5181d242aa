import type { Sealer } from '../crypto/index.ts';
import { ConflictError, NotFoundError, ValidationError } from '../errors.ts';
import { discardAudit, type ActedBy, type AuditSink } from '../audit/index.ts';
import { keyStandings, type KeyStanding, type LifecyclePolicy } from './key-lifecycle.ts';
import { NO_KEY_CHANGES, type AppliedKeys, type KeyChanges, type KeyStore, type PresentKeys } from './key-store.ts';
import { auditKeyChanges, COOKIE_KIND, cookieKeyId, keyTimes, newCookieKey, newSigningKey, REQUIRED_ALGS, type RequiredAlg } from './signing-keys.ts';

// Announced key rotation, for the CLI (`portcullis keys`), the admin API and the schedule: a new key is
// published at once and signs only `announceSeconds` later, longer than a resource server
// may cache the JWKS plus the time a change takes to reach every instance; the key it
// replaces stays published until whatever it signed has expired, then is retired. Every
// step is one store change (one at a time across instances) and is audited.

export interface RotationPolicy extends LifecyclePolicy {
  /** From a rotation to the new key's first signature. */
  readonly announceSeconds: number;
  /** KEY_ROTATION_DAYS: a signing (cookie) key this old is replaced by the schedule; unset: never. */
  readonly rotationDays?: number | undefined;
}

export interface KeyView {
  /** The kid of a signing key; `cookie-<id>` for a cookie key. */
  readonly kid: string;
  readonly alg: string | undefined;
  readonly use: 'sig' | 'cookie';
  readonly state: KeyStanding['state'];
  readonly createdAt: Date;
  readonly signsFrom: Date;
  readonly stoppedSigningAt: Date | undefined;
  readonly retirableAt: Date | undefined;
  readonly retiredAt: Date | null;
}

export interface RotateOptions {
  /** Signing algorithms to rotate; none given and no cookie: every required one. */
  readonly algs?: readonly RequiredAlg[];
  readonly cookie?: boolean;
}

export interface KeyRotation {
  list(): Promise<KeyView[]>;
  /** Announces a successor for each named kind. Refused while one is already announced. `by`: who, when not the sink's default (the admin API's caller). */
  rotate(options: RotateOptions, by?: ActedBy): Promise<AppliedKeys>;
  /** Withdraws a key. Refused for a signing key, and before `retirableAt` unless forced. */
  retire(kid: string, options?: { force?: boolean }): Promise<AppliedKeys>;
  /** The schedule's round: retires what has become retirable, rotates what is older than rotationDays. */
  maintain(): Promise<AppliedKeys>;
}

export interface KeyRotationDeps {
  readonly store: KeyStore;
  readonly sealer: Sealer;
  /** Read when a plan needs it: the lifetimes depend on the registry (a resource server's token TTL). */
  readonly policy: () => Promise<RotationPolicy>;
  readonly audit?: AuditSink;
}

const DAY_MS = 86_400_000;

function standingsOf(present: PresentKeys, policy: LifecyclePolicy) {
  return keyStandings(keyTimes(present.signing, present.cookies), present.now, policy);
}

function views(present: PresentKeys, policy: LifecyclePolicy): KeyView[] {
  const standings = standingsOf(present, policy);
  const view = (id: string, alg: string | undefined, key: { createdAt: Date; activatesAt: Date; retiredAt: Date | null }): KeyView => {
    const standing = standings.get(id) ?? { state: 'retired' };
    return {
      kid: id,
      alg,
      use: alg ? 'sig' : 'cookie',
      state: standing.state,
      createdAt: key.createdAt,
      signsFrom: key.activatesAt,
      stoppedSigningAt: standing.stoppedSigningAt,
      retirableAt: standing.retirableAt,
      retiredAt: key.retiredAt,
    };
  };
  return [...present.signing.map((key) => view(key.kid, key.alg, key)), ...present.cookies.map((key) => view(cookieKeyId(key.id), undefined, key))];
}

export function createKeyRotation(deps: KeyRotationDeps): KeyRotation {
  const { store, sealer } = deps;
  const audit = deps.audit ?? discardAudit;

  async function change(plan: (present: PresentKeys, policy: RotationPolicy) => Promise<KeyChanges>, extra?: Record<string, unknown>, by?: ActedBy) {
    const policy = await deps.policy();
    const applied = await store.change((present) => plan(present, policy));
    auditKeyChanges(audit, applied, extra, by);
    return applied;
  }

  /** The announced key of a kind, if one waits. */
  const announced = (present: PresentKeys, policy: RotationPolicy, kind: string) =>
    views(present, policy).find((key) => (key.alg ?? COOKIE_KIND) === kind && key.state === 'announced');

  return {
    async list() {
      // The keys and the database's clock, as one read, without the writers' lock.
      const [policy, present] = await Promise.all([deps.policy(), store.present()]);
      return views(present, policy);
    },

    rotate(options, by) {
      // Each named once: two announced keys of one kind would race for which one signs.
      const algs = [...new Set(options.algs?.length ? options.algs : options.cookie ? [] : REQUIRED_ALGS)];
      const unknown = algs.filter((alg) => !REQUIRED_ALGS.includes(alg));
      if (unknown.length > 0) return Promise.reject(new ValidationError(`alg: ${unknown.join(', ')} is not one of ${REQUIRED_ALGS.join(', ')}`));
      return change(async (present, policy) => {
        const kinds = [...algs, ...(options.cookie ? [COOKIE_KIND] : [])];
        for (const kind of kinds) {
          const waiting = announced(present, policy, kind);
          if (waiting) throw new ConflictError(`${kind} already has an announced key (${waiting.kid}, signs from ${waiting.signsFrom.toISOString()}); retire it first to replace it (portcullis keys retire)`);
        }
        const activatesAt = new Date(present.now.getTime() + policy.announceSeconds * 1000);
        const signing = [];
        for (const alg of algs) signing.push(await newSigningKey(sealer, alg, activatesAt));
        return { signing, cookies: options.cookie ? [newCookieKey(sealer, activatesAt)] : [] };
      }, { reason: 'rotate' }, by);
    },

    retire(kid, options = {}) {
      const force = options.force === true;
      return change((present, policy) => {
        const key = views(present, policy).find((candidate) => candidate.kid === kid);
        if (!key) throw new NotFoundError(`no key ${kid} (see: portcullis keys list)`);
        if (key.state === 'retired') throw new ConflictError(`key ${kid} is already retired`);
        if (key.state === 'signing') {
          throw new ConflictError(
            `key ${kid} is the current ${key.alg ?? 'cookie'} signing key; rotate first (portcullis keys rotate ${key.alg ? `--alg ${key.alg}` : '--cookie'}), then retire it once its successor signs and its tokens expired`,
          );
        }
        if (key.state === 'retiring' && key.retirableAt && key.retirableAt > present.now && !force) {
          const breaks = key.use === 'sig' ? 'tokens it signed would fail verification at every resource server' : 'browser sessions it signed would end';
          throw new ConflictError(`key ${kid} may still have signed valid ${key.use === 'sig' ? 'tokens' : 'cookies'} until ${key.retirableAt.toISOString()}; --force retires it now (${breaks})`);
        }
        const retire = key.use === 'sig' ? { retireSigning: [kid] } : { retireCookies: [Number(kid.slice('cookie-'.length))] };
        return Promise.resolve({ ...NO_KEY_CHANGES, ...retire });
      }, { reason: 'retire', forced: force });
    },

    maintain() {
      return change(async (present, policy) => {
        const all = views(present, policy);
        const due = all.filter((key) => key.state === 'retiring' && key.retirableAt && key.retirableAt <= present.now);
        const signing = [];
        let cookies: KeyChanges['cookies'] = [];
        if (policy.rotationDays !== undefined) {
          const activatesAt = new Date(present.now.getTime() + policy.announceSeconds * 1000);
          const stale = (kind: string) =>
            !all.some((key) => (key.alg ?? COOKIE_KIND) === kind && key.state === 'announced') &&
            all.some((key) => (key.alg ?? COOKIE_KIND) === kind && key.state === 'signing' && present.now.getTime() - key.signsFrom.getTime() >= policy.rotationDays! * DAY_MS);
          for (const alg of REQUIRED_ALGS) if (stale(alg)) signing.push(await newSigningKey(sealer, alg, activatesAt));
          if (stale(COOKIE_KIND)) cookies = [newCookieKey(sealer, activatesAt)];
        }
        return {
          signing,
          cookies,
          retireSigning: due.filter((key) => key.use === 'sig').map((key) => key.kid),
          retireCookies: due.filter((key) => key.use === 'cookie').map((key) => Number(key.kid.slice('cookie-'.length))),
        };
      }, { reason: 'schedule' });
    },
  };
}
