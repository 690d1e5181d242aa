-- Sessions end by being marked, not deleted: the engine saves a session again as each
-- request that loaded it finishes, so a deleted row could come back signed in (src/oidc/ended-session.ts).
ALTER TABLE "oidc_sessions" ADD COLUMN "ended_at" TIMESTAMPTZ(3);
