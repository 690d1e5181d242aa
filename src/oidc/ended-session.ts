/**
 * How a session ends: marked, and kept an hour, until housekeeping deletes it. The engine
 * saves every session a request loaded when the request finishes (a rolling lifetime): had
 * the row been deleted, a request in flight at that moment (a stolen laptop polling
 * prompt=none) would write it back, signed in. A save never updates an ended row
 * (engine-adapter.ts), and an ended row is never found.
 */
const ENDED = `ended_at = now(), expires_at = LEAST(expires_at, now() + interval '1 hour')`;

/**
 * The engine's own end of a session id: logout, and the new id a session gets at sign-in and
 * consent (resetIdentifier: the old id ends, the session goes on under a new id with the same
 * uid). The uid is given up for that successor, replaced by one no live session can have.
 */
export const ENDED_SESSION = `${ENDED}, uid = 'ended:' || id`;

/**
 * An operator's (or a reset's, or disabling's) end of a person's session: the uid is kept, so
 * no successor can take it. A request of that browser in flight that would carry the session
 * on under a new id (a consent or device confirmation resuming) is refused by the uid's
 * uniqueness (engine-adapter.ts answers SessionNotFound), rather than signing it in again.
 */
export const SIGNED_OUT_SESSION = ENDED;
