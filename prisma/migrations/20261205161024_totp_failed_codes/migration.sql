-- Wrong authenticator codes since the last right one: guessing is capped, not only paced.
ALTER TABLE "totp_factors" ADD COLUMN "failed_codes" INTEGER NOT NULL DEFAULT 0;
