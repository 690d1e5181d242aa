// Where each key stands in an announced rotation, from its times alone (pure, no I/O), so
// every instance, the CLI and the schedule reach the same answer:
//
//   announced  published (cookie keys: verify) but does not sign yet: resource servers and
//              other instances learn it before it is used
//   signing    the newest key of its kind that has activated
//   retiring   a newer key of its kind took over; still published, since tokens (cookies)
//              it signed may still be valid; may go at `retirableAt`
//   retired    no longer published; the row stays as the record of what existed
//
// "Kind" is the algorithm for signing keys, and one kind for all cookie keys.

export type KeyState = 'announced' | 'signing' | 'retiring' | 'retired';

export interface KeyTimes {
  readonly id: string;
  readonly kind: string;
  readonly createdAt: Date;
  readonly activatesAt: Date;
  readonly retiredAt: Date | null;
}

export interface KeyStanding {
  readonly state: KeyState;
  /** When it stopped signing (retiring keys; retired ones that had signed, where known). */
  readonly stoppedSigningAt?: Date;
  /** When whatever it signed has expired, so retiring it breaks nothing (retiring keys). */
  readonly retirableAt?: Date;
}

export interface LifecyclePolicy {
  /** The longest a token (cookie) a key of this kind signed can stay valid, in seconds. */
  readonly lifetimeSeconds: (kind: string) => number;
  /** Added to every retirableAt: clock skew between instances that switch by time. */
  readonly marginSeconds: number;
}

const byActivation = (a: KeyTimes, b: KeyTimes) =>
  a.activatesAt.getTime() - b.activatesAt.getTime() || a.createdAt.getTime() - b.createdAt.getTime();

/** Every key's standing at `now`, by id. */
export function keyStandings(keys: readonly KeyTimes[], now: Date, policy: LifecyclePolicy): Map<string, KeyStanding> {
  const standings = new Map<string, KeyStanding>();
  for (const key of keys) if (key.retiredAt) standings.set(key.id, { state: 'retired' });
  const kinds = new Set(keys.map((key) => key.kind));
  for (const kind of kinds) {
    const live = keys.filter((key) => key.kind === kind && !key.retiredAt).sort(byActivation);
    const activated = live.filter((key) => key.activatesAt <= now);
    activated.forEach((key, index) => {
      const successor = activated[index + 1];
      if (!successor) {
        standings.set(key.id, { state: 'signing' });
        return;
      }
      const stoppedSigningAt = successor.activatesAt;
      const retirableAt = new Date(stoppedSigningAt.getTime() + (policy.lifetimeSeconds(kind) + policy.marginSeconds) * 1000);
      standings.set(key.id, { state: 'retiring', stoppedSigningAt, retirableAt });
    });
    for (const key of live) if (key.activatesAt > now) standings.set(key.id, { state: 'announced' });
  }
  return standings;
}

/**
 * The keys an engine gets, in the order it uses them: the signing key of each kind first
 * (oidc-provider signs with the first key of an algorithm; Koa signs cookies with the
 * first key), then every other unretired key, which only verifies and is published.
 */
export function keysInUseOrder<T extends KeyTimes>(keys: readonly T[], standings: ReadonlyMap<string, KeyStanding>): T[] {
  const live = keys.filter((key) => standings.get(key.id)?.state !== 'retired');
  const rank = (key: T) => (standings.get(key.id)?.state === 'signing' ? 0 : 1);
  // An activated key before an announced one of the same kind; newest activated first.
  return [...live].sort((a, b) => rank(a) - rank(b) || byActivation(b, a));
}

/** The next time a standing changes by the clock alone (a key activates or becomes retirable), if any. */
export function nextChange(standings: ReadonlyMap<string, KeyStanding>, keys: readonly KeyTimes[], now: Date): Date | undefined {
  const times = [
    ...keys.filter((key) => !key.retiredAt && key.activatesAt > now).map((key) => key.activatesAt),
    ...[...standings.values()].flatMap((standing) => (standing.retirableAt && standing.retirableAt > now ? [standing.retirableAt] : [])),
  ];
  return times.length > 0 ? new Date(Math.min(...times.map((time) => time.getTime()))) : undefined;
}
