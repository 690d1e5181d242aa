/**
 * How a session ends (the engine's logout, its new id at sign-in, an operator, a password
 * reset): marked, and kept an hour, until housekeeping deletes it. The engine saves every
 * session a request loaded when the request finishes (a rolling lifetime): had the row been
 * deleted, a request in flight at that moment (a stolen laptop polling prompt=none) would
 * write it back, signed in. A save never updates an ended row (engine-adapter.ts), and an
 * ended row is never found. Its uid is given up (the session that replaces one at sign-in
 * keeps the uid), replaced by one no live session can have.
 */
export const ENDED_SESSION = `ended_at = now(), expires_at = LEAST(expires_at, now() + interval '1 hour'), uid = 'ended:' || id`;
